/**
 * The host's resource subscriptions: per upstream server and URI, one upstream subscription
 * (`resources/subscribe`, or a 2026-07-28 upstream's `subscriptions/listen`) shared by every
 * subscriber, its updates delivered to each of them, made again on each new generation of the
 * server, and unsubscribed upstream when the last subscriber goes.
 *
 * Each (server, URI) is a `resourceSubscription` actor (machines/resourceSubscription.ts: the
 * chart decides who is held, when the upstream is subscribed again or unsubscribed); this module
 * supplies its upstream calls, keeps each subscriber's `onUpdated`, answers the callers from what
 * the chart emits, and delivers updates to the subscribers the chart holds. The actors are nodes
 * of the host's tree, children of their server's `serverConnection` actor (one inspection
 * observer sees them), and leave the table when their chart is released.
 *
 * `McpHost` owns one and delegates `subscribeResource`, `unsubscribeResource`,
 * `resourceSubscriptions` and `canSubscribe` to it; it tells it when a server's new generation is
 * ready (`generationReady`), each upstream `notifications/resources/updated` (`updated`) and the
 * host's closing (`close`).
 */
import { type Actor, type AnyActorRef, fromPromise } from "xstate"
import {
  type ResourceSubscriber,
  type ResourceSubscriptionInput,
  resourceSubscriptionMachine,
  type UpstreamSubscribed,
  type UpstreamUnsubscribe
} from "../../machines/resourceSubscription.ts"
import { ModernClient } from "../client/ModernClient.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import type { Result } from "../client/ClientSession.ts"
import type { Subscription } from "../client/Subscription.ts"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import { rpcErrorOf } from "../protocol/errors.ts"
import type { RefusedSubscriptions, SubscriptionFilter } from "../protocol/subscriptions.ts"
import { type Catalog, listingKnows, resourceOwner } from "./Catalog.ts"
import { HostClosed, SubscriptionUnsupported, UnknownName } from "./errors.ts"
import type { ServerConnection } from "./ServerConnection.ts"

/** A `notifications/resources/updated` of a subscribed URI, as the host delivers it to each subscriber. */
export interface ResourceUpdate {
  readonly server: string
  readonly uri: string
  /** The notification's params as the server sent them (`uri`, maybe `title`, `_meta`). */
  readonly params: Params | undefined
}

/** Who subscribes, where, and what hears the updates (`subscribeResource`). */
export interface SubscribeOptions {
  /**
   * Who subscribes: one subscription per subscriber and URI (subscribing again changes nothing; one
   * `unsubscribeResource` ends it). The gateway passes each served server. Default: the host API's own.
   */
  readonly subscriber?: object
  /** The server to subscribe on, by its configured name (the gateway's `/mcp/<server>`). Default: the server the catalog routes the URI to. */
  readonly server?: string
  /** Called with each update of the URI while subscribed. */
  readonly onUpdated?: (update: ResourceUpdate) => void
}

/** One upstream subscription as `resourceSubscriptions()` shows it. */
export interface ResourceSubscriptionView {
  readonly server: string
  readonly uri: string
  /** Subscribers (and those whose subscribe is under way). */
  readonly subscribers: number
  /** The connection generation the upstream subscription was made on (undefined: not made yet). */
  readonly generation: number | undefined
}

/** A ready upstream's client as a subscription uses it: its capabilities, and one request. */
export interface SubscribableClient {
  readonly serverCapabilities?: ServerCapabilities | undefined
  request(method: string, params?: Params, options?: object): Promise<Result>
}

/** What the subscriptions need from the host: its servers, its catalog, a ready client, a call, and whether it is closing. */
export interface SubscriptionsHost {
  connection(name: string): ServerConnection | undefined
  /** Every known entry (gated or not): what a URI routes by. */
  known(): Catalog
  /** The client of a ready server, waiting for one that is starting (a lazy one is started); restarting, parked, stopped: refused at once. */
  readyFor(conn: ServerConnection): Promise<{ readonly client: SubscribableClient; readonly generation: number }>
  /** A call on that client, ended if the connection is lost. */
  call(conn: ServerConnection, client: SubscribableClient, generation: number, method: string, params: Params): Promise<Result>
  closing(): boolean
  /** The runtime whose tree the subscription actors join. */
  readonly runtime: McpRuntime
  /** The actor the server's subscription actors are nodes under (its `serverConnection` actor). */
  actorParent(server: string): AnyActorRef | undefined
}

type OnUpdated = ((update: ResourceUpdate) => void) | undefined

