import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

// The handshake timeout bounds the whole handshake from the session's start:
// answering initialize must not re-arm it (a client could otherwise take 2×).
describe("handshake timeout", () => {
  const setup = () => {
    const clock = new SimulatedClock()
    const sent: Array<JsonRpcMessage> = []
    const session = new ServerSession(new McpServer({ name: "s", version: "1" }), {
      transport: "memory",
      send: (m) => void sent.push(m),
      handshakeTimeoutMs: 1_000,
      clock,
      now: () => clock.now()
    })
    const advance = (ms: number) => {
      for (let i = 0; i < ms; i++) clock.increment(1)
    }
    return { clock, session, sent, advance }
  }
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } } as const

  it("closes a session whose client answered initialize late and never sent initialized, at 1 000 ms from the start", async () => {
    const { session, advance } = setup()
    advance(600)
    session.receive(initialize)
    expect(session.stateName()).toBe("awaitingInitialized")
    advance(399)
    expect(session.stateName()).toBe("awaitingInitialized")
    advance(1)
    await Promise.resolve()
    expect(session.stateName()).toBe("closed")
    expect((await session.ended).reason).toBe("handshake timeout")
  })

  it("does not close a session that completed the handshake in time", () => {
    const { session, advance } = setup()
    advance(600)
    session.receive(initialize)
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    advance(2_000)
    expect(session.stateName()).toBe("operating")
  })
})
