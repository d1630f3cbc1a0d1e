/**
 * The host's resource subscriptions: per upstream server and URI, one upstream subscription
 * (`resources/subscribe`, or a 2026-07-28 upstream's `subscriptions/listen`) shared by every
 * subscriber, its updates delivered to each of them, made again on each new generation of the
 * server, and unsubscribed upstream when the last subscriber goes.
 *
 * `McpHost` owns one and delegates `subscribeResource`, `unsubscribeResource`,
 * `resourceSubscriptions` and `canSubscribe` to it; it tells it when a server's new generation is
 * ready (`generationReady`), each upstream `notifications/resources/updated` (`updated`) and the
 * host's closing (`close`).
 */
import { ModernClient } from "../client/ModernClient.ts"
import type { Result } from "../client/ClientSession.ts"
import type { Subscription } from "../client/Subscription.ts"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import type { SubscriptionFilter } from "../protocol/subscriptions.ts"
import { type Catalog, listingKnows, resourceOwner } from "./Catalog.ts"
import { SubscriptionUnsupported, UnknownName } from "./errors.ts"
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
}

/** One upstream subscription (server, URI): its subscribers, and the generation it is made on. */
interface UpstreamSubscription {
  readonly server: string
  readonly uri: string
  readonly subscribers: Map<object, ((update: ResourceUpdate) => void) | undefined>
  /** Subscribers waiting for `upstream` (an unsubscribe meanwhile takes them out: they never join). */
  readonly joining: Map<object, ((update: ResourceUpdate) => void) | undefined>
  /** The generation the upstream `resources/subscribe` was answered on. */
  generation: number | undefined
  /** The `resources/subscribe` under way (a first subscribe, or a re-subscribe after a reconnect). */
  upstream: Promise<void> | undefined
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
  next: Promise<SubscriptionFilter | undefined> | undefined
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

  constructor(host: SubscriptionsHost) {
    this.host = host
  }

  /** `McpHost.subscribeResource` (documented there). */
  async subscribe(uri: string, options: SubscribeOptions = {}): Promise<void> {
    const conn = this.target(uri, options.server)
    const subscriber = options.subscriber ?? API_SUBSCRIBER
    let byUri = this.subscriptions.get(conn.name)
    if (byUri === undefined) this.subscriptions.set(conn.name, byUri = new Map())
    let sub = byUri.get(uri)
    if (sub === undefined) {
      sub = { server: conn.name, uri, subscribers: new Map(), joining: new Map(), generation: undefined, upstream: undefined }
      byUri.set(uri, sub)
    }
    if (sub.subscribers.has(subscriber)) return
    if (sub.upstream === undefined && sub.generation !== undefined && sub.generation === conn.readyClient()?.generation) {
      sub.subscribers.set(subscriber, options.onUpdated)
      return
    }
    sub.joining.set(subscriber, options.onUpdated)
    try {
      await (sub.upstream ??= this.subscribeUpstream(conn, sub))
    } catch (e) {
      sub.joining.delete(subscriber)
      void this.settle(conn, sub)
      throw e
    }
    if (sub.joining.has(subscriber)) {
      sub.subscribers.set(subscriber, sub.joining.get(subscriber))
      sub.joining.delete(subscriber)
    }
    // An unsubscribe while it was under way: the upstream subscription goes again.
    void this.settle(conn, sub)
  }

  /** `McpHost.unsubscribeResource` (documented there). */
  async unsubscribe(uri: string, options: Pick<SubscribeOptions, "subscriber" | "server"> = {}): Promise<void> {
    const subscriber = options.subscriber ?? API_SUBSCRIBER
    const upstream: Array<Promise<void>> = []
    for (const [server, byUri] of this.subscriptions) {
      if (options.server !== undefined && server !== options.server) continue
      const sub = byUri.get(uri)
      if (sub === undefined) continue
      const had = sub.subscribers.delete(subscriber)
      if (sub.joining.delete(subscriber) || had) upstream.push(this.settle(this.host.connection(server)!, sub))
    }
    await Promise.all(upstream)
  }

