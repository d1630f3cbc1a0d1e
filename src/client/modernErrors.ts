/**
 * Typed errors specific to the modern-era (2026-07-28) client, next to the
 * shared ones in errors.ts (RpcError, RequestTimeout, …, and
 * UnsupportedProtocolVersion, which the modern client reuses when no mutually
 * supported version is left after a -32022).
 */
import { Schema } from "effect"

/**
 * -32021 MissingRequiredClientCapabilityError: the request needs client
 * capabilities that our `_meta` did not declare (2026-07-28/basic/index.mdx:L373-L392).
 */
export class MissingClientCapability extends Schema.TaggedError<MissingClientCapability>()("MissingClientCapability", {
  method: Schema.String,
  /** The missing capabilities as dotted paths (`elicitation`, `elicitation.url`). */
  requiredCapabilities: Schema.Array(Schema.String),
  /** `data.requiredCapabilities` as the server sent it (a `ClientCapabilities` object). */
  required: Schema.Unknown,
  message: Schema.String
}) {}

/**
 * The result's `resultType` is not one this client knows ("complete", or
 * "input_required"); a missing `resultType` counts as "complete" (changelog item 8).
 */
export class InvalidResult extends Schema.TaggedError<InvalidResult>()("InvalidResult", {
  method: Schema.String,
  resultType: Schema.Unknown,
  message: Schema.String
}) {}

/**
 * The server answered `resultType: "input_required"` (MRTR, basic/patterns/mrtr.mdx):
 * it needs inputs (elicitation, sampling, roots) before it can complete, and
 * this client has no handler for one of them (or gave up after
 * `maxInputRounds` retries); the request is over.
 */
export class InputRequired extends Schema.TaggedError<InputRequired>()("InputRequired", {
  method: Schema.String,
  inputRequests: Schema.Unknown,
  requestState: Schema.Unknown,
  message: Schema.String
}) {}

/**
 * A `subscriptions/listen` ended before the server acknowledged it: rejected
 * (e.g. -32601 from a server without subscriptions), out of reconnection
 * attempts, closed by the caller, or the client's transport ended.
 */
export class ListenFailed extends Schema.TaggedError<ListenFailed>()("ListenFailed", {
  state: Schema.String,
  message: Schema.String
}) {}