/** One upstream subscription (server, URI): its chart's actor, its subscribers' `onUpdated`, and the callers waiting for its answer. */
interface UpstreamSubscription {
  readonly server: string
  readonly uri: string
  readonly actor: Actor<typeof resourceSubscriptionMachine>
  /** Each subscriber's (or joiner's) `onUpdated`. */
  readonly onUpdated: Map<ResourceSubscriber, OnUpdated>
  /** The callers of `subscribe` waiting, by subscriber (answered by the chart's `joined` / `refused`). */
  readonly waiting: Map<ResourceSubscriber, Array<{ readonly resolve: () => void; readonly reject: (e: unknown) => void }>>
  /** The callers of `unsubscribe` waiting for the upstream unsubscribe to be answered. */
  unsubscribed: Array<() => void>
}

/** What a modern upstream acknowledged of a listen, and what it refused, with its errors. */
interface Listened {
  readonly filter: SubscriptionFilter
  readonly refused: ReadonlyArray<RefusedSubscriptions>
}

/**
 * A modern upstream's subscribed URIs travel in one `subscriptions/listen` (2026-07-28 has no
 * `resources/subscribe`): when the set changes a new listen is opened with the whole set and, once
 * acknowledged, replaces the ones opened before it (an update arriving on both meanwhile is heard twice).
 */
interface UpstreamListens {
  readonly generation: number
  /** The number of the last listen opened, and of the newest acknowledged one. */
  seq: number
  acked: number
  open: Array<{ readonly seq: number; readonly subscription: Subscription }>
  /** The listen to open at the end of this tick (changes within one tick make one listen). */
  next: Promise<Listened | undefined> | undefined
}

/** The ModernClient behind an upstream client (itself, or a dual-era client's modern side). */
const modernOf = (client: unknown): ModernClient | undefined => {
  if (client instanceof ModernClient) return client
  const inner = (client as { readonly client?: unknown } | undefined)?.client
  return inner instanceof ModernClient ? inner : undefined
}

/** The host API's own subscriber (`subscribeResource` without `subscriber`). */
const API_SUBSCRIBER: object = Object.freeze({ subscriber: "host API" })

/** The host's upstream resource subscriptions (this module's header). */
export class ResourceSubscriptions {
  /** Upstream resource subscriptions, by server then URI (Maps: URIs come from peers). */
  private readonly subscriptions = new Map<string, Map<string, UpstreamSubscription>>()
  /** Per modern upstream: the `subscriptions/listen` streams carrying its subscribed URIs. */
  private readonly listens = new Map<string, UpstreamListens>()
  private readonly host: SubscriptionsHost
  /** The chart with this host's upstream calls. */
  private readonly logic: typeof resourceSubscriptionMachine

  constructor(host: SubscriptionsHost) {
    this.host = host
    this.logic = resourceSubscriptionMachine.provide({
      actors: {
        subscribeUpstream: fromPromise<UpstreamSubscribed, ResourceSubscriptionInput>(({ input }) => this.subscribeUpstream(input)),
        unsubscribeUpstream: fromPromise<void, UpstreamUnsubscribe>(({ input }) => this.unsubscribeUpstream(input))
      }
    })
  }

  /** `McpHost.subscribeResource` (documented there). */
  subscribe(uri: string, options: SubscribeOptions = {}): Promise<void> {
    const conn = this.target(uri, options.server)
    const subscriber = options.subscriber ?? API_SUBSCRIBER
    const sub = this.subscriptions.get(conn.name)?.get(uri) ?? this.open(conn.name, uri)
    // One held already keeps the `onUpdated` it subscribed with.
    if (!sub.actor.getSnapshot().context.subscribers.includes(subscriber)) sub.onUpdated.set(subscriber, options.onUpdated)
    const answered = new Promise<void>((resolve, reject) => {
      const list = sub.waiting.get(subscriber)
      if (list === undefined) sub.waiting.set(subscriber, [{ resolve, reject }])
      else list.push({ resolve, reject })
    })
    sub.actor.send({ type: "SUBSCRIBE", subscriber, live: conn.readyClient()?.generation })
    return answered
  }

  /** `McpHost.unsubscribeResource` (documented there). */
  async unsubscribe(uri: string, options: Pick<SubscribeOptions, "subscriber" | "server"> = {}): Promise<void> {
    const subscriber = options.subscriber ?? API_SUBSCRIBER
    const upstream: Array<Promise<void>> = []
    for (const [server, byUri] of this.subscriptions) {
      if (options.server !== undefined && server !== options.server) continue
      const sub = byUri.get(uri)
      if (sub === undefined) continue
      const { subscribers, joining } = sub.actor.getSnapshot().context
      if (!subscribers.includes(subscriber) && !joining.includes(subscriber)) continue
      sub.onUpdated.delete(subscriber)
      sub.actor.send({ type: "UNSUBSCRIBE", subscriber })
      // A subscribe of its still under way resolves: nothing is held.
      for (const w of sub.waiting.get(subscriber) ?? []) w.resolve()
      sub.waiting.delete(subscriber)
      // The last one: resolves once the upstream unsubscribe is answered.
      if (sub.actor.getSnapshot().value === "unsubscribing") upstream.push(new Promise((resolve) => sub.unsubscribed.push(resolve)))
    }
    await Promise.all(upstream)
  }

