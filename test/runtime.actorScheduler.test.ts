/**
 * The lean scheduler (src/runtime/ActorScheduler.ts) must behave like xstate's
 * own for everything our charts use: `after` delays fire, are cancelled on exit
 * and re-armed on re-entry, a stopped actor leaves no timer, children keep their
 * own delays, and inspection sees the delayed event coming from its actor.
 * All timers run on xstate's SimulatedClock.
 */
import { describe, expect, it } from "vitest"
import { type AnyActorRef, assign, createActor, type InspectedEventEvent, type InspectionEvent, setup, SimulatedClock, spawnChild } from "xstate"
import { legacyServerSessionMachine } from "../machines/legacyServerSession.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { countingClock } from "./support/countingClock.ts"

const timed = setup({
  types: { events: {} as { type: "GO" } | { type: "POKE" } | { type: "BACK" }, context: {} as { pokes: number } },
  delays: { short: 100, long: 1_000 }
}).createMachine({
  id: "timed",
  context: { pokes: 0 },
  initial: "waiting",
  states: {
    waiting: {
      after: { long: "expired" },
      on: {
        GO: "running",
        // Re-entering re-arms the deadline from now.
        POKE: { target: "waiting", reenter: true, actions: assign({ pokes: ({ context }) => context.pokes + 1 }) }
      }
    },
    running: { after: { short: "done" }, on: { BACK: "waiting" } },
    expired: {},
    done: { type: "final" }
  }
})

describe("lean actor scheduler", () => {
  it("fires an `after` delay at its deadline, not before", () => {
    const c = countingClock()
    const actor = createLeanActor(timed, { clock: c.clock }).start()
    c.increment(999)
    expect(actor.getSnapshot().value).toBe("waiting")
    c.increment(1)
    expect(actor.getSnapshot().value).toBe("expired")
    expect(c.pending).toBe(0)
  })

  it("cancels a delay when its state is left, and re-arms it on re-entry", () => {
    const c = countingClock()
    const actor = createLeanActor(timed, { clock: c.clock }).start()
    c.increment(600)
    actor.send({ type: "POKE" })
    expect(c.pending).toBe(1)
    c.increment(600) // 1 200 ms after start, 600 after the re-entry
    expect(actor.getSnapshot().value).toBe("waiting")
    c.increment(400)
    expect(actor.getSnapshot().value).toBe("expired")

    const other = createLeanActor(timed, { clock: c.clock }).start()
    other.send({ type: "GO" })
    expect(c.pending).toBe(1) // the `long` delay went with `waiting`
    other.send({ type: "BACK" })
    c.increment(150) // `short` was cancelled when `running` was left
    expect(other.getSnapshot().value).toBe("waiting")
    c.increment(850)
    expect(other.getSnapshot().value).toBe("expired")
  })

  it("leaves no timer behind when the actor stops or reaches a final state", () => {
    const c = countingClock()
    const stopped = createLeanActor(timed, { clock: c.clock }).start()
    expect(c.pending).toBe(1)
    stopped.stop()
    expect(c.pending).toBe(0)
    c.increment(5_000)
    expect(stopped.getSnapshot().value).toBe("waiting")

    const finished = createLeanActor(timed, { clock: c.clock }).start()
    finished.send({ type: "GO" })
    c.increment(100)
    expect(finished.getSnapshot().status).toBe("done")
    expect(c.pending).toBe(0)
  })

  it("keeps a child's delays apart from its parent's (same delay ids, separate timers)", () => {
    // Same machine id, state and delay name as the child: the delay ids collide unless keyed per actor.
    const parent = setup({ actors: { child: timed }, delays: { long: 1_000 } }).createMachine({
      id: "timed",
      initial: "waiting",
      states: {
        waiting: { invoke: { id: "kid", src: "child" }, after: { long: "off" } },
        off: {}
      }
    })
    const c = countingClock()
    const actor = createLeanActor(parent, { clock: c.clock }).start()
    const kid = actor.getSnapshot().children.kid as AnyActorRef
    expect(c.pending).toBe(2)
    kid.send({ type: "GO" }) // the child's `long` is cancelled, its `short` armed; the parent's `long` stays
    expect(c.pending).toBe(2)
    c.increment(100)
    expect(kid.getSnapshot().status).toBe("done")
    expect(actor.getSnapshot().value).toBe("waiting")
    c.increment(900)
    expect(actor.getSnapshot().value).toBe("off")
    expect(c.pending).toBe(0)
  })

  it("reports the delayed event to inspectors as coming from the actor itself, like xstate", () => {
    const seen = (make: typeof createActor) => {
      const c = countingClock()
      const events: Array<InspectionEvent> = []
      const actor = make(timed, { clock: c.clock, inspect: (e) => void events.push(e) }).start()
      c.increment(1_000)
      const delayed = events.find((e): e is InspectedEventEvent => e.type === "@xstate.event" && e.event.type.startsWith("xstate.after"))
      return { delayed, actor }
    }
    const lean = seen(createLeanActor as typeof createActor)
    const plain = seen(createActor)
    expect(lean.delayed?.event.type).toBe(plain.delayed?.event.type)
    expect(lean.delayed?.sourceRef).toBe(lean.actor)
    expect(plain.delayed?.sourceRef).toBe(plain.actor)
  })

  it("drives the server session chart exactly as xstate's own scheduler does", () => {
    const run = (make: typeof createActor) => {
      const c = countingClock()
      const actor = make(legacyServerSessionMachine, {
        clock: c.clock,
        input: { idleTimeoutMs: 5_000, handshakeTimeoutMs: 2_000, drainTimeoutMs: 1_000 }
      }).start()
      const trace: Array<unknown> = []
      const step = () => trace.push([actor.getSnapshot().value, actor.getSnapshot().status, c.pending])
      step()
      actor.send({ type: "INITIALIZE", id: 1, params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })
      step()
      c.increment(1_500)
      actor.send({ type: "INITIALIZED" })
      step()
      c.increment(4_999)
      step()
      c.increment(1)
      step() // idle: closing (the pure guard assumes no activity), draining
      c.increment(1_000)
      step() // drain deadline: closed
      return trace
    }
    const lean = run(createLeanActor as typeof createActor)
    expect(lean).toEqual(run(createActor))
    expect(lean.at(-1)).toEqual(["closed", "done", 0])
  })
})

