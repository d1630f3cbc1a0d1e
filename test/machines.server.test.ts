/**
 * The legacy server session chart (`machines/legacyServerSession.ts`):
 * awaitingInitialize → awaitingInitialized → operating → closing → closed.
 *
 * Three layers, as for the client charts:
 * - pure steps (`initialTransition` / `transition`): states, context and the named
 *   actions with their params, nothing executed;
 * - timers on a `SimulatedClock` (advanced 1 ms at a time): handshake, idle and
 *   drain deadlines, the idle deadline with runtime-provided activity facts;
 * - generated paths (`xstate/graph`, synthesized `xstate.after.*` events) and a
 *   model-based replay of the event-only twin against the timed machine.
 */
import { describe, expect, it } from "vitest"
import { type AnyStateMachine, createActor, initialTransition, raise, SimulatedClock, transition } from "xstate"
import { adjacencyMapToArray, createTestModel, getAdjacencyMap, getShortestPaths } from "xstate/graph"
import {
  type LegacyServerSessionEvent,
  type LegacyServerSessionInput,
  legacyServerSessionMachine as machine
} from "../machines/legacyServerSession.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { LATEST_LEGACY_VERSION, LEGACY_VERSIONS } from "../src/protocol/versions.ts"
import { activeStateIds, advance, afterEvent, allStateIds, eventOnlyTwin, timeoutEvent } from "./support/eventOnlyTwin.ts"

const HANDSHAKE_MS = 1_000
const IDLE_MS = 1_000
const DRAIN_MS = 300
const input: LegacyServerSessionInput = { handshakeTimeoutMs: HANDSHAKE_MS, idleTimeoutMs: IDLE_MS, drainTimeoutMs: DRAIN_MS }
const accepting: LegacyServerSessionInput = { ...input, earlyRequests: "accept" }
/** What `delayOf` parks a disabled timer at (the largest setTimeout delay). */
const PARKED = 2 ** 31 - 1

const HANDSHAKE_1 = afterEvent("handshakeTimeout", "legacyServerSession.awaitingInitialize")
const HANDSHAKE_2 = afterEvent("handshakeTimeout", "legacyServerSession.awaitingInitialized")
const IDLE = afterEvent("idleTimeout", "legacyServerSession.operating")
const DRAIN = afterEvent("drainTimeout", "legacyServerSession.closing")

type Action = { readonly type: string; readonly params?: unknown }
/** `{ type, params }` of each action (the executable objects carry more). */
const plain = (actions: ReadonlyArray<Action>) =>
  actions.map((a) => (a.params === undefined ? { type: a.type } : { type: a.type, params: a.params }))
/** The chart's own (named) actions, in order, as `{ type, params }`; xstate's timer bookkeeping left out. */
const named = (actions: ReadonlyArray<Action>) => plain(actions.filter((a) => !a.type.startsWith("xstate.")))
const types = (actions: ReadonlyArray<Action>) => named(actions).map((a) => a.type)
const raised = (actions: ReadonlyArray<Action>) =>
  actions.filter((a) => a.type === "xstate.raise").map((a) => a.params as { readonly id: string; readonly delay: number })

const clientInfo = { name: "test-client", version: "1.0.0" }
const initParams = (protocolVersion: unknown = "2025-06-18", capabilities: unknown = { roots: { listChanged: true } }) => ({
  protocolVersion,
  capabilities,
  clientInfo
})
const initialize = (id: number | string = 1, ...params: [unknown?]): LegacyServerSessionEvent => ({
  type: "INITIALIZE",
  id,
  params: params.length === 0 ? initParams() : params[0]
})
const initialized: LegacyServerSessionEvent = { type: "INITIALIZED" }
const request = (id: number | string, method = "tools/list"): LegacyServerSessionEvent => ({ type: "REQUEST", id, method })
const ping = (id: number | string): LegacyServerSessionEvent => ({ type: "PING", id })
/** The runtime counts what it has in flight into CLOSE; one request keeps the drain honest. */
const close: LegacyServerSessionEvent = { type: "CLOSE", reason: "server shutdown", inFlight: 1 }
const drained: LegacyServerSessionEvent = { type: "DRAINED" }
const transportClosed: LegacyServerSessionEvent = { type: "TRANSPORT_CLOSED", reason: "stdin ended" }
const closeIdle: LegacyServerSessionEvent = { type: "CLOSE", reason: "server shutdown", inFlight: 0 }
const modernServed: LegacyServerSessionEvent = { type: "MODERN_SERVED" }
/** Activity facts as the runtime reports them: quiet for the whole period, or busy. */
const idleCheck = (inFlight: number, idleForMs: number): LegacyServerSessionEvent => ({ type: "IDLE_CHECK", inFlight, idleForMs })
const resumed = (inFlight: number, idleForMs: number): LegacyServerSessionEvent => ({ type: "RESUMED", inFlight, idleForMs })
/** The runtime asks whether the session may hibernate, with what it has in flight each way. */
const hibernateAsk = (inFlight: number, outbound: number): LegacyServerSessionEvent => ({ type: "HIBERNATE", inFlight, outbound, idleForMs: IDLE_MS })
/** The fact events every generated-path test also explores. */
const factEvents = [
  closeIdle,
  modernServed,
  idleCheck(0, IDLE_MS),
  idleCheck(1, 0),
  resumed(0, IDLE_MS),
  resumed(0, 10),
  hibernateAsk(0, 0),
  hibernateAsk(1, 0),
  hibernateAsk(0, 1)
]

const isOperating = (value: unknown) => value === "operating"

/** Pure run: the snapshot after the last event and the actions of that last step. */
const run = (i: LegacyServerSessionInput, ...events: ReadonlyArray<{ readonly type: string }>) => {
  let [snapshot, actions] = initialTransition(machine, i)
  for (const event of events) [snapshot, actions] = transition(machine, snapshot, event as never)
  return { snapshot, actions: actions as ReadonlyArray<Action> }
}

