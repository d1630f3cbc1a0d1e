/**
 * A chart's initial step memoized per input (src/runtime/initialSnapshots.ts): an actor
 * started from the memo is the actor xstate would have started (same state, context,
 * deadlines, inspection events), the memo is really used for the server chart's fresh
 * sessions, and a step that is not safe to share is never memoized. Timers run on
 * xstate's SimulatedClock.
 */
import { describe, expect, it } from "vitest"
import { assign, createActor, type InspectionEvent, raise, setup, SimulatedClock } from "xstate"
import { isValidInitializeParams, legacyServerSessionMachine, type LegacyServerSessionInput } from "../machines/legacyServerSession.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { memoizeInitialSnapshot } from "../src/runtime/initialSnapshots.ts"
import { memoizeTransitions } from "../src/runtime/transitionMemo.ts"
import { memoizedServerLogic } from "../src/server/session/serverChart.ts"

/**
 * The session chart with recording actions instead of a session's (the provided actions are
 * the effects; guards and delays stay the chart's), plain and memoized as sessions run it.
 */
const names = new WeakMap<object, string>()
const ready: Array<string> = []
const released: Array<string> = []
const recordingMachine = legacyServerSessionMachine.provide({
  actions: {
    respondInitialize: () => {},
    reject: () => {},
    replyPong: () => {},
    dispatch: () => {},
    announceReady: ({ self }) => void ready.push(names.get(self) ?? "?"),
    beginDrain: () => {},
    cancelInFlight: () => {},
    release: ({ context, self }) => void released.push(`${names.get(self) ?? "?"}: ${context.closeReason}`),
    hibernate: () => {},
    reportActivity: raise({ type: "IDLE_CHECK", inFlight: 0, idleForMs: 0 })
  }
})
const recordingLogic = memoizedServerLogic(recordingMachine)

/** What an HTTP session's chart starts with (HttpServer's defaults; nothing elapsed). */
const fresh: LegacyServerSessionInput = {
  supportedVersions: ["2025-11-25", "2025-06-18", "2025-03-26"],
  idleTimeoutMs: 30 * 60_000,
  handshakeTimeoutMs: 10_000,
  drainTimeoutMs: 5_000,
  earlyRequests: "reject",
  servedModern: false,
  elapsedMs: 0,
  activity: { inFlight: 0, idleForMs: 0 }
}

/** Start `logic` on a simulated clock and record its inspection events. */
const started = (logic: typeof recordingMachine, input: LegacyServerSessionInput, name = "?") => {
  const clock = new SimulatedClock()
  const events: Array<InspectionEvent> = []
  const actor = createLeanActor(logic, { clock, input, inspect: (e) => void events.push(e) })
  names.set(actor, name)
  actor.start()
  return { actor, clock, events }
}

/** The inspection events that describe the chart (actions and snapshots), without actor references. */
const described = (events: ReadonlyArray<InspectionEvent>): Array<unknown> =>
  events.flatMap((e): Array<unknown> =>
    e.type === "@xstate.action" ? [{ type: e.type, action: e.action }]
      : e.type === "@xstate.snapshot" ? [{ type: e.type, value: (e.snapshot as { value?: unknown }).value, status: e.snapshot.status }]
      : []
  )

