/**
 * Modern-era subscriptions (`subscriptions/listen`, 2026-07-28; spec-digest §2
 * "Subscriptions"): our server over the memory transport (raw frames) and over
 * Streamable HTTP (raw SSE), and `ModernClient.listen` against both, including
 * reconnection after a dropped stream and a restarted server, and the URIs a server
 * refused (its policy) as the subscription's `refused`, read defensively.
 */
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/transports/http/client/ModernHttpWire.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { ListenFailed } from "../src/client/modernErrors.ts"
import type { SubscriptionState } from "../src/client/Subscription.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import type { JsonRpcMessage, JsonRpcNotification } from "../src/protocol/jsonrpc.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION, META_SERVER_INFO } from "../src/protocol/modern.ts"
import {
  ACKNOWLEDGED_METHOD,
  honoredFilter,
  META_REFUSED_SUBSCRIPTIONS,
  META_SUBSCRIPTION_ID,
  parseSubscriptionFilter,
  refusedSubscriptionsOf,
  subscriptionIdOf,
  subscriptionNotification
} from "../src/protocol/subscriptions.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { condition } from "./support/condition.ts"
import { post, SseReader } from "./support/mcpHttp.ts"
import { rawPeer } from "./support/rawPeer.ts"
import { filtered, flush } from "./support/wireTap.ts"

const meta = { [META_PROTOCOL_VERSION]: "2026-07-28", [META_CLIENT_CAPABILITIES]: {} }
const listenRequest = (id: number | string, notifications: unknown) => ({
  jsonrpc: "2.0" as const,
  id,
  method: "subscriptions/listen",
  params: { notifications, _meta: meta }
})

/** Tools and resources, no prompts: prompt changes cannot be honoured. */
const makeServer = () =>
  new McpServer({ name: "subs", version: "1.0.0" })
    .tool({ name: "echo" }, () => ({ content: [] }))
    .resource({ uri: "mem://a", name: "a" }, () => ({ contents: [] }))


describe("subscription rules (pure)", () => {
  it("parses the filter and refuses malformed ones", () => {
    expect(parseSubscriptionFilter({ notifications: { toolsListChanged: true, resourceSubscriptions: ["a"], extra: 1 } })).toEqual({
      ok: true,
      filter: { toolsListChanged: true, resourceSubscriptions: ["a"] }
    })
    expect(parseSubscriptionFilter(undefined).ok).toBe(false)
    expect(parseSubscriptionFilter({ notifications: [] }).ok).toBe(false)
    expect(parseSubscriptionFilter({ notifications: { toolsListChanged: "yes" } }).ok).toBe(false)
    expect(parseSubscriptionFilter({ notifications: { resourceSubscriptions: [1] } }).ok).toBe(false)
  })

  it("honours only what the capabilities advertise", () => {
    const all = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ["a", "a", "b"] }
    expect(honoredFilter(all, { tools: { listChanged: true }, resources: { subscribe: true } })).toEqual({
      toolsListChanged: true,
      resourceSubscriptions: ["a", "b"]
    })
    expect(honoredFilter(all, {})).toEqual({})
    expect(honoredFilter({ toolsListChanged: false }, { tools: { listChanged: true } })).toEqual({})
  })

  it("reads an acknowledgement's refusals only from a plain _meta object's own array, copied", () => {
    const entry = { uris: ["mem://b"], error: { code: -32003, message: "no" } }
    for (const params of [undefined, {}, { _meta: "x" }, { _meta: [entry] }, { _meta: null }, { _meta: Object.create({ [META_REFUSED_SUBSCRIPTIONS]: [entry] }) }]) {
      expect(refusedSubscriptionsOf(params as never)).toEqual([])
    }
    const sent = { _meta: { [META_REFUSED_SUBSCRIPTIONS]: [entry] } }
    const [read] = refusedSubscriptionsOf(sent)
    expect(read).toEqual(entry)
    expect(read).not.toBe(entry)
    expect(read!.uris).not.toBe(entry.uris)
  })

  it("maps a change to a notification only when the filter asked for it, always with the subscription id", () => {
    const f = { toolsListChanged: true, resourceSubscriptions: ["a"] }
    expect(subscriptionNotification(f, { type: "tools" }, 7)).toEqual({
      method: "notifications/tools/list_changed",
      params: { _meta: { [META_SUBSCRIPTION_ID]: 7 } }
    })
    expect(subscriptionNotification(f, { type: "resourceUpdated", uri: "a" }, 7)?.params).toEqual({ uri: "a", _meta: { [META_SUBSCRIPTION_ID]: 7 } })
    expect(subscriptionNotification(f, { type: "resourceUpdated", uri: "b" }, 7)).toBeUndefined()
    expect(subscriptionNotification(f, { type: "prompts" }, 7)).toBeUndefined()
    expect(subscriptionNotification(f, { type: "resources" }, 7)).toBeUndefined()
    expect(subscriptionIdOf({ _meta: { [META_SUBSCRIPTION_ID]: "s1" } })).toBe("s1")
    expect(subscriptionIdOf({})).toBeUndefined()
  })
})

