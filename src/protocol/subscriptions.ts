/**
 * Modern-era (2026-07-28) subscriptions: `subscriptions/listen` replaces the
 * legacy GET stream and `resources/subscribe` (changelog item 4). The rules,
 * as pure functions both sides share:
 * - the request names a filter; the server honours only what it can deliver
 *   and says so in `notifications/subscriptions/acknowledged`, the first
 *   message of the stream;
 * - it "MUST NOT send notification types the client has not explicitly
 *   requested";
 * - every notification on the stream carries
 *   `_meta["io.modelcontextprotocol/subscriptionId"]` = the listen request id;
 * - a graceful server close answers the listen with `{resultType: "complete"}`.
 * (spec-digest §2, "Subscriptions"; effect's `v2026_07_28.ts` reads the same.)
 */
import type { ServerCapabilities } from "./capabilities.ts"
import { rpcError, type RpcErrorObject } from "./errors.ts"
import { isObject, type Params, type RequestId } from "./jsonrpc.ts"

export const LISTEN_METHOD = "subscriptions/listen"
export const ACKNOWLEDGED_METHOD = "notifications/subscriptions/acknowledged"
export const META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
/**
 * Ours, in the acknowledgement's `_meta`: the `resourceSubscriptions` a server refused (its policy
 * guard, its cap), each error with its URIs ({@link RefusedSubscriptions}). The spec's answer is only
 * to leave them out of the acknowledged filter; this says why, with the error a legacy
 * `resources/subscribe` of the URI gets.
 */
export const META_REFUSED_SUBSCRIPTIONS = "io.github.mcp-actors/refusedSubscriptions"

/** One entry of {@link META_REFUSED_SUBSCRIPTIONS}: the URIs refused with this error. */
export interface RefusedSubscriptions {
  readonly uris: ReadonlyArray<string>
  readonly error: RpcErrorObject
}

/**
 * The refusals of an acknowledgement's `params` (`_meta[META_REFUSED_SUBSCRIPTIONS]`), as a client
 * reads them from its peer: only well-formed entries (URIs all strings, an error with an integer
 * `code` and a string `message`), copied; anything else is ignored. Empty when there are none.
 */
export const refusedSubscriptionsOf = (params: Params | undefined): ReadonlyArray<RefusedSubscriptions> => {
  const meta = params?._meta
  if (!isObject(meta) || !Object.hasOwn(meta, META_REFUSED_SUBSCRIPTIONS)) return []
  const entries = meta[META_REFUSED_SUBSCRIPTIONS]
  if (!Array.isArray(entries)) return []
  const refused: Array<RefusedSubscriptions> = []
  for (const entry of entries as ReadonlyArray<unknown>) {
    if (!isObject(entry) || !Object.hasOwn(entry, "uris") || !Object.hasOwn(entry, "error")) continue
    const { uris, error } = entry
    if (!Array.isArray(uris) || !uris.every((u) => typeof u === "string")) continue
    if (!isObject(error) || !Object.hasOwn(error, "code") || !Object.hasOwn(error, "message")) continue
    const { code, message } = error
    if (!Number.isInteger(code) || typeof message !== "string") continue
    const data = Object.hasOwn(error, "data") ? error.data : undefined
    refused.push({ uris: [...uris] as Array<string>, error: rpcError(code as number, message, data) })
  }
  return refused
}

/**
 * What a modern client asks to hear on a `subscriptions/listen` stream. The server
 * acknowledges the part it can deliver and never sends anything outside it.
 */
export interface SubscriptionFilter {
  readonly toolsListChanged?: boolean
  readonly promptsListChanged?: boolean
  readonly resourcesListChanged?: boolean
  /** Resource URIs whose `notifications/resources/updated` the client wants. */
  readonly resourceSubscriptions?: ReadonlyArray<string>
}

/** Something changed on the server (what `McpServer` tells its sessions). */
export type ServerChange =
  | { readonly type: "tools" }
  | { readonly type: "resources" }
  | { readonly type: "prompts" }
  | { readonly type: "resourceUpdated"; readonly uri: string }

const FLAGS = ["toolsListChanged", "promptsListChanged", "resourcesListChanged"] as const

/** The filter of a `subscriptions/listen` request, or why it is invalid (→ -32602). */
export const parseSubscriptionFilter = (
  params: Params | undefined
): { readonly ok: true; readonly filter: SubscriptionFilter } | { readonly ok: false; readonly message: string } => {
  const raw = params?.notifications
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, message: "subscriptions/listen needs a `notifications` filter object" }
  }
  const source = raw as Record<string, unknown>
  const filter: { -readonly [K in keyof SubscriptionFilter]: SubscriptionFilter[K] } = {}
  for (const flag of FLAGS) {
    const v = source[flag]
    if (v === undefined) continue
    if (typeof v !== "boolean") return { ok: false, message: `notifications.${flag} must be a boolean` }
    filter[flag] = v
  }
  const uris = source.resourceSubscriptions
  if (uris !== undefined) {
    if (!Array.isArray(uris) || !uris.every((u) => typeof u === "string")) {
      return { ok: false, message: "notifications.resourceSubscriptions must be an array of URI strings" }
    }
    filter.resourceSubscriptions = uris
  }
  return { ok: true, filter }
}

/**
 * What the server will deliver of `requested`: only the kinds its capabilities
 * advertise (`listChanged`, `resources.subscribe`). The acknowledgement carries
 * this, so the client knows what it will not get.
 */
export const honoredFilter = (requested: SubscriptionFilter, capabilities: ServerCapabilities): SubscriptionFilter => {
  const honored: { -readonly [K in keyof SubscriptionFilter]: SubscriptionFilter[K] } = {}
  if (requested.toolsListChanged === true && capabilities.tools?.listChanged === true) honored.toolsListChanged = true
  if (requested.promptsListChanged === true && capabilities.prompts?.listChanged === true) honored.promptsListChanged = true
  if (requested.resourcesListChanged === true && capabilities.resources?.listChanged === true) honored.resourcesListChanged = true
  if (requested.resourceSubscriptions !== undefined && capabilities.resources?.subscribe === true) {
    honored.resourceSubscriptions = [...new Set(requested.resourceSubscriptions)]
  }
  return honored
}

/** The notification a change becomes on a stream with this (honoured) filter, or undefined when not asked for. */
export const subscriptionNotification = (
  filter: SubscriptionFilter,
  change: ServerChange,
  subscriptionId: RequestId
): { readonly method: string; readonly params: Params } | undefined => {
  const _meta = { [META_SUBSCRIPTION_ID]: subscriptionId }
  switch (change.type) {
    case "tools":
      return filter.toolsListChanged === true ? { method: "notifications/tools/list_changed", params: { _meta } } : undefined
    case "prompts":
      return filter.promptsListChanged === true ? { method: "notifications/prompts/list_changed", params: { _meta } } : undefined
    case "resources":
      return filter.resourcesListChanged === true ? { method: "notifications/resources/list_changed", params: { _meta } } : undefined
    case "resourceUpdated":
      return filter.resourceSubscriptions?.includes(change.uri) === true
        ? { method: "notifications/resources/updated", params: { uri: change.uri, _meta } }
        : undefined
  }
}

/** The stream a notification belongs to (`_meta` subscription id), if any. */
export const subscriptionIdOf = (params: Params | undefined): RequestId | undefined => {
  const id = (params?._meta as Record<string, unknown> | undefined)?.[META_SUBSCRIPTION_ID]
  return typeof id === "string" || typeof id === "number" ? id : undefined
}
