/**
 * JSON-RPC and MCP error codes, and the error object sent on the wire.
 *
 * Codes come from JSON-RPC 2.0 and the MCP schemas (spec-digest §6): legacy uses
 * -32002 for a missing resource; 2026-07-28 reserves -32020..-32099 for the spec.
 */
import { Schema } from "effect"
import { RpcError } from "./requestErrors.ts"

/**
 * JSON-RPC error codes by name, so code reads `ErrorCode.InvalidParams` rather than -32602.
 * As a type, the union of the codes.
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /**
   * Implementation-defined (legacy sub-range -32000..-32019; receivers must not assume a meaning):
   * the session or connection ended (or is ending) before the request was answered. The SDK's
   * `ErrorCode.ConnectionClosed` has the same value, so an SDK peer that tests for it still matches.
   * The only meaning of -32000 here.
   */
  ConnectionClosed: -32000,
  /**
   * HTTP 400 at the transport: a missing or malformed `Mcp-Session-Id`, an unsupported
   * `MCP-Protocol-Version` header. [SDK v1] answers these with -32000 (spec-digest §3 "server
   * status codes"); this code is our own so that -32000 keeps one meaning. Wire-compatible: SDK
   * clients go by the HTTP status (their transport fails on it and only quotes the body in
   * the message), and a dual-era probe counts any code but -32020..-32022 as legacy.
   */
  BadRequest: -32012,
  /** HTTP 404 for a path nothing is served at (not a session's 404, which is `SessionNotFound`). */
  NotFound: -32013,
  /** [SDK v1 interop] "Session not found" over Streamable HTTP. */
  SessionNotFound: -32001,
  /** Legacy (≤ 2025-11-25) resource not found. */
  ResourceNotFound: -32002,
  /** Refused by the policy gateway (implementation-defined, both eras); `data.policies` names the deciding policies. */
  PolicyDenied: -32003,
  /** A rate limit tripped; `data.retryAfterMs` says when to try again. */
  RateLimited: -32004,
  /** HTTP 403: the request's `Origin` or `Host` is not allowed (DNS-rebinding protection). */
  Forbidden: -32005,
  /** HTTP 405: the HTTP method is not part of the endpoint (or of the request's protocol era). */
  MethodNotAllowed: -32006,
  /** HTTP 406: `Accept` does not list what the endpoint answers with. */
  NotAcceptable: -32007,
  /** HTTP 415: the body is not `application/json`. */
  UnsupportedMediaType: -32008,
  /** HTTP 409: a second standalone or resumed SSE stream for what already has one. */
  Conflict: -32009,
  /** HTTP 503: the server is shutting down or full; `Retry-After` says when to try again. */
  ServiceUnavailable: -32010,
  /** HTTP 401: no or invalid credentials (`WWW-Authenticate` says how to get them). */
  Unauthorized: -32011,
  /**
   * A session's `resources/subscribe` over its cap of subscribed URIs (`McpServer`'s
   * `maxSubscriptionsPerSession`); `data.limit` is the cap. Implementation-defined, in the legacy
   * sub-range (-32000..-32019), because the spec has no code for a quota: not -32602 (the params
   * are valid; the same URI is fine for a session under its cap), not -32603 (nothing failed).
   * `resources/subscribe` exists in the legacy era only (2026-07-28 removed it), so the modern
   * rule against new codes in that sub-range does not reach it; a modern listen over the cap is
   * acknowledged with the URIs it will get instead.
   */
  TooManySubscriptions: -32014,
  /** 2025-11-25 URL-mode elicitation required. */
  UrlElicitationRequired: -32042,
  /** 2026-07-28: an `Mcp-*` header does not match the body. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability that `_meta` did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: the `_meta` protocol version is not supported. */
  UnsupportedProtocolVersion: -32022
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/**
 * The JSON-RPC code for an HTTP error status written by the transport (one meaning per status,
 * see the codes above): 400 → `BadRequest`, 401, 403, 404 → `NotFound` (a path; a session's 404 is
 * `SessionNotFound`, written where the session is looked up), 405, 406, 409, 415, 429 → `RateLimited`, 503.
 */
export const httpStatusErrorCode = (status: number): number => {
  switch (status) {
    case 401: return ErrorCode.Unauthorized
    case 403: return ErrorCode.Forbidden
    case 404: return ErrorCode.NotFound
    case 405: return ErrorCode.MethodNotAllowed
    case 406: return ErrorCode.NotAcceptable
    case 409: return ErrorCode.Conflict
    case 415: return ErrorCode.UnsupportedMediaType
    case 429: return ErrorCode.RateLimited
    case 503: return ErrorCode.ServiceUnavailable
    default: return ErrorCode.BadRequest
  }
}

/** The `error` member of a JSON-RPC error response. */
export interface RpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

export const rpcError = (code: number, message: string, data?: unknown): RpcErrorObject =>
  data === undefined ? { code, message } : { code, message, data }

/** A peer's error object as the `RpcError` a request of `method` fails with (no `data` field when the peer sent none). */
export const rpcErrorOf = (method: string, error: RpcErrorObject): RpcError =>
  new RpcError({ method, code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) })

/** The codes that mark a response as "modern" (2026-07-28) when a dual-era client probes. */
export const MODERN_ERROR_CODES: ReadonlySet<number> = new Set([
  ErrorCode.HeaderMismatch,
  ErrorCode.MissingRequiredClientCapability,
  ErrorCode.UnsupportedProtocolVersion
])

/**
 * An error raised by a handler that should reach the peer as a JSON-RPC error
 * with this code (anything else thrown becomes -32603 Internal error).
 *
 * A `Schema.TaggedError` (`_tag: "McpError"`: `Effect.catchTag("McpError", …)`, and `return yield*
 * new McpError(…)` in an Effect handler) that keeps the positional constructor `(code, message,
 * data)` handlers have always thrown; still an `Error` (`instanceof`, `message`, `stack`). The
 * fields are checked on construction (`code` a number, `message` a string): a peer's error object
 * is checked the same way before it becomes one (`src/protocol/jsonrpc.ts`).
 */
export class McpError extends Schema.TaggedError<McpError>()("McpError", {
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
}) {
  constructor(code: number, message: string, data?: unknown) {
    super({ code, message, data })
  }
  toRpcError(): RpcErrorObject {
    return rpcError(this.code, this.message, this.data)
  }
}

/** What to call anything thrown in a message or a log line: an Error's message, anything else as a string. */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e))
