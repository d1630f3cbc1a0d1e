/**
 * `subscriptions/listen` (2026-07-28, spec-digest §2 "Subscriptions"): a request that
 * stays in flight as the stream of the changes its filter asked for. The
 * acknowledgement (the honoured filter) is the first message; each notification
 * carries the listen id in `_meta`. It ends when the client cancels it (closes the
 * HTTP stream; `notifications/cancelled` on stdio), with a `complete` result on a
 * graceful close (`completeAll`), or silently with the transport.
 */
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { errorResponse, type JsonRpcMessage, type JsonRpcRequest, notification, type RequestId } from "../../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../../protocol/modern.ts"
import {
  ACKNOWLEDGED_METHOD,
  honoredFilter,
  META_SUBSCRIPTION_ID,
  parseSubscriptionFilter,
  subscriptionNotification
} from "../../protocol/subscriptions.ts"
import type { Result } from "../dispatch.ts"
import type { McpServer } from "../McpServer.ts"
import type { RequestContext } from "../RequestContext.ts"
import { type InFlight, newInFlight } from "./InFlight.ts"

/** What the open listens need of their session. */
export interface ListenHost {
  readonly server: McpServer
  send(message: JsonRpcMessage, related: RequestId): void
  /** Put the listen's entry in the session's in-flight table (a cancel finds it there). */
  track(entry: InFlight): void
  /** Answer the entry with `value` (the session's usual way, modern result included). */
  finish(entry: InFlight, value: Result, modern: ModernRequestContext): void
  /** The request's context (who asks): what the server's guard decides the listen's resource URIs for. */
  context?(entry: InFlight): RequestContext
}

/** An open `subscriptions/listen`: its in-flight entry, the context its result is built for, and how to stop listening. */
interface Listen {
  readonly entry: InFlight
  readonly modern: ModernRequestContext
  readonly unlisten: () => void
}

/** A session's open `subscriptions/listen` requests (also in its in-flight table), with what ends them gracefully. */
export class Listens {
  private readonly open = new Map<RequestId, Listen>()
  private readonly host: ListenHost
  constructor(host: ListenHost) {
    this.host = host
  }

  /** Start listening for `req` (or answer -32602 for a malformed filter). */
  listen(req: JsonRpcRequest, modern: ModernRequestContext): void {
    const host = this.host
    const id = req.id
    const parsed = parseSubscriptionFilter(req.params)
    if (!parsed.ok) {
      host.send(errorResponse(id, rpcError(ErrorCode.InvalidParams, `Invalid params: ${parsed.message}`)), id)
      return
    }
    let filter = honoredFilter(parsed.filter, host.server.capabilities())
    const entry = newInFlight(req)
    const asked = filter.resourceSubscriptions
    if (asked !== undefined && asked.length > 0) {
      // What the caller may not read it may not watch: the guard keeps what a resources/list would
      // show it (a resource has no arguments, so shown = a read not denied). Then the cap: the
      // first `maxSubscriptionsPerSession` URIs are acknowledged (a modern listen is its own session).
      const guard = host.server.guard
      const ctx = guard === undefined ? undefined : host.context?.(entry)
      const allowed = guard === undefined || ctx === undefined ? asked : guard.filter("resources", asked, (uri) => uri, ctx)
      const capped = allowed.length > host.server.maxSubscriptionsPerSession ? allowed.slice(0, host.server.maxSubscriptionsPerSession) : allowed
      if (capped !== asked) filter = { ...filter, resourceSubscriptions: capped }
    }
    // The resource URIs go to the server's hook (the gateway subscribes upstream): it says which it will deliver.
    const hook = host.server.resourceSubscriptions
    let endResources: (() => void) | undefined
    if (filter.resourceSubscriptions !== undefined && filter.resourceSubscriptions.length > 0 && hook?.listen !== undefined) {
      const { honored, end } = hook.listen(filter.resourceSubscriptions, entry)
      filter = { ...filter, resourceSubscriptions: honored }
      endResources = end
    }
    host.track(entry)
    host.send(notification(ACKNOWLEDGED_METHOD, { _meta: { [META_SUBSCRIPTION_ID]: id }, notifications: filter }), id)
    const unlisten = host.server.onChange((change) => {
      const n = subscriptionNotification(filter, change, id)
      if (n !== undefined && !entry.done) host.send(notification(n.method, n.params), id)
    })
    const stop = endResources === undefined ? unlisten : () => {
      unlisten()
      endResources()
    }
    this.open.set(id, { entry, modern, unlisten: stop })
    // A cancel or the session's end aborts the entry: stop listening then.
    entry.controller = new AbortController()
    entry.controller.signal.addEventListener("abort", () => {
      // Once: `completeAll` may have stopped it already.
      if (this.open.get(id)?.entry === entry) stop()
      this.open.delete(id)
    }, { once: true })
  }

  /** End every open listen with its `complete` result: what a graceful close SHOULD do. */
  completeAll(): void {
    for (const [id, { entry, modern, unlisten }] of this.open) {
      this.open.delete(id)
      unlisten()
      this.host.finish(entry, { _meta: { [META_SUBSCRIPTION_ID]: id } }, modern)
    }
  }
}