  /** The upstream subscriptions held (server, URI, how many subscribers, the generation it is on). */
  view(): ReadonlyArray<ResourceSubscriptionView> {
    const out: Array<ResourceSubscriptionView> = []
    for (const byUri of this.subscriptions.values()) {
      for (const sub of byUri.values()) {
        const snapshot = sub.actor.getSnapshot()
        const { subscribers, joining, generation } = snapshot.context
        // Being unsubscribed for nobody: gone already, as far as the callers are concerned.
        if (snapshot.value === "unsubscribing" && joining.length === 0) continue
        out.push({ server: sub.server, uri: sub.uri, subscribers: subscribers.length + joining.length, generation })
      }
    }
    return out
  }

  /**
   * Whether a server can be subscribed to, by the capabilities of its last connection (kept while it
   * restarts): it declared `resources.subscribe` (either era). Undefined: never connected.
   */
  canSubscribe(server: string): boolean | undefined {
    const last = this.host.connection(server)?.lastCapabilities
    if (last === undefined) return undefined
    return last.capabilities?.resources?.subscribe === true
  }

  /** A new generation of `conn` is ready: its charts subscribe again to every URI still wanted there. */
  generationReady(conn: ServerConnection): void {
    const byUri = this.subscriptions.get(conn.name)
    const generation = conn.readyClient()?.generation
    if (byUri === undefined || generation === undefined || this.host.closing()) return
    for (const sub of [...byUri.values()]) sub.actor.send({ type: "GENERATION_READY", generation })
  }

