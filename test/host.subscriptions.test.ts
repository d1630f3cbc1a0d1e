/**
 * The host's resource subscriptions against an upstream whose subscribe we hold open: our own
 * McpServer over WebSocket, in process, whose `resourceSubscriptions` hook records each
 * `resources/subscribe` / `resources/unsubscribe` it receives and can keep a subscribe waiting, and
 * which sends `notifications/resources/updated` on demand (`resourceUpdated`). What crosses:
 * - the host API (Promise and Effect): a URI under a template routed to its server, the update
 *   delivered with the server's params, unsubscribed upstream with the last subscriber;
 * - an unsubscribe while the upstream subscribe is still under way: the subscribe resolves, nothing
 *   is held, the upstream is unsubscribed once its subscribe is answered;
 * - a gateway session that ends while its subscribe is under way: no subscription outlives it;
 * - each (server, URI) subscription is a `resourceSubscription` actor under its server's
 *   `serverConnection` actor, seen by one inspection observer, stopped once released.
 * Waits are on the upstream hook's calls and the gateway's session events.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Effect from "effect/Effect"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Host, subscribeHostResource, unsubscribeHostResource } from "../src/host/effect.ts"
import type { Gateway, GatewayHttpHandle } from "../src/host/gateway.ts"
import { type McpHost, type ResourceUpdate, startHost } from "../src/host/McpHost.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"
import { type GatewayOverWs, gatewayOverWs } from "./support/gatewayOverWs.ts"
import type { CallGuard } from "../src/server/CallGuard.ts"
import { McpError } from "../src/protocol/errors.ts"

describe("host: resource subscriptions (an upstream whose subscribe can be held)", { timeout: 20_000, shuffle: false }, () => {
  const upstream = new McpServer({ name: "up", version: "1.0.0" })
    .resource({ uri: "mem://a", name: "a" }, (uri) => ({ contents: [{ uri, text: "a" }] }))
    .resourceTemplate({ uriTemplate: "mem://t/{id}", name: "t" }, (uri) => ({ contents: [{ uri, text: "t" }] }))
  /** What the upstream received, in order (`subscribe URI`, `unsubscribe URI`). */
  const calls: Array<string> = []
  const waiters: Array<() => void> = []
  /** Resolves once `entry` has been received `times` times. */
  const received = (entry: string, times = 1): Promise<void> =>
    new Promise((resolve) => {
      const check = () => calls.filter((c) => c === entry).length >= times
      if (check()) return resolve()
      const w = () => check() && (waiters.splice(waiters.indexOf(w), 1), resolve())
      waiters.push(w)
    })
  const record = (entry: string) => {
    calls.push(entry)
    for (const w of [...waiters]) w()
  }
  /** While set, the upstream answers a subscribe only once it resolves. */
  let hold: Promise<void> | undefined
  upstream.resourceSubscriptions = {
    subscribe: async (uri) => {
      record(`subscribe ${uri}`)
      if (hold !== undefined) await hold
    },
    unsubscribe: (uri) => record(`unsubscribe ${uri}`)
  }

  let bench: GatewayOverWs
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle

  beforeAll(async () => {
    bench = await gatewayOverWs(upstream, { coalesceMs: 10 })
    ;({ host, gateway, http } = bench)
  })
  afterAll(async () => bench?.close())

  it("the host API: a URI under a template, routed to its server; the update with the server's params; unsubscribed upstream with the last subscriber", async () => {
    expect(host.canSubscribe("up")).toBe(true)
    const updates: Array<ResourceUpdate> = []
    let heard!: () => void
    const update = new Promise<void>((resolve) => (heard = resolve))
    await host.subscribeResource("mem://t/1", {
      onUpdated: (u) => {
        updates.push(u)
        heard()
      }
    })
    // The Effect API: a second subscriber on the same URI (no second upstream subscribe).
    const other = {}
    await Effect.runPromise(subscribeHostResource("mem://t/1", { subscriber: other }).pipe(Effect.provide(Host.fromHost(host))))
    expect(calls).toEqual(["subscribe mem://t/1"])
    expect(host.resourceSubscriptions()).toEqual([{ server: "up", uri: "mem://t/1", subscribers: 2, generation: host.status()[0]!.generation }])
    upstream.resourceUpdated("mem://t/1")
    await update
    expect(updates).toEqual([{ server: "up", uri: "mem://t/1", params: { uri: "mem://t/1" } }])
    await host.unsubscribeResource("mem://t/1")
    expect(calls).toEqual(["subscribe mem://t/1"])
    await Effect.runPromise(unsubscribeHostResource("mem://t/1", { subscriber: other }).pipe(Effect.provide(Host.fromHost(host))))
    expect(calls).toEqual(["subscribe mem://t/1", "unsubscribe mem://t/1"])
    expect(host.resourceSubscriptions()).toEqual([])
    // A typed refusal through the Effect API.
    const refused = await Effect.runPromise(Effect.flip(subscribeHostResource("mem://none").pipe(Effect.provide(Host.fromHost(host)))))
    expect(refused).toMatchObject({ _tag: "UnknownName", kind: "resource", name: "mem://none" })
  })

  it("each (server, URI) subscription is a resourceSubscription actor under the server's serverConnection actor: one inspection observer sees it subscribed, then released", async () => {
    calls.length = 0
    const actors: Array<AnyActorRef> = []
    const stop = inspection.subscribe((event: InspectionEvent) => {
      if (event.type === "@xstate.actor" && chartOf(event.actorRef as AnyActorRef) === "resourceSubscription") actors.push(event.actorRef as AnyActorRef)
    })
    try {
      await host.subscribeResource("mem://a")
      const other = {}
      await host.subscribeResource("mem://t/2", { subscriber: other })
      expect(actors).toHaveLength(2)
      const server = parentOf(actors[0]!)
      expect(server !== undefined && chartOf(server)).toBe("serverConnection")
      expect(server!.id).toBe("up")
      expect(parentOf(actors[1]!)).toBe(server)
      expect(actors.map((a) => a.getSnapshot().value)).toEqual(["subscribed", "subscribed"])
      expect(actors[0]!.getSnapshot().context).toMatchObject({ server: "up", uri: "mem://a", generation: host.status()[0]!.generation })
      await host.unsubscribeResource("mem://a")
      expect(actors[0]!.getSnapshot().status).toBe("done")
      expect(actors[1]!.getSnapshot().value).toBe("subscribed")
      await host.unsubscribeResource("mem://t/2", { subscriber: other })
      expect(actors[1]!.getSnapshot().status).toBe("done")
      expect(calls).toEqual(["subscribe mem://a", "subscribe mem://t/2", "unsubscribe mem://a", "unsubscribe mem://t/2"])
      expect(host.resourceSubscriptions()).toEqual([])
    } finally {
      stop()
    }
  })

  it("an unsubscribe while the upstream subscribe is under way: the subscribe resolves, nothing is held, the upstream is unsubscribed once it answered", async () => {
    calls.length = 0
    let release!: () => void
    hold = new Promise((resolve) => (release = resolve))
    const subscribing = host.subscribeResource("mem://a")
    await received("subscribe mem://a")
    expect(host.resourceSubscriptions()).toEqual([{ server: "up", uri: "mem://a", subscribers: 1, generation: undefined }])
    await host.unsubscribeResource("mem://a")
    hold = undefined
    release()
    await subscribing
    await received("unsubscribe mem://a")
    expect(calls).toEqual(["subscribe mem://a", "unsubscribe mem://a"])
    expect(host.resourceSubscriptions()).toEqual([])
  })

  it("a gateway session ending while its subscribe is under way leaves nothing behind: the upstream is unsubscribed once it answered", async () => {
    calls.length = 0
    let release!: () => void
    hold = new Promise((resolve) => (release = resolve))
    const followed = gateway.server.sessionEvents
    let left!: () => void
    const sessionLeft = new Promise<void>((resolve) => (left = resolve))
    gateway.server.sessionEvents = (event, session) => {
      followed?.(event, session)
      if (event === "left") left()
    }
    const client = new Client({ name: "sdk-client", version: "1.0.0" })
    const transport = new StreamableHTTPClientTransport(new URL(http.url))
    await client.connect(transport)
    const answer = client.subscribeResource({ uri: "mem://a" }).then(() => "subscribed", () => "failed")
    await received("subscribe mem://a")
    await transport.terminateSession() // DELETE: the request in flight is cancelled, the session ends
    await sessionLeft
    hold = undefined
    release()
    await received("unsubscribe mem://a")
    expect(calls).toEqual(["subscribe mem://a", "unsubscribe mem://a"])
    expect(host.resourceSubscriptions()).toEqual([])
    expect(gateway.subscriptionCount()).toBe(0)
    expect(await answer).toBe("failed") // the client never got an answer for it: its session is gone
    gateway.server.sessionEvents = followed
    await client.close()
  })
})

