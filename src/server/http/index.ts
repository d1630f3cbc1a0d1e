/**
 * Streamable HTTP server transport (legacy sessions and modern stateless
 * requests on one endpoint).
 *
 * @since 0.1.0
 */
export {
  type AuthResult,
  type Authenticate,
  type HttpCloseOptions,
  type HttpHandler,
  type HttpHandlerOptions,
  type HttpRejection,
  type HttpServerHandle,
  type HttpServerOptions,
  type HttpServerStats,
  makeHttpHandler,
  makeHttpServer
} from "./HttpServer.ts"
export type { PersistedHttpSession } from "./HttpSession.ts"
export { HttpServerError, makeHttpServerScoped } from "./effect.ts"
export { type EventStore, makeMemoryEventStore, type MemoryEventStoreOptions, parseEventId, type StoredEvent } from "../../transports/http/EventStore.ts"
export { DEFAULT_ALLOWED_HOSTS, type HostGuardOptions, makeHostGuard } from "../../transports/http/HostGuard.ts"
