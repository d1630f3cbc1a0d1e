/**
 * Which outgoing messages make their older copies obsolete, decided from the message itself.
 *
 * A paramless `notifications/<list>/list_changed` says one thing: "list again". A client that
 * gets the newest one knows all the older ones said, so a queue of messages waiting for a
 * client (the Streamable HTTP event store, for a `Last-Event-ID` resume) needs only the newest
 * copy on a stream. Without that, a session whose client left without closing it (the official
 * SDK's `close()` sends no DELETE) stores one per catalog change until it expires
 * (docs/reliability.md, "abandoned gateway sessions stored every catalog change").
 *
 * Decided here, on the message, and handed to the store as data: a store is a transport concern
 * and must not know MCP methods, nor read our serializer's key order and spacing.
 */
import type { JsonRpcMessage } from "./jsonrpc.ts"

const PREFIX = "notifications/"
const SUFFIX = "/list_changed"

/**
 * The key under which `message` supersedes older messages with the same key on the same stream,
 * or undefined when it supersedes nothing (the common case: requests, responses, progress,
 * logs, `resources/updated`, any notification with parameters).
 *
 * The key is the method, for a notification whose method is `notifications/<list>/list_changed`
 * (one segment between, e.g. `tools`, `prompts`, `resources`, `roots`) and whose params carry
 * nothing: absent, `{}`, or `{ _meta: {} }`.
 *
 * A non-empty `_meta` is information: its keys carry metadata the receiver may act on
 * (2026-07-28/basic/index.mdx:L330-L344 reserves trace context such as `traceparent`; listen-stream
 * notifications carry the `io.modelcontextprotocol/subscriptionId` that clients "MUST correlate" on,
 * basic/patterns/subscriptions.mdx), and the sender cannot tell which entries matter. Two copies
 * with different `_meta` are then not the same message, so such a notification supersedes nothing
 * and is kept.
 *
 * Never throws on what a handler may put in a message (prototype-named keys, null-prototype
 * objects, arrays as params): anything not recognised is simply not superseding.
 */
export const supersedingKey = (message: JsonRpcMessage): string | undefined => {
  if (!("method" in message) || "id" in message) return undefined
  const method: unknown = message.method
  if (typeof method !== "string" || !isListChanged(method)) return undefined
  return carriesNothing(message.params) ? method : undefined
}

/** `notifications/<one segment>/list_changed`. */
const isListChanged = (method: string): boolean =>
  method.length > PREFIX.length + SUFFIX.length &&
  method.startsWith(PREFIX) &&
  method.endsWith(SUFFIX) &&
  method.indexOf("/", PREFIX.length) === method.length - SUFFIX.length

/** Params that serialize to nothing but `{}` or `{"_meta":{}}` (keys whose value is undefined are not serialized). */
const carriesNothing = (params: unknown): boolean => {
  if (params === undefined) return true
  if (!isPlainRecord(params)) return false
  for (const key of Object.keys(params)) {
    const value = (params as Record<string, unknown>)[key]
    if (value === undefined) continue
    if (key === "_meta" && isPlainRecord(value) && Object.keys(value).every((k) => (value as Record<string, unknown>)[k] === undefined)) continue
    return false
  }
  return true
}

/** A plain object (or a null-prototype one): an array, a `Date` or a class instance serializes otherwise. */
const isPlainRecord = (value: unknown): value is object => {
  if (typeof value !== "object" || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