  /** An upstream `notifications/resources/updated`: to every subscriber of that server's URI. */
  updated(server: string, params: Params | undefined): void {
    const uri = params?.uri
    if (typeof uri !== "string") return
    const sub = this.subscriptions.get(server)?.get(uri)
    if (sub === undefined) return
    const update: ResourceUpdate = { server, uri, params }
    for (const subscriber of sub.actor.getSnapshot().context.subscribers) {
      try {
        sub.onUpdated.get(subscriber)?.(update)
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  /** The host closes: every subscription is released (its subscribes under way refused; the upstreams close with their connections). */
  close(): void {
    for (const byUri of [...this.subscriptions.values()]) for (const sub of [...byUri.values()]) sub.actor.send({ type: "CLOSE" })
    this.subscriptions.clear()
    for (const l of this.listens.values()) for (const o of l.open) o.subscription.close()
    this.listens.clear()
  }

  /** A new (server, URI) subscription: its chart's actor under the server's, in the table until released. */
  private open(server: string, uri: string): UpstreamSubscription {
    const parent = this.host.actorParent(server)
    const actor = this.host.runtime.node(this.logic, { input: { server, uri }, ...(parent === undefined ? {} : { parent }) })
    const sub: UpstreamSubscription = { server, uri, actor, onUpdated: new Map(), waiting: new Map(), unsubscribed: [] }
    const answer = (subscribers: ReadonlyArray<ResourceSubscriber>, settle: (w: { readonly resolve: () => void; readonly reject: (e: unknown) => void }) => void) => {
      for (const s of subscribers) {
        const list = sub.waiting.get(s)
        sub.waiting.delete(s)
        for (const w of list ?? []) settle(w)
      }
    }
    actor.on("joined", (e) => answer(e.subscribers, (w) => w.resolve()))
    actor.on("refused", (e) => {
      for (const s of e.subscribers) sub.onUpdated.delete(s)
      const error = e.error ?? new HostClosed({ message: "the host is closed" })
      answer(e.subscribers, (w) => w.reject(error))
    })
    actor.subscribe((snapshot) => {
      if (snapshot.value !== "unsubscribing" || snapshot.status === "done") {
        const waiting = sub.unsubscribed
        sub.unsubscribed = []
        for (const resolve of waiting) resolve()
      }
      if (snapshot.status !== "done") return
      const byUri = this.subscriptions.get(server)
      if (byUri?.get(uri) !== sub) return
      byUri.delete(uri)
      if (byUri.size === 0) this.subscriptions.delete(server)
    })
    let byUri = this.subscriptions.get(server)
    if (byUri === undefined) this.subscriptions.set(server, byUri = new Map())
    byUri.set(uri, sub)
    actor.start()
    return sub
  }

  /** The server a subscription to `uri` goes to: `server` if it lists `uri` (or a template matches), else the catalog's owner. */
  private target(uri: string, server: string | undefined): ServerConnection {
    if (server !== undefined) {
      const conn = this.host.connection(server)
      if (conn === undefined) throw new UnknownName({ kind: "server", name: server, message: `no server ${JSON.stringify(server)}` })
      if (!listingKnows(conn.listing, "resource", uri)) throw new UnknownName({ kind: "resource", name: uri, message: `${server} does not serve ${JSON.stringify(uri)}` })
      return conn
    }
    const owner = resourceOwner(this.host.known(), uri)
    if (owner === undefined) throw new UnknownName({ kind: "resource", name: uri, message: `no server serves ${JSON.stringify(uri)}` })
    return this.host.connection(owner)!
  }

  /** The chart's `subscribeUpstream`: `resources/subscribe` on the server's current generation (a restarting or parked server: its fast refusal). */
  private async subscribeUpstream({ server, uri }: ResourceSubscriptionInput): Promise<UpstreamSubscribed> {
    const conn = this.host.connection(server)!
    const { client, generation } = await this.host.readyFor(conn)
    const unsupported = (why: string) => new SubscriptionUnsupported({ server, uri, message: `${server} does not support resource subscriptions (${why})` })
    if (client.serverCapabilities?.resources?.subscribe !== true) throw unsupported("no resources.subscribe capability")
    const modern = modernOf(client)
    if (modern === undefined) await this.host.call(conn, client, generation, "resources/subscribe", { uri })
    else {
      const listened = await this.relisten(conn, modern, generation)
      if (listened?.filter.resourceSubscriptions?.includes(uri) !== true) {
        // The upstream said why (its policy, its rate limit, its cap): its error, as a legacy upstream's
        // `resources/subscribe` would have answered it (a gateway passes it on to its client).
        const refusal = listened?.refused.find((r) => r.uris.includes(uri))
        if (refusal !== undefined) throw rpcErrorOf("subscriptions/listen", refusal.error)
        throw unsupported(`its subscriptions/listen did not acknowledge ${uri}`)
      }
    }
    return { generation }
  }

  /**
   * The chart's `unsubscribeUpstream`: when the subscription is made on the live generation, the
   * upstream is unsubscribed (its failure is ignored: a lost connection took the subscription with it).
   */
  private async unsubscribeUpstream({ server, uri, generation }: UpstreamUnsubscribe): Promise<void> {
    const conn = this.host.connection(server)!
    const ready = conn.readyClient()
    if (this.host.closing() || ready === undefined || generation !== ready.generation) return
    const modern = modernOf(ready.client)
    // A modern upstream: a listen without the URI replaces the one with it (none left: closed).
    if (modern !== undefined) return this.relisten(conn, modern, ready.generation).then(() => {}, () => {})
    return this.host.call(conn, ready.client, ready.generation, "resources/unsubscribe", { uri }).then(() => {}, () => {})
  }

  /**
   * Open a listen on a modern upstream with every URI subscribed there now (the end of this tick:
   * the changes of one tick share it), replacing the older ones once acknowledged; none wanted: close
   * them. Resolves with what the upstream acknowledged, and what it refused with its errors.
   */
  private relisten(conn: ServerConnection, modern: ModernClient, generation: number): Promise<Listened | undefined> {
    let state = this.listens.get(conn.name)
    if (state === undefined || state.generation !== generation) {
      for (const o of state?.open ?? []) o.subscription.close()
      state = { generation, seq: 0, acked: 0, open: [], next: undefined }
      this.listens.set(conn.name, state)
    }
    const s = state
    return s.next ??= new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => {
      s.next = undefined
      const uris = [...this.subscriptions.get(conn.name)?.values() ?? []].filter((x) => {
        const { subscribers, joining } = x.actor.getSnapshot().context
        return subscribers.length + joining.length > 0
      }).map((x) => x.uri)
      if (uris.length === 0 || this.host.closing()) {
        for (const o of s.open) o.subscription.close()
        s.open = []
        if (this.listens.get(conn.name) === s) this.listens.delete(conn.name)
        return undefined
      }
      const seq = ++s.seq
      const subscription = modern.listen({ resourceSubscriptions: uris }, {
        onNotification: (n) => {
          if (n.method === "notifications/resources/updated") this.updated(conn.name, n.params)
        }
      })
      const entry = { seq, subscription }
      s.open.push(entry)
      return subscription.acknowledged.then((ack) => {
        if (seq < s.acked) {
          // A newer listen was acknowledged first: it has these URIs too.
          subscription.close()
          s.open = s.open.filter((o) => o !== entry)
        } else {
          s.acked = seq
          for (const o of s.open) if (o.seq < seq) o.subscription.close()
          s.open = s.open.filter((o) => o.seq >= seq)
        }
        return { filter: ack, refused: subscription.refused }
      }, (e: unknown) => {
        s.open = s.open.filter((o) => o !== entry)
        throw e
      })
    })
  }
}