/** Event prefixes that leave the chart in each of its live states. */
const live = {
  awaitingInitialize: [] as ReadonlyArray<LegacyServerSessionEvent>,
  awaitingInitialized: [initialize()],
  operating: [initialize(), initialized],
  closing: [initialize(), initialized, close]
} as const

describe("legacyServerSession: pure steps", () => {
  it("starts in awaitingInitialize with the handshake deadline from input and nothing answered", () => {
    const { snapshot, actions } = run(input)
    expect(snapshot.value).toBe("awaitingInitialize")
    expect(types(actions)).toEqual([])
    expect(raised(actions)).toEqual([expect.objectContaining({ id: HANDSHAKE_1.type, delay: HANDSHAKE_MS })])
    expect(snapshot.context).toMatchObject({
      supportedVersions: LEGACY_VERSIONS,
      idleTimeoutMs: IDLE_MS,
      handshakeTimeoutMs: HANDSHAKE_MS,
      drainTimeoutMs: DRAIN_MS,
      earlyRequests: "reject",
      protocolVersion: undefined,
      clientCapabilities: undefined,
      clientInfo: undefined,
      closeReason: undefined
    })
  })

  it("a disabled handshake deadline (0) is parked and its firing changes nothing", () => {
    const { snapshot, actions } = run({ handshakeTimeoutMs: 0 })
    expect(raised(actions)).toEqual([expect.objectContaining({ id: HANDSHAKE_1.type, delay: PARKED })])
    const [after, afterActions] = transition(machine, snapshot, HANDSHAKE_1 as never)
    expect(after.value).toBe("awaitingInitialize")
    expect(types(afterActions)).toEqual([])
    const [after2] = transition(machine, run({ handshakeTimeoutMs: 0 }, initialize()).snapshot, HANDSHAKE_2 as never)
    expect(after2.value).toBe("awaitingInitialized")
  })

  it("a valid initialize → awaitingInitialized, respondInitialize with the request id, negotiated facts in context", () => {
    const { snapshot, actions } = run(input, initialize("init-7", initParams("2025-06-18")))
    expect(snapshot.value).toBe("awaitingInitialized")
    expect(named(actions)).toEqual([{ type: "respondInitialize", params: { id: "init-7" } }])
    expect(snapshot.context).toMatchObject({
      protocolVersion: "2025-06-18",
      clientCapabilities: { roots: { listChanged: true } },
      clientInfo
    })
    // The handshake is not complete yet: no announceReady, and the deadline is armed for the next phase.
    expect(raised(actions)).toEqual([expect.objectContaining({ id: HANDSHAKE_2.type, delay: HANDSHAKE_MS })])
  })

  it("version negotiation: a supported requested version is echoed, anything else gets our latest", () => {
    for (const version of LEGACY_VERSIONS) {
      expect(run(input, initialize(1, initParams(version))).snapshot.context.protocolVersion).toBe(version)
    }
    for (const version of ["1999-01-01", "2026-07-28", "2024-10-07", "latest", ""]) {
      const { snapshot, actions } = run(input, initialize(1, initParams(version)))
      expect(snapshot.value).toBe("awaitingInitialized") // not an error: the client decides whether to disconnect
      expect(snapshot.context.protocolVersion).toBe(LATEST_LEGACY_VERSION)
      expect(types(actions)).toEqual(["respondInitialize"])
    }
  })

  it("version negotiation with supportedVersions narrowed: echo only those, else the latest of them, in any input order", () => {
    const narrowed: LegacyServerSessionInput = { ...input, supportedVersions: ["2025-06-18", "2024-11-05"] }
    const negotiate = (i: LegacyServerSessionInput, v: string) => run(i, initialize(1, initParams(v))).snapshot.context.protocolVersion
    expect(negotiate(narrowed, "2024-11-05")).toBe("2024-11-05")
    expect(negotiate(narrowed, "2025-06-18")).toBe("2025-06-18")
    expect(negotiate(narrowed, "2025-11-25")).toBe("2025-06-18") // supported by the protocol, not by this server
    expect(negotiate(narrowed, "2025-03-26")).toBe("2025-06-18")
    // "… it SHOULD be the latest version supported by the server" — whatever order the list came in.
    const oldestFirst: LegacyServerSessionInput = { ...input, supportedVersions: ["2024-11-05", "2025-03-26", "2025-06-18"] }
    expect(negotiate(oldestFirst, "2099-01-01")).toBe("2025-06-18")
    expect(negotiate(oldestFirst, "2025-03-26")).toBe("2025-03-26")
  })

  it("invalid initialize params → reject -32602 with the request id; still awaitingInitialize, deadline untouched", () => {
    const invalid: ReadonlyArray<unknown> = [
      undefined,
      null,
      "2025-11-25",
      {},
      { ...initParams(), protocolVersion: 20251125 },
      { ...initParams(), capabilities: undefined },
      { ...initParams(), capabilities: null },
      { ...initParams(), capabilities: [] },
      { ...initParams(), clientInfo: undefined },
      { ...initParams(), clientInfo: { name: "x" } },
      { ...initParams(), clientInfo: { version: "1" } }
    ]
    for (const params of invalid) {
      const { snapshot, actions } = run(input, initialize(9, params))
      expect(snapshot.value, JSON.stringify(params)).toBe("awaitingInitialize")
      expect(plain(actions)).toEqual([{ type: "reject", params: { id: 9, code: ErrorCode.InvalidParams, message: expect.stringMatching(/^Invalid params/) } }])
      expect(snapshot.context.protocolVersion).toBeUndefined()
    }
    // A valid retry afterwards is accepted.
    const retried = run(input, initialize(9, {}), initialize(10))
    expect(retried.snapshot.value).toBe("awaitingInitialized")
    expect(named(retried.actions)).toEqual([{ type: "respondInitialize", params: { id: 10 } }])
  })

  it("a request before initialize → reject -32600 naming the method; state unchanged", () => {
    const { snapshot, actions } = run(input, request(3, "tools/call"))
    expect(snapshot.value).toBe("awaitingInitialize")
    expect(plain(actions)).toEqual([
      { type: "reject", params: { id: 3, code: ErrorCode.InvalidRequest, message: expect.stringContaining("tools/call") } }
    ])
    expect(ErrorCode.InvalidRequest).toBe(-32600)
  })

  it("a request before initialized → reject -32600 under the default policy; state unchanged", () => {
    const { snapshot, actions } = run(input, initialize(), request(4, "resources/list"))
    expect(snapshot.value).toBe("awaitingInitialized")
    expect(plain(actions)).toEqual([
      {
        type: "reject",
        params: { id: 4, code: -32600, message: expect.stringMatching(/resources\/list.*before notifications\/initialized/) }
      }
    ])
  })

  it("earlyRequests: accept → a request before initialized enters operating and is dispatched", () => {
    const { snapshot, actions } = run(accepting, initialize(), request(5))
    expect(snapshot.value).toEqual("operating")
    expect(named(actions)).toEqual([{ type: "dispatch", params: { id: 5 } }, { type: "announceReady" }])
    expect(raised(actions)).toEqual([expect.objectContaining({ id: IDLE.type, delay: IDLE_MS })])
    // The late `initialized` is then a no-op, and the policy does not open the door before initialize.
    const [late, lateActions] = transition(machine, snapshot, initialized)
    expect(late.value).toEqual("operating")
    expect(plain(lateActions)).toEqual([])
    expect(types(run(accepting, request(6)).actions)).toEqual(["reject"])
  })

  it("INITIALIZED → operating with announceReady once; a second INITIALIZED is a no-op", () => {
    const { snapshot, actions } = run(input, initialize(), initialized)
    expect(snapshot.value).toEqual("operating")
    expect(types(actions)).toEqual(["announceReady"])
    expect(plain(actions)).toContainEqual({ type: "xstate.cancel", params: { sendId: HANDSHAKE_2.type } })
    const [again, againActions] = transition(machine, snapshot, initialized)
    expect(again.value).toEqual("operating")
    expect(plain(againActions)).toEqual([])
    // INITIALIZED before initialize is not a transition.
    expect(run(input, initialized).snapshot.value).toBe("awaitingInitialize")
  })

  it("a second initialize is rejected with -32600 and leaves the negotiated facts alone", () => {
    for (const prefix of [live.awaitingInitialized, live.operating]) {
      const before = run(input, ...prefix).snapshot
      const [after, actions] = transition(machine, before, initialize(2, initParams("2024-11-05", { sampling: {} })))
      expect(after.value).toEqual(before.value)
      expect(plain(actions)).toEqual([
        { type: "reject", params: { id: 2, code: ErrorCode.InvalidRequest, message: expect.stringMatching(/already initialized/) } }
      ])
      expect(after.context).toEqual(before.context)
      expect(after.context.protocolVersion).toBe("2025-06-18")
    }
  })

  it("operating dispatches every request with its id and stays there", () => {
    let { snapshot } = run(input, ...live.operating)
    for (const [id, method] of [[10, "tools/call"], ["r-11", "resources/read"], [12, "prompts/get"]] as const) {
      const [next, actions] = transition(machine, snapshot, request(id, method))
      expect(next.value).toEqual("operating")
      expect(plain(actions)).toEqual([{ type: "dispatch", params: { id } }]) // no timer churn per request
      snapshot = next
    }
  })

  it("ping is answered with replyPong(id) in every live state, state and timers unchanged", () => {
    for (const [name, prefix] of Object.entries(live)) {
      for (const i of [input, accepting]) {
        const before = run(i, ...prefix).snapshot
        const [after, actions] = transition(machine, before, ping(`p-${name}`))
        expect(after.value, name).toEqual(before.value)
        expect(plain(actions), name).toEqual([{ type: "replyPong", params: { id: `p-${name}` } }])
      }
    }
  })

  it("CLOSE from each pre-closing state → closing with beginDrain and the reason recorded", () => {
    for (const name of ["awaitingInitialize", "awaitingInitialized", "operating"] as const) {
      const { snapshot, actions } = run(input, ...live[name], close)
      expect(snapshot.value, name).toBe("closing")
      expect(types(actions), name).toEqual(["beginDrain"])
      expect(raised(actions), name).toEqual([expect.objectContaining({ id: DRAIN.type, delay: DRAIN_MS })])
      expect(snapshot.context.closeReason).toBe("server shutdown")
    }
  })

  it("closing rejects requests and initialize with -32000, ignores INITIALIZED and a second CLOSE", () => {
    const closing = run(input, ...live.closing).snapshot
    for (const event of [request(20, "tools/call"), initialize(21)]) {
      const [after, actions] = transition(machine, closing, event)
      expect(after.value).toBe("closing")
      expect(plain(actions)).toEqual([
        { type: "reject", params: { id: (event as { id: number }).id, code: ErrorCode.ConnectionClosed, message: expect.stringMatching(/closing/) } }
      ])
    }
    expect(ErrorCode.ConnectionClosed).toBe(-32000)
    for (const event of [initialized, { type: "CLOSE", reason: "again", inFlight: 1 } as const]) {
      const [after, actions] = transition(machine, closing, event)
      expect(after.value).toBe("closing")
      expect(plain(actions)).toEqual([]) // the drain deadline is not restarted
      expect(after.context.closeReason).toBe("server shutdown")
    }
  })

  it("closing: DRAINED → closed with release only; the drain deadline → closed with cancelInFlight, then release", () => {
    const closing = run(input, ...live.closing).snapshot
    const [done, doneActions] = transition(machine, closing, drained)
    expect(done.value).toBe("closed")
    expect(done.status).toBe("done")
    expect(types(doneActions)).toEqual(["release"])
    const [forced, forcedActions] = transition(machine, closing, DRAIN as never)
    expect(forced.value).toBe("closed")
    expect(forced.status).toBe("done")
    expect(types(forcedActions)).toEqual(["cancelInFlight", "release"])
    // DRAINED outside closing means nothing.
    expect(run(input, ...live.operating, drained).snapshot.value).toEqual("operating")
  })

  it("TRANSPORT_CLOSED from any live state → closed with cancelInFlight then release, reason recorded", () => {
    for (const [name, prefix] of Object.entries(live)) {
      const { snapshot, actions } = run(input, ...prefix, transportClosed)
      expect(snapshot.value, name).toBe("closed")
      expect(snapshot.status, name).toBe("done")
      expect(types(actions), name).toEqual(["cancelInFlight", "release"])
      expect(snapshot.context.closeReason, name).toBe("stdin ended")
    }
  })

  it("handshake deadline (either phase) → closed with release, no drain, reason 'timeout'", () => {
    for (const [prefix, deadline] of [[live.awaitingInitialize, HANDSHAKE_1], [live.awaitingInitialized, HANDSHAKE_2]] as const) {
      const { snapshot, actions } = run(input, ...prefix, deadline)
      expect(snapshot.value).toBe("closed")
      expect(types(actions)).toEqual(["release"])
      expect(snapshot.context.closeReason).toBe("handshake timeout")
    }
  })

  it("idle deadline with the pure default guard → closing (drain), reason 'idle timeout'; disabled (0) → parked, no effect", () => {
    const { snapshot, actions } = run(input, ...live.operating, IDLE)
    expect(snapshot.value).toBe("closing")
    expect(types(actions)).toEqual(["beginDrain"])
    expect(snapshot.context.closeReason).toBe("idle timeout")
    const off = run({ ...input, idleTimeoutMs: 0 }, ...live.operating)
    expect(raised(off.actions)).toEqual([expect.objectContaining({ id: IDLE.type, delay: PARKED })])
    const [still, stillActions] = transition(machine, off.snapshot, IDLE as never)
    expect(still.value).toEqual("operating")
    expect(plain(stillActions)).toEqual([])
  })
})

