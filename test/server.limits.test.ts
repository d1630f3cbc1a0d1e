/**
 * Fair limits and handshake deadlines on the real HTTP and WebSocket servers
 * (issue 8.2 and 8.3). Deadlines run on a simulated clock handed to the
 * sessions; sockets are real, since the wiring is what is tested here. The
 * rules themselves are unit-tested in server.sessionLimiter.test.ts.
 */
import { request as httpRequest } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer, type HttpServerHandle, type HttpServerOptions } from "../src/server/http/HttpServer.ts"
import { makeWsServer, type WsServerHandle, type WsServerOptions } from "../src/server/ws/WsServer.ts"
import { ACCEPT_BOTH, initializeRequest, openSession, post } from "./support/mcpHttp.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import { whenChanged } from "./support/condition.ts"

const handles: Array<HttpServerHandle | WsServerHandle> = []
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close({ drainMs: 0 })
})
const startHttp = async (options: HttpServerOptions) => {
  const h = await makeHttpServer(makeDemoServer(), options)
  handles.push(h)
  return h
}
/** A WebSocket server whose sessions are listed in a registry: `released()` awaits its changes (no polling). */
const startWs = async (options: WsServerOptions) => {
  const registry = makeRegistryUnsafe()
  const h = await makeWsServer(makeDemoServer(), { registry, ...options })
  handles.push(h)
  return Object.assign(h, { released: () => whenChanged((l) => registry.subscribe(l), () => h.connections === 0, "every connection to be released") })
}

/** POST from a chosen local address (every 127/8 address is loopback on Linux): per-address caps. */
const postFrom = (url: string, localAddress: string, body: unknown, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const u = new URL(url)
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: "POST",
      localAddress,
      agent: false,
      headers: { accept: ACCEPT_BOTH, "content-type": "application/json", ...headers }
    }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on("error", reject)
    req.end(JSON.stringify(body))
  })

const echo = (id: number, text: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } })

