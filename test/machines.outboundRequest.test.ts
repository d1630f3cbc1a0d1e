import { describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths } from "xstate/graph"
import { type OutboundRequestInput, outboundRequestMachine } from "../machines/outboundRequest.ts"
import { activeStateIds, advance, afterEvent, allStateIds } from "./support/eventOnlyTwin.ts"

const REQUEST_TIMEOUT = afterEvent("requestTimeout", "outboundRequest.pending.awaitingResponse")
const MAX_TOTAL_TIMEOUT = afterEvent("maxTotalTimeout", "outboundRequest.pending")
const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const toolsCall: OutboundRequestInput = { requestId: 7, method: "tools/call", progressToken: "tok-7", timeoutMs: 1_000 }
const initialize: OutboundRequestInput = { requestId: 0, method: "initialize", timeoutMs: 1_000 }

const step = (input: OutboundRequestInput, ...events: ReadonlyArray<{ readonly type: string }>) => {
  let [snapshot, actions] = initialTransition(outboundRequestMachine, input)
  for (const event of events) [snapshot, actions] = transition(outboundRequestMachine, snapshot, event as never)
  return { snapshot, actions: types(actions) }
}

describe("outboundRequest: pure steps", () => {
  it("starts pending with both deadlines scheduled and the progress token in context", () => {
    const [s0, actions] = initialTransition(outboundRequestMachine, toolsCall)
    expect(s0.matches("pending")).toBe(true)
    expect(s0.context.progressToken).toBe("tok-7")
    const delays = Object.fromEntries(
      actions.filter((a) => a.type === "xstate.raise").map((a) => [(a.params as { id: string }).id, (a.params as { delay: number }).delay])
    )
    expect(delays).toEqual({ [REQUEST_TIMEOUT.type]: 1_000, [MAX_TOTAL_TIMEOUT.type]: 10_000 })
  })

  it("a response settles it; an error response fails it", () => {
    const ok = step(toolsCall, { type: "RESPONSE", result: { content: [] } } as never)
    expect(ok.snapshot.value).toBe("settled")
    expect(ok.snapshot.output).toEqual({ _tag: "Settled", requestId: 7, result: { content: [] } })
    const error = { code: -32602, message: "Invalid params" }
    const ko = step(toolsCall, { type: "ERROR_RESPONSE", error } as never)
    expect(ko.snapshot.value).toBe("failed")
    expect(ko.snapshot.output).toEqual({ _tag: "Failed", requestId: 7, error })
    expect(ko.actions).not.toContain("sendCancelled")
  })

  it("timeout sends notifications/cancelled", () => {
    const { snapshot, actions } = step(toolsCall, REQUEST_TIMEOUT)
    expect(snapshot.value).toBe("timedOut")
    expect(actions).toContain("sendCancelled")
    expect(snapshot.output).toEqual({ _tag: "TimedOut", requestId: 7, deadline: "request", afterMs: 1_000, cancelSent: true })
  })

  it("initialize is never cancelled: no sendCancelled on timeout or on CANCEL", () => {
    const timedOut = step(initialize, REQUEST_TIMEOUT)
    expect(timedOut.snapshot.value).toBe("timedOut")
    expect(timedOut.actions).not.toContain("sendCancelled")
    const cancelled = step(initialize, { type: "CANCEL", reason: "user" } as never)
    expect(cancelled.snapshot.value).toBe("cancelled")
    expect(cancelled.actions).not.toContain("sendCancelled")
    expect(cancelled.snapshot.output).toMatchObject({ _tag: "Cancelled", cancelSent: false })
  })

  it("CANCEL from the caller sends notifications/cancelled", () => {
    const { snapshot, actions } = step(toolsCall, { type: "CANCEL", reason: "user" } as never)
    expect(snapshot.value).toBe("cancelled")
    expect(actions).toContain("sendCancelled")
    expect(snapshot.output).toEqual({ _tag: "Cancelled", requestId: 7, reason: "user", cancelSent: true })
  })

  it("TRANSPORT_CLOSED fails fast without a cancellation", () => {
    const { snapshot, actions } = step(toolsCall, { type: "TRANSPORT_CLOSED", reason: "EOF" } as never)
    expect(snapshot.value).toBe("aborted")
    expect(actions).not.toContain("sendCancelled")
    expect(snapshot.output).toEqual({ _tag: "Aborted", requestId: 7, reason: "EOF" })
  })

  it("a late response after a terminal state is dropped (same snapshot, no actions)", () => {
    const { snapshot } = step(toolsCall, REQUEST_TIMEOUT)
    const [late, actions] = transition(outboundRequestMachine, snapshot, { type: "RESPONSE", result: {} })
    expect(late).toBe(snapshot)
    expect(actions).toEqual([])
    const [progress] = transition(outboundRequestMachine, snapshot, { type: "PROGRESS", progress: 1 })
    expect(progress.context.lastProgress).toBeUndefined()
  })

  it("progress is recorded; it re-enters the deadline only when configured and advancing", () => {
    const reset = step({ ...toolsCall, resetTimeoutOnProgress: true }, { type: "PROGRESS", progress: 1, total: 4 } as never)
    expect(reset.snapshot.context.lastProgress).toEqual({ progress: 1, total: 4, message: undefined })
    expect(reset.actions).toEqual(["xstate.cancel", "xstate.raise"]) // requestTimeout restarted
    const plain = step(toolsCall, { type: "PROGRESS", progress: 1 } as never)
    expect(plain.snapshot.context.lastProgress?.progress).toBe(1)
    expect(plain.actions).toEqual([]) // no restart
    const repeated = step(
      { ...toolsCall, resetTimeoutOnProgress: true },
      { type: "PROGRESS", progress: 2 } as never,
      { type: "PROGRESS", progress: 2 } as never
    )
    expect(repeated.actions).toEqual([]) // progress MUST increase; a repeat is no proof of work
  })

  it("progress that goes back is ignored: the latest advancing value stays, and a later smaller one restarts nothing", () => {
    const back = step(
      { ...toolsCall, resetTimeoutOnProgress: true },
      { type: "PROGRESS", progress: 3 } as never,
      { type: "PROGRESS", progress: 1 } as never
    )
    expect(back.snapshot.context.lastProgress?.progress).toBe(3)
    expect(back.actions).toEqual([])
    const [after, actions] = transition(outboundRequestMachine, back.snapshot, { type: "PROGRESS", progress: 2 })
    expect(after.context.lastProgress?.progress).toBe(3)
    expect(actions).toEqual([])
  })
})