  /** The upstream subscriptions held (server, URI, how many subscribers, the generation it is on). */
  view(): ReadonlyArray<ResourceSubscriptionView> {
    const out: Array<ResourceSubscriptionView> = []
    for (const byUri of this.subscriptions.values()) {
      for (const sub of byUri.values()) {
        out.push({ server: sub.server, uri: sub.uri, subscribers: sub.subscribers.size + sub.joining.size, generation: sub.generation })
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

  /** A new generation of `conn` is ready: subscribe again to every URI still wanted there. */
  generationReady(conn: ServerConnection): void {
    const byUri = this.subscriptions.get(conn.name)
    if (byUri === undefined || this.host.closing()) return
    const generation = conn.readyClient()?.generation
    for (const sub of byUri.values()) {
      if (sub.upstream !== undefined || sub.subscribers.size === 0 || sub.generation === generation) continue
      // A failure (the server no longer supports it, or went down again) keeps the subscribers: the next generation tries again.
      sub.upstream = this.subscribeUpstream(conn, sub)
      sub.upstream.then(() => this.settle(conn, sub), () => this.settle(conn, sub))
    }
  }

  /** An upstream `notifications/resources/updated`: to every subscriber of that server's URI. */
  updated(server: string, params: Params | undefined): void {
    const uri = params?.uri
    if (typeof uri !== "string") return
    const sub = this.subscriptions.get(server)?.get(uri)
    if (sub === undefined) return
    const update: ResourceUpdate = { server, uri, params }
    for (const onUpdated of [...sub.subscribers.values()]) {
      try {
        onUpdated?.(update)
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  /** The host closes: every subscription is dropped (the upstreams close with their connections). */
  close(): void {
    this.subscriptions.clear()
    for (const l of this.listens.values()) for (const o of l.open) o.subscription.close()
    this.listens.clear()
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

  /** `resources/subscribe` on the server's current generation (a restarting or parked server: its fast refusal). */
  private subscribeUpstream(conn: ServerConnection, sub: UpstreamSubscription): Promise<void> {
    const run = async () => {
      const { client, generation } = await this.host.readyFor(conn)
      const unsupported = (why: string) => new SubscriptionUnsupported({ server: conn.name, uri: sub.uri, message: `${conn.name} does not support resource subscriptions (${why})` })
      if (client.serverCapabilities?.resources?.subscribe !== true) throw unsupported("no resources.subscribe capability")
      const modern = modernOf(client)
      if (modern === undefined) await this.host.call(conn, client, generation, "resources/subscribe", { uri: sub.uri })
      else {
        const ack = await this.relisten(conn, modern, generation)
        if (ack?.resourceSubscriptions?.includes(sub.uri) !== true) throw unsupported(`its subscriptions/listen did not acknowledge ${sub.uri}`)
      }
      sub.generation = generation
    }
    return run().finally(() => {
      sub.upstream = undefined
    })
  }

  /**
   * A subscription nobody wants any more (and with nothing under way) leaves the table; when it is
   * made on the live generation, the upstream is unsubscribed (its failure is ignored: a lost
   * connection took the subscription with it).
   */
  private settle(conn: ServerConnection, sub: UpstreamSubscription): Promise<void> {
    if (sub.subscribers.size > 0 || sub.joining.size > 0 || sub.upstream !== undefined) return Promise.resolve()
    const byUri = this.subscriptions.get(sub.server)
    if (byUri?.get(sub.uri) !== sub) return Promise.resolve()
    byUri.delete(sub.uri)
    if (byUri.size === 0) this.subscriptions.delete(sub.server)
    const ready = conn.readyClient()
    if (this.host.closing() || ready === undefined || sub.generation !== ready.generation) return Promise.resolve()
    const modern = modernOf(ready.client)
    // A modern upstream: a listen without the URI replaces the one with it (none left: closed).
    if (modern !== undefined) return this.relisten(conn, modern, ready.generation).then(() => {}, () => {})
    return this.host.call(conn, ready.client, ready.generation, "resources/unsubscribe", { uri: sub.uri }).then(() => {}, () => {})
  }

  /**
   * Open a listen on a modern upstream with every URI subscribed there now (the end of this tick:
   * the changes of one tick share it), replacing the older ones once acknowledged; none wanted: close
   * them. Resolves with what the upstream acknowledged.
   */
  private relisten(conn: ServerConnection, modern: ModernClient, generation: number): Promise<SubscriptionFilter | undefined> {
    let state = this.listens.get(conn.name)
    if (state === undefined || state.generation !== generation) {
      for (const o of state?.open ?? []) o.subscription.close()
      state = { generation, seq: 0, acked: 0, open: [], next: undefined }
      this.listens.set(conn.name, state)
    }
    const s = state
    return s.next ??= new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => {
      s.next = undefined
      const uris = [...this.subscriptions.get(conn.name)?.values() ?? []].filter((x) => x.subscribers.size + x.joining.size > 0).map((x) => x.uri)
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
        return ack
      }, (e: unknown) => {
        s.open = s.open.filter((o) => o !== entry)
        throw e
      })
    })
  }
}
