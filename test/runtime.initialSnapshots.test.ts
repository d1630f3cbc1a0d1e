/**
 * A chart's initial step memoized per input (src/runtime/initialSnapshots.ts): an actor
 * started from the memo is the actor xstate would have started (same state, context,
 * deadlines, inspection events), the memo is really used for the server chart's fresh
 * sessions, and a step that is not safe to share is never memoized. Timers run on
 * xstate's SimulatedClock.
 */
import { describe, expect, it } from "vitest"
import { assign, createActor, type InspectionEvent, setup, SimulatedClock } from "xstate"
import type { LegacyServerSessionInput } from "../machines/legacyServerSession.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { memoizeInitialSnapshot } from "../src/runtime/initialSnapshots.ts"
import { memoizeTransitions } from "../src/runtime/transitionMemo.ts"
import type { ServerSession } from "../src/server/ServerSession.ts"
import { bindChart, runtimeServerLogic, runtimeServerMachine } from "../src/server/session/serverChart.ts"

/** The chart's provided actions find their session through the actor: a stand-in that records the ends. */
const owned = <A extends Parameters<typeof bindChart>[0]>(actor: A): A => {
  const session = {
    _respondInitialize: () => {},
    _reject: () => {},
    _replyPong: () => {},
    _dispatchHeld: () => {},
    _announceReady: () => {},
    _beginDrain: () => {},
    _cancelInFlight: () => {},
    _released: () => {},
    activity: () => ({ inFlight: 0, idleForMs: 0 })
  }
  bindChart(actor, session as unknown as ServerSession)
  return actor
}

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
const started = (logic: typeof runtimeServerMachine, input: LegacyServerSessionInput) => {
  const clock = new SimulatedClock()
  const events: Array<InspectionEvent> = []
  const actor = owned(createLeanActor(logic, { clock, input, inspect: (e) => void events.push(e) })).start()
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
    const plain = started(runtimeServerMachine, fresh)
    const memo = started(runtimeServerLogic, fresh)
    const again = started(runtimeServerLogic, fresh)
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
    const a = owned(createActor(runtimeServerLogic, { input: fresh }))
    const b = createActor(runtimeServerLogic, { input: fresh })
    expect(b.getSnapshot()).toBe(a.getSnapshot())
    const c = createActor(runtimeServerMachine, { input: fresh })
    const d = createActor(runtimeServerMachine, { input: fresh })
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
    const a = createActor(runtimeServerLogic, { input: late })
    const b = createActor(runtimeServerLogic, { input: late })
    expect(b.getSnapshot()).not.toBe(a.getSnapshot())
    const run = started(runtimeServerLogic, late)
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
    const ready: Array<string> = [], released: Array<string> = []
    const run = (logic: typeof runtimeServerMachine, name: string) => {
      const r = started(logic, fresh)
      ;(r.actor as unknown as Record<symbol, unknown>)[Object.getOwnPropertySymbols(r.actor).find((s) => s.description === "mcp-actors.serverSession")!] = {
        ...((r.actor as unknown as Record<symbol, object>)[Object.getOwnPropertySymbols(r.actor).find((s) => s.description === "mcp-actors.serverSession")!]),
        _announceReady: () => void ready.push(name),
        _released: (reason: string) => void released.push(`${name}: ${reason}`)
      }
      r.actor.send(initialize)
      r.events.length = 0
      r.actor.send({ type: "INITIALIZED" })
      return r
    }
    const plain = run(runtimeServerMachine, "plain")
    const memo = run(runtimeServerLogic, "memo")
    const again = run(runtimeServerLogic, "again")
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