// ---------------------------------------------------------------- timers

type Call = { readonly type: string; readonly params?: unknown; readonly at: number }

/** A server session actor on a simulated clock, recording every effect with the time it ran. */
const start = (i: LegacyServerSessionInput = input, m: AnyStateMachine = machine) => {
  const clock = new SimulatedClock()
  const calls: Array<Call> = []
  const record = (type: string) => (_: unknown, params?: unknown) =>
    void calls.push(params === undefined ? { type, at: clock.now() } : { type, params, at: clock.now() })
  const actor = createActor(
    (m as typeof machine).provide({
      actions: {
        respondInitialize: record("respondInitialize"),
        reject: record("reject"),
        replyPong: record("replyPong"),
        dispatch: record("dispatch"),
        announceReady: record("announceReady"),
        beginDrain: record("beginDrain"),
        cancelInFlight: record("cancelInFlight"),
        release: record("release")
      }
    }),
    { clock, input: i }
  ).start()
  const value = () => actor.getSnapshot().value
  return { actor, clock, calls, value, advance: (ms: number) => advance(clock, ms), kinds: () => calls.map((c) => c.type) }
}

/**
 * What the runtime knows about activity, as `ServerSession` keeps it: the number of
 * requests in flight and when the last one finished. Only the fact reporter
 * (`reportActivity`) is provided, as production does (`runtimeServerMachine`): the
 * idle decision and the re-armed delay are the chart's own guard and delay.
 * `guardCalls` records each report with what the guard should decide (the oracle).
 */
