/**
 * The requests table (`machines/outboundRequests.ts`) runs the `outboundRequest` chart once per
 * request without an actor per request. These tests prove it runs *the chart*: every
 * `xstate/graph` path of the chart ends the same in the table as in an actor of the same provided
 * machine, and over a real transport (WebSocket, scripted peer) `ClientSession` does what the chart
 * says; its timers run on the runtime's clock (a `SimulatedClock` here).
 */
import { afterEach, describe, expect, it } from "vitest"
import { createActor, SimulatedClock } from "xstate"
import { getSimplePaths } from "xstate/graph"
import type { WebSocketServer } from "ws"
import { type OutboundRequestInput, outboundRequestMachine, type OutboundRequestOutcome } from "../machines/outboundRequest.ts"
import { hasRequest, type OutboundRequestsEmitted, outboundRequestsLogic, requestSnapshotOf } from "../machines/outboundRequests.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"
import { afterEvent } from "./support/eventOnlyTwin.ts"
import { closePeers, playRequestPaths, requestPathsOverWire, scriptedWsPeer } from "./support/requestChartOverWire.ts"

const REQUEST_TIMEOUT = afterEvent("requestTimeout", "outboundRequest.pending.awaitingResponse")
const MAX_TOTAL_TIMEOUT = afterEvent("maxTotalTimeout", "outboundRequest.pending")
const input: OutboundRequestInput = { requestId: 7, method: "tools/call", progressToken: 7, timeoutMs: 1_000, resetTimeoutOnProgress: true }

/** The chart with a recording `sendCancelled`, as the runtime provides it. */
const provided = (cancels: Array<unknown>) =>
  outboundRequestMachine.provide({ actions: { sendCancelled: ({ context }) => void cancels.push(context.requestId) } })

/** The chart's paths: every simple path over its events, progress values increasing along a path. */
const paths = (events: ReadonlyArray<object>) =>
  getSimplePaths(outboundRequestMachine, { events: events as never, input }).map((p) => p.steps.map((s) => s.event).slice(1))

const chartEvents = [
  { type: "RESPONSE", result: { ok: true } },
  { type: "ERROR_RESPONSE", error: { code: -32602, message: "bad" } },
  { type: "PROGRESS", progress: 1 },
  { type: "PROGRESS", progress: 2, total: 2 },
  { type: "CANCEL", reason: "user" },
  { type: "TRANSPORT_CLOSED", reason: "gone" },
  REQUEST_TIMEOUT,
  MAX_TOTAL_TIMEOUT
]

describe("outboundRequests: the table runs the outboundRequest chart", () => {
  it("every graph path ends the same in the table as in an actor of the same provided chart (state, context, outcome, cancellations, progress)", () => {
    const all = paths(chartEvents)
    expect(all.length).toBeGreaterThan(20)
    for (const path of all) {
      const clock = new SimulatedClock()
      const actorCancels: Array<unknown> = []
      const actor = createActor(provided(actorCancels), { clock, input }).start()
      const tableCancels: Array<unknown> = []
      const table = createActor(outboundRequestsLogic(provided(tableCancels)), { clock }).start()
      const emitted: Array<OutboundRequestsEmitted> = []
      table.on("*", (e) => void emitted.push(e as OutboundRequestsEmitted))
      table.send({ type: "REQUEST_SENT", ...input })
      const actorProgress: Array<unknown> = []
      for (const event of path) {
        const before = actor.getSnapshot().context.lastProgress
        // A delayed event is sent as what the scheduler would deliver: the chart's own event.
        actor.send(event as never)
        if (event.type.startsWith("xstate.after.")) table.send({ type: "REQUEST_DEADLINE", requestId: 7, event })
        else table.send({ ...(event as object), requestId: 7 } as never)
        const a = actor.getSnapshot()
        if (a.context.lastProgress !== before) actorProgress.push(a.context.lastProgress)
        const inTable = requestSnapshotOf(table, 7)
        const label = path.map((e) => e.type).join(" → ")
        if (a.status === "active") {
          expect(inTable?.value, label).toEqual(a.value)
          expect(inTable?.context, label).toEqual(a.context)
        } else {
          expect(inTable, label).toBeUndefined()
          expect(table.getSnapshot().value, label).toBe("idle")
        }
      }
      const label = path.map((e) => e.type).join(" → ")
      expect(tableCancels, label).toEqual(actorCancels)
      expect(emitted.filter((e) => e.type === "progress").map((e) => e.type === "progress" && e.progress), label).toEqual(actorProgress)
      const outcomes = emitted.filter((e) => e.type === "outcome").map((e) => e.type === "outcome" && e.output)
      expect(outcomes, label).toEqual(actor.getSnapshot().status === "done" ? [actor.getSnapshot().output] : [])
      actor.stop()
      table.stop()
    }
  })
})