describe("memoized initial step", () => {
  it("the server chart started from the memo is the chart xstate starts: same state, context, inspection events and handshake deadline", () => {
    const plain = started(recordingMachine, fresh)
    const memo = started(recordingLogic, fresh)
    const again = started(recordingLogic, fresh)
    for (const run of [memo, again]) {
      expect(run.actor.getSnapshot().value).toEqual(plain.actor.getSnapshot().value)
      expect(run.actor.getSnapshot().context).toEqual(plain.actor.getSnapshot().context)
      expect(described(run.events)).toEqual(described(plain.events))
    }
    // The `after` deadline was scheduled from the memo too: all three close at 10 s, not before.
    for (const run of [plain, memo, again]) run.clock.increment(9_999)
    for (const run of [plain, memo, again]) expect(run.actor.getSnapshot().status).toBe("active")
    for (const run of [plain, memo, again]) run.clock.increment(1)
    for (const run of [plain, memo, again]) {
      expect(run.actor.getSnapshot().status).toBe("done")
      expect(run.actor.getSnapshot().context.closeReason).toBe(plain.actor.getSnapshot().context.closeReason)
    }
  })

  it("is used: fresh sessions of one server share one initial snapshot (xstate builds one per actor)", () => {
    const a = createActor(recordingLogic, { input: fresh })
    const b = createActor(recordingLogic, { input: fresh })
    expect(b.getSnapshot()).toBe(a.getSnapshot())
    const c = createActor(recordingMachine, { input: fresh })
    const d = createActor(recordingMachine, { input: fresh })
    expect(d.getSnapshot()).not.toBe(c.getSnapshot())
    // A step from the shared snapshot makes the actor's own: the others' stay where they were.
    a.start().send({ type: "INITIALIZE", id: 1, params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })
    expect(a.getSnapshot().value).toBe("awaitingInitialized")
    expect(b.getSnapshot().value).toBe("awaitingInitialize")
    expect(b.getSnapshot().context.protocolVersion).toBeUndefined()
    a.stop()
  })

  it("not for an input the key function refuses (time already elapsed): the chart's own step, with the shorter deadline", () => {
    const late = { ...fresh, elapsedMs: 4_000 }
    const a = createActor(recordingLogic, { input: late })
    const b = createActor(recordingLogic, { input: late })
    expect(b.getSnapshot()).not.toBe(a.getSnapshot())
    const run = started(recordingLogic, late)
    run.clock.increment(5_999)
    expect(run.actor.getSnapshot().status).toBe("active")
    run.clock.increment(1)
    expect(run.actor.getSnapshot().status).toBe("done")
  })

  it("not when the initial step has an effect other than a deadline: the entry action runs for every actor", () => {
    let entered = 0
    const chart = setup({ actions: { hello: () => void entered++ } }).createMachine({ initial: "a", states: { a: { entry: "hello", after: { 100: "b" } }, b: {} } })
    const logic = memoizeInitialSnapshot(chart, () => "one")
    const x = createActor(logic).start()
    const y = createActor(logic).start()
    expect(entered).toBe(2)
    expect(y.getSnapshot()).not.toBe(x.getSnapshot())
  })

  it("not when the context factory makes a fresh object per actor: each actor keeps its own", () => {
    const chart = setup({ types: { context: {} as { seen: Array<number> } } }).createMachine({
      context: () => ({ seen: [] }),
      initial: "a",
      states: { a: { on: { SEE: { actions: assign({ seen: ({ context }) => [...context.seen, 1] }) } } } }
    })
    const logic = memoizeInitialSnapshot(chart, () => "one")
    const x = createActor(logic)
    const y = createActor(logic)
    expect(y.getSnapshot().context.seen).not.toBe(x.getSnapshot().context.seen)
  })

  it("a deadline-only chart is memoized, and each actor's deadline fires on its own clock", () => {
    const chart = setup({ types: { input: {} as { ms: number }, context: {} as { ms: number } }, delays: { wait: ({ context }) => context.ms } }).createMachine({
      context: ({ input }) => ({ ms: input.ms }),
      initial: "a",
      states: { a: { after: { wait: "b" } }, b: {} }
    })
    const logic = memoizeInitialSnapshot(chart, (input: { ms: number }) => String(input.ms))
    const c1 = new SimulatedClock()
    const c2 = new SimulatedClock()
    const x = createLeanActor(logic, { clock: c1, input: { ms: 50 } }).start()
    const y = createLeanActor(logic, { clock: c2, input: { ms: 50 } }).start()
    const z = createLeanActor(logic, { clock: c2, input: { ms: 80 } }).start()
    c1.increment(50)
    expect(x.getSnapshot().value).toBe("b")
    expect(y.getSnapshot().value).toBe("a")
    c2.increment(50)
    expect(y.getSnapshot().value).toBe("b")
    expect(z.getSnapshot().value).toBe("a")
    c2.increment(30)
    expect(z.getSnapshot().value).toBe("b")
  })
})

/** The inspection events of a step: actions, microsteps (value, event, transition count) and snapshots. */
const stepped = (events: ReadonlyArray<InspectionEvent>): Array<unknown> =>
  events.flatMap((e): Array<unknown> =>
    e.type === "@xstate.microstep"
      ? [{ type: e.type, value: (e.snapshot as { value?: unknown }).value, event: e.event.type, transitions: (e as { _transitions: Array<unknown> })._transitions.length }]
      : described([e])
  )