const withActivityFacts = (clock: SimulatedClock, idleMs: number) => {
  const facts = { inFlight: 0, lastFinishedAt: clock.now(), guardCalls: [] as Array<{ at: number; expired: boolean }> }
  const m = machine.provide({
    actions: {
      reportActivity: raise((): LegacyServerSessionEvent => {
        const idleForMs = clock.now() - facts.lastFinishedAt
        facts.guardCalls.push({ at: clock.now(), expired: idleMs > 0 && facts.inFlight === 0 && idleForMs >= idleMs })
        return { type: "IDLE_CHECK", inFlight: facts.inFlight, idleForMs }
      })
    }
  })
  return {
    machine: m,
    facts,
    begin: () => void facts.inFlight++,
    finish: () => {
      facts.inFlight--
      facts.lastFinishedAt = clock.now()
    }
  }
}

/** Drive an actor whose clock is shared with activity facts; returns both. */
const startWithActivity = (i: LegacyServerSessionInput) => {
  const clock = new SimulatedClock()
  const activity = withActivityFacts(clock, i.idleTimeoutMs ?? 0)
  const calls: Array<Call> = []
  const record = (type: string) => () => void calls.push({ type, at: clock.now() })
  const actor = createActor(
    activity.machine.provide({
      actions: { announceReady: record("announceReady"), beginDrain: record("beginDrain"), dispatch: record("dispatch") }
    }),
    { clock, input: i }
  ).start()
  return { actor, clock, calls, ...activity, advance: (ms: number) => advance(clock, ms) }
}

/** Advance 1 ms at a time until the session leaves `operating`; the time it did (or undefined). */
const closesAt = (s: { readonly actor: { getSnapshot(): { readonly value: unknown } }; readonly clock: SimulatedClock }, limit: number) => {
  while (s.clock.now() < limit) {
    if (!isOperating(s.actor.getSnapshot().value)) return s.clock.now()
    s.clock.increment(1)
  }
  return isOperating(s.actor.getSnapshot().value) ? undefined : s.clock.now()
}

