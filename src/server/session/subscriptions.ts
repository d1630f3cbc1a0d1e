/**
 * `subscriptions/listen` (2026-07-28, spec-digest §2 "Subscriptions"): a request that
 * stays in flight as the stream of the changes its filter asked for. The
 * acknowledgement (the honoured filter) is the first message; each notification
 * carries the listen id in `_meta`. It ends when the client cancels it (closes the
 * HTTP stream; `notifications/cancelled` on stdio), with a `complete` result on a
 * graceful close (`completeAll`), or silently with the transport.
 *
 * Its `resourceSubscriptions` pass the server's guard one by one as subscriptions (the same
 * decision as a legacy `resources/subscribe` of the URI: policy, rate limit, approval, audit), then
 * the per-session cap, then the server's hook (the gateway). A refused URI is left out of the
 * acknowledged filter, the spec's form ("reflects the subset the server agreed to honor",
 * basic/patterns/subscriptions.mdx), and its error, the legacy subscribe's, is under
 * `_meta[META_REFUSED_SUBSCRIPTIONS]`. An approval holds the acknowledgement until it is decided;
 * a listen cannot ask its own client (no `input_required` on a listen), so the client approver
 * refuses it (-32003).
 */
import { ErrorCode, errorMessage, McpError, rpcError, type RpcErrorObject } from "../../protocol/errors.ts"
import { errorResponse, type JsonRpcMessage, type JsonRpcRequest, notification, type RequestId } from "../../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../../protocol/modern.ts"
import {
  ACKNOWLEDGED_METHOD,
  honoredFilter,
  LISTEN_METHOD,
  META_REFUSED_SUBSCRIPTIONS,
  META_SUBSCRIPTION_ID,
  parseSubscriptionFilter,
  type RefusedSubscriptions,
  type SubscriptionFilter,
  subscriptionNotification
} from "../../protocol/subscriptions.ts"
import type { Admission, CallGuard } from "../CallGuard.ts"
import { isThenable, type Result, tooManySubscriptions } from "../dispatch.ts"
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
  /** Something threw after the guard decided (asynchronously): the request is answered -32603. */
  fault(e: unknown): void
}

/** An open `subscriptions/listen`: its in-flight entry, the context its result is built for, and how to stop listening. */
interface Listen {
  readonly entry: InFlight
  readonly modern: ModernRequestContext
  readonly unlisten: () => void
}

/** What the guard said of one URI of a listen: admitted (its admission hears how the acknowledgement went) or refused. */
type Verdict =
  | { readonly admitted: true; readonly uri: string; readonly admission: Admission | undefined }
  | { readonly admitted: false; readonly uri: string; readonly error: RpcErrorObject }

/** The error a refused URI gets: the guard's own (-32003 denied, -32004 rate limited, …), -32603 for anything else. */
const refusal = (uri: string, e: unknown): Verdict => ({
  admitted: false,
  uri,
  error: e instanceof McpError ? e.toRpcError() : rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
})

/**
 * Each URI decided by the guard as a subscription (`subscriptions/listen`: the guard decides it as a
 * legacy `resources/subscribe`, a read of the URI), in order, until `cap` are admitted (one waiting
 * for an approval holds its place); the rest get the cap's -32014 without a decision. Synchronous
 * unless an admission is (an approval): then once every one has settled. Never rejects.
 */
const admitUris = (guard: CallGuard, uris: ReadonlyArray<string>, cap: number, ctx: RequestContext): ReadonlyArray<Verdict> | Promise<ReadonlyArray<Verdict>> => {
  const out: Array<Verdict | Promise<Verdict>> = []
  let waiting = false
  let admitted = 0
  for (const uri of uris) {
    if (admitted >= cap) {
      out.push(refusal(uri, tooManySubscriptions(cap)))
      continue
    }
    let a: ReturnType<CallGuard["admit"]>
    try {
      a = guard.admit({ method: LISTEN_METHOD, kind: "resource", name: uri, args: undefined }, ctx)
    } catch (e) {
      out.push(refusal(uri, e))
      continue
    }
    admitted++
    if (!isThenable(a)) out.push({ admitted: true, uri, admission: a })
    else {
      waiting = true
      out.push(Promise.resolve(a).then((admission): Verdict => ({ admitted: true, uri, admission }), (e: unknown) => refusal(uri, e)))
    }
  }
  return waiting ? Promise.all(out) : out as Array<Verdict>
}