describe("server: subscriptions/listen over a message transport", () => {
  it("acknowledges first with the honoured filter, then sends only what was asked for, each with the listen id", async () => {
    const server = makeServer()
    const peer = rawPeer(server)
    peer.send(listenRequest("L1", { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ["mem://a"] }))
    await flush()
    expect(peer.received).toEqual([{
      jsonrpc: "2.0",
      method: ACKNOWLEDGED_METHOD,
      params: { _meta: { [META_SUBSCRIPTION_ID]: "L1" }, notifications: { toolsListChanged: true, resourceSubscriptions: ["mem://a"] } }
    }])
    server.tool({ name: "added" }, () => ({ content: [] }))
    server.resourceUpdated("mem://a")
    server.resourceUpdated("mem://other") // not subscribed
    server.resource({ uri: "mem://b", name: "b" }, () => ({ contents: [] })) // resources list: not asked for
    server.prompt({ name: "p" }, () => ({ messages: [] })) // asked for, but not honoured when acknowledged
    await flush()
    expect(peer.received.slice(1)).toEqual([
      { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [META_SUBSCRIPTION_ID]: "L1" } } },
      { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "mem://a", _meta: { [META_SUBSCRIPTION_ID]: "L1" } } }
    ])
    expect(peer.session.info().inFlight).toBe(1)
  })

  it("the client's notifications/cancelled ends it: no response, no listener left", async () => {
    const server = makeServer()
    const base = server.changeListenerCount
    const peer = rawPeer(server)
    peer.send(listenRequest(1, { toolsListChanged: true }))
    peer.send(listenRequest(2, { resourcesListChanged: true }))
    await flush()
    expect(server.changeListenerCount).toBe(base + 2)
    peer.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "done" } })
    await flush()
    expect(server.changeListenerCount).toBe(base + 1)
    server.tool({ name: "added" }, () => ({ content: [] }))
    server.resource({ uri: "mem://b", name: "b" }, () => ({ contents: [] }))
    await flush()
    const after = peer.received.slice(2)
    expect(after.map((m) => ["method" in m ? m.method : "response", subscriptionIdOf("method" in m ? m.params : undefined)])).toEqual([
      ["notifications/resources/list_changed", 2]
    ])
    expect(peer.session.info().inFlight).toBe(1)
  })

  it("a graceful close answers each listen with its complete result; the transport's end just drops them", async () => {
    const server = makeServer()
    const base = server.changeListenerCount
    const peer = rawPeer(server)
    peer.send(listenRequest("L", { toolsListChanged: true }))
    await flush()
    await peer.session.close()
    expect(peer.received.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: "L",
      result: { resultType: "complete", _meta: { [META_SUBSCRIPTION_ID]: "L", [META_SERVER_INFO]: { name: "subs", version: "1.0.0" } } }
    })
    expect(server.changeListenerCount).toBe(base)

    const other = rawPeer(server)
    other.send(listenRequest("M", { toolsListChanged: true }))
    await flush()
    other.session.transportClosed({ expected: false, reason: "eof" })
    await flush()
    expect(other.received.filter((m) => !("method" in m))).toEqual([])
    expect(server.changeListenerCount).toBe(base)
  })

  it("a malformed filter gets -32602 and leaves nothing; a legacy session does not know the method (-32601)", async () => {
    const server = makeServer()
    const base = server.changeListenerCount
    const peer = rawPeer(server)
    peer.send(listenRequest(3, { toolsListChanged: "yes" }))
    peer.send({ jsonrpc: "2.0", id: 4, method: "subscriptions/listen", params: { _meta: meta } })
    await flush()
    expect(peer.received.map((m) => "error" in m && m.error.code)).toEqual([ErrorCode.InvalidParams, ErrorCode.InvalidParams])
    expect(server.changeListenerCount).toBe(base)
    expect(peer.session.info().inFlight).toBe(0)

    const legacy = rawPeer(server)
    legacy.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "l", version: "1" } } })
    legacy.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    legacy.send({ jsonrpc: "2.0", id: 1, method: "subscriptions/listen", params: { notifications: { toolsListChanged: true } } })
    await flush()
    const answer = legacy.received.find((m) => "id" in m && m.id === 1)
    expect(answer !== undefined && "error" in answer && answer.error.code).toBe(ErrorCode.MethodNotFound)
  })
})

