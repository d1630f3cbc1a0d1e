/**
 * The options of the Streamable HTTP endpoint (`makeHttpHandler`, `makeHttpServer`,
 * `close`) and the auth hook's types.
 */
import type { IncomingMessage } from "node:http"
import type { InspectorOptions } from "../../inspect/InspectorServer.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { McpRuntime } from "../../runtime/McpRuntime.ts"
import type { RegistryUnsafe } from "../../runtime/Registry.ts"
import type { EventStore } from "../../transports/http/EventStore.ts"
import type { HostGuardOptions } from "../../transports/http/HostGuard.ts"
import type { SessionLimits } from "../SessionLimiter.ts"
import type { HttpSessionOptions } from "./HttpSession.ts"
import type { ModernRequestOptions } from "./ModernRequest.ts"

/** A refusal from the auth hook, written as is (e.g. 401 with `WWW-Authenticate`). */
export interface HttpRejection {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** A string is sent as is; an object as JSON. */
  readonly body?: string | { readonly [key: string]: unknown }
}

/**
 * What the auth hook decides for one request: a principal, anonymous
 * (`undefined`), or a rejection (an {@link HttpRejection} or a fetch `Response`).
 */
export type AuthResult = { readonly principal: string; readonly identity?: Identity } | HttpRejection | Response | undefined

/**
 * Sees every request to the endpoint. A session is bound to the principal that
 * initialized it; a request for it from anyone else gets 404, exactly as if it
 * did not exist (sessions are never authentication: secbp/2025-11-25 L575-L590).
 */
export type Authenticate = (req: IncomingMessage) => AuthResult | PromiseLike<AuthResult>

export interface HttpHandlerOptions extends HostGuardOptions, HttpSessionOptions, SessionLimits {
  /** The MCP endpoint. Default "/mcp". */
  readonly path?: string
  /** Serve Prometheus text at `GET /metrics` (a `Telemetry`; see docs/observability.md). Default: none (404). */
  readonly metrics?: { prometheus(): string }
  /** Largest accepted body. Default 4 MiB. */
  readonly maxMessageBytes?: number
  /** `Retry-After` (seconds) on 503 and 429. Default 5. */
  readonly retryAfterSeconds?: number
  /** Resumable SSE storage; `false` turns resumability (event ids, priming) off. Default: in-memory, 1000 events / 1 MiB per session. */
  readonly eventStore?: EventStore | false
  /** `retry:` advertised on SSE streams (ms). Default 1000. */
  readonly retryMs?: number
  /** SSE keep-alive comment period (ms); 0 = none. Default 15 000. */
  readonly keepAliveMs?: number
  /**
   * Hibernate a session's chart after this long with nothing in flight (the
   * actor is stopped, its snapshot kept; see `ServerSession.hibernate`). An
   * idle session then costs a few hundred bytes of heap. 0 disables. Default 1000 ms.
   */
  readonly hibernateAfterMs?: number
  /** Close (without ending) legacy SSE connections after this long, for polling; 0 = never. Default 0. */
  readonly sseMaxDurationMs?: number
  /** Unsent bytes after which a stalled SSE client is disconnected. Default 4 MiB. */
  readonly maxBufferedBytes?: number
  /** Serve 2026-07-28 (stateless) requests. Default true. */
  readonly modern?: boolean
  /** How 2026-07-28 requests run their chart (`chart: "always"` skips the fast path; see ModernRequest.ts). */
  readonly modernRequests?: ModernRequestOptions
  /**
   * Refuse (400) a supported `MCP-Protocol-Version` that differs from the
   * session's negotiated version. Default false: the spec's server MUST is
   * only "invalid or unsupported → 400" (the client's header SHOULD be the
   * negotiated one, transports.mdx:L263-L280), the SDK server accepts any
   * supported version, and conformance 0.1.16 (server-sse-polling,
   * server-sse-multiple-streams) sends 2025-03-26 on 2025-11-25 sessions.
   * The session's negotiated version governs either way.
   */
  readonly versionHeaderMustMatch?: boolean
  readonly authenticate?: Authenticate
  /** Also list live sessions in this registry (the runtime's lists them already). */
  readonly registry?: RegistryUnsafe
  /**
   * The runtime that supervises the sessions (a scope each, its registry, its
   * actor tree: this endpoint is a listener under its root). Default: the process's.
   */
  readonly runtime?: McpRuntime
  /** Unexpected errors (a throwing auth hook, a bug); default `console.error`. */
  readonly onError?: (error: unknown) => void
}

/** Options of `makeHttpServer`: the handler's options plus where to listen. */
export interface HttpServerOptions extends HttpHandlerOptions {
  /** Default 0 (any free port). */
  readonly port?: number
  /** Default "127.0.0.1" (spec: bind to localhost when running locally). */
  readonly host?: string
  /** Serve the live inspector (docs/inspector.md) on 127.0.0.1 too; read `inspector.url`. */
  readonly inspect?: boolean | InspectorOptions
}

export interface HttpCloseOptions {
  /** How long in-flight requests may finish before they are cancelled. Default 5000 ms. */
  readonly drainMs?: number
}