/** A requests table on a simulated clock, its outcomes, and the clock's pending timers (SimulatedClock keeps them in a Map). */
const start = () => {
  const clock = new SimulatedClock()
  const cancels: Array<unknown> = []
  const table = createActor(outboundRequestsLogic(provided(cancels)), { clock }).start()
  const outcomes: Array<OutboundRequestOutcome> = []
  table.on("outcome", (e) => void outcomes.push(e.output))
  const timers = () => (clock as unknown as { readonly timeouts: Map<unknown, unknown> }).timeouts.size
  return { clock, cancels, table, outcomes, timers }
}

describe("outboundRequests: deadlines on the runtime clock", () => {

  it("each request's deadline fires at exactly its timeoutMs, independently of the others", () => {
    const { clock, cancels, table, outcomes } = start()
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/call", timeoutMs: 1_000 })
    clock.increment(400)
    table.send({ type: "REQUEST_SENT", requestId: 2, method: "tools/call", timeoutMs: 1_000 })
    clock.increment(599)
    expect(outcomes).toEqual([])
    clock.increment(1)
    expect(outcomes).toEqual([{ _tag: "TimedOut", requestId: 1, deadline: "request", afterMs: 1_000, cancelSent: true }])
    expect(cancels).toEqual([1])
    expect(table.getSnapshot().context.requests.map((r) => r.requestId)).toEqual([2])
    table.send({ type: "RESPONSE", requestId: 2, result: {} })
    expect(outcomes[1]).toEqual({ _tag: "Settled", requestId: 2, result: {} })
    expect(table.getSnapshot().value).toBe("idle")
    // Its timers went with it: nothing fires later.
    clock.increment(20_000)
    expect(outcomes.length).toBe(2)
    expect(cancels).toEqual([1])
  })

  it("advancing progress restarts the request deadline; the hard maximum fires at exactly maxTotalTimeoutMs", () => {
    const { clock, table, outcomes } = start()
    const progress: Array<unknown> = []
    table.on("progress", (e) => void progress.push(e.progress.progress))
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/call", progressToken: 1, timeoutMs: 1_000, resetTimeoutOnProgress: true, maxTotalTimeoutMs: 2_500 })
    clock.increment(900)
    table.send({ type: "PROGRESS", requestId: 1, progress: 1 })
    table.send({ type: "PROGRESS", requestId: 1, progress: 1 }) // a repeat: no reset, not reported
    clock.increment(900)
    table.send({ type: "PROGRESS", requestId: 1, progress: 2 })
    clock.increment(699)
    expect(outcomes).toEqual([])
    clock.increment(1)
    expect(outcomes).toEqual([{ _tag: "TimedOut", requestId: 1, deadline: "maxTotal", afterMs: 2_500, cancelSent: true }])
    expect(progress).toEqual([1, 2])
  })

  it("late, foreign and repeated events change nothing; TRANSPORT_CLOSED without an id aborts every request", () => {
    const { table, outcomes, cancels } = start()
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/call", timeoutMs: 1_000 })
    table.send({ type: "REQUEST_SENT", requestId: 2, method: "initialize", timeoutMs: 1_000 })
    const before = table.getSnapshot()
    table.send({ type: "RESPONSE", requestId: 99, result: {} })
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/list", timeoutMs: 5 })
    expect(table.getSnapshot()).toBe(before)
    table.send({ type: "TRANSPORT_CLOSED", reason: "socket closed" })
    expect(outcomes).toEqual([
      { _tag: "Aborted", requestId: 1, reason: "socket closed" },
      { _tag: "Aborted", requestId: 2, reason: "socket closed" }
    ])
    expect(cancels).toEqual([])
    table.send({ type: "RESPONSE", requestId: 1, result: {} })
    expect(outcomes.length).toBe(2)
    expect(table.getSnapshot().context.inFlight).toBe(0)
  })

  it("stopping the table (its session ended) cancels every pending timer", () => {
    const { clock, table, outcomes, cancels } = start()
    for (let i = 0; i < 100; i++) table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
    expect(table.getSnapshot().context.inFlight).toBe(100)
    table.stop()
    expect(table.getSnapshot().status).toBe("stopped")
    clock.increment(60_000)
    expect(outcomes).toEqual([])
    expect(cancels).toEqual([])
  })

  it("as JSON (inspector feed, records) the table is the list of requests in flight", () => {
    const { table } = start()
    table.send({ type: "REQUEST_SENT", requestId: 3, method: "tools/call", timeoutMs: 1_000 })
    table.send({ type: "PROGRESS", requestId: 3, progress: 1 })
    expect(JSON.parse(JSON.stringify(table.getSnapshot().context))).toEqual({
      inFlight: 1,
      requests: [{ requestId: 3, method: "tools/call", state: { pending: "awaitingResponse" }, lastProgress: { progress: 1 } }]
    })
  })

  it("no live object in the context (R3): it is plain data that JSON.stringify round-trips, and agrees with the request charts kept outside it", () => {
    const { clock, table } = start()
    /** Every value reachable from `x` is JSON data: no Map, no class instance, no function. */
    const plain = (x: unknown): boolean =>
      x === null || x === undefined || ["string", "number", "boolean"].includes(typeof x) ||
      (Array.isArray(x) ? x.every(plain) : typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype && Object.values(x).every(plain))
    const check = (label: string) => {
      const context = table.getSnapshot().context
      expect(plain(context), label).toBe(true)
      expect(JSON.parse(JSON.stringify(context)), label).toEqual(context)
      expect(JSON.parse(JSON.stringify(table.getPersistedSnapshot())), label).toEqual(table.getPersistedSnapshot())
      // The summaries are the request charts' state, which the runner keeps outside the context.
      expect(context.inFlight, label).toBe(context.requests.length)
      for (const r of context.requests) {
        const chart = requestSnapshotOf(table, r.requestId)
        expect(chart?.value, label).toEqual(r.state)
        expect(chart?.context.method, label).toBe(r.method)
        expect(chart?.context.lastProgress, label).toEqual(r.lastProgress)
      }
    }
    check("empty")
    for (let i = 1; i <= 8; i++) table.send({ type: "REQUEST_SENT", requestId: i, method: i % 2 ? "tools/call" : "resources/read", timeoutMs: 1_000 + i })
    table.send({ type: "REQUEST_SENT", requestId: "m9", method: "tools/list", timeoutMs: 5_000, progressToken: "m9" })
    check("nine in flight")
    table.send({ type: "PROGRESS", requestId: "m9", progress: 2, total: 4 })
    table.send({ type: "RESPONSE", requestId: 1, result: {} }) // the first leaves: the last takes its place
    table.send({ type: "ERROR_RESPONSE", requestId: 5, error: { code: -32602, message: "bad" } })
    table.send({ type: "CANCEL", requestId: 8, reason: "user" })
    check("some settled, one with progress")
    expect(table.getSnapshot().context.requests.map((r) => r.requestId).sort()).toEqual([2, 3, 4, 6, 7, "m9"].sort())
    expect(hasRequest(table, 1)).toBe(false)
    expect(hasRequest(table, 2)).toBe(true)
    clock.increment(1_003) // requests 2 and 3 time out (1 002, 1 003 ms); 4 (1 004 ms) not yet
    check("after deadlines")
    expect(table.getSnapshot().context.requests.map((r) => r.requestId).sort()).toEqual([4, 6, 7, "m9"].sort())
    table.send({ type: "TRANSPORT_CLOSED", reason: "gone" })
    check("all gone")
    expect(table.getSnapshot().context).toEqual({ inFlight: 0, requests: [] })
  })
})