describe("ModernClient.listen over a message transport (virtual time)", () => {
  const setup = (scripted?: Parameters<typeof filtered>[1]) => {
    const clock = new SimulatedClock()
    const server = makeServer()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const session = serveTransport(server, scripted ? filtered(serverSide, scripted) : serverSide)
    const client = ModernClient.create(clientSide, { clock })
    return { clock, server, session, client, serverSide }
  }

  it("acknowledges, delivers changes, and close() cancels the request on the server", async () => {
    const { server, session, client } = setup()
    const base = server.changeListenerCount
    const notes: Array<JsonRpcNotification> = []
    const states: Array<SubscriptionState> = []
    const sub = client.listen({ toolsListChanged: true, promptsListChanged: true }, { onNotification: (n) => notes.push(n), onStateChange: (s) => states.push(s) })
    expect(await sub.acknowledged).toEqual({ toolsListChanged: true })
    expect(sub.state).toBe("listening")
    server.tool({ name: "added" }, () => ({ content: [] }))
    await flush()
    expect(notes.map((n) => [n.method, subscriptionIdOf(n.params)])).toEqual([["notifications/tools/list_changed", sub.id]])
    expect(server.changeListenerCount).toBe(base + 1)
    sub.close()
    expect(await sub.ended).toEqual({ state: "closed", reason: undefined })
    await flush()
    expect(server.changeListenerCount).toBe(base)
    expect(session.info().inFlight).toBe(0)
    expect(states).toEqual(["listening", "closed"])
    await client.close()
  })

  it("reconnects with a new id after the server tears the stream down, after the backoff; the old id is no longer routed", async () => {
    let lastListenId: unknown
    let toClient: ((m: JsonRpcMessage) => void) | undefined
    const { clock, server, client } = setup((m, reply) => {
      if ("method" in m && m.method === "subscriptions/listen" && "id" in m) {
        lastListenId = m.id
        toClient = reply
      }
      return false // the request still reaches the server
    })
    const notes: Array<JsonRpcNotification> = []
    const sub = client.listen({ toolsListChanged: true }, { baseDelayMs: 1_000, jitter: false, onNotification: (n) => notes.push(n) })
    await sub.acknowledged
    const firstId = sub.id
    expect(firstId).toBe(lastListenId)
    // The server's one allowed use of notifications/cancelled: tearing a listen stream down.
    toClient!({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: firstId, reason: "overloaded" } })
    await flush()
    expect(sub.state).toBe("waiting")
    expect(sub.id).toBeUndefined()
    clock.increment(999)
    await flush()
    expect(sub.state).toBe("waiting")
    clock.increment(1)
    await flush()
    expect(sub.state).toBe("listening")
    expect(sub.id).toBe(lastListenId)
    expect(sub.id).not.toBe(firstId)
    expect(sub.attempts).toBe(0)
    // Our scripted teardown left the first listen open on the server: both streams see the change,
    // and only the current one reaches the subscription.
    server.tool({ name: "added" }, () => ({ content: [] }))
    await flush()
    expect(notes.map((n) => subscriptionIdOf(n.params))).toEqual([sub.id])
    await client.close()
    expect((await sub.ended).state).toBe("closed")
  })

  it("with jitter (the default) a reconnection comes between half and one and a half of the backoff", async () => {
    const delays: Array<number> = []
    for (let i = 0; i < 5; i++) {
      let toClient: ((m: JsonRpcMessage) => void) | undefined
      let listenId: unknown
      const { clock, client } = setup((m, reply) => {
        if ("method" in m && m.method === "subscriptions/listen" && "id" in m) {
          listenId = m.id
          toClient = reply
        }
        return false
      })
      const sub = client.listen({ toolsListChanged: true }, { baseDelayMs: 1_000 })
      await sub.acknowledged
      toClient!({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: listenId } })
      await flush()
      let waited = 0
      while (sub.state === "waiting" && waited < 2_000) {
        clock.increment(10)
        waited += 10
        await flush(1)
      }
      delays.push(waited)
      await client.close()
    }
    // LISTEN_JITTER (0.5) through the one `jittered` formula: [½, 1½] × the backoff.
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(500)
    for (const d of delays) expect(d).toBeLessThanOrEqual(1_500)
  })

  it("a server without subscriptions: the error response fails the listen (no retry), typed", async () => {
    const { client } = setup((m, reply) => {
      if ("method" in m && m.method === "subscriptions/listen" && "id" in m) {
        reply({ jsonrpc: "2.0", id: m.id, error: { code: ErrorCode.MethodNotFound, message: "Method not found: subscriptions/listen" } })
        return true
      }
      return false
    })
    const sub = client.listen({ toolsListChanged: true })
    const error = await sub.acknowledged.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ListenFailed)
    expect((error as ListenFailed).state).toBe("failed")
    expect(await sub.ended).toEqual({ state: "failed", reason: "-32601 Method not found: subscriptions/listen" })
    await client.close()
  })

  it("the server's graceful close completes it; the client's transport end ends it", async () => {
    const a = setup()
    const sub = a.client.listen({ toolsListChanged: true })
    await sub.acknowledged
    await a.session.close()
    expect(await sub.ended).toEqual({ state: "completed", reason: undefined })
    await a.client.close()

    const b = setup()
    const sub2 = b.client.listen({ toolsListChanged: true })
    await sub2.acknowledged
    b.serverSide.close()
    expect((await sub2.ended).state).toBe("ended")
  })
})

