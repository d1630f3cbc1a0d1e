import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

// Hibernation: an idle operating session drops its actor (keeping the persisted
// snapshot) and is restored by the next lifecycle event; the idle deadline still
// counts from the last request finishing.
const setup = (idleTimeoutMs = 1_000) => {
  const clock = new SimulatedClock()
  const sent: Array<JsonRpcMessage> = []
  const server = new McpServer({ name: "s", version: "1" }).tool({ name: "echo" }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))
  const session = new ServerSession(server, { transport: "http", send: (m) => void sent.push(m), idleTimeoutMs, clock, now: () => clock.now() })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) clock.increment(1)
  }
  const reply = (id: number) => sent.find((m) => "id" in m && m.id === id && !("method" in m))
  return { clock, session, sent, advance, reply }
}

describe("hibernation", () => {
  it("drops the actor of an idle operating session; requests are served without waking it; ping restores it", () => {
    const { session, reply } = setup(0)
    expect(session.hibernate()).toBe(true)
    expect(session.isHibernated).toBe(true)
    expect(session.stateName()).toBe("operating")
    expect(session.protocolVersion).toBe("2025-11-25")
    session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "zz" } } })
    expect(reply(1)).toMatchObject({ result: { content: [{ text: "zz" }] } })
    expect(session.isHibernated).toBe(true)
    session.receive({ jsonrpc: "2.0", id: 2, method: "ping" })
    expect(reply(2)).toMatchObject({ result: {} })
    expect(session.isHibernated).toBe(false)
    expect(session.stateName()).toBe("operating")
    // A second initialize is still refused by the restored chart.
    session.receive({ jsonrpc: "2.0", id: 3, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    expect(reply(3)).toMatchObject({ error: { code: -32600 } })
  })

  it("is refused while work is in flight or before the handshake", () => {
    const clock = new SimulatedClock()
    const server = new McpServer({ name: "s", version: "1" }).tool({ name: "hang" }, () => new Promise(() => {}))
    const session = new ServerSession(server, { transport: "http", send: () => {}, clock, now: () => clock.now() })
    expect(session.hibernate()).toBe(false) // no chart yet
    session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    expect(session.hibernate()).toBe(false) // awaiting initialized
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "hang" } })
    expect(session.hibernate()).toBe(false) // in flight
    expect(session.hibernateIfIdleFor(0)).toBe(false)
  })

  it("the chart decides with the facts the session reports: a pending server→client request keeps it awake until answered", () => {
    const { session, sent } = setup(0)
    const pong = session.request("ping")
    const out = sent.find((m) => "method" in m && m.method === "ping" && "id" in m) as { id: string | number } | undefined
    expect(out).toBeDefined()
    expect(session.hibernate()).toBe(false) // HIBERNATE { outbound: 1 }: canHibernate refuses
    expect(session.isHibernated).toBe(false)
    expect(session.stateName()).toBe("operating")
    session.receive({ jsonrpc: "2.0", id: out!.id, result: {} })
    expect(session.hibernate()).toBe(true)
    expect(session.isHibernated).toBe(true)
    return pong
  })

  it("closes at the idle deadline counted from the last request, even when that request ran while hibernated", async () => {
    const { session, advance } = setup(1_000)
    advance(100)
    expect(session.hibernateIfIdleFor(100)).toBe(true)
    advance(400) // t = 500: a request while hibernated moves the deadline to 1500
    session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } })
    advance(499) // t = 999: the old deadline passed unnoticed by anyone but the wake timer, which sleeps on
    advance(1)
    expect(session.stateName()).toBe("operating")
    expect(session.isHibernated).toBe(true)
    advance(499) // t = 1499
    await Promise.resolve()
    expect(session.stateName()).toBe("operating")
    advance(1) // t = 1500: the wake timer restores the chart, which re-arms for what remains (≤ 1 ms) and closes
    advance(1)
    await Promise.resolve()
    await Promise.resolve()
    expect(session.stateName()).toBe("closed")
    expect((await session.ended).reason).toBe("idle timeout")
  })

  it("close() and a transport end restore the chart and end the session", async () => {
    const a = setup(0)
    a.session.hibernate()
    await a.session.close({ reason: "DELETE" })
    expect((await a.session.ended).reason).toBe("DELETE")
    const b = setup(0)
    b.session.hibernate()
    b.session.transportClosed({ expected: true, reason: "socket closed" })
    expect((await b.session.ended).reason).toBe("socket closed")
    expect(b.clock).toBeDefined()
  })
})

