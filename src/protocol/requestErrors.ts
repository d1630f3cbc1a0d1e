/**
 * Typed client errors. They are `Schema.TaggedError` classes, so the Effect API
 * can `catchTag` them, and plain `Error`s with a message for Promise users.
 * Local failures (timeouts, cancellations, a lost connection) carry no JSON-RPC
 * code, so they cannot be mistaken for errors from the peer (2026-07-28/basic/index.mdx:L146-L151).
 */
import * as Schema from "effect/Schema"

/** The server answered with a JSON-RPC error. */
export class RpcError extends Schema.TaggedError<RpcError>()("RpcError", {
  method: Schema.String,
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
}) {}

/** No answer within the deadline (or the hard maximum); `notifications/cancelled` was sent. */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  method: Schema.String,
  afterMs: Schema.Number,
  deadline: Schema.Literals(["request", "maxTotal"]),
  message: Schema.String
}) {}

/** The caller cancelled (AbortSignal or fiber interruption); `notifications/cancelled` was sent. */
export class RequestCancelled extends Schema.TaggedError<RequestCancelled>()("RequestCancelled", {
  method: Schema.String,
  message: Schema.String
}) {}

/** The transport ended while the request was in flight (the child died, the socket dropped): failed fast. */
export class ConnectionLost extends Schema.TaggedError<ConnectionLost>()("ConnectionLost", {
  method: Schema.String,
  message: Schema.String
}) {}

/** The server did not advertise the capability this method needs; nothing was sent. */
export class CapabilityNotSupported extends Schema.TaggedError<CapabilityNotSupported>()("CapabilityNotSupported", {
  method: Schema.String,
  capability: Schema.String,
  message: Schema.String
}) {}

/** The server answered `initialize` with a protocol version this client does not support (it disconnected). */
export class UnsupportedProtocolVersion extends Schema.TaggedError<UnsupportedProtocolVersion>()("UnsupportedProtocolVersion", {
  requested: Schema.String,
  received: Schema.Unknown,
  supported: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** The session could not be established (initialize error, timeout, transport lost during the handshake). */
export class InitializeFailed extends Schema.TaggedError<InitializeFailed>()("InitializeFailed", {
  reason: Schema.String,
  message: Schema.String
}) {}

/** The session is not (or no longer) operating: closed, dead or failed. */
export class SessionClosed extends Schema.TaggedError<SessionClosed>()("SessionClosed", {
  method: Schema.String,
  message: Schema.String
}) {}

/** Streamable HTTP: the server lost the session and the call was not safe to replay after re-initializing. */
export class SessionLost extends Schema.TaggedError<SessionLost>()("SessionLost", {
  method: Schema.String,
  message: Schema.String
}) {}

/** Every way a client request can fail, for exhaustive `catchTag` handling. */
export type RequestError = RpcError | RequestTimeout | RequestCancelled | ConnectionLost | CapabilityNotSupported | SessionClosed | SessionLost
/** Every way establishing a legacy session can fail. */
export type ConnectError = UnsupportedProtocolVersion | InitializeFailed
