/**
 * Typed errors of the Streamable HTTP client. Like the other client errors
 * (`src/protocol/requestErrors.ts`) they carry no JSON-RPC code: they are local
 * failures, never mistaken for an answer from the server
 * (2026-07-28/basic/index.mdx:L146-L151).
 */
import { Schema } from "effect"

/**
 * The server answered a request with an HTTP error status whose body was not a
 * JSON-RPC error (a proxy's 502, a 401 without a body, a 500 in plain text).
 * When the body *is* a JSON-RPC error the caller gets an `RpcError` instead.
 */
export class HttpError extends Schema.TaggedError<HttpError>()("HttpError", {
  method: Schema.String,
  status: Schema.Number,
  message: Schema.String,
  /** The first bytes of the body, for diagnostics. */
  body: Schema.optional(Schema.String)
}) {}

/**
 * An HTTP exchange failed below HTTP: no status was received.
 * `reachedServer` is false when the request certainly never reached the server
 * (connection refused, DNS failure, unreachable network, connect timeout):
 * no connection existed, so sending it again cannot duplicate anything. A
 * reset on an established (or reused keep-alive) connection counts as
 * reached: the server may have acted on it.
 */
export class HttpNetworkError extends Schema.TaggedError<HttpNetworkError>()("HttpNetworkError", {
  code: Schema.String,
  reachedServer: Schema.Boolean,
  message: Schema.String
}) {}