describe("legacyServerSession: timers on a simulated clock", () => {
  it("handshake deadline: no initialize → closed at exactly handshakeTimeoutMs", () => {
    const s = start()
    s.advance(HANDSHAKE_MS - 1)
    expect(s.value()).toBe("awaitingInitialize")
    s.advance(1)
    expect(s.value()).toBe("closed")
    expect(s.actor.getSnapshot().status).toBe("done")
    expect(s.calls).toEqual([{ type: "release", at: HANDSHAKE_MS }])
  })

  it("handshake deadline: no initialized → closed exactly handshakeTimeoutMs after the initialize response (the default delay is per phase)", () => {
    const s = start()
    s.advance(600)
    s.actor.send(initialize(1))
    s.advance(HANDSHAKE_MS - 1)
    expect(s.value()).toBe("awaitingInitialized")
    s.advance(1)
    expect(s.value()).toBe("closed")
    expect(s.calls).toEqual([
      { type: "respondInitialize", params: { id: 1 }, at: 600 },
      { type: "release", at: 600 + HANDSHAKE_MS }
    ])
  })

  it("handshake deadline: a runtime delay measured from the connection start bounds the whole handshake", () => {
    // The runtime tells the chart how long ago the connection opened; the chart's own delay does the rest.
    const clock = new SimulatedClock()
    const startedAt = clock.now()
    const actor = createActor(machine, { clock, input }).start()
    advance(clock, 600)
    actor.send({ type: "INITIALIZE", id: 1, params: initParams(), elapsedMs: clock.now() - startedAt })
    advance(clock, HANDSHAKE_MS - 600 - 1)
    expect(actor.getSnapshot().value).toBe("awaitingInitialized")
    advance(clock, 1)
    expect(actor.getSnapshot().value).toBe("closed")
    expect(clock.now()).toBe(HANDSHAKE_MS)
  })

  it("handshake deadline: INITIALIZED in time cancels it; a disabled one (0) never fires", () => {
    const s = start()
    s.advance(HANDSHAKE_MS - 1)
    s.actor.send(initialize(1))
    s.advance(HANDSHAKE_MS - 1)
    s.actor.send(initialized)
    s.advance(IDLE_MS - 1)
    expect(s.value()).toEqual("operating")
    const off = start({ handshakeTimeoutMs: 0 })
    off.clock.increment(PARKED + 1) // the parked timer fires; its guard keeps the session
    expect(off.value()).toBe("awaitingInitialize")
    off.actor.send(initialize(1))
    off.clock.increment(PARKED + 1)
    expect(off.value()).toBe("awaitingInitialized")
    expect(off.kinds()).toEqual(["respondInitialize"])
  })

  it("idle deadline, pure default guard: closes exactly idleTimeoutMs after operating began", () => {
    const s = start()
    s.advance(100)
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.advance(IDLE_MS - 1)
    expect(s.value()).toEqual("operating")
    s.advance(1)
    expect(s.value()).toBe("closing")
    expect(s.calls.filter((c) => c.type === "beginDrain")).toEqual([{ type: "beginDrain", at: 100 + IDLE_MS }])
    expect(s.actor.getSnapshot().context.closeReason).toBe("idle timeout")
  })

  it("idle deadline with runtime activity facts: closes exactly idleTimeoutMs after the last request finished", () => {
    // One request from t=200 to t=700: the deadline armed at t=0 fires at t=1000, finds
    // 300 ms of quiet, re-arms for the remaining 700 ms and closes at t=1700.
    const s = startWithActivity(input)
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.advance(200)
    s.actor.send(request(2))
    s.begin()
    s.advance(500)
    s.finish()
    expect(closesAt(s, 10_000)).toBe(700 + IDLE_MS)
    expect(s.facts.guardCalls).toEqual([{ at: IDLE_MS, expired: false }, { at: 700 + IDLE_MS, expired: true }])
    expect(s.actor.getSnapshot().value).toBe("closing")
    // Re-arming re-enters `operating` without running the handshake-complete effect again.
    expect(s.calls.filter((c) => c.type === "announceReady")).toHaveLength(1)
    expect(s.calls.filter((c) => c.type === "beginDrain")).toEqual([{ type: "beginDrain", at: 700 + IDLE_MS }])
  })

  it("idle deadline: a guard that says 'busy' re-arms instead of closing, however long the request runs", () => {
    // A request from t=500 to t=2500: the deadline fires at 1000 and 2000 while busy (re-armed
    // for a full period), at 3000 finds 500 ms of quiet (re-armed for 500), and closes at 3500.
    const s = startWithActivity(input)
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.advance(500)
    s.begin()
    s.advance(2_000)
    expect(s.actor.getSnapshot().value).toEqual("operating")
    s.finish()
    expect(closesAt(s, 10_000)).toBe(2_500 + IDLE_MS)
    expect(s.facts.guardCalls).toEqual([
      { at: 1_000, expired: false },
      { at: 2_000, expired: false },
      { at: 3_000, expired: false },
      { at: 3_500, expired: true }
    ])
  })

  it("idle deadline: for any last-finish time, the session closes exactly idleTimeoutMs later (and the check has teeth)", () => {
    const scenario = (finishAt: number, m?: (clock: SimulatedClock, s: ReturnType<typeof withActivityFacts>) => AnyStateMachine) => {
      const clock = new SimulatedClock()
      const activity = withActivityFacts(clock, IDLE_MS)
      const actor = createActor(m ? m(clock, activity) : activity.machine, { clock, input }).start()
      actor.send(initialize(1))
      actor.send(initialized)
      activity.begin()
      advance(clock, finishAt)
      activity.finish()
      return closesAt({ actor, clock }, 20_000)
    }
    for (const finishAt of [0, 1, 999, 1_000, 1_001, 1_999, 2_345]) {
      expect(scenario(finishAt), `finished at ${finishAt}`).toBe(finishAt + IDLE_MS)
    }
    // A runtime that re-arms for the full period instead of the remainder closes late: caught.
    const fullPeriod = (_: SimulatedClock, a: ReturnType<typeof withActivityFacts>) => a.machine.provide({ delays: { idleTimeout: IDLE_MS } })
    expect(scenario(700, fullPeriod)).toBe(2 * IDLE_MS)
    expect(scenario(700, fullPeriod)).not.toBe(700 + IDLE_MS)
  })

  it("idle deadline disabled (0): the parked timer fires without closing (and without asking for the facts)", () => {
    const s = startWithActivity({ ...input, idleTimeoutMs: 0 })
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    const fired: Array<number> = []
    s.actor.system.inspect({ next: (e) => void (e.type === "@xstate.event" && e.event.type === IDLE.type && fired.push(s.clock.now())) })
    s.clock.increment(PARKED + 1)
    expect(s.actor.getSnapshot().value).toEqual("operating")
    expect(fired).toEqual([PARKED + 1]) // one jump: it fires at the end of it
    expect(s.facts.guardCalls).toEqual([])
  })

  it("drain deadline: in-flight work is cancelled and the session closed at exactly drainTimeoutMs", () => {
    const s = start()
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.advance(50)
    s.actor.send(close)
    s.advance(DRAIN_MS - 1)
    expect(s.value()).toBe("closing")
    s.advance(1)
    expect(s.value()).toBe("closed")
    expect(s.calls.slice(-3)).toEqual([
      { type: "beginDrain", at: 50 },
      { type: "cancelInFlight", at: 50 + DRAIN_MS },
      { type: "release", at: 50 + DRAIN_MS }
    ])
  })

  it("DRAINED before the drain deadline → closed without cancelInFlight; nothing fires later", () => {
    const s = start()
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.actor.send(close)
    s.advance(DRAIN_MS - 1)
    s.actor.send(drained)
    expect(s.value()).toBe("closed")
    s.advance(10 * DRAIN_MS)
    expect(s.kinds()).toEqual(["respondInitialize", "announceReady", "beginDrain", "release"])
  })

  it("drainTimeoutMs: 0 means do not wait: in-flight work is cancelled on the next tick", () => {
    const s = start({ ...input, drainTimeoutMs: 0 })
    s.actor.send(initialize(1))
    s.actor.send(initialized)
    s.actor.send(close)
    expect(s.value()).toBe("closing")
    s.advance(1)
    expect(s.value()).toBe("closed")
    expect(s.kinds().slice(-2)).toEqual(["cancelInFlight", "release"])
  })

  it("TRANSPORT_CLOSED stops every pending deadline: nothing runs after release", () => {
    for (const prefix of Object.values(live)) {
      const s = start()
      for (const e of prefix) s.actor.send(e)
      s.actor.send(transportClosed)
      const n = s.calls.length
      expect(s.kinds().slice(-2)).toEqual(["cancelInFlight", "release"])
      s.advance(HANDSHAKE_MS + IDLE_MS + DRAIN_MS)
      expect(s.calls).toHaveLength(n)
    }
  })
})