describe("outboundRequest: deadlines on a simulated clock", () => {
  const start = (input: OutboundRequestInput, machine = outboundRequestMachine) => {
    const clock = new SimulatedClock()
    const calls = { cancelled: 0 }
    const actor = createActor(machine.provide({ actions: { sendCancelled: () => void calls.cancelled++ } }), {
      clock,
      input
    }).start()
    return { actor, calls, advance: (ms: number) => advance(clock, ms) }
  }

  it("times out at exactly timeoutMs without progress", () => {
    const { actor, calls, advance } = start(toolsCall)
    advance(999)
    expect(actor.getSnapshot().value).toEqual({ pending: "awaitingResponse" })
    advance(1)
    expect(actor.getSnapshot().value).toBe("timedOut")
    expect(calls.cancelled).toBe(1)
  })

  it("progress extends the deadline, but the hard max fires at exactly maxTotalTimeout", () => {
    const { actor, calls, advance } = start({ ...toolsCall, resetTimeoutOnProgress: true, maxTotalTimeoutMs: 2_500 })
    advance(900)
    actor.send({ type: "PROGRESS", progress: 1 }) // deadline moves from 1 000 to 1 900
    advance(900)
    actor.send({ type: "PROGRESS", progress: 2 }) // t = 1 800: deadline moves to 2 800
    advance(1_900 - 1_800) // t = 1 900: the first extension held
    expect(actor.getSnapshot().value).toEqual({ pending: "awaitingResponse" })
    advance(2_499 - 1_900) // t = 2 499: alive, progress kept it going past 2 × timeoutMs
    expect(actor.getSnapshot().status).toBe("active")
    expect(calls.cancelled).toBe(0)
    advance(1) // t = 2 500: the hard max, although the idle deadline is at 2 800
    expect(actor.getSnapshot().value).toBe("timedOut")
    expect(actor.getSnapshot().output).toEqual({
      _tag: "TimedOut",
      requestId: 7,
      deadline: "maxTotal",
      afterMs: 2_500,
      cancelSent: true
    })
    expect(calls.cancelled).toBe(1)
  })

  it("without resetTimeoutOnProgress, progress does not extend the deadline", () => {
    const { actor, advance } = start({ ...toolsCall, maxTotalTimeoutMs: 2_500 })
    advance(900)
    actor.send({ type: "PROGRESS", progress: 1 })
    advance(100)
    expect(actor.getSnapshot().output).toMatchObject({ _tag: "TimedOut", deadline: "request", afterMs: 1_000 })
  })

  it("initialize times out without notifications/cancelled", () => {
    const { actor, calls, advance } = start(initialize)
    advance(1_000)
    expect(actor.getSnapshot().value).toBe("timedOut")
    expect(calls.cancelled).toBe(0)
  })

  it("a late response to a done actor changes nothing", () => {
    const { actor, advance } = start(toolsCall)
    advance(1_000)
    const before = actor.getSnapshot()
    actor.send({ type: "RESPONSE", result: { late: true } })
    expect(actor.getSnapshot()).toBe(before)
    expect(actor.getSnapshot().output).toMatchObject({ _tag: "TimedOut" })
  })

  it("delays are overridable per instance with provide({ delays })", () => {
    const { actor, advance } = start(toolsCall, outboundRequestMachine.provide({ delays: { requestTimeout: 10 } }))
    advance(9)
    expect(actor.getSnapshot().status).toBe("active")
    advance(1)
    expect(actor.getSnapshot().value).toBe("timedOut")
  })
})