// The lean scheduler patches private parts of xstate's actor system. If an
// xstate upgrade renames or reshapes them, these fail first and say which part
// moved (see docs/upstream/README.md for the change proposed upstream).
describe("xstate internals the lean scheduler relies on", () => {
  const probe = setup({ delays: { soon: 10 } }).createMachine({ initial: "a", states: { a: { after: { soon: "b" } }, b: {} } })

  it("the actor system exposes `_clock` (the actor's clock), `_relay(source, target, event)` and a replaceable `scheduler`", () => {
    const clock = new SimulatedClock()
    const actor = createActor(probe, { clock })
    const system = actor.system as unknown as Record<string, unknown>
    expect(system["_clock"], "xstate moved system._clock").toBe(clock)
    expect(typeof system["_relay"], "xstate removed system._relay").toBe("function")
    expect((system["_relay"] as (...a: Array<unknown>) => void).length, "xstate changed _relay's parameters").toBe(3)
    const scheduler = system["scheduler"] as Record<string, unknown>
    expect(Object.keys(scheduler).sort(), "xstate changed the scheduler's shape").toEqual(["cancel", "cancelAll", "schedule"])
    expect(Object.getOwnPropertyDescriptor(system, "scheduler")?.writable, "system.scheduler is no longer a writable property").toBe(true)
  })

  it("the actor system registers each actor with `_register(sessionId, actor)`, replaceable, which returns the session id (the tree's roots keep no table of live actors)", () => {
    const actor = createActor(probe)
    const system = actor.system as unknown as Record<string, unknown>
    expect(typeof system["_register"], "xstate removed system._register").toBe("function")
    expect((system["_register"] as (...a: Array<unknown>) => unknown).length, "xstate changed _register's parameters").toBe(2)
    expect(Object.getOwnPropertyDescriptor(system, "_register")?.writable, "system._register is no longer a writable property").toBe(true)
    const seen: Array<string> = []
    system["_register"] = (sessionId: string) => (seen.push(sessionId), sessionId)
    actor.start()
    expect(seen, "xstate no longer registers an actor through system._register when it starts").toEqual([actor.sessionId])
    actor.stop()
  })

  it("xstate reads `system.scheduler` at each use, so replacing it before start() takes over every delay", () => {
    const clock = new SimulatedClock()
    const actor = createActor(probe, { clock })
    const calls: Array<string> = []
    const system = actor.system as unknown as { scheduler: Record<string, (...a: Array<any>) => void> }
    const original = system.scheduler
    system.scheduler = {
      schedule: (...a) => void (calls.push("schedule"), original["schedule"]!(...a)),
      cancel: (...a) => void (calls.push("cancel"), original["cancel"]!(...a)),
      cancelAll: (...a) => void (calls.push("cancelAll"), original["cancelAll"]!(...a))
    }
    actor.start()
    expect(calls, "xstate no longer schedules `after` delays through system.scheduler").toEqual(["schedule"])
    actor.stop()
    expect(calls, "xstate no longer cancels a stopped actor's delays through system.scheduler").toContain("cancelAll")
  })

  it("a delayed event delivered through `_relay` reaches its target", () => {
    const clock = new SimulatedClock()
    const actor = createLeanActor(probe, { clock }).start()
    clock.increment(10)
    expect(actor.getSnapshot().value).toBe("b")
  })

  // The actor tree (not the scheduler) uses three more private parts: `TreeActor.stop` calls
  // `_stop()`, the relay rule reads a child's `_parent`, and `chartHandlesDone` walks a machine's
  // `root` state nodes and their `transitions` map (docs/upstream/README.md).
  it("actors have `_stop()` and `_parent`; a machine's state nodes expose `states` and a `transitions` Map keyed by event descriptor", () => {
    const parent = createActor(probe).start()
    const child = createActor(probe, { parent })
    expect(typeof (child as unknown as Record<string, unknown>)["_stop"], "xstate removed Actor._stop (TreeActor.stop calls it)").toBe("function")
    expect((child as unknown as Record<string, unknown>)["_parent"], "xstate moved Actor._parent (the relay rule reads it)").toBe(parent)
    const root = probe.root as unknown as { states?: Record<string, { transitions?: unknown }> }
    expect(Object.keys(root.states ?? {}), "xstate changed StateNode.states").toEqual(["a", "b"])
    const named = setup({}).createMachine({ initial: "a", states: { a: { on: { "xstate.done.actor.x": "b" } }, b: {} } })
    const transitions = (named.root as unknown as { states: Record<string, { transitions?: unknown }> }).states["a"]!.transitions
    expect(transitions instanceof Map, "xstate changed StateNode.transitions (no longer a Map)").toBe(true)
    expect([...(transitions as Map<string, unknown>).keys()], "StateNode.transitions is no longer keyed by event descriptor").toEqual(["xstate.done.actor.x"])
    parent.stop()
  })
})

