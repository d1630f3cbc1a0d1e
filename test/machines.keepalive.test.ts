import { describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { adjacencyMapToArray, createTestModel, getAdjacencyMap, getShortestPaths } from "xstate/graph"
import { keepaliveMachine, type KeepaliveInput } from "../machines/keepalive.ts"
import { activeStateIds, advance, afterEvent, allStateIds, eventOnlyTwin, timeoutEvent } from "./support/eventOnlyTwin.ts"

const INTERVAL = 1_000
const TIMEOUT = 200
const input: KeepaliveInput = { pingIntervalMs: INTERVAL, pingTimeoutMs: TIMEOUT, maxMisses: 3 }

const PING_INTERVAL_FIRED = afterEvent("pingInterval", "keepalive.idle")
const PING_TIMEOUT_FIRED = afterEvent("pingTimeout", "keepalive.awaitingPong")
const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)

/** A keepalive actor on a simulated clock, counting the `sendPing` and `pingMissed` effects. */
const start = (overrides: KeepaliveInput = {}, machine = keepaliveMachine) => {
  const clock = new SimulatedClock()
  const calls = { pings: 0, misses: 0 }
  const actor = createActor(
    machine.provide({
      actions: {
        sendPing: () => void calls.pings++,
        pingMissed: () => void calls.misses++
      }
    }),
    { clock, input: { ...input, ...overrides } }
  ).start()
  /** Advance to the next ping and let it time out. */
  const missOnce = () => advance(clock, INTERVAL + TIMEOUT)
  return { actor, clock, calls, missOnce, advance: (ms: number) => advance(clock, ms) }
}

describe("keepalive: pure steps", () => {
  it("starts idle and schedules the first ping after pingInterval from input", () => {
    const [s0, actions] = initialTransition(keepaliveMachine, input)
    expect(s0.value).toBe("idle")
    const raise = actions.find((a) => a.type === "xstate.raise")
    expect(raise?.params).toMatchObject({ delay: INTERVAL, id: PING_INTERVAL_FIRED.type })
    expect(types(actions)).not.toContain("sendPing")
  })

  it("is disabled (and never pings) when the transport gives authoritative liveness", () => {
    const [s0, actions] = initialTransition(keepaliveMachine, { keepalive: false })
    expect(s0.value).toBe("disabled")
    expect(types(actions)).toEqual([])
    const [s1] = transition(keepaliveMachine, s0, PING_INTERVAL_FIRED as never)
    expect(s1.value).toBe("disabled")
  })

  it("sends a ping when the interval elapses, and a timeout is one miss, not death", () => {
    const [s0] = initialTransition(keepaliveMachine, input)
    const [s1, a1] = transition(keepaliveMachine, s0, PING_INTERVAL_FIRED as never)
    expect(s1.value).toBe("awaitingPong")
    expect(types(a1)).toContain("sendPing")
    const [s2, a2] = transition(keepaliveMachine, s1, PING_TIMEOUT_FIRED as never)
    expect(s2.value).toBe("idle")
    expect(s2.context.misses).toBe(1)
    expect(types(a2)).toContain("pingMissed")
  })

  it("treats PING_FAILED as a miss and PING_UNSUPPORTED as a latch", () => {
    const [s0] = initialTransition(keepaliveMachine, input)
    const [s1] = transition(keepaliveMachine, s0, PING_INTERVAL_FIRED as never)
    const [failed] = transition(keepaliveMachine, s1, { type: "PING_FAILED" })
    expect(failed.value).toBe("idle")
    expect(failed.context.misses).toBe(1)
    const [latched, actions] = transition(keepaliveMachine, s1, { type: "PING_UNSUPPORTED" })
    expect(latched.value).toBe("unsupported")
    expect(latched.status).toBe("active") // not final: the session goes on without pings
    expect(types(actions)).not.toContain("sendPing")
    const [still] = transition(keepaliveMachine, latched, PING_INTERVAL_FIRED as never)
    expect(still.value).toBe("unsupported")
  })
})