describe("outboundRequest: generated paths", () => {
  const events = [
    { type: "RESPONSE", result: {} },
    { type: "ERROR_RESPONSE", error: { code: -32603, message: "boom" } },
    { type: "PROGRESS", progress: 1 },
    { type: "CANCEL" },
    { type: "TRANSPORT_CLOSED" },
    REQUEST_TIMEOUT,
    MAX_TOTAL_TIMEOUT
  ] as never[]

  it("every state is reachable", () => {
    const reached = new Set<string>()
    for (const path of getShortestPaths(outboundRequestMachine, { events, input: toolsCall })) {
      for (const id of activeStateIds(outboundRequestMachine, path.state.value)) reached.add(id)
    }
    expect([...reached].sort()).toEqual([...allStateIds(outboundRequestMachine)].sort())
  })

  for (const input of [toolsCall, initialize]) {
    it(`${input.method}: timedOut is reached only by the two deadlines, with sendCancelled iff cancellable`, () => {
      const into = adjacencyMapToArray(getAdjacencyMap(outboundRequestMachine, { events, input }))
        .filter(({ state, nextState }) => nextState.value === "timedOut" && state.value !== "timedOut")
      expect(new Set(into.map(({ event }) => event.type))).toEqual(new Set([REQUEST_TIMEOUT.type, MAX_TOTAL_TIMEOUT.type]))
      for (const { state, event } of into) {
        const [, actions] = transition(outboundRequestMachine, state, event)
        expect(types(actions).includes("sendCancelled")).toBe(input.method !== "initialize")
      }
    })
  }
})
