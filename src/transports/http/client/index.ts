/**
 * Streamable HTTP client: the legacy-era transport (`HttpClientTransport`) and
 * the single exchanges it is built from (`postMessage`, `openEventStream`,
 * `deleteSession`); the modern-era (2026-07-28, sessionless) wire of a
 * `ModernClient` (`ModernHttpWire`, over the `ModernWire` contract of `../../modernWire.ts`); the SSE parser; typed errors.
 *
 * @since 0.1.0
 */
export { HttpError, HttpNetworkError } from "./errors.ts"
export {
  HttpClientTransport,
  type HttpClientTransportOptions,
  type HeadersInit,
  makeHttpClientTransport,
  reconnectDelay,
  type ReconnectOptions
} from "./HttpClientTransport.ts"
export {
  ACCEPT_POST,
  ACCEPT_SSE,
  deleteSession,
  type GetOutcome,
  HEADER_LAST_EVENT_ID,
  HEADER_PROTOCOL_VERSION,
  HEADER_SESSION_ID,
  type HttpExchangeOptions,
  mediaType,
  openEventStream,
  postMessage,
  type PostOutcome,
  rpcErrorOf,
  SseStream
} from "./HttpExchange.ts"
export { makeModernHttpWire, ModernHttpWire, type ModernHttpWireOptions } from "./ModernHttpWire.ts"
export { DEFAULT_CONNECT_TIMEOUT_MS, httpRequest, type HttpRequestOptions, makeAgent } from "./httpRequest.ts"
export { parseSse, type SseEvent, SseParser, type SseParserOptions } from "./SseParser.ts"