describe("keepalive: timers on a simulated clock", () => {
  it("survives two consecutive misses and dies on the third", () => {
    const { actor, calls, advance, missOnce } = start()
    missOnce()
    missOnce()
    expect(actor.getSnapshot().value).toBe("idle")
    expect(actor.getSnapshot().context.misses).toBe(2)
    expect(actor.getSnapshot().status).toBe("active")
    advance(INTERVAL + TIMEOUT - 1)
    expect(actor.getSnapshot().value).toBe("awaitingPong")
    advance(1)
    expect(actor.getSnapshot().value).toBe("dead")
    expect(actor.getSnapshot().status).toBe("done")
    expect(actor.getSnapshot().output).toEqual({ _tag: "PeerUnresponsive", reason: "peer unresponsive", misses: 3 })
    expect(calls).toEqual({ pings: 3, misses: 3 })
  })

  it("a pong between misses resets the count", () => {
    const { actor, advance, missOnce } = start()
    missOnce()
    missOnce()
    advance(INTERVAL)
    expect(actor.getSnapshot().value).toBe("awaitingPong")
    actor.send({ type: "PONG" })
    expect(actor.getSnapshot().context.misses).toBe(0)
    missOnce()
    missOnce()
    expect(actor.getSnapshot().value).toBe("idle")
    expect(actor.getSnapshot().context.misses).toBe(2)
    missOnce()
    expect(actor.getSnapshot().value).toBe("dead")
  })

  it("peer activity resets misses and postpones the next ping", () => {
    const { actor, calls, advance, missOnce } = start()
    missOnce()
    missOnce()
    advance(INTERVAL - 1)
    actor.send({ type: "PEER_ACTIVITY" })
    expect(actor.getSnapshot().context.misses).toBe(0)
    advance(INTERVAL - 1)
    expect(calls.pings).toBe(2) // the interval restarted at the activity
    advance(1)
    expect(calls.pings).toBe(3)
  })

  it("-32601 latches: no further pings for the rest of the session", () => {
    const { actor, calls, advance } = start()
    advance(INTERVAL)
    expect(calls.pings).toBe(1)
    actor.send({ type: "PING_UNSUPPORTED" })
    advance(100 * INTERVAL)
    expect(calls.pings).toBe(1)
    expect(actor.getSnapshot().value).toBe("unsupported")
    expect(actor.getSnapshot().status).toBe("active")
  })

  it("maxMisses comes from input: with 1, a single miss kills", () => {
    const { actor, missOnce } = start({ maxMisses: 1 })
    missOnce()
    expect(actor.getSnapshot().value).toBe("dead")
  })

  it("delays are overridable per instance with provide({ delays })", () => {
    const { calls, advance } = start({}, keepaliveMachine.provide({ delays: { pingInterval: 50 } }))
    advance(49)
    expect(calls.pings).toBe(0)
    advance(1)
    expect(calls.pings).toBe(1)
  })
})

describe("keepalive: generated paths", () => {
  const events = [
    { type: "PONG" },
    { type: "PING_FAILED" },
    { type: "PING_UNSUPPORTED" },
    { type: "PEER_ACTIVITY" },
    PING_INTERVAL_FIRED,
    PING_TIMEOUT_FIRED
  ] as never[]

  it("every state is reachable (disabled only when keepalive is off)", () => {
    const reached = new Set<string>()
    for (const i of [input, { ...input, keepalive: false }]) {
      for (const path of getShortestPaths(keepaliveMachine, { events, input: i })) {
        for (const id of activeStateIds(keepaliveMachine, path.state.value)) reached.add(id)
      }
    }
    expect([...reached].sort()).toEqual(
      allStateIds(keepaliveMachine).filter((id) => id !== "keepalive.starting").sort() // transient (always)
    )
  })

  /** Edges into `dead` that were not the maxMisses-th miss of a timeout or failed ping. */
  const illegalDeaths = (machine: typeof keepaliveMachine) =>
    adjacencyMapToArray(getAdjacencyMap(machine, { events, input }))
      .filter(({ state, nextState }) => nextState.value === "dead" && state.value !== "dead")
      .filter(({ state, event }) =>
        !(state.value === "awaitingPong" &&
          [PING_TIMEOUT_FIRED.type, "PING_FAILED"].includes(event.type) &&
          state.context.misses === state.context.maxMisses - 1)
      )

  it("dead is reached only by the maxMisses-th miss (guard isFinalMiss)", () => {
    const edges = adjacencyMapToArray(getAdjacencyMap(keepaliveMachine, { events, input }))
    expect(edges.some(({ nextState }) => nextState.value === "dead")).toBe(true)
    expect(illegalDeaths(keepaliveMachine)).toEqual([])
    // The check has teeth: without the guard, the first miss kills.
    const noHysteresis = keepaliveMachine.provide({ guards: { isFinalMiss: () => true } })
    expect(illegalDeaths(noHysteresis).length).toBeGreaterThan(0)
  })

  it("model-based: the event-only twin's shortest paths replay on the timed machine", async () => {
    const twin = eventOnlyTwin(keepaliveMachine)
    expect(() => createTestModel(keepaliveMachine)).toThrow(/not supported/)
    const model = createTestModel(twin, {
      input,
      events: [{ type: "PONG" }, { type: "PING_FAILED" }, { type: "PING_UNSUPPORTED" }, { type: "PEER_ACTIVITY" }]
    })
    const paths = model.getShortestPaths()
    // Paths that are prefixes of others are dropped, so look at every step.
    const visited = new Set(paths.flatMap((p) => p.steps.map((s) => s.state.value)))
    expect(visited).toEqual(new Set(["idle", "awaitingPong", "unsupported", "dead"]))
    for (const path of paths) {
      const { actor, clock } = start()
      type Step = { readonly state: { readonly value: unknown; readonly context: unknown } }
      const expectSame = (step: Step) => {
        expect(actor.getSnapshot().value).toEqual(step.state.value)
        expect(actor.getSnapshot().context).toEqual(step.state.context)
      }
      await path.test({
        events: {
          [timeoutEvent("pingInterval")]: (step: Step) => (advance(clock, INTERVAL), expectSame(step)),
          [timeoutEvent("pingTimeout")]: (step: Step) => (advance(clock, TIMEOUT), expectSame(step)),
          PONG: (step: Step) => (actor.send({ type: "PONG" }), expectSame(step)),
          PING_FAILED: (step: Step) => (actor.send({ type: "PING_FAILED" }), expectSame(step)),
          PING_UNSUPPORTED: (step: Step) => (actor.send({ type: "PING_UNSUPPORTED" }), expectSame(step)),
          PEER_ACTIVITY: (step: Step) => (actor.send({ type: "PEER_ACTIVITY" }), expectSame(step))
        } as never
      })
    }
  })
})