// ---------------------------------------------------------------- graphs

describe("legacyServerSession: generated paths", () => {
  const events = [
    initialize(1),
    initialize(2, {}),
    initialized,
    request(3),
    ping(4),
    drained,
    close,
    transportClosed,
    HANDSHAKE_1,
    HANDSHAKE_2,
    IDLE,
    DRAIN,
    ...factEvents
  ] as never[]
  const inputs = [input, accepting, { earlyRequests: "accept" as const }, {}]
  const edges = (m: AnyStateMachine = machine, i: LegacyServerSessionInput = input) =>
    adjacencyMapToArray(getAdjacencyMap(m, { events, input: i }))

  it("every state is reachable", () => {
    const reached = new Set<string>()
    for (const i of inputs) {
      for (const path of getShortestPaths(machine, { events, input: i })) {
        for (const id of activeStateIds(machine, path.state.value)) reached.add(id)
      }
    }
    expect([...reached].sort()).toEqual([...allStateIds(machine)].sort())
  })

  /** Edges into `operating` other than INITIALIZED or a request under the accept policy. */
  const illegalEntries = (m: AnyStateMachine, i: LegacyServerSessionInput) =>
    edges(m, i)
      .filter(({ state, nextState }) => isOperating(nextState.value) && !isOperating(state.value))
      .filter(({ state, event }) => {
        const fromInitialized = state.value === "awaitingInitialized"
        const byInitialized = event.type === "INITIALIZED"
        const byEarlyRequest = event.type === "REQUEST" && state.context.earlyRequests === "accept"
        return !(fromInitialized && (byInitialized || byEarlyRequest))
      })

  it("operating is entered only from awaitingInitialized, by INITIALIZED or by a request under earlyRequests: accept", () => {
    for (const i of inputs) {
      const into = edges(machine, i).filter(({ state, nextState }) => isOperating(nextState.value) && !isOperating(state.value))
      expect(new Set(into.map(({ event }) => event.type))).toEqual(
        new Set(i.earlyRequests === "accept" ? ["INITIALIZED", "REQUEST"] : ["INITIALIZED"])
      )
      expect(illegalEntries(machine, i)).toEqual([])
    }
    // The check has teeth: a guard that ignores the policy opens a door under "reject".
    const leaky = machine.provide({ guards: { acceptsEarlyRequests: () => true } })
    expect(illegalEntries(leaky, input).length).toBeGreaterThan(0)
  })

  it("closed is reachable from every state, and TRANSPORT_CLOSED takes each live state there with cancelInFlight", () => {
    for (const i of inputs) {
      const all = edges(machine, i)
      const key = (s: { readonly value: unknown; readonly context: unknown }) => JSON.stringify([s.value, s.context])
      const next = new Map<string, Set<string>>()
      const closedKeys = new Set<string>()
      const states = new Map<string, (typeof all)[number]["state"]>()
      for (const { state, nextState } of all) {
        states.set(key(state), state)
        if (!next.has(key(state))) next.set(key(state), new Set())
        next.get(key(state))!.add(key(nextState))
        if (nextState.value === "closed") closedKeys.add(key(nextState))
      }
      expect(closedKeys.size).toBeGreaterThan(0)
      for (const [k, state] of states) {
        if (state.status === "done") continue
        // Breadth-first search over the adjacency map.
        const seen = new Set([k])
        const queue = [k]
        while (queue.length > 0) for (const n of next.get(queue.shift()!) ?? []) if (!seen.has(n)) (seen.add(n), queue.push(n))
        expect([...seen].some((s) => closedKeys.has(s)), `${k} cannot reach closed`).toBe(true)
        const [after, actions] = transition(machine, state, transportClosed)
        expect(after.value).toBe("closed")
        expect(types(actions as ReadonlyArray<Action>)).toEqual(["cancelInFlight", "release"])
      }
    }
  })

  it("closed is entered only by the transport closing, DRAINED, or a deadline; cancelInFlight exactly when work may be left", () => {
    const into = inputs.flatMap((i) => edges(machine, i)).filter(({ state, nextState }) => nextState.value === "closed" && state.value !== "closed")
    const kinds = new Set(into.map(({ state, event }) => `${JSON.stringify(state.value)} ${event.type}`))
    expect(kinds).toEqual(
      new Set([
        `"awaitingInitialize" TRANSPORT_CLOSED`,
        `"awaitingInitialized" TRANSPORT_CLOSED`,
        `"operating" TRANSPORT_CLOSED`,
        // CLOSE with nothing in flight: nothing to drain.
        `"awaitingInitialize" CLOSE`,
        `"awaitingInitialized" CLOSE`,
        `"operating" CLOSE`,
        // A modern-era connection's idleness (its handshake deadline counts that).
        `"awaitingInitialize" IDLE_CHECK`,
        `"closing" TRANSPORT_CLOSED`,
        `"closing" DRAINED`,
        `"closing" ${DRAIN.type}`,
        `"awaitingInitialize" ${HANDSHAKE_1.type}`,
        `"awaitingInitialized" ${HANDSHAKE_2.type}`
      ])
    )
    for (const { state, event } of into) {
      const [, actions] = transition(machine, state, event)
      const cancels = event.type === "TRANSPORT_CLOSED" || event.type === DRAIN.type
      expect(types(actions as ReadonlyArray<Action>), `${JSON.stringify(state.value)} ${event.type}`).toEqual(
        cancels ? ["cancelInFlight", "release"] : ["release"]
      )
    }
  })

  it("dispatch and respondInitialize happen only on their edges; announceReady only on entering operating", () => {
    for (const i of inputs) {
      for (const { state, event, nextState } of edges(machine, i)) {
        if (state.status === "done") continue
        const [, actions] = transition(machine, state, event)
        const t = types(actions as ReadonlyArray<Action>)
        const edge = `${JSON.stringify(state.value)} --${event.type}--> ${JSON.stringify(nextState.value)}`
        if (t.includes("dispatch")) expect(isOperating(nextState.value), edge).toBe(true)
        if (t.includes("respondInitialize")) expect([state.value, event.type, nextState.value], edge).toEqual(["awaitingInitialize", "INITIALIZE", "awaitingInitialized"])
        if (t.includes("announceReady")) expect([isOperating(state.value), isOperating(nextState.value)], edge).toEqual([false, true])
        if (t.includes("replyPong")) expect(event.type, edge).toBe("PING")
      }
    }
  })

  it("hibernate happens only in operating, only when the event says nothing is in flight either way, and changes no state", () => {
    let granted = 0
    for (const i of inputs) {
      for (const { state, event, nextState } of edges(machine, i)) {
        if (state.status === "done") continue
        const [, actions] = transition(machine, state, event)
        if (!types(actions as ReadonlyArray<Action>).includes("hibernate")) continue
        granted++
        const edge = `${JSON.stringify(state.value)} --${JSON.stringify(event)}--> ${JSON.stringify(nextState.value)}`
        expect([state.value, nextState.value], edge).toEqual(["operating", "operating"])
        expect(event, edge).toMatchObject({ type: "HIBERNATE", inFlight: 0, outbound: 0 })
        expect(nextState.context, edge).toEqual(state.context)
      }
    }
    expect(granted).toBeGreaterThan(0)
  })

  it("model-based: the event-only twin's shortest paths replay on the timed machine", async () => {
    expect(() => createTestModel(machine)).toThrow(/not supported/)
    const twin = eventOnlyTwin(machine)
    const delays = { handshakeTimeout: HANDSHAKE_MS, idleTimeout: IDLE_MS, drainTimeout: DRAIN_MS }
    const twinEvents = [
      initialize(1),
      initialize(2, {}),
      initialized,
      request(3),
      ping(4),
      drained,
      close,
      transportClosed,
      // Facts whose re-armed deadline is the full period (the replay advances by the fixed delays).
      ...factEvents.filter((e) => !(e.type === "RESUMED" && e.idleForMs < IDLE_MS)),
      ...Object.keys(delays).map((d) => ({ type: timeoutEvent(d) }))
    ]
    for (const i of [input, accepting]) {
      const model = createTestModel(twin, { input: i, events: twinEvents as never })
      const paths = model.getShortestPaths()
      const visited = new Set(paths.flatMap((p) => p.steps.map((s) => JSON.stringify(s.state.value))))
      expect(visited).toEqual(
        new Set(['"awaitingInitialize"', '"awaitingInitialized"', '"operating"', '"closing"', '"closed"'])
      )
      for (const path of paths) {
        const s = start(i)
        type Step = { readonly event: { readonly type: string }; readonly state: { readonly value: unknown; readonly context: unknown } }
        const exec = (step: Step) => {
          const delay = Object.entries(delays).find(([d]) => step.event.type === timeoutEvent(d))
          if (delay) s.advance(delay[1])
          else s.actor.send(step.event as LegacyServerSessionEvent)
          expect(s.actor.getSnapshot().value).toEqual(step.state.value)
          expect(s.actor.getSnapshot().context).toEqual(step.state.context)
        }
        await path.test({ events: Object.fromEntries(twinEvents.map((e) => [e.type, exec])) as never })
      }
    }
  })
})

