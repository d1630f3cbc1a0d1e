import { createActor, createMachine, type InspectionEvent as XInspectionEvent } from "xstate"
import { describe, expect, it } from "vitest"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { type InspectionEvent, inspection, inspectOption } from "../src/runtime/inspection.ts"

const toggle = createMachine({ id: "toggle", initial: "off", states: { off: { on: { FLIP: "on" } }, on: { on: { FLIP: "off" } } } })

describe("inspection hub", () => {
  it("has no observer while nobody listens, so actors get no inspect option", () => {
    expect(inspection.listenerCount).toBe(0)
    expect(inspection.observer).toBeUndefined()
    expect(inspectOption()).toEqual({})
  })

  it("fans every event of an actor created while listening out to each listener, until unsubscribed", () => {
    const a: Array<InspectionEvent> = []
    const b: Array<InspectionEvent> = []
    const stopA = inspection.subscribe((e) => a.push(e))
    const stopB = inspection.subscribe((e) => b.push(e))
    expect(typeof inspection.observer).toBe("function")
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    const snapshots = a.filter((e) => e.type === "@xstate.snapshot")
    expect(snapshots.map((e) => (e as unknown as { snapshot: { value: unknown } }).snapshot.value)).toEqual(["off", "on"])
    expect(a.some((e) => e.type === "@xstate.actor" && e.actorRef === actor)).toBe(true)
    expect(a.every((e) => e.rootId === actor.sessionId)).toBe(true)
    expect(b.length).toBe(a.length)
    stopA()
    stopA() // idempotent
    actor.send({ type: "FLIP" })
    expect(b.length).toBeGreaterThan(a.length)
    stopB()
    actor.stop()
    expect(inspection.observer).toBeUndefined()
  })

  it("does not see actors created while nobody listened (the hot path pays nothing)", () => {
    const actor = createLeanActor(toggle).start()
    const seen: Array<InspectionEvent> = []
    const stop = inspection.subscribe((e) => seen.push(e))
    actor.send({ type: "FLIP" })
    stop()
    actor.stop()
    expect(seen).toEqual([])
  })

  it("a throwing listener does not stop the others nor the actor", () => {
    const seen: Array<string> = []
    const errors: Array<unknown> = []
    const original = console.error
    console.error = (...args: Array<unknown>) => errors.push(args)
    const stop1 = inspection.subscribe(() => {
      throw new Error("boom")
    })
    const stop2 = inspection.subscribe((e) => seen.push(e.type))
    try {
      const actor = createLeanActor(toggle).start()
      actor.send({ type: "FLIP" })
      expect(actor.getSnapshot().value).toBe("on")
      actor.stop()
    } finally {
      stop1()
      stop2()
      console.error = original
    }
    expect(seen).toContain("@xstate.snapshot")
    expect(errors.length).toBeGreaterThan(0)
  })

  it("a listener gets only the kinds it asked for, and can ask for more while it listens", () => {
    const got: Array<string> = []
    const stop = inspection.subscribe((e) => got.push(e.type), { kinds: ["@xstate.snapshot"] })
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    expect(new Set(got)).toEqual(new Set(["@xstate.snapshot"]))
    got.length = 0
    stop.want(["@xstate.microstep", "@xstate.event"])
    actor.send({ type: "FLIP" })
    expect(new Set(got)).toEqual(new Set(["@xstate.event", "@xstate.microstep"]))
    stop()
    actor.stop()
  })

  it("hands over xstate's own event objects (stamped with rootId, not copied), children included, root announced once", () => {
    const got: Array<InspectionEvent> = []
    const stop = inspection.subscribe((e) => got.push(e))
    const parent = createLeanActor(toggle)
    const child = createLeanActor(toggle, { parent })
    parent.start()
    child.start()
    child.send({ type: "FLIP" })
    stop()
    expect(got.filter((e) => e.type === "@xstate.actor" && e.actorRef === parent)).toHaveLength(1)
    expect(got.some((e) => e.type === "@xstate.snapshot" && e.actorRef === child)).toBe(true)
    expect(got.every((e) => e.rootId === parent.sessionId)).toBe(true)
    parent.stop()
  })

  it("observers given to xstate (the inspect option, system.inspect) still get every event, once, next to the hub's listeners", () => {
    const own: Array<string> = []
    const later: Array<string> = []
    const hub: Array<string> = []
    const stop = inspection.subscribe((e) => hub.push(e.type), { kinds: ["@xstate.snapshot"] })
    const actor = createLeanActor(toggle, { inspect: (e: XInspectionEvent) => void own.push(e.type) })
    const sub = actor.system.inspect({ next: (e: XInspectionEvent) => void later.push(e.type) })
    actor.start()
    actor.send({ type: "FLIP" })
    expect(own.filter((t) => t === "@xstate.snapshot")).toHaveLength(2)
    expect(own).toContain("@xstate.microstep") // every kind, as xstate sends them
    expect(later.filter((t) => t === "@xstate.snapshot")).toHaveLength(2)
    expect(hub).toEqual(["@xstate.snapshot", "@xstate.snapshot"])
    sub.unsubscribe()
    actor.send({ type: "FLIP" })
    expect(later.filter((t) => t === "@xstate.snapshot")).toHaveLength(2)
    expect(own.filter((t) => t === "@xstate.snapshot")).toHaveLength(3)
    stop()
    actor.stop()
  })

  it("xstate still has the internal the dispatcher replaces (system._sendInspectionEvent): an upgrade that moves it fails here", () => {
    const system = createActor(toggle).system as unknown as { _sendInspectionEvent?: unknown; inspect?: unknown }
    expect(typeof system._sendInspectionEvent).toBe("function")
    expect(typeof system.inspect).toBe("function")
  })

  it("sees the children a root invokes while it is being constructed (a client session's `requests`)", () => {
    const parent = createMachine({ id: "parent", invoke: { id: "kid", src: toggle }, initial: "on", states: { on: {} } })
    const got: Array<InspectionEvent> = []
    const stop = inspection.subscribe((e) => got.push(e))
    const actor = createLeanActor(parent).start()
    actor.getSnapshot().children.kid!.send({ type: "FLIP" })
    stop()
    const kid = actor.getSnapshot().children.kid!
    expect(got.filter((e) => e.type === "@xstate.actor").map((e) => e.actorRef)).toEqual([actor, kid])
    expect(got.filter((e) => e.type === "@xstate.snapshot" && e.actorRef === kid)).toHaveLength(2)
    expect(got.filter((e) => e.type === "@xstate.snapshot" && e.actorRef === actor).length).toBeGreaterThan(0)
    actor.stop()
  })
})
