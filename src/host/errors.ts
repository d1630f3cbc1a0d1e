/**
 * Typed failures of the host's routing. A call never hangs on a server that
 * cannot serve it: it fails with one of these.
 */
import * as Schema from "effect/Schema"

/** The server is restarting, parked (circuit open) or stopped: the call was not sent. */
export class ServerUnavailable extends Schema.TaggedError<ServerUnavailable>()("ServerUnavailable", {
  server: Schema.String,
  state: Schema.String,
  /** The last error the server had. */
  reason: Schema.optional(Schema.String),
  /** When the next start (backoff end or park probe) happens, ms since the epoch, if known. */
  retryAt: Schema.optional(Schema.Number),
  message: Schema.String
}) {}

/** The connection serving the call went away while the call was in flight; the call may or may not have run. */
export class ServerConnectionLost extends Schema.TaggedError<ServerConnectionLost>()("ServerConnectionLost", {
  server: Schema.String,
  /** The connection generation the call was sent on. */
  generation: Schema.Number,
  reason: Schema.String,
  message: Schema.String
}) {}

/** No server advertises this tool / prompt / resource. */
export class UnknownName extends Schema.TaggedError<UnknownName>()("UnknownName", {
  kind: Schema.Literals(["tool", "prompt", "resource", "server"]),
  name: Schema.String,
  message: Schema.String
}) {}

/**
 * The server that serves the resource cannot be subscribed to: it does not declare
 * `resources.subscribe` (or, 2026-07-28, its `subscriptions/listen` left the URI out).
 */
export class SubscriptionUnsupported extends Schema.TaggedError<SubscriptionUnsupported>()("SubscriptionUnsupported", {
  server: Schema.String,
  uri: Schema.String,
  message: Schema.String
}) {}

/** The host is shutting down or closed. */
export class HostClosed extends Schema.TaggedError<HostClosed>()("HostClosed", {
  message: Schema.String
}) {}

export type HostCallError = ServerUnavailable | ServerConnectionLost | UnknownName | HostClosed | SubscriptionUnsupported