describe("outboundRequests: one deadline wheel per table (no clock timer per request)", () => {

  it("a thousand requests in flight arm one clock timer; settling them clears none, and the wheel then fires once and stops", () => {
    const { clock, table, outcomes, timers } = start()
    for (let i = 0; i < 1_000; i++) table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
    // Each request arms its deadline and its hard maximum: 2 000 delays, one timer.
    expect(timers()).toBe(1)
    for (let i = 0; i < 1_000; i++) table.send({ type: "RESPONSE", requestId: i, result: { i } })
    expect(outcomes.map((o) => o._tag === "Settled" && o.requestId)).toEqual([...Array(1_000).keys()])
    // Nothing is cleared per request: the wheel waits for the first deadline, finds nothing due, and is not re-armed.
    expect(timers()).toBe(1)
    clock.increment(1_000)
    expect(timers()).toBe(0)
    clock.increment(60_000)
    expect(outcomes.length).toBe(1_000)
  })

  it("sequential requests (a gateway's pattern) re-arm nothing: the wheel armed for the first stays until it is due, then moves to the one in flight", () => {
    const { clock, table, outcomes, cancels, timers } = start()
    for (let i = 0; i < 10; i++) {
      table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
      clock.increment(150)
      if (i < 9) table.send({ type: "RESPONSE", requestId: i, result: {} })
      expect(timers()).toBe(1)
    }
    // 1 500 ms: the wheel fired at 1 000 (nothing due) and moved to request 9's deadline (1 350 + 1 000).
    expect(outcomes.length).toBe(9)
    clock.increment(849)
    expect(outcomes.length).toBe(9)
    clock.increment(1)
    expect(outcomes[9]).toEqual({ _tag: "TimedOut", requestId: 9, deadline: "request", afterMs: 1_000, cancelSent: true })
    expect(cancels).toEqual([9])
    // Request 9's hard maximum was cancelled with it: no timer left.
    expect(timers()).toBe(0)
  })

  it("a deadline earlier than the wheel's re-arms it; deadlines due together fire earliest first, each at its own time", () => {
    const { clock, table, outcomes } = start()
    table.send({ type: "REQUEST_SENT", requestId: "slow", method: "tools/call", timeoutMs: 5_000 })
    table.send({ type: "REQUEST_SENT", requestId: "fast", method: "tools/call", timeoutMs: 100 })
    clock.increment(99)
    expect(outcomes).toEqual([])
    clock.increment(1)
    expect(outcomes.map((o) => o.requestId)).toEqual(["fast"])
    table.send({ type: "REQUEST_SENT", requestId: "b", method: "tools/call", timeoutMs: 300 })
    table.send({ type: "REQUEST_SENT", requestId: "a", method: "tools/call", timeoutMs: 200 })
    // One jump over both deadlines: the earlier one (a, 300 ms) fires before b (400 ms), as their own timers would.
    clock.increment(1_000)
    expect(outcomes.map((o) => o.requestId)).toEqual(["fast", "a", "b"])
    clock.increment(3_899)
    expect(outcomes.length).toBe(3)
    clock.increment(1)
    expect(outcomes.map((o) => o.requestId)).toEqual(["fast", "a", "b", "slow"])
  })

  it("a deadline delivered as REQUEST_DEADLINE is not due again from the wheel; stopping the table cancels the wheel", () => {
    const { clock, table, outcomes, timers } = start()
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/call", progressToken: 1, timeoutMs: 1_000, resetTimeoutOnProgress: true })
    table.send({ type: "REQUEST_DEADLINE", requestId: 1, event: REQUEST_TIMEOUT })
    expect(outcomes.map((o) => o._tag)).toEqual(["TimedOut"])
    table.send({ type: "REQUEST_SENT", requestId: 2, method: "tools/call", timeoutMs: 1_000 })
    clock.increment(500)
    table.stop()
    expect(timers()).toBe(0)
    clock.increment(60_000)
    expect(outcomes.length).toBe(1)
  })
})