describe("ModernClient.listen: the URIs the server refused (_meta[META_REFUSED_SUBSCRIPTIONS])", () => {
  const POLICY = `
default: deny
rules:
  - { id: mem-read, resource: "mem://*", effect: allow }
  - { id: secret-deny, resource: "mem://secret", effect: deny }
`
  const guarded = () => {
    const server = new McpServer({ name: "subs", version: "1.0.0" })
      .resource({ uri: "mem://a", name: "a" }, () => ({ contents: [] }))
      .resource({ uri: "mem://secret", name: "secret" }, () => ({ contents: [] }))
    server.guard = policyGuard({ engine: new PolicyEngine(Policy.parse(POLICY, "refused.yaml")), server: "subs" })
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide)
    return ModernClient.create(clientSide, { clock: new SimulatedClock() })
  }

  it("our server with a policy that denies one URI: left out of the filter, in `refused` with its -32003; none refused is []", async () => {
    const client = guarded()
    try {
      const sub = client.listen({ resourceSubscriptions: ["mem://secret", "mem://a"] })
      expect(await sub.acknowledged).toEqual({ resourceSubscriptions: ["mem://a"] })
      expect(sub.refused).toEqual([
        { uris: ["mem://secret"], error: { code: ErrorCode.PolicyDenied, message: expect.stringContaining("secret-deny"), data: { policies: ["secret-deny"] } } }
      ])
      const clean = client.listen({ resourceSubscriptions: ["mem://a"] })
      expect(await clean.acknowledged).toEqual({ resourceSubscriptions: ["mem://a"] })
      expect(clean.refused).toEqual([])
      sub.close()
      clean.close()
    } finally {
      await client.close()
    }
  })

  it("a malformed _meta value never throws: the listen is acknowledged, malformed entries are ignored, well-formed ones kept", async () => {
    const good = { uris: ["mem://b"], error: { code: -32003, message: "no" } }
    const error = { code: -32003, message: "no" }
    // Each case: the acknowledgement's _meta (besides the subscription id) and the `refused` it gives.
    const cases: Array<[Record<string, unknown>, ReadonlyArray<unknown>]> = [
      [{}, []],
      [{ [META_REFUSED_SUBSCRIPTIONS]: "everything" }, []],
      [{ [META_REFUSED_SUBSCRIPTIONS]: null }, []],
      [{ [META_REFUSED_SUBSCRIPTIONS]: { uris: ["mem://b"], error } }, []],
      [JSON.parse(`{"__proto__":{"${META_REFUSED_SUBSCRIPTIONS}":[${JSON.stringify(good)}]}}`), []],
      [{
        [META_REFUSED_SUBSCRIPTIONS]: [
          null, 7, "mem://b", [good],
          { uris: "mem://b", error },
          { uris: ["mem://b", 1], error },
          { uris: ["mem://b"] },
          { uris: ["mem://b"], error: "no" },
          { uris: ["mem://b"], error: { code: "-32003", message: "no" } },
          { uris: ["mem://b"], error: { code: 1.5, message: "no" } },
          { uris: ["mem://b"], error: { code: -32003 } },
          JSON.parse(`{"__proto__":${JSON.stringify(good)}}`),
          { ...good, error: { ...error, data: { why: "policy" } } },
          good
        ]
      }, [{ ...good, error: { ...error, data: { why: "policy" } } }, good]]
    ]
    let next = 0
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(makeServer(), filtered(serverSide, (m, reply) => {
      if (!("method" in m) || m.method !== "subscriptions/listen" || !("id" in m)) return false
      // Acknowledged by hand with the next case's _meta (and the listen id, which routes it); never reaches the server.
      const _meta = { ...cases[next++]![0], [META_SUBSCRIPTION_ID]: m.id }
      reply({ jsonrpc: "2.0", method: ACKNOWLEDGED_METHOD, params: { notifications: { resourceSubscriptions: ["mem://a"] }, _meta } })
      return true
    }))
    const client = ModernClient.create(clientSide, { clock: new SimulatedClock() })
    try {
      for (const [meta, refused] of cases) {
        const sub = client.listen({ resourceSubscriptions: ["mem://a", "mem://b"] })
        expect(await sub.acknowledged).toEqual({ resourceSubscriptions: ["mem://a"] })
        expect([meta, sub.refused]).toEqual([meta, refused])
        sub.close()
      }
      expect(next).toBe(cases.length)
      expect(({} as Record<string, unknown>).uris).toBeUndefined()
    } finally {
      await client.close()
    }
  })
})