describe("memoized later steps (src/runtime/transitionMemo.ts)", () => {
  const initialize = { type: "INITIALIZE" as const, id: 0, params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }

  it("the server chart's initialized and transport-closed steps replayed from the memo are xstate's: same state, context, effects, inspection events, deadlines", () => {
    ready.length = 0
    released.length = 0
    const run = (logic: typeof recordingMachine, name: string) => {
      const r = started(logic, fresh, name)
      r.actor.send(initialize)
      r.events.length = 0
      r.actor.send({ type: "INITIALIZED" })
      return r
    }
    const plain = run(recordingMachine, "plain")
    const memo = run(recordingLogic, "memo")
    const again = run(recordingLogic, "again")
    expect(ready).toEqual(["plain", "memo", "again"])
    expect(stepped(plain.events).some((e) => (e as { type: string }).type === "@xstate.microstep")).toBe(true)
    for (const r of [memo, again]) {
      expect(r.actor.getSnapshot().value).toBe("operating")
      expect(r.actor.getSnapshot().context).toEqual(plain.actor.getSnapshot().context)
      expect(stepped(r.events)).toEqual(stepped(plain.events))
      expect(r.actor.getSnapshot().can({ type: "PING", id: 1 })).toBe(true)
    }
    // Each actor keeps its own context object (the memo shares states, not contexts).
    expect(again.actor.getSnapshot().context).not.toBe(memo.actor.getSnapshot().context)
    // The handshake deadline was cancelled and the idle deadline armed, on each actor's clock.
    for (const r of [plain, memo, again]) r.clock.increment(30 * 60_000 - 1)
    for (const r of [plain, memo, again]) expect(r.actor.getSnapshot().value).toBe("operating")
    for (const r of [plain, memo, again]) r.events.length = 0
    for (const r of [plain, memo, again]) r.clock.increment(1)
    // The idle deadline fired on all three (IDLE_CHECK: nothing idle, re-armed), seen the same way.
    expect(stepped(plain.events).length).toBeGreaterThan(0)
    for (const r of [memo, again]) expect(stepped(r.events)).toEqual(stepped(plain.events))
    for (const r of [plain, memo, again]) r.events.length = 0
    for (const r of [plain, memo, again]) r.actor.send({ type: "TRANSPORT_CLOSED", reason: "bye" })
    for (const r of [plain, memo, again]) {
      expect(r.actor.getSnapshot().status).toBe("done")
      expect(r.actor.getSnapshot().value).toBe("closed")
      expect(r.actor.getSnapshot().context).toEqual({ ...memo.actor.getSnapshot().context, closeReason: "bye" })
    }
    for (const r of [memo, again]) expect(stepped(r.events)).toEqual(stepped(plain.events))
    // `release` read the assigned close reason on every actor, once.
    expect(released).toEqual(["plain: bye", "memo: bye", "again: bye"])
    // A closed session's chart has no deadline left: nothing more happens on any clock.
    for (const r of [plain, memo, again]) r.events.length = 0
    for (const r of [plain, memo, again]) r.clock.increment(60 * 60_000)
    for (const r of [plain, memo, again]) expect(r.events).toEqual([])
  })

  it("is used: a memoized step does not re-run the chart's delays; scalar assigns replay per actor; an object assign is never memoized", () => {
    let delays = 0, effects = 0, seen = 0
    const chart = setup({
      types: { context: {} as { n: number; seen: Array<number> } },
      actions: { effect: () => void effects++ },
      delays: { wait: () => (delays++, 100) }
    }).createMachine({
      context: () => ({ n: 0, seen: [] }),
      initial: "a",
      states: {
        a: {
          on: {
            GO: { target: "b", actions: "effect" },
            COUNT: { actions: assign({ n: ({ context }) => context.n + 1 }) },
            SEE: { actions: assign({ seen: ({ context }) => (seen++, [...context.seen, 1]) }) }
          }
        },
        b: { after: { wait: "c" } },
        c: {}
      }
    })
    // The key names every fact the step reads (here the counter).
    const logic = memoizeTransitions(chart, (s, e) => `${s.value}|${e.type}|${s.context.n}`)
    const clock = new SimulatedClock()
    const actors = [0, 1, 2].map(() => createLeanActor(logic, { clock }).start())
    for (const a of actors) a.send({ type: "GO" })
    // Two probes of the first actor's step resolve the delay; the replays do not.
    expect(delays).toBe(2)
    expect(effects).toBe(3)
    for (const a of actors) expect(a.getSnapshot().value).toBe("b")
    clock.increment(100)
    for (const a of actors) expect(a.getSnapshot().value).toBe("c")
    const counters = [0, 1].map(() => createLeanActor(logic, { clock }).start())
    for (const a of counters) a.send({ type: "COUNT" })
    for (const a of counters) a.send({ type: "COUNT" })
    for (const a of counters) expect(a.getSnapshot().context.n).toBe(2)
    expect(counters[1]!.getSnapshot().context).not.toBe(counters[0]!.getSnapshot().context)
    // An assign that makes an object: xstate's own step for every actor (two probes, then three plain runs).
    const seers = [0, 1, 2].map(() => createLeanActor(logic, { clock }).start())
    for (const a of seers) a.send({ type: "SEE" })
    expect(seen).toBe(5)
    expect(seers[1]!.getSnapshot().context.seen).not.toBe(seers[0]!.getSnapshot().context.seen)
  })
})