describe("HIBERNATE: the chart decides when a session may sleep (guard canHibernate on the event's facts)", () => {
  it("an idle operating session may: the step runs hibernate and nothing else, in the same state", () => {
    const { snapshot: before } = run(input, ...live.operating)
    const [after, actions] = transition(machine, before, hibernateAsk(0, 0))
    expect(types(actions as ReadonlyArray<Action>)).toEqual(["hibernate"])
    expect(after.value).toBe("operating")
    expect(after.context).toEqual(before.context)
  })

  it("is refused with a request in flight, with a server→client request pending, and outside operating", () => {
    for (const [inFlight, outbound] of [[1, 0], [0, 1], [2, 3]] as const) {
      expect(types(run(input, ...live.operating, hibernateAsk(inFlight, outbound)).actions), `${inFlight}/${outbound}`).toEqual([])
    }
    for (const state of ["awaitingInitialize", "awaitingInitialized", "closing"] as const) {
      const { snapshot, actions } = run(input, ...live[state], hibernateAsk(0, 0))
      expect(snapshot.value, state).toBe(state)
      expect(types(actions), state).toEqual([])
    }
    const closed = run(input, ...live.operating, closeIdle).snapshot
    expect(closed.value).toBe("closed")
    expect(types(transition(machine, closed, hibernateAsk(0, 0))[1] as ReadonlyArray<Action>)).toEqual([])
  })

  it("the runtime's chart (runtimeServerMachine) runs the same guard: only its action is provided", async () => {
    const { runtimeServerMachine } = await import("../src/server/ServerSession.ts")
    const { snapshot } = run(input, ...live.operating)
    const restored = runtimeServerMachine.resolveState({ value: snapshot.value as "operating", context: snapshot.context })
    expect(types(transition(runtimeServerMachine, restored, hibernateAsk(0, 0))[1] as ReadonlyArray<Action>)).toEqual(["hibernate"])
    expect(types(transition(runtimeServerMachine, restored, hibernateAsk(1, 0))[1] as ReadonlyArray<Action>)).toEqual([])
  })
})

