/**
 * The runtime's implementations of the one {@link Clock} type (src/protocol/clock.ts).
 *
 * - {@link makeEffectClock}: timers are fibers sleeping on Effect's `Clock`, so
 *   `TestClock.adjust` drives xstate delays in tests, and every pending timer
 *   is interrupted when the owning `Scope` closes (no stray timer outlives its
 *   session). Use it for every actor that lives inside an Effect scope.
 * - {@link realClock} / {@link makeRealClock}: the host's timers, for the
 *   Promise facade and hot paths that do not run inside Effect.
 *
 * @since 0.1.0
 */
import * as EffectClock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import { type Clock, systemClock } from "../protocol/clock.ts"

export type { Clock } from "../protocol/clock.ts"

/**
 * @deprecated The clock type is {@link Clock} (xstate's `{ setTimeout, clearTimeout }` plus `now()`).
 */
export type XStateClock = Clock

/**
 * An xstate clock whose timers are fibers running `Effect.sleep` in a
 * `FiberSet` owned by the current scope.
 *
 * Why: one clock for everything. Effect's `Clock` (and `TestClock` in tests)
 * then drives keepalive, request timeouts and backoff alike, and closing the
 * session's scope interrupts any timer still pending, whatever ended the session.
 * A timer fiber removes itself from the set when it fires or is cleared, so
 * long-lived sessions do not accumulate entries.
 */
export const makeEffectClock: Effect.Effect<Clock, never, Scope.Scope> = Effect.gen(function*() {
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  // The Clock service in scope now (TestClock in tests): `now()` reads the time the timers run on.
  const time = yield* EffectClock.Clock
  const clock: Clock = {
    now: () => time.currentTimeMillisUnsafe(),
    setTimeout: (fn: (...args: Array<any>) => void, ms: number): Fiber.Fiber<void> =>
      run(Effect.sleep(Math.max(0, ms)).pipe(Effect.andThen(Effect.sync(() => fn())))),
    clearTimeout: (fiber: Fiber.Fiber<void> | undefined): void => {
      fiber?.interruptUnsafe()
    }
  }
  return clock
})

/**
 * The host's timers, unwrapped ({@link systemClock}). Timers stay ref'd (a pending keepalive must
 * keep the process alive); xstate clears an actor's own timers when it stops.
 */
export const realClock: Clock = systemClock

/** A real clock that also knows its pending timers; see {@link makeRealClock}. */
export interface TrackedRealClock extends Clock {
  /** Timers scheduled and neither fired nor cleared yet. */
  readonly pending: number
  /** Clear every pending timer (call when the owning session stops). */
  clearAll(): void
}

/**
 * A real clock for one session that tracks its pending timers, so the
 * Promise facade can clear all of them on stop.
 *
 * Why: xstate's `actor.stop()` cancels only the delayed events the stopped
 * actor itself scheduled; a timer left by a child whose stop threw would keep
 * the process alive. Timers stay ref'd while the session runs and are always
 * cleared by `clearAll()` when it stops.
 */
export const makeRealClock = (): TrackedRealClock => {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  return {
    now: systemClock.now,
    setTimeout: (fn: (...args: Array<any>) => void, ms: number) => {
      const id = setTimeout(() => {
        timers.delete(id)
        fn()
      }, ms)
      timers.add(id)
      return id
    },
    clearTimeout: (id: ReturnType<typeof setTimeout> | undefined) => {
      if (id === undefined) return
      clearTimeout(id)
      timers.delete(id)
    },
    get pending() {
      return timers.size
    },
    clearAll: () => {
      for (const id of timers) clearTimeout(id)
      timers.clear()
    }
  }
}
