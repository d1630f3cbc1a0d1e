import { describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import {
  DEFAULT_LISTEN_ACKNOWLEDGE_TIMEOUT_MS,
  type ListenStreamEvent,
  type ListenStreamInput,
  listenJitterDraw,
  listenReconnectDelay,
  listenStreamMachine as machine
} from "../machines/listenStream.ts"
import { jittered } from "../src/protocol/backoff.ts"
import { afterEvent } from "./support/eventOnlyTwin.ts"

const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const input: ListenStreamInput = { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 1_000, acknowledgeTimeoutMs: 5_000 }

const run = (i: ListenStreamInput, ...events: ReadonlyArray<ListenStreamEvent | { readonly type: string }>) => {
  let [snapshot, actions] = initialTransition(machine, i)
  const all = [...types(actions)]
  for (const event of events) {
    ;[snapshot, actions] = transition(machine, snapshot, event as never)
    all.push(...types(actions))
  }
  return { snapshot, actions: types(actions), all }
}
const ACK = { type: "ACKNOWLEDGED", filter: { toolsListChanged: true } } as const
const LOST = { type: "LOST", reason: "stream dropped" } as const
const RECONNECT = afterEvent("reconnectDelay", "listenStream.waiting")
const ACK_TIMEOUT = afterEvent("acknowledgeTimeout", "listenStream.subscribing")

describe("listenStream: pure steps", () => {
  it("starts by sending the listen request, with the acknowledgement deadline from input", () => {
    const [s0, actions] = initialTransition(machine, input)
    expect(s0.value).toBe("subscribing")
    expect(types(actions)).toContain("sendListen")
    expect(actions.find((a) => a.type === "xstate.raise")?.params).toMatchObject({ id: ACK_TIMEOUT.type, delay: 5_000 })
    const [d] = initialTransition(machine, {})
    expect(d.context.acknowledgeTimeoutMs).toBe(DEFAULT_LISTEN_ACKNOWLEDGE_TIMEOUT_MS)
  })

  it("the acknowledgement records what the server honoured and resets the attempts", () => {
    const { snapshot } = run(input, LOST, RECONNECT, ACK)
    expect(snapshot.value).toBe("listening")
    expect(snapshot.context).toMatchObject({ attempts: 0, acknowledged: { toolsListChanged: true }, reason: undefined })
  })

  it("a lost stream waits (backoff), then subscribes again with a new request", () => {
    const lost = run(input, ACK, LOST)
    expect(lost.snapshot.value).toBe("waiting")
    expect(lost.snapshot.context).toMatchObject({ attempts: 1, reason: "stream dropped" })
    expect(lost.actions).not.toContain("cancelListen") // the request is already over
    const again = run(input, ACK, LOST, RECONNECT)
    expect(again.snapshot.value).toBe("subscribing")
    expect(again.actions).toContain("sendListen")
  })

  it("at most maxAttempts reconnections in a row; an acknowledgement gives the next outage a new budget", () => {
    expect(run(input, LOST, RECONNECT, LOST, RECONNECT, LOST).snapshot.value).toBe("failed")
    const recovered = run(input, LOST, RECONNECT, LOST, RECONNECT, ACK, LOST, RECONNECT, LOST, RECONNECT)
    expect(recovered.snapshot.value).toBe("subscribing")
    expect(recovered.snapshot.context.attempts).toBe(2)
  })

  it("no acknowledgement in time: the request is cancelled and counts as a loss", () => {
    const { snapshot, actions } = run(input, ACK_TIMEOUT)
    expect(snapshot.value).toBe("waiting")
    expect(actions).toEqual(expect.arrayContaining(["cancelListen"]))
    expect(snapshot.context.reason).toBe("no acknowledgement in time")
    expect(run({ ...input, maxAttempts: 0 }, ACK_TIMEOUT).snapshot.value).toBe("failed")
  })

  it("an error response is final (no retry); the server's result completes; CLOSE cancels only a live request", () => {
    const rejected = run(input, { type: "REJECTED", reason: "-32601 Method not found" })
    expect(rejected.snapshot.value).toBe("failed")
    expect(rejected.snapshot.context.reason).toBe("-32601 Method not found")
    expect(run(input, ACK, { type: "COMPLETED" }).snapshot.value).toBe("completed")
    const closedListening = run(input, ACK, { type: "CLOSE" })
    expect(closedListening.snapshot.value).toBe("closed")
    expect(closedListening.actions).toContain("cancelListen")
    const closedWaiting = run(input, ACK, LOST, { type: "CLOSE" })
    expect(closedWaiting.snapshot.value).toBe("closed")
    expect(closedWaiting.actions).not.toContain("cancelListen")
  })

  it("the transport's end ends it from any live state", () => {
    for (const prefix of [[], [ACK], [ACK, LOST]] as const) {
      const { snapshot } = run(input, ...prefix, { type: "TRANSPORT_CLOSED", reason: "eof" })
      expect(snapshot.value).toBe("ended")
      expect(snapshot.context.reason).toBe("eof")
    }
  })

  it("backoff doubles from the base and is capped", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => listenReconnectDelay(n, 100, 1_000))).toEqual([100, 200, 400, 800, 1_000, 1_000])
  })

  it("every final state is reachable (xstate/graph)", () => {
    const paths = getShortestPaths(machine, {
      input,
      events: [ACK, LOST, { type: "COMPLETED" }, { type: "REJECTED", reason: "x" }, { type: "CLOSE" }, { type: "TRANSPORT_CLOSED" }, RECONNECT, ACK_TIMEOUT] as never
    })
    const reached = new Set(paths.map((p) => JSON.stringify(p.state.value)))
    for (const s of ["subscribing", "listening", "waiting", "closed", "completed", "failed", "ended"]) expect(reached).toContain(JSON.stringify(s))
  })
})