describe("subscriptions/listen over Streamable HTTP", () => {
  const headers = { "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" }

  it("the response is an SSE stream: the acknowledgement first, then the changes; closing it cancels (nothing left on the server)", async () => {
    const server = makeServer()
    const base = server.changeListenerCount
    const handle = await makeHttpServer(server)
    const abort = new AbortController()
    const res = await post(handle.url, listenRequest(5, { toolsListChanged: true }), headers, abort.signal)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const reader = new SseReader(res)
    expect((await reader.nextMessage())?.message).toMatchObject({ method: ACKNOWLEDGED_METHOD, params: { notifications: { toolsListChanged: true } } })
    server.tool({ name: "added" }, () => ({ content: [] }))
    expect((await reader.nextMessage())?.message).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: { [META_SUBSCRIPTION_ID]: 5 } }
    })
    expect(handle.stats().modernInFlight).toBe(1)
    abort.abort()
    await reader.cancel()
    await expect.poll(() => handle.stats().modernInFlight).toBe(0)
    expect(server.changeListenerCount).toBe(base)
    await handle.close()
  })

  it("shutting the server down answers an open listen with its complete result instead of waiting for the drain deadline", async () => {
    const server = makeServer()
    const handle = await makeHttpServer(server)
    const res = await post(handle.url, listenRequest("s", { toolsListChanged: true }), headers)
    const reader = new SseReader(res)
    await reader.nextMessage()
    const started = Date.now()
    const closing = handle.close({ drainMs: 10_000 })
    const last = await reader.nextMessage()
    expect(last?.message).toMatchObject({ id: "s", result: { resultType: "complete", _meta: { [META_SUBSCRIPTION_ID]: "s" } } })
    await closing
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it("a plain HTTP refusal (404 without a JSON-RPC body) fails the listen at once; a 503 is retried", async () => {
    const { createServer } = await import("node:http")
    let posts = 0
    let status = 404
    const http = createServer((req, res) => {
      req.resume()
      posts++
      res.writeHead(status, { "content-type": "text/plain" }).end("nope")
    })
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`
    const client = ModernClient.create(new ModernHttpWire({ url }))
    const refused = client.listen({ toolsListChanged: true }, { baseDelayMs: 10, maxAttempts: 2 })
    expect(await refused.ended).toMatchObject({ state: "failed" })
    expect(posts).toBe(1)
    status = 503
    posts = 0
    const busy = client.listen({ toolsListChanged: true }, { baseDelayMs: 10, maxAttempts: 2, jitter: false })
    expect(await busy.ended).toMatchObject({ state: "failed" })
    expect(posts).toBe(3) // the first try and two reconnections
    await client.close()
    await new Promise<void>((resolve) => http.close(() => resolve()))
  })

  it("ModernClient.listen over HTTP survives a dropped connection and a restarted server (reconnect, re-acknowledge)", async () => {
    const first = makeServer()
    let handle = await makeHttpServer(first)
    const port = handle.port
    const notes: Array<JsonRpcNotification> = []
    // The reconnection backoff runs on the client's clock: simulated, so the test decides when it ends.
    const clock = new SimulatedClock()
    const client = ModernClient.create(new ModernHttpWire({ url: handle.url }), { clock })
    // The subscription reports each notification and state change: the test awaits those (no polling).
    const events = condition()
    const sub = client.listen({ toolsListChanged: true }, { onNotification: (n) => (notes.push(n), events.changed()), onStateChange: events.changed, baseDelayMs: 50, jitter: false })
    expect(await sub.acknowledged).toEqual({ toolsListChanged: true })
    first.tool({ name: "one" }, () => ({ content: [] }))
    await events.when(() => notes.length === 1, "the first notification")

    // Abrupt: connections cut, then the server is gone; a new one comes up on the same port.
    handle.server.closeAllConnections()
    await handle.close({ drainMs: 0 })
    await events.when(() => sub.state === "waiting", "the drop (by socket I/O)")
    const second = makeServer()
    handle = await makeHttpServer(second, { port })
    clock.increment(49)
    expect(sub.state).toBe("waiting")
    clock.increment(1) // the first reconnection's delay (50 ms, no jitter) is over
    expect(sub.state).toBe("subscribing")
    await events.when(() => sub.state === "listening", "the new server's acknowledgement over HTTP")
    second.tool({ name: "two" }, () => ({ content: [] }))
    await events.when(() => notes.length === 2, "the second notification")
    expect(subscriptionIdOf(notes[1]!.params)).toBe(sub.id)

    // Graceful: the server completes the listen; the subscription ends without reconnecting.
    await handle.close()
    expect((await sub.ended).state).toBe("completed")
    await client.close()
  })
})