describe("Streamable HTTP: fair admission", () => {
  it("a flood of handshake-only initialize POSTs no longer locks a well-behaved client out", async () => {
    const handle = await startHttp({ maxSessions: 40, maxHandshakeSessions: 8 })
    // 200 initializes that never send notifications/initialized (5× the whole table).
    const flood = await Promise.all(Array.from({ length: 200 }, () => post(handle.url, initializeRequest())))
    expect(flood.map((r) => r.status).filter((s) => s !== 200)).toEqual([])
    expect(handle.stats().handshaking).toBeLessThanOrEqual(8)
    const good = await openSession(handle.url)
    const call = await post(handle.url, echo(1, "still served"), good.headers)
    expect(call.status).toBe(200)
    expect(((await call.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text).toBe("still served")
    // Another flood after it completed its handshake does not touch it.
    await Promise.all(Array.from({ length: 100 }, () => post(handle.url, initializeRequest())))
    expect((await post(handle.url, echo(2, "again"), good.headers)).status).toBe(200)
    expect(handle.stats().evicted).toBeGreaterThanOrEqual(250)
  })

  it("eviction order at the total cap: the handshake-phase session first (even the newest), then the longest-idle; never a busy one", async () => {
    let now = 1_000
    const handle = await startHttp({ maxSessions: 3, now: () => now })
    const a = await openSession(handle.url) // idle since 1 000
    now = 5_000
    const b = await openSession(handle.url)
    expect((await post(handle.url, echo(1, "b is active"), b.headers)).status).toBe(200) // b: idle since 5 000
    const h = await post(handle.url, initializeRequest()) // in the handshake, the newest
    const hSid = h.headers.get("mcp-session-id")!
    now = 9_000
    const n1 = await openSession(handle.url) // full: h goes
    const ping = (headers: Record<string, string>, id: number) => post(handle.url, { jsonrpc: "2.0", id, method: "ping" }, headers)
    expect((await ping({ "mcp-session-id": hSid, "mcp-protocol-version": "2025-11-25" }, 2)).status).toBe(404)
    for (const s of [a, b, n1]) expect((await ping(s.headers, 3)).status).toBe(200)
    // ping does not count as a finished request for idleness: a (1 000) is still the longest idle.
    await openSession(handle.url)
    expect((await ping(a.headers, 4)).status).toBe(404)
    for (const s of [b, n1]) expect((await ping(s.headers, 5)).status).toBe(200)
    expect(handle.stats()).toMatchObject({ sessions: 3, evicted: 2 })
  })

  it("per-address cap: 429 with Retry-After for that address (its handshakes evicted first), other addresses unaffected", async () => {
    const handle = await startHttp({ maxSessionsPerAddress: 2, retryAfterSeconds: 3 })
    const init = (from: string) => postFrom(handle.url, from, initializeRequest())
    const headersOf = (r: { headers: Record<string, unknown> }) => ({ "mcp-session-id": r.headers["mcp-session-id"] as string, "mcp-protocol-version": "2025-11-25" })
    const initialized = (r: { headers: Record<string, unknown> }) => postFrom(handle.url, "127.0.0.1", { jsonrpc: "2.0", method: "notifications/initialized" }, headersOf(r))
    const a1 = await init("127.0.0.1")
    expect((await initialized(a1)).status).toBe(202) // operating
    const a2 = await init("127.0.0.1") // left in the handshake
    expect(a2.status).toBe(200)
    const a3 = await init("127.0.0.1") // the address is at its cap: its handshake a2 makes room
    expect(a3.status).toBe(200)
    expect((await postFrom(handle.url, "127.0.0.1", { jsonrpc: "2.0", id: 1, method: "ping" }, headersOf(a2))).status).toBe(404)
    expect((await initialized(a3)).status).toBe(202)
    // Both sessions of 127.0.0.1 are operating: nothing of that address may be evicted.
    const refused = await init("127.0.0.1")
    expect(refused.status).toBe(429)
    expect(refused.headers["retry-after"]).toBe("3")
    expect(JSON.parse(refused.body).error.message).toMatch(/at most 2 sessions per client address/)
    expect((await init("127.0.0.2")).status).toBe(200)
    for (const s of [a1, a3]) expect((await postFrom(handle.url, "127.0.0.1", { jsonrpc: "2.0", id: 2, method: "ping" }, headersOf(s))).status).toBe(200)
  })

  it("per-principal cap: 429 for that principal, others unaffected", async () => {
    const handle = await startHttp({
      maxSessionsPerPrincipal: 1,
      authenticate: (req) => ({ principal: String(req.headers.authorization ?? "anonymous") })
    })
    await openSession(handle.url, "2025-11-25", { authorization: "alice" })
    const again = await post(handle.url, initializeRequest(), { authorization: "alice" })
    expect(again.status).toBe(429)
    expect(again.headers.get("retry-after")).toBe("5")
    expect((await post(handle.url, initializeRequest(), { authorization: "bob" })).status).toBe(200)
  })
})

/** A raw WebSocket peer that records replies and the close code. */
const rawSocket = async (url: string, headers: Record<string, string> = {}) => {
  const ws = new WebSocket(url, ["mcp"], { headers })
  const inbox: Array<Record<string, any>> = []
  const waiters = new Set<() => void>()
  ws.on("message", (data) => {
    inbox.push(JSON.parse(data.toString()))
    for (const w of waiters) w()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  /** The first message (already here or still to come) matching `pred`; rejects if the socket closes first. */
  const next = (pred: (m: Record<string, any>) => boolean): Promise<Record<string, any>> =>
    new Promise((resolve, reject) => {
      const look = () => {
        const m = inbox.find(pred)
        if (m === undefined) return
        waiters.delete(look)
        resolve(m)
      }
      waiters.add(look)
      look()
      void closed.then((c) => waiters.has(look) && (waiters.delete(look), reject(new Error(`closed (${c.code}) before the message: ${JSON.stringify(inbox)}`))))
    })
  return { ws, inbox, closed, next, send: (x: unknown) => ws.send(JSON.stringify(x)) }
}
const wsInitialize = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }

/** Try an upgrade: 101 when it opened (then closed again), else the refusal's status and Retry-After. */
const upgrade = (url: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; retryAfter?: string }>((resolve) => {
    const ws = new WebSocket(url, ["mcp"], { headers })
    ws.once("open", () => {
      ws.close()
      resolve({ status: 101 })
    })
    ws.once("unexpected-response", (_req, res) => resolve({ status: res.statusCode ?? 0, retryAfter: String(res.headers["retry-after"]) }))
    ws.once("error", () => {})
  })

/** Wait until the server has handled what was sent (a ping's answer comes after everything before it). */
const roundTrip = async (peer: Awaited<ReturnType<typeof rawSocket>>, id: number) => {
  peer.send({ jsonrpc: "2.0", id, method: "ping" })
  await peer.next((m) => m.id === id)
}

describe("WebSocket: handshake and idle deadlines, fair admission", () => {
  it("a connection that never initializes is closed at the handshake deadline (4408), counted from the connection's start", async () => {
    const clock = new SimulatedClock()
    const handle = await startWs({ session: { clock, now: () => clock.now(), handshakeTimeoutMs: 1_000 } })
    const silent = await rawSocket(handle.url)
    const halfway = await rawSocket(handle.url)
    halfway.send(wsInitialize) // answered, but never sends notifications/initialized
    await halfway.next(() => true)
    expect(halfway.inbox).toHaveLength(1)
    clock.increment(999)
    await roundTrip(silent, 1)
    expect(handle.connections).toBe(2)
    clock.increment(1)
    expect(await silent.closed).toEqual({ code: 4408, reason: "handshake timeout" })
    expect((await halfway.closed).code).toBe(4408)
    await handle.released()
  })

  it("the idle timeout applies to WebSocket sessions: closed (4408) idleTimeoutMs after the last request finished", async () => {
    const clock = new SimulatedClock()
    const handle = await startWs({ session: { clock, now: () => clock.now(), handshakeTimeoutMs: 1_000, idleTimeoutMs: 5_000 } })
    const peer = await rawSocket(handle.url)
    peer.send(wsInitialize)
    peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await roundTrip(peer, 1)
    clock.increment(2_000) // past the handshake deadline: the handshake completed, nothing happens
    peer.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } })
    await peer.next((m) => m.id === 2)
    clock.increment(4_999)
    await roundTrip(peer, 3)
    expect(handle.connections).toBe(1)
    clock.increment(1)
    expect(await peer.closed).toEqual({ code: 4408, reason: "idle timeout" })
  })

  it("a connection that only sends modern (2026-07-28) requests has no handshake, but the idle timeout closes it (4408)", async () => {
    const clock = new SimulatedClock()
    const handle = await startWs({ session: { clock, now: () => clock.now(), handshakeTimeoutMs: 1_000, idleTimeoutMs: 5_000 } })
    const peer = await rawSocket(handle.url)
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "modern", version: "1" }
    }
    peer.send({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta } })
    await peer.next((m) => m.id === 1 && m.result !== undefined)
    clock.increment(1_000) // the handshake deadline passes: no handshake is owed
    peer.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: meta } })
    await peer.next((m) => m.id === 2)
    clock.increment(4_999) // idle since the call finished at 1 000
    await roundTrip(peer, 3)
    expect(handle.connections).toBe(1)
    clock.increment(1)
    expect(await peer.closed).toEqual({ code: 4408, reason: "idle timeout" })
  })

  it("defaults: a bare makeWsServer has a handshake deadline (10 s) and an idle timeout (30 min)", async () => {
    // The deadlines are on a clock the test drives: the defaults of the durations are what is checked.
    const clock = new SimulatedClock()
    const handle = await startWs({ session: { clock, now: () => clock.now() } })
    const peer = await rawSocket(handle.url)
    await roundTrip(peer, 1)
    clock.increment(9_999)
    await roundTrip(peer, 2)
    clock.increment(1)
    expect((await peer.closed).code).toBe(4408)
    const idle = await rawSocket(handle.url)
    idle.send({ ...wsInitialize, params: { ...wsInitialize.params } })
    idle.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await roundTrip(idle, 3)
    clock.increment(30 * 60_000 - 1)
    await roundTrip(idle, 4)
    clock.increment(1)
    expect(await idle.closed).toEqual({ code: 4408, reason: "idle timeout" })
  })

  it("a flood of connections that never initialize cannot lock a client out: the oldest are closed with 1013, the newcomer is served", async () => {
    const handle = await startWs({ maxConnections: 10, maxHandshakeSessions: 4 })
    const flood = []
    for (let i = 0; i < 20; i++) flood.push(await rawSocket(handle.url))
    const codes = await Promise.all(flood.slice(0, 16).map((p) => p.closed))
    expect(new Set(codes.map((c) => c.code))).toEqual(new Set([1013]))
    expect(codes[0]!.reason).toMatch(/evicted/)
    const good = await rawSocket(handle.url)
    good.send(wsInitialize)
    good.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    good.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "served" } } })
    expect((await good.next((m) => m.id === 1)).result?.content?.[0]?.text).toBe("served")
    for (const p of [...flood, good]) p.ws.close()
  })

  it("per-principal and per-address caps: the key's own handshake is evicted first, then the upgrade is refused with 429 + Retry-After", async () => {
    const handle = await startWs({
      maxSessionsPerPrincipal: 1,
      authenticate: (req) => ({ principal: String(req.headers.authorization ?? "anonymous") })
    })
    const alice1 = await rawSocket(handle.url, { authorization: "alice" })
    const alice2 = await rawSocket(handle.url, { authorization: "alice" }) // alice1 was still in the handshake
    expect((await alice1.closed).code).toBe(1013)
    alice2.send(wsInitialize)
    alice2.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await roundTrip(alice2, 1)
    expect(await upgrade(handle.url, { authorization: "alice" })).toEqual({ status: 429, retryAfter: "5" })
    expect((await upgrade(handle.url, { authorization: "bob" })).status).toBe(101)
    const perAddress = await startWs({ maxSessionsPerAddress: 1 })
    const first = await rawSocket(perAddress.url)
    first.send(wsInitialize)
    first.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await roundTrip(first, 1)
    expect((await upgrade(perAddress.url)).status).toBe(429)
    for (const p of [alice2, first]) p.ws.close()
  })
})