describe("outboundRequests: the chart's steps, computed once per shape", () => {
  /** The chart, counting how often xstate computes one of its steps. */
  const counted = (chart: ReturnType<typeof provided>) => {
    const counts = { initial: 0, transition: 0 }
    const initial = chart.getInitialSnapshot.bind(chart)
    const transition = chart.transition.bind(chart)
    chart.getInitialSnapshot = (...args) => (counts.initial++, initial(...args))
    chart.transition = (...args) => (counts.transition++, transition(...args))
    return counts
  }
  /** A request table on a simulated clock over a counted chart, collecting its outcomes. */
  const countedTable = (cancels: Array<unknown> = []) => {
    const clock = new SimulatedClock()
    const chart = provided(cancels)
    const counts = counted(chart)
    const table = createActor(outboundRequestsLogic(chart), { clock }).start()
    const outcomes: Array<OutboundRequestOutcome> = []
    table.on("outcome", (e) => void outcomes.push(e.output))
    return { clock, counts, table, outcomes }
  }

  it("requests of one shape: xstate computes the initial and the final step once (two probes each), every request gets its own outcome and timers", () => {
    const cancels: Array<unknown> = []
    const { clock, counts, table, outcomes } = countedTable(cancels)
    for (let i = 0; i < 50; i++) {
      table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
      if (i % 2 === 0) table.send({ type: "RESPONSE", requestId: i, result: { n: i } })
      else table.send({ type: "ERROR_RESPONSE", requestId: i, error: { code: -32602, message: `bad ${i}` } })
    }
    expect(outcomes).toEqual(Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0
        ? { _tag: "Settled", requestId: i, result: { n: i } }
        : { _tag: "Failed", requestId: i, error: { code: -32602, message: `bad ${i}` } }))
    // Two probes of the initial step, two of each final step: not 50 + 50 runs of xstate.
    expect(counts).toEqual({ initial: 2, transition: 4 })
    // Each request's deadlines were armed and cancelled with it: nothing fires later.
    table.send({ type: "REQUEST_SENT", requestId: "late", method: "tools/call", timeoutMs: 1_000 })
    clock.increment(1_000)
    expect(outcomes.at(-1)).toEqual({ _tag: "TimedOut", requestId: "late", deadline: "request", afterMs: 1_000, cancelSent: true })
    clock.increment(60_000)
    expect(outcomes.length).toBe(51)
    expect(cancels).toEqual(["late"])
  })

  it("requests of different shapes (deadlines, methods) keep their own: each times out at its own deadline", () => {
    const clock = new SimulatedClock()
    const cancels: Array<unknown> = []
    const table = createActor(outboundRequestsLogic(provided(cancels)), { clock }).start()
    const outcomes: Array<OutboundRequestOutcome> = []
    table.on("outcome", (e) => void outcomes.push(e.output))
    for (let round = 0; round < 2; round++) {
      table.send({ type: "REQUEST_SENT", requestId: `a${round}`, method: "tools/call", timeoutMs: 1_000 })
      table.send({ type: "REQUEST_SENT", requestId: `b${round}`, method: "tools/call", timeoutMs: 2_000 })
      table.send({ type: "REQUEST_SENT", requestId: `c${round}`, method: "initialize", timeoutMs: 1_000 })
      table.send({ type: "REQUEST_SENT", requestId: `d${round}`, method: "tools/call", timeoutMs: 5_000, maxTotalTimeoutMs: 1_500 })
      clock.increment(1_000)
      expect(outcomes.splice(0).map((o) => o._tag === "TimedOut" && [o.requestId, o.afterMs, o.cancelSent])).toEqual([
        [`a${round}`, 1_000, true],
        [`c${round}`, 1_000, false]
      ])
      clock.increment(500)
      expect(outcomes.splice(0)).toEqual([{ _tag: "TimedOut", requestId: `d${round}`, deadline: "maxTotal", afterMs: 1_500, cancelSent: true }])
      clock.increment(500)
      expect(outcomes.splice(0).map((o) => o.requestId)).toEqual([`b${round}`])
    }
    expect(cancels).toEqual(["a0", "d0", "b0", "a1", "d1", "b1"])
  })

  it("the last shape is remembered: a repeat of it reuses its step, a progress token that is not the id never does, and each request keeps its own deadline", () => {
    const { clock, counts, table, outcomes } = countedTable()
    const sent = (requestId: number, extra: Partial<OutboundRequestInput> = {}) =>
      table.send({ type: "REQUEST_SENT", requestId, method: "tools/call", timeoutMs: 1_000, ...extra })
    sent(1)
    sent(2)
    expect(counts.initial).toBe(2) // two probes, then the repeat reuses the step
    // The same fields plus a token that is not the id: the chart's full initial step, with that token in its context.
    sent(3, { progressToken: "other" })
    expect(counts.initial).toBe(3)
    expect(requestSnapshotOf(table, 3)?.context.progressToken).toBe("other")
    sent(4)
    sent(5, { progressToken: "again" })
    expect(counts.initial).toBe(4)
    expect(requestSnapshotOf(table, 5)?.context.progressToken).toBe("again")
    // A token that is the id, a longer deadline, then back to the first shape (from the table of shapes).
    sent(6, { progressToken: 6 })
    sent(7, { timeoutMs: 2_000 })
    sent(8)
    expect(counts.initial).toBe(8)
    expect(requestSnapshotOf(table, 6)?.context.progressToken).toBe(6)
    expect(requestSnapshotOf(table, 8)?.context.progressToken).toBeUndefined()
    clock.increment(1_000)
    expect(outcomes.splice(0).map((o) => o._tag === "TimedOut" && [o.requestId, o.afterMs])).toEqual([[1, 1_000], [2, 1_000], [3, 1_000], [4, 1_000], [5, 1_000], [6, 1_000], [8, 1_000]])
    clock.increment(1_000)
    expect(outcomes.map((o) => o._tag === "TimedOut" && [o.requestId, o.afterMs])).toEqual([[7, 2_000]])
  })

  it("a step with an effect of its own is not memoized: the effect runs once per request, never in a probe", () => {
    const clock = new SimulatedClock()
    const effects: Array<unknown> = []
    const chart = outboundRequestMachine.provide({ actions: { recordSettled: ({ context }) => void effects.push(context.requestId) } })
    const table = createActor(outboundRequestsLogic(chart), { clock }).start()
    const outcomes: Array<OutboundRequestOutcome> = []
    table.on("outcome", (e) => void outcomes.push(e.output))
    for (let i = 0; i < 5; i++) {
      table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
      table.send({ type: "RESPONSE", requestId: i, result: {} })
    }
    expect(effects).toEqual([0, 1, 2, 3, 4])
    // The provided action records no outcome: the chart's output is its fallback, per request.
    expect(outcomes.map((o) => o._tag === "Aborted" && o.requestId)).toEqual([0, 1, 2, 3, 4])
  })

  it("an absent event field is part of a step's shape: TRANSPORT_CLOSED with and without a reason", () => {
    const clock = new SimulatedClock()
    const table = createActor(outboundRequestsLogic(provided([])), { clock }).start()
    const outcomes: Array<OutboundRequestOutcome> = []
    table.on("outcome", (e) => void outcomes.push(e.output))
    const reasons = ["gone", undefined, "reset", undefined]
    reasons.forEach((reason, i) => {
      table.send({ type: "REQUEST_SENT", requestId: i, method: "tools/call", timeoutMs: 1_000 })
      table.send({ type: "TRANSPORT_CLOSED", requestId: i, reason })
    })
    expect(outcomes.map((o) => o._tag === "Aborted" && o.reason)).toEqual(["gone", "transport closed", "reset", "transport closed"])
  })

  it("a request stepped by the chart since its start (progress) runs the chart for its end", () => {
    const { clock, counts, table, outcomes } = countedTable()
    table.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/call", progressToken: 1, timeoutMs: 1_000, resetTimeoutOnProgress: true })
    table.send({ type: "PROGRESS", requestId: 1, progress: 1 })
    const before = counts.transition
    table.send({ type: "RESPONSE", requestId: 1, result: { ok: 1 } })
    expect(counts.transition).toBe(before + 1)
    expect(outcomes).toEqual([{ _tag: "Settled", requestId: 1, result: { ok: 1 } }])
  })
})

describe("outboundRequests: ClientSession over a real transport does what the chart says", () => {
  const servers: Array<WebSocketServer> = []
  afterEach(() => closePeers(servers))

  const pathsOverWire = requestPathsOverWire()

  it(`each of the chart's ${pathsOverWire.length} paths: the caller's outcome, the cancellations on the wire and the progress reports are the chart's`, async () => {
    expect(pathsOverWire.length).toBeGreaterThan(10)
    // A scripted legacy peer: answers `initialize` and `ping`, holds every other request for the test to answer.
    const peer = await scriptedWsPeer(servers, (m, reply) => {
      if (m.method === "initialize") reply({ protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "scripted", version: "1" } })
      else if (m.method === "ping") reply({})
      else return false
      return true
    })
    const clock = new SimulatedClock()
    const transport = makeWsClientTransport({ url: peer.url })
    await transport.opened
    const client = await ClientSession.connect(transport, { clock, keepalive: false })
    await playRequestPaths({
      paths: pathsOverWire,
      peer,
      clock,
      call: (options) => client.request("tools/call", { name: "slow" }, options),
      wireRound: () => client.request("ping") // a round trip: everything sent before it has reached the peer
    })
    await client.close()
  })
})