// Hibernation is xstate's persisted snapshot plus the session state requests changed:
// plain data that survives JSON and is served on by a fresh session on another McpServer.
describe("persist and restore", () => {
  const makeServer = () =>
    new McpServer({ name: "s", version: "1" })
      .tool({ name: "echo" }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))
      .resource({ uri: "mem://a", name: "a" }, () => ({ contents: [] }))

  it("a persisted session survives JSON.stringify and a fresh session serves it on: id, negotiation, log level, subscriptions, idle deadline", async () => {
    const { session, advance, clock } = setup(1_000)
    session.receive({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "warning" } })
    advance(200)
    const persisted = session.persist()
    expect(persisted).toBeDefined()
    expect(session.isHibernated).toBe(true)
    // Nothing live inside: the JSON round trip is lossless.
    const json = JSON.stringify(persisted)
    expect(JSON.parse(json)).toEqual(persisted)
    expect(JSON.parse(json)).toMatchObject({ id: session.id, logLevel: "warning", chart: { status: "active", value: "operating", context: { protocolVersion: "2025-11-25", idleTimeoutMs: 1_000 } } })

    const server = makeServer()
    const sent: Array<JsonRpcMessage> = []
    // Another process's runtime (in this one, the sleeping original still holds its id).
    const elsewhere = makeMcpRuntime()
    const fresh = new ServerSession(server, { transport: "http", send: (m) => void sent.push(m), idleTimeoutMs: 1_000, clock, now: () => clock.now(), restore: JSON.parse(json), runtime: elsewhere })
    expect(fresh.id).toBe(session.id)
    expect(fresh.isHibernated).toBe(true)
    expect(fresh.stateName()).toBe("operating")
    expect(fresh.protocolVersion).toBe("2025-11-25")
    expect(fresh.clientInfo).toEqual({ name: "c", version: "1" })
    fresh.receive({ jsonrpc: "2.0", id: 2, method: "resources/subscribe", params: { uri: "mem://a" } })
    fresh.receive({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "on" } } })
    expect(sent.find((m) => "id" in m && m.id === 3)).toMatchObject({ result: { content: [{ text: "on" }] } })
    // The restored session listens to its new server's changes.
    server.resourceUpdated("mem://a")
    expect(sent.some((m) => "method" in m && m.method === "notifications/resources/updated")).toBe(true)
    // Its log level came along, and the subscription made here goes with it next time.
    const p2 = fresh.persist()!
    expect(p2).toMatchObject({ logLevel: "warning", subscriptions: ["mem://a"] })
    // The idle deadline counts from the last request (t = 200), on the restored chart.
    advance(999)
    await Promise.resolve()
    expect(fresh.stateName()).toBe("operating")
    advance(2)
    for (let i = 0; i < 3; i++) await Promise.resolve()
    expect(fresh.stateName()).toBe("closed")
    expect((await fresh.ended).reason).toBe("idle timeout")
    await elsewhere.shutdown({ drainMs: 0 })
  })

  it("a session with work in flight is not persisted; a record that is not an operating chart is refused", () => {
    const clock = new SimulatedClock()
    const server = new McpServer({ name: "s", version: "1" }).tool({ name: "hang" }, () => new Promise(() => {}))
    const session = new ServerSession(server, { transport: "http", send: () => {}, clock, now: () => clock.now() })
    session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    expect(session.persist()).toBeUndefined() // awaiting initialized
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "hang" } })
    expect(session.persist()).toBeUndefined() // in flight
    const bogus = { id: "x", lastSettledAt: 0, startedAt: 0, chart: { status: "active", value: "closing", context: {} } }
    expect(() => new ServerSession(server, { transport: "http", send: () => {}, restore: bogus as never })).toThrow(/not a persisted operating session/)
  })
})
