import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
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