/** An upstream's guard that refuses `mod://secret` (a policy's denial, with its data) and admits the rest. */
const denySecret: CallGuard = {
  admit: (call) => {
    if (call.name === "mod://secret") throw new McpError(-32003, "denied by the upstream's policy", { rule: "no-secrets" })
    return undefined
  },
  filter: (_kind, items) => items
}

describe("host: resource subscriptions on a 2026-07-28 upstream (subscriptions/listen)", { timeout: 20_000 }, () => {
  // Its guard refuses `mod://secret`: a listen leaves it out, saying why.
  const upstream = new McpServer({ name: "modern-up", version: "1.0.0", guard: denySecret })
    .resource({ uri: "mod://x", name: "x" }, (uri) => ({ contents: [{ uri, text: "x" }] }))
    .resource({ uri: "mod://y", name: "y" }, (uri) => ({ contents: [{ uri, text: "y" }] }))
    .resource({ uri: "mod://secret", name: "secret" }, (uri) => ({ contents: [{ uri, text: "s" }] }))
  /** Listens the upstream has open (each one a change listener on it), and waits for a count. */
  let listening = 0
  const counts: Array<() => void> = []
  const onChange = upstream.onChange.bind(upstream)
  upstream.onChange = (listener) => {
    listening++
    for (const c of [...counts]) c()
    const off = onChange(listener)
    return () => {
      listening--
      for (const c of [...counts]) c()
      off()
    }
  }
  const whenListening = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const c = () => listening === n && (counts.splice(counts.indexOf(c), 1), resolve())
      counts.push(c)
      c()
    })
  let ws: WsServerHandle
  let host: McpHost

  beforeAll(async () => {
    ws = await makeWsServer(upstream, { port: 0 })
    host = await startHost({ mcpServers: { up: { url: ws.url, protocol: "2026-07-28" } } }, { stateFile: false, coalesceMs: 10 })
  })

  afterAll(async () => {
    await host?.close()
    await ws?.close()
  })

  it("the URIs go in one listen, replaced when the set changes; updates on it reach the subscribers; the last unsubscribe closes it", async () => {
    expect(host.status()[0]!.era).toBe("modern")
    expect(host.canSubscribe("up")).toBe(true)
    const heard: Array<string> = []
    let next!: () => void
    let update = new Promise<void>((resolve) => (next = resolve))
    const onUpdated = (u: ResourceUpdate) => {
      heard.push(`${u.server} ${u.uri}`)
      next()
    }
    // Two URIs subscribed in one tick: one listen.
    await Promise.all([host.subscribeResource("mod://x", { onUpdated }), host.subscribeResource("mod://y", { onUpdated })])
    await whenListening(1)
    expect(host.resourceSubscriptions().map((s) => s.uri).sort()).toEqual(["mod://x", "mod://y"])
    upstream.resourceUpdated("mod://y")
    await update
    expect(heard).toEqual(["up mod://y"])
    // One URI less: a listen with the other replaces it.
    await host.unsubscribeResource("mod://y")
    await whenListening(1)
    update = new Promise<void>((resolve) => (next = resolve))
    upstream.resourceUpdated("mod://y") // nobody asked for it any more
    upstream.resourceUpdated("mod://x")
    await update
    expect(heard).toEqual(["up mod://y", "up mod://x"])
    await host.unsubscribeResource("mod://x")
    await whenListening(0)
    expect(host.resourceSubscriptions()).toEqual([])
  })

  it("a URI the upstream's listen refuses fails with the upstream's error (its code, message and data), as a legacy upstream's subscribe would; the others stay subscribed", async () => {
    await host.subscribeResource("mod://x")
    await expect(host.subscribeResource("mod://secret")).rejects.toMatchObject({ _tag: "RpcError", code: -32003, message: "denied by the upstream's policy", data: { rule: "no-secrets" } })
    expect(host.resourceSubscriptions().map((s) => s.uri)).toEqual(["mod://x"])
    await host.unsubscribeResource("mod://x")
    await whenListening(0)
    expect(host.resourceSubscriptions()).toEqual([])
  })
})