describe("memoized initialize step: per-actor values copied, never shared (src/runtime/transitionMemo.ts `perActor`)", () => {
  const params = (name: string, version = "2025-06-18") => ({ protocolVersion: version, capabilities: { roots: { listChanged: true } }, clientInfo: { name, version: "1" } })
  /** The session chart recording each `respondInitialize` / `reject` (actor, id, version read from context) and counting guard runs. */
  const replies: Array<string> = []
  let guardRuns = 0
  const counting = recordingMachine.provide({
    actions: {
      respondInitialize: ({ context, self }, p) => void replies.push(`${names.get(self) ?? "?"}: ${JSON.stringify(p.id)} ${context.protocolVersion}`),
      reject: ({ self }, p) => void replies.push(`${names.get(self) ?? "?"}: reject ${JSON.stringify(p.id)} ${p.code}`)
    },
    guards: {
      validInitializeParams: ({ event }) => (guardRuns++, event.type === "INITIALIZE" && isValidInitializeParams(event.params))
    }
  })
  const withoutParams = (e: any): unknown => (e.type === "@xstate.action" ? { ...e, action: { ...e.action, params: undefined } } : e)
  /** The recorded `@xstate.action` params, as inspection shows them. */
  const actionParams = (events: ReadonlyArray<InspectionEvent>): Array<unknown> =>
    events.flatMap((e) => (e.type === "@xstate.action" ? [[e.action.type, e.action.params]] : []))

  it("the server chart's initialize step replayed from the memo is xstate's, with each actor's own id, capabilities and client info", () => {
    const logic = memoizedServerLogic(counting)
    replies.length = 0
    const runs = ([["plain", counting, 7], ["memo", logic, 8], ["again", logic, "req-9"], ["third", logic, 10]] as const).map(([name, l, id]) => {
      const r = started(l, fresh, name)
      r.events.length = 0
      const event = { type: "INITIALIZE" as const, id, params: params(name) }
      r.actor.send(event)
      return { ...r, event, id }
    })
    const [plain, ...memos] = runs
    expect(replies).toEqual(["plain: 7 2025-06-18", "memo: 8 2025-06-18", "again: \"req-9\" 2025-06-18", "third: 10 2025-06-18"])
    for (const r of runs) {
      const c = r.actor.getSnapshot().context
      expect(r.actor.getSnapshot().value).toBe("awaitingInitialized")
      expect(c).toEqual({ ...plain!.actor.getSnapshot().context, clientCapabilities: r.event.params.capabilities, clientInfo: r.event.params.clientInfo })
      // The actor's own objects, not the first actor's or a copy.
      expect(c.clientCapabilities).toBe(r.event.params.capabilities)
      expect(c.clientInfo).toBe(r.event.params.clientInfo)
      // The same steps, actions and params as xstate's own, with this actor's id.
      expect(stepped(r.events).map(withoutParams)).toEqual(stepped(plain!.events).map(withoutParams))
      expect(actionParams(r.events)).toEqual(actionParams(plain!.events).map(([type, p]: any) => [type, type === "respondInitialize" ? { id: r.id } : p]))
    }
    // The handshake deadline counts on from the connection's start on every actor: 10 s, not re-armed.
    for (const r of runs) r.clock.increment(9_999)
    for (const r of runs) expect(r.actor.getSnapshot().status).toBe("active")
    for (const r of runs) r.clock.increment(1)
    for (const r of runs) expect(r.actor.getSnapshot().context.closeReason).toBe("handshake timeout")
    expect(memos.every((r) => r.actor.getSnapshot().status === "done")).toBe(true)
  })

  it("is used: the guard runs in the two probes and not again for later sessions of the same version (it runs on every plain step)", () => {
    const logic = memoizedServerLogic(counting)
    guardRuns = 0
    for (let i = 0; i < 5; i++) started(logic, fresh).actor.send({ type: "INITIALIZE", id: i, params: params("x") })
    expect(guardRuns).toBe(2)
    guardRuns = 0
    for (let i = 0; i < 5; i++) started(counting, fresh).actor.send({ type: "INITIALIZE", id: i, params: params("x") })
    expect(guardRuns).toBe(5)
  })

  it("the facts stay in the key: another requested version, an unsupported version, invalid params and time elapsed each get the chart's own answer", () => {
    const logic = memoizedServerLogic(counting)
    replies.length = 0
    const step = (name: string, event: { type: "INITIALIZE"; id: number; params: unknown; elapsedMs?: number }) => {
      const r = started(logic, fresh, name)
      r.actor.send(event)
      return r
    }
    step("a", { type: "INITIALIZE", id: 1, params: params("a", "2025-06-18") })
    const b = step("b", { type: "INITIALIZE", id: 2, params: params("b", "2025-03-26") })
    const c = step("c", { type: "INITIALIZE", id: 3, params: params("c", "1999-01-01") })
    const d = step("d", { type: "INITIALIZE", id: 4, params: { protocolVersion: "2025-06-18", capabilities: {} } })
    const e = step("e", { type: "INITIALIZE", id: 5, params: params("e"), elapsedMs: 4_000 })
    expect(replies).toEqual(["a: 1 2025-06-18", "b: 2 2025-03-26", "c: 3 2025-11-25", `d: reject 4 ${ErrorCode.InvalidParams}`, "e: 5 2025-06-18"])
    expect(b.actor.getSnapshot().context.protocolVersion).toBe("2025-03-26")
    expect(c.actor.getSnapshot().context.protocolVersion).toBe("2025-11-25")
    expect(d.actor.getSnapshot().value).toBe("awaitingInitialize")
    // 4 s of the handshake had elapsed: 6 s remain.
    e.clock.increment(5_999)
    expect(e.actor.getSnapshot().status).toBe("active")
    e.clock.increment(1)
    expect(e.actor.getSnapshot().status).toBe("done")
  })

  it("a second initialize, refused in every later state, is refused with each actor's own id, as the plain chart does", () => {
    const logic = memoizedServerLogic(counting)
    replies.length = 0
    for (const [name, l] of [["plain", counting], ["memo", logic], ["again", logic]] as const) {
      const r = started(l, fresh, name)
      r.actor.send({ type: "INITIALIZE", id: 1, params: params(name) })
      r.actor.send({ type: "INITIALIZE", id: `${name}-2`, params: params(name) })
      r.actor.send({ type: "INITIALIZED" })
      r.actor.send({ type: "INITIALIZE", id: `${name}-3`, params: params(name) })
      expect(r.actor.getSnapshot().value).toBe("operating")
    }
    const refused = (name: string) => [`${name}: 1 2025-06-18`, `${name}: reject "${name}-2" ${ErrorCode.InvalidRequest}`, `${name}: reject "${name}-3" ${ErrorCode.InvalidRequest}`]
    expect(replies).toEqual([...refused("plain"), ...refused("memo"), ...refused("again")])
  })

  it("a step that uses a per-actor value other than by copying it, or copies an undeclared object, is not memoized", () => {
    let twice = 0
    const chart = setup({
      types: { context: {} as { got: unknown }, events: {} as { type: "GO"; id: number; data: object } | { type: "KEEP"; id: number; data: object } },
      actions: { reply: (_, p: { id: number }) => void (twice += p.id) }
    }).createMachine({
      context: { got: undefined },
      initial: "a",
      states: {
        a: {
          on: {
            // Computes with the id: the second probe's other id gives another result outside the copied places.
            GO: { actions: { type: "reply", params: ({ event }) => ({ id: event.id * 2 }) } },
            // Keeps the event's object, not declared per-actor (only `id` is).
            KEEP: { actions: assign({ got: ({ event }) => event.data }) }
          }
        }
      }
    })
    const logic = memoizeTransitions(chart, (s, e) => `${s.value}|${e.type}`, { of: (e: { id: number }) => [e.id], with: (e: object, [id]) => ({ ...e, id }) })
    const actors = [1, 2, 3].map(() => createLeanActor(logic).start())
    twice = 0
    actors.forEach((a, i) => a.send({ type: "GO", id: i + 1, data: {} }))
    // Each actor's own step (probes record actions, they do not run them): 2 + 4 + 6, not the first actor's 2 three times.
    expect(twice).toBe(2 + 4 + 6)
    const datas = actors.map(() => ({}))
    actors.forEach((a, i) => a.send({ type: "KEEP", id: i, data: datas[i]! }))
    actors.forEach((a, i) => expect(a.getSnapshot().context.got).toBe(datas[i]))
  })
})