// Issue 8: xstate memoizes each state node's transition candidates per event type
// for as long as the chart lives, so a parent processing `xstate.done.actor.<id>`
// of children with ever-new ids grows that cache without bound. The runtime drops
// a spawned child's done event when no transition of the parent's chart names it.
describe("tree ends of spawned children", () => {
  const kid = setup({ actions: { boom: () => { throw new Error("boom") } } }).createMachine({
    initial: "a",
    states: { a: { on: { GO: "b", FAIL: { actions: "boom" } } }, b: { type: "final" } }
  })
  const parentWith = (on: Record<string, { readonly actions: "count" }>) =>
    setup({
      types: { context: {} as { n: number; ends: number }, events: {} as { type: "SPAWN" } | { type: string } },
      actors: { kid },
      actions: { count: assign({ ends: ({ context }) => context.ends + 1 }) }
    }).createMachine({
      context: { n: 0, ends: 0 },
      on: {
        SPAWN: { actions: [spawnChild("kid", { id: ({ context }) => `kid:${context.n}` }), assign({ n: ({ context }) => context.n + 1 })] },
        ...on
      }
    })
  const run = (machine: ReturnType<typeof parentWith>, childEvent: "GO" | "FAIL", children = 3) => {
    const processed: Array<string> = []
    const actor = createLeanActor(machine, { inspect: (e) => void (e.type === "@xstate.snapshot" && e.actorRef === actor && processed.push(e.event.type)) })
    actor.subscribe({ error: () => {} })
    actor.start()
    for (let i = 0; i < children; i++) {
      actor.send({ type: "SPAWN" })
      ;(actor.getSnapshot().children as Record<string, AnyActorRef>)[`kid:${i}`]!.send({ type: childEvent })
    }
    return { actor, processed }
  }

  it("a done event no transition of the parent names is not processed by it", () => {
    const { actor, processed } = run(parentWith({}), "GO")
    expect(processed.filter((t) => t.startsWith("xstate.done.actor."))).toEqual([])
    expect(actor.getSnapshot().status).toBe("active")
  })

  it("a done event the parent names (exactly or by a wildcard) still reaches it", () => {
    expect(run(parentWith({ "xstate.done.actor.*": { actions: "count" } }), "GO").actor.getSnapshot().context.ends).toBe(3)
    expect(run(parentWith({ "xstate.done.actor.kid:1": { actions: "count" } }), "GO").actor.getSnapshot().context.ends).toBe(1)
    expect(run(parentWith({ "*": { actions: "count" } }), "GO").actor.getSnapshot().context.ends).toBe(3)
  })

  it("an unhandled error of a spawned child still errors the parent, as xstate intends", () => {
    const { actor, processed } = run(parentWith({}), "FAIL", 1)
    expect(processed).toContain("xstate.error.actor.kid:0")
    expect(actor.getSnapshot().status).toBe("error")
  })
})