describe("CLOSE with nothing in flight (guard nothingInFlight on the event's count)", () => {
  it("goes straight to closed without beginDrain or a drain timer; with work in flight it drains", () => {
    const run = (inFlight: number) => {
      const calls: Array<string> = []
      const actor = createActor(
        machine.provide({ actions: { beginDrain: () => void calls.push("beginDrain"), release: () => void calls.push("release") } }),
        { input: {} }
      ).start()
      actor.send({ type: "INITIALIZE", id: 1, params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
      actor.send({ type: "INITIALIZED" })
      actor.send({ type: "CLOSE", reason: "bye", inFlight })
      return { state: actor.getSnapshot().value, calls, reason: actor.getSnapshot().context.closeReason }
    }
    expect(run(0)).toEqual({ state: "closed", calls: ["release"], reason: "bye" })
    const busy = run(2)
    expect(busy.state).toBe("closing")
    expect(busy.calls).toEqual(["beginDrain"])
  })
})

describe("the production machine decides with the chart's own guards and delays", () => {
  it("runtimeServerMachine provides actions only: every guard and delay is the chart's implementation", async () => {
    const { runtimeServerMachine } = await import("../src/server/ServerSession.ts")
    const chart = machine.implementations
    const production = runtimeServerMachine.implementations
    expect(Object.keys(production.guards).sort()).toEqual(Object.keys(chart.guards).sort())
    for (const [name, guard] of Object.entries(chart.guards)) expect(production.guards[name], name).toBe(guard)
    expect(Object.keys(production.delays).sort()).toEqual(Object.keys(chart.delays).sort())
    for (const [name, delay] of Object.entries(chart.delays)) expect(production.delays[name], name).toBe(delay)
    // …and the context holds no live object: a snapshot survives JSON.
    const [operating] = transition(machine, run(input, initialize(1)).snapshot, initialized)
    expect(JSON.parse(JSON.stringify(operating.context))).toEqual(operating.context)
  })

  it("the handshake deadline counts from the connection's start (elapsedMs), and a modern-served connection counts idleness instead", () => {
    // INITIALIZE 600 ms after the connection opened: awaitingInitialized gets the 400 ms that remain.
    const initializeLate: LegacyServerSessionEvent = { type: "INITIALIZE", id: 1, params: initParams(), elapsedMs: 600 }
    const after = run(input, initializeLate)
    expect(after.snapshot.context.handshakeDelayMs).toBe(HANDSHAKE_MS - 600)
    expect(raised(after.actions)).toEqual([expect.objectContaining({ id: HANDSHAKE_2.type, delay: HANDSHAKE_MS - 600 })])
    // A chart started late (first legacy message after modern traffic): both deadlines from the facts.
    const late = run({ ...input, servedModern: true, elapsedMs: 5_000, activity: { inFlight: 0, idleForMs: 250 } })
    expect(late.snapshot.context).toMatchObject({ servedModern: true, handshakeDelayMs: 1, idleDelayMs: IDLE_MS - 250 })
    expect(raised(late.actions)).toEqual([expect.objectContaining({ id: HANDSHAKE_1.type, delay: IDLE_MS - 250 })])
    // MODERN_SERVED turns the handshake guard off: the deadline asks for the facts instead of closing.
    const modern = run(input, modernServed)
    const [quietAfter] = transition(machine, modern.snapshot, HANDSHAKE_1 as never)
    expect(quietAfter.value).toBe("closed") // the pure reporter says: quiet for the whole period
    expect(quietAfter.context.closeReason).toBe("idle timeout")
    const [busy] = transition(machine, modern.snapshot, idleCheck(1, 0))
    expect(busy.value).toBe("awaitingInitialize")
    expect(busy.context.idleDelayMs).toBe(IDLE_MS)
    const [partly] = transition(machine, modern.snapshot, idleCheck(0, 300))
    expect(partly.context.idleDelayMs).toBe(IDLE_MS - 300)
    // Without MODERN_SERVED the same deadline is the handshake's.
    const [legacy] = transition(machine, run(input).snapshot, HANDSHAKE_1 as never)
    expect(legacy.context.closeReason).toBe("handshake timeout")
  })

  it("RESUMED (restored from a persisted snapshot): closes when the facts say expired, else re-arms for what remains", () => {
    const operating = run(input, ...live.operating).snapshot
    const restored = machine.resolveState(JSON.parse(JSON.stringify({ value: operating.value, context: operating.context })))
    const [expired, expiredActions] = transition(machine, restored, resumed(0, IDLE_MS))
    expect(expired.value).toBe("closing")
    expect(types(expiredActions)).toEqual(["beginDrain"])
    const [awake, awakeActions] = transition(machine, restored, resumed(0, 400))
    expect(awake.value).toBe("operating")
    expect(raised(awakeActions)).toEqual([expect.objectContaining({ id: IDLE.type, delay: IDLE_MS - 400 })])
    const [busy, busyActions] = transition(machine, restored, resumed(3, 5_000))
    expect(busy.value).toBe("operating")
    expect(raised(busyActions)).toEqual([expect.objectContaining({ id: IDLE.type, delay: IDLE_MS })])
  })
})