describe("gateway: a 2026-07-28 upstream's refusal of a URI reaches a legacy client as the upstream's error", { timeout: 20_000 }, () => {
  const upstream = new McpServer({ name: "modern-up", version: "1.0.0", guard: denySecret })
    .resource({ uri: "mod://x", name: "x" }, (uri) => ({ contents: [{ uri, text: "x" }] }))
    .resource({ uri: "mod://secret", name: "secret" }, (uri) => ({ contents: [{ uri, text: "s" }] }))
  let bench: GatewayOverWs
  beforeAll(async () => void (bench = await gatewayOverWs(upstream, { coalesceMs: 10, protocol: "2026-07-28" })))
  afterAll(async () => bench?.close())

  it("the official SDK client's resources/subscribe gets -32003 with the upstream's data; an allowed URI is subscribed", async () => {
    const client = new Client({ name: "sdk", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(bench.http.url)))
    try {
      expect(bench.host.status()[0]!.era).toBe("modern")
      await client.subscribeResource({ uri: "mod://x" })
      await expect(client.subscribeResource({ uri: "mod://secret" })).rejects.toMatchObject({ code: -32003, data: { rule: "no-secrets" } })
      expect(bench.host.resourceSubscriptions().map((s) => s.uri)).toEqual(["mod://x"])
    } finally {
      await client.close()
    }
  })
})

