/**
 * The session's one bypass of its chart: in `operating`, a request (any method but
 * `ping` and `initialize`) is dispatched without an actor step. That is allowed only
 * because the chart's transition for it there is a pure self-transition — same state,
 * same context, no timer touched, exactly `dispatch(id)` — so skipping the step
 * changes nothing the chart would have decided. These tests put the two side by side:
 * the chart's pure step on the session's own live snapshot, and what the session did.
 */
import { describe, expect, it } from "vitest"
import { type AnyActorRef, SimulatedClock, transition } from "xstate"
import { legacyServerSessionMachine as machine, type LegacyServerSessionEvent } from "../machines/legacyServerSession.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

type Action = { readonly type: string; readonly params?: unknown }
const plain = (actions: ReadonlyArray<Action>) =>
  actions.map((a) => (a.params === undefined ? { type: a.type } : { type: a.type, params: a.params }))

const setup = (earlyRequests: "reject" | "accept" = "reject") => {
  const clock = new SimulatedClock()
  const sent: Array<JsonRpcMessage> = []
  const server = new McpServer({ name: "s", version: "1" })
    .tool({ name: "echo" }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))
  const session = new ServerSession(server, {
    transport: "http",
    send: (m) => void sent.push(m),
    idleTimeoutMs: 60_000,
    handshakeTimeoutMs: 10_000,
    earlyRequests,
    clock,
    now: () => clock.now()
  })
  // The running chart (private: the test reads it, never drives it).
  const actor = () => (session as unknown as { actor: AnyActorRef | undefined }).actor
  const reply = (id: number | string) => sent.find((m) => "id" in m && m.id === id && !("method" in m))
  /** Record every event the session sends its chart from now on (an xstate step may keep the same snapshot object). */
  const spy = () => {
    const live = actor()!
    const events: Array<{ readonly type: string }> = []
    const send = live.send.bind(live)
    live.send = (event: { readonly type: string }) => {
      events.push(event)
      send(event)
    }
    return events
  }
  return { session, sent, actor, reply, clock, spy }
}

const init = (id: number) => ({
  jsonrpc: "2.0" as const, id, method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } }
})
const requests = [
  { id: 10, method: "tools/call", params: { name: "echo", arguments: { text: "a" } } },
  { id: "r-11", method: "tools/list" },
  { id: 12, method: "tools/call", params: { name: "echo", arguments: { text: "b" } } },
  { id: 13, method: "no/such/method" }
] as const

describe("operating: the dispatch fast path agrees with the chart", () => {
  it("the chart's step for each request is a pure self-transition with only dispatch(id); the session takes no step and dispatches", () => {
    const { session, actor, reply, spy } = setup()
    session.receive(init(1))
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    const live = actor()!
    const stepped = spy()
    for (const r of requests) {
      const before = live.getSnapshot()
      expect(before.value).toBe("operating")
      // What the chart decides for this request in the session's own snapshot.
      const event: LegacyServerSessionEvent = { type: "REQUEST", id: r.id, method: r.method }
      const [after, actions] = transition(machine, before, event)
      expect(after.value).toBe(before.value)
      expect(after.context).toEqual(before.context)
      expect(plain(actions as ReadonlyArray<Action>)).toEqual([{ type: "dispatch", params: { id: r.id } }])
      // What the session did: no event to the chart, nothing changed there, the request dispatched.
      session.receive({ jsonrpc: "2.0", ...r })
      expect(stepped).toEqual([])
      expect(live.getSnapshot()).toBe(before)
      const answer = reply(r.id)
      expect(answer).toBeDefined()
      if (r.method === "no/such/method") expect(answer).toMatchObject({ error: { code: -32601 } })
      else expect(answer).toHaveProperty("result")
    }
    expect(reply(10)).toMatchObject({ result: { content: [{ text: "a" }] } })
    expect(reply(12)).toMatchObject({ result: { content: [{ text: "b" }] } })
  })

  it("outside operating the chart decides (no fast path): before notifications/initialized a request gets the chart's reject", () => {
    const { session, actor, reply, spy } = setup()
    session.receive(init(1))
    const before = actor()!.getSnapshot()
    expect(before.value).toBe("awaitingInitialized")
    const stepped = spy()
    const [, actions] = transition(machine, before, { type: "REQUEST", id: 5, method: "tools/list" })
    const decided = plain(actions as ReadonlyArray<Action>)
    expect(decided).toEqual([{ type: "reject", params: { id: 5, code: -32600, message: expect.any(String) } }])
    session.receive({ jsonrpc: "2.0", id: 5, method: "tools/list" })
    expect(stepped).toEqual([{ type: "REQUEST", id: 5, method: "tools/list" }])
    const params = decided[0]!.params as { code: number; message: string }
    expect(reply(5)).toMatchObject({ error: { code: params.code, message: params.message } })
  })

  it("earlyRequests: accept — the chart's REQUEST in awaitingInitialized is not a self-transition, so it goes through the chart (enters operating)", () => {
    const { session, actor, reply } = setup("accept")
    session.receive(init(1))
    const before = actor()!.getSnapshot()
    const [after, actions] = transition(machine, before, { type: "REQUEST", id: 7, method: "tools/list" })
    expect(after.value).toBe("operating")
    expect(plain(actions as ReadonlyArray<Action>).map((a) => a.type)).toContain("dispatch")
    session.receive({ jsonrpc: "2.0", id: 7, method: "tools/list" })
    expect(actor()!.getSnapshot().value).toBe("operating")
    expect(actor()!.getSnapshot()).not.toBe(before)
    expect(reply(7)).toHaveProperty("result")
  })

  it("ping is not bypassed: the chart answers it (replyPong) with an actor step, in operating too", () => {
    const { session, reply, spy } = setup()
    session.receive(init(1))
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    const stepped = spy()
    session.receive({ jsonrpc: "2.0", id: 8, method: "ping" })
    expect(reply(8)).toMatchObject({ result: {} })
    expect(stepped).toEqual([{ type: "PING", id: 8 }])
  })
})