describe("listenStream: timers on a simulated clock", () => {
  it("reconnects after 100, then 200 ms; fails when the budget is spent", () => {
    const clock = new SimulatedClock()
    const sent: Array<number> = []
    const actor = createActor(machine.provide({ actions: { sendListen: () => void sent.push(clock.now()) } }), { input, clock })
    actor.start()
    expect(sent).toEqual([0])
    actor.send(LOST)
    clock.increment(99)
    expect(sent).toEqual([0])
    clock.increment(1)
    expect(sent).toEqual([0, 100])
    actor.send(LOST)
    clock.increment(199)
    expect(sent).toHaveLength(2)
    clock.increment(1)
    expect(sent).toEqual([0, 100, 300])
    actor.send(LOST)
    expect(actor.getSnapshot().value).toBe("failed")
    expect(actor.getSnapshot().status).toBe("done")
  })

  it("with jitter in its input, the chart's own delay is jittered(backoff, jitter, draw(seed, attempt)): context only", () => {
    const clock = new SimulatedClock()
    const sent: Array<number> = []
    const jitteredInput = { ...input, maxAttempts: 3, jitter: 0.5, seed: 12_345 }
    const actor = createActor(machine.provide({ actions: { sendListen: () => void sent.push(clock.now()) } }), { input: jitteredInput, clock })
    actor.start()
    let at = 0
    for (const attempt of [1, 2, 3]) {
      actor.send(LOST)
      const wait = jittered(listenReconnectDelay(attempt, 100, 1_000), 0.5, listenJitterDraw(12_345, attempt))
      expect(wait).not.toBe(listenReconnectDelay(attempt, 100, 1_000))
      clock.increment(wait - 1)
      expect(sent).toHaveLength(attempt)
      clock.increment(1)
      at += wait
      expect(sent.at(-1)).toBe(at)
    }
    actor.stop()
  })

  it("an unacknowledged request is cancelled after acknowledgeTimeout and retried after the backoff", () => {
    const clock = new SimulatedClock()
    const log: Array<string> = []
    const actor = createActor(
      machine.provide({ actions: { sendListen: () => void log.push(`send@${clock.now()}`), cancelListen: () => void log.push(`cancel@${clock.now()}`) } }),
      { input, clock }
    )
    actor.start()
    clock.increment(5_000)
    clock.increment(100)
    expect(log).toEqual(["send@0", "cancel@5000", "send@5100"])
    actor.send(ACK)
    clock.increment(60_000)
    expect(actor.getSnapshot().value).toBe("listening") // no deadline once acknowledged
    expect(log).toHaveLength(3)
  })
})
