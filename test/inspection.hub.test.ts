import { createMachine } from "xstate"
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
})
