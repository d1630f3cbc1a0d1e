/**
 * The gateway's resource subscriptions: a served server's sessions (legacy `resources/subscribe`, modern
 * `subscriptions/listen`) share one host subscription per URI (see `ResourceSubscriptions.ts`).
 */
import type { McpServer } from "../server/McpServer.ts"
import { listingKnows } from "./Catalog.ts"
import { ServerConnectionLost, ServerUnavailable } from "./errors.ts"
import { subscribeFailure } from "./gatewayErrors.ts"
import type { McpHost } from "./McpHost.ts"

/** The subscribers of one URI on one served server (legacy sessions, modern listens), and the queue of their changes. */
interface UriSubscribers {
  readonly subscribers: Set<object>
  chain: Promise<void>
  queued: number
}

/**
 * Resource subscriptions of one served McpServer (`server`: the upstream of `/mcp/<server>`, undefined
 * for the aggregate). The host sees one subscriber per served server and URI: the first session
 * subscribing subscribes it, the last one going unsubscribes it, and each upstream update is
 * `served.resourceUpdated(uri)`, which reaches the sessions (and modern listens) that asked for it.
 * Changes of one URI run one after the other, so a subscribe and an unsubscribe never cross.
 */
export const followSubscriptions = (host: McpHost, served: McpServer, server: string | undefined) => {
  const byUri = new Map<string, UriSubscribers>()
  /** Subscribers whose session ended (a subscribe still under way then must not add them). */
  const gone = new WeakSet<object>()
  const hostOptions = (uri: string) => ({
    subscriber: served,
    onUpdated: () => served.resourceUpdated(uri),
    ...(server === undefined ? {} : { server })
  })
  const queue = (uri: string, op: (w: UriSubscribers) => Promise<void> | void): Promise<void> => {
    let w = byUri.get(uri)
    if (w === undefined) byUri.set(uri, w = { subscribers: new Set(), chain: Promise.resolve(), queued: 0 })
    const entry = w
    entry.queued++
    const done = entry.chain.then(() => op(entry))
    entry.chain = done.then(() => {}, () => {}).then(() => {
      if (--entry.queued === 0 && entry.subscribers.size === 0 && byUri.get(uri) === entry) byUri.delete(uri)
    })
    return done
  }
  const add = (uri: string, who: object): Promise<void> =>
    queue(uri, async (w) => {
      if (w.subscribers.has(who) || gone.has(who)) return
      if (w.subscribers.size === 0) await host.subscribeResource(uri, hostOptions(uri))
      w.subscribers.add(who)
    })
  const remove = (uri: string, who: object): Promise<void> =>
    queue(uri, async (w) => {
      if (!w.subscribers.delete(who) || w.subscribers.size > 0) return
      await host.unsubscribeResource(uri, { subscriber: served, ...(server === undefined ? {} : { server }) })
    })
  /** Whether `uri` routes to an upstream that can be subscribed to (what a modern listen is acknowledged). */
  const subscribable = (uri: string): boolean => {
    const owner = server ?? host.owner("resource", uri)?.server
    if (owner === undefined) return false
    if (server !== undefined && !listingKnows(host.connection(server)?.listing, "resource", uri)) return false
    return host.canSubscribe(owner) === true
  }
  /** A modern listen's URIs whose subscribe the host refused while their upstream was down: tried again when it is back. */
  const retries = new Map<object, Set<string>>()
  const listenAdd = (uri: string, who: object): void => {
    add(uri, who).catch((e: unknown) => {
      if (gone.has(who) || !(e instanceof ServerUnavailable || e instanceof ServerConnectionLost)) return
      let uris = retries.get(who)
      if (uris === undefined) retries.set(who, uris = new Set())
      uris.add(uri)
    })
  }
  served.resourceSubscriptions = {
    subscribe: (uri, who) => add(uri, who).catch(subscribeFailure(uri)),
    unsubscribe: (uri, who) => remove(uri, who),
    listen: (uris, who) => {
      const honored = uris.filter(subscribable)
      // Acknowledged at once: what the host refuses now (a restarting upstream) is tried again when it is back (`retry`).
      for (const uri of honored) listenAdd(uri, who)
      return {
        honored,
        end: () => {
          gone.add(who)
          retries.delete(who)
          for (const uri of honored) void remove(uri, who)
        }
      }
    }
  }
  return {
    /** An upstream is ready again: the listens' refused subscribes are tried again. */
    retry: () => {
      const pending = [...retries]
      retries.clear()
      for (const [who, uris] of pending) for (const uri of uris) listenAdd(uri, who)
    },
    /** A session ended: it leaves every URI it subscribed to (after any subscribe of its still under way). */
    left: (who: object) => {
      gone.add(who)
      for (const uri of [...byUri.keys()]) void remove(uri, who)
    },
    /** The gateway closes: its subscriptions leave the host. */
    close: () => {
      served.resourceSubscriptions = undefined
      retries.clear()
      for (const [uri, w] of byUri) {
        if (w.subscribers.size > 0) void host.unsubscribeResource(uri, { subscriber: served, ...(server === undefined ? {} : { server }) })
      }
      byUri.clear()
    },
    /** Subscriptions held: (URI, session or listen) pairs (tests: nothing left behind). */
    get size() {
      let n = 0
      for (const w of byUri.values()) n += w.subscribers.size
      return n
    }
  }
}
