import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import { createActor, setup } from "xstate"
import { makeEffectClock, makeRealClock } from "../src/runtime/XStateClock.ts"

const timerMachine = setup({}).createMachine({
  id: "timer",
  initial: "waiting",
  states: {
    waiting: { after: { 5000: "fired" } },
    fired: {}
  }
})

describe("makeEffectClock", () => {
  it.effect("drives xstate `after` delays from TestClock: not at 4999 ms, at 5 s", () =>
    Effect.gen(function*() {
      const clock = yield* makeEffectClock
      const actor = createActor(timerMachine, { clock }).start()
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(actor.getSnapshot().value, "waiting")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(actor.getSnapshot().value, "fired")
      actor.stop()
    }))

  it.effect("closing the scope interrupts pending timers", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const clock = yield* makeEffectClock.pipe(Scope.provide(scope))
      let fired = 0
      clock.setTimeout(() => fired++, 1_000)
      clock.setTimeout(() => fired++, 2_000)
      // The actor is deliberately not stopped: only the scope cleans up its timers.
      const actor = createActor(timerMachine, { clock }).start()
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(fired, 0)
      assert.strictEqual(actor.getSnapshot().value, "waiting")
    }))

  it.effect("clearTimeout cancels one timer and leaves the others", () =>
    Effect.gen(function*() {
      const clock = yield* makeEffectClock
      const fired: Array<string> = []
      const a = clock.setTimeout(() => fired.push("a"), 100)
      clock.setTimeout(() => fired.push("b"), 200)
      clock.clearTimeout(a)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(fired, ["b"])
    }))

  it.effect("actor.stop() cancels its scheduled delay", () =>
    Effect.gen(function*() {
      const clock = yield* makeEffectClock
      let fires = 0
      const counted = { setTimeout: (fn: () => void, ms: number) => clock.setTimeout(() => { fires++; fn() }, ms), clearTimeout: clock.clearTimeout }
      const actor = createActor(timerMachine, { clock: counted }).start()
      actor.stop()
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(fires, 0)
    }))
})

describe("makeRealClock", () => {
  it("tracks pending timers and clears them all", () => {
    const clock = makeRealClock()
    let fired = 0
    clock.setTimeout(() => fired++, 60_000)
    const b = clock.setTimeout(() => fired++, 60_000)
    assert.strictEqual(clock.pending, 2)
    clock.clearTimeout(b)
    assert.strictEqual(clock.pending, 1)
    clock.clearAll()
    assert.strictEqual(clock.pending, 0)
    assert.strictEqual(fired, 0)
  })

  it("forgets a timer once it fired", async () => {
    const clock = makeRealClock()
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 0))
    assert.strictEqual(clock.pending, 0)
  })
})