/** Tell each admission how its URI fared: acknowledged (`honored`), or not (`why`). */
const settle = (verdicts: ReadonlyArray<Verdict>, honored: ReadonlyArray<string> | undefined, why: string): void => {
  const acknowledged = new Set(honored)
  for (const v of verdicts) {
    if (v.admitted) v.admission?.done(acknowledged.has(v.uri) ? { outcome: "ok" } : { outcome: "error", error: why })
  }
}

/** The refused URIs as the acknowledgement's `_meta` carries them: one entry per distinct error, with its URIs. */
const refusals = (verdicts: ReadonlyArray<Verdict>): ReadonlyArray<RefusedSubscriptions> => {
  const byError = new Map<string, { uris: Array<string>; error: RpcErrorObject }>()
  for (const v of verdicts) {
    if (v.admitted) continue
    const key = JSON.stringify(v.error)
    const group = byError.get(key)
    if (group === undefined) byError.set(key, { uris: [v.uri], error: v.error })
    else group.uris.push(v.uri)
  }
  return [...byError.values()]
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
    const filter = honoredFilter(parsed.filter, host.server.capabilities())
    const entry = newInFlight(req)
    host.track(entry)
    const asked = filter.resourceSubscriptions
    const cap = host.server.maxSubscriptionsPerSession
    const guard = host.server.guard
    const ctx = guard === undefined || asked === undefined || asked.length === 0 ? undefined : host.context?.(entry)
    if (ctx === undefined) {
      // The first `maxSubscriptionsPerSession` URIs are acknowledged (a modern listen is its own session).
      const capped = asked !== undefined && asked.length > cap ? asked.slice(0, cap) : asked
      return this.acknowledge(entry, modern, capped === asked ? filter : { ...filter, resourceSubscriptions: capped }, [])
    }
    // What the caller may not subscribe to it may not watch: each URI is decided as a legacy
    // `resources/subscribe` of it (the guard's own check: policy, rate limit, approval, audit).
    const verdicts = admitUris(guard!, asked!, cap, ctx)
    const opened = (v: ReadonlyArray<Verdict>) => {
      // Cancelled (or the session ended) while the guard decided: nothing was acknowledged.
      if (entry.done || entry.controller?.signal.aborted === true) return settle(v, undefined, "the listen ended before it was acknowledged")
      this.acknowledge(entry, modern, { ...filter, resourceSubscriptions: v.flatMap((x) => (x.admitted ? [x.uri] : [])) }, v)
    }
    if (!isThenable(verdicts)) return opened(verdicts)
    verdicts.then(opened).catch((e: unknown) => host.fault(e))
  }

  /** Acknowledge `filter` (its resource URIs go to the server's hook first) and listen until cancelled. */
  private acknowledge(entry: InFlight, modern: ModernRequestContext, requested: SubscriptionFilter, verdicts: ReadonlyArray<Verdict>): void {
    const host = this.host
    const id = entry.request.id
    let filter = requested
    // The resource URIs go to the server's hook (the gateway subscribes upstream): it says which it will deliver.
    const hook = host.server.resourceSubscriptions
    let endResources: (() => void) | undefined
    if (filter.resourceSubscriptions !== undefined && filter.resourceSubscriptions.length > 0 && hook?.listen !== undefined) {
      const { honored, end } = hook.listen(filter.resourceSubscriptions, entry)
      filter = { ...filter, resourceSubscriptions: honored }
      endResources = end
    }
    settle(verdicts, filter.resourceSubscriptions, "not acknowledged: nothing the server reaches can be subscribed to for it")
    const refused = refusals(verdicts)
    const _meta = refused.length === 0 ? { [META_SUBSCRIPTION_ID]: id } : { [META_SUBSCRIPTION_ID]: id, [META_REFUSED_SUBSCRIPTIONS]: refused }
    host.send(notification(ACKNOWLEDGED_METHOD, { _meta, notifications: filter }), id)
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
    const signal = (entry.controller ??= new AbortController()).signal
    signal.addEventListener("abort", () => {
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