describe("memo keys name every fact (serverChart `stepKey`, built once per facts)", () => {
  it("sessions of servers with other deadlines, stepping in turn, each keep their own: handshake and idle deadlines as the chart says", () => {
    const logic = memoizedServerLogic(recordingMachine)
    const configs = [
      { handshakeTimeoutMs: 10_000, idleTimeoutMs: 60_000 },
      { handshakeTimeoutMs: 20_000, idleTimeoutMs: 120_000 },
      { handshakeTimeoutMs: 10_000, idleTimeoutMs: 120_000 }
    ]
    const initialize = (id: number) => ({ type: "INITIALIZE" as const, id, params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })
    // Twice round, so the second round reuses each key (and would reuse a wrong one).
    const runs = [...configs, ...configs].map((config, i) => ({ config, run: started(logic, { ...fresh, ...config }, `s${i}`) }))
    for (const [i, { run }] of runs.entries()) run.actor.send(initialize(i))
    // The handshake deadline of each: still waiting 1 ms before it, closed at it.
    for (const { config, run } of runs) {
      run.clock.increment(config.handshakeTimeoutMs - 1)
      expect(run.actor.getSnapshot().value).toBe("awaitingInitialized")
      run.clock.increment(1)
      expect(run.actor.getSnapshot().context.closeReason).toBe("handshake timeout")
    }
    // The idle deadline of each once operating: the first IDLE_CHECK comes at its own idle timeout.
    const operating = [...configs, ...configs].map((config, i) => ({ config, run: started(logic, { ...fresh, ...config }, `o${i}`) }))
    for (const [i, { run }] of operating.entries()) run.actor.send(initialize(i))
    for (const { run } of operating) run.actor.send({ type: "INITIALIZED" })
    for (const { config, run } of operating) {
      expect(run.actor.getSnapshot().value).toBe("operating")
      run.events.length = 0
      run.clock.increment(config.idleTimeoutMs - 1)
      expect(run.events.some((e) => e.type === "@xstate.event" && e.event.type.startsWith("xstate.after.idleTimeout"))).toBe(false)
      run.clock.increment(1)
      expect(run.events.some((e) => e.type === "@xstate.event" && e.event.type.startsWith("xstate.after.idleTimeout"))).toBe(true)
    }
  })
})

describe("per-actor values: data derived from them is never shared", () => {
  it("a param that copies a per-actor object's fields (not the object) is not memoized: each actor's own data", () => {
    const seen: Array<unknown> = []
    const chart = setup({
      types: { events: {} as { type: "GO"; id: number; info: { name: string } } },
      actions: { reply: (_, p: { name: string }) => void seen.push(p.name) }
    }).createMachine({
      initial: "a",
      states: { a: { on: { GO: { actions: { type: "reply", params: ({ event }) => ({ name: event.info.name }) } } } } }
    })
    const logic = memoizeTransitions(chart, (s, e) => `${s.value}|${e.type}`, {
      of: (e: { id: number; info: object }) => [e.id, e.info],
      with: (e: object, [id, info]) => ({ ...e, id, info })
    })
    for (const name of ["ann", "bob", "cy"]) createLeanActor(logic).start().send({ type: "GO", id: 1, info: { name } })
    expect(seen).toEqual(["ann", "bob", "cy"])
  })
})
