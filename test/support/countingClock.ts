import { SimulatedClock } from "xstate"
import type { Clock } from "../../src/protocol/clock.ts"

/**
 * xstate's SimulatedClock as the project's {@link Clock}, counting the timers
 * still pending (leak checks). `increment(ms)` moves time; timers armed while a
 * step fires run on the next step.
 */
export const countingClock = () => {
  const sim = new SimulatedClock()
  const live = new Set<unknown>()
  const clock: Clock = {
    now: () => sim.now(),
    setTimeout: (fn, ms) => {
      const h: unknown = sim.setTimeout(() => {
        live.delete(h)
        fn()
      }, ms)
      live.add(h)
      return h
    },
    clearTimeout: (h) => {
      live.delete(h)
      sim.clearTimeout(h as number)
    }
  }
  return {
    clock,
    increment: (ms: number) => sim.increment(ms),
    get pending() {
      return live.size
    }
  }
}

/**
 * A counting clock whose `armed` resolves when a timer of exactly `ms` is set on it:
 * a test moves time only once the deadline it is about is running.
 */
export const armedClock = (ms: number) => {
  const sim = countingClock()
  let armed!: () => void
  const isArmed = new Promise<void>((resolve) => (armed = resolve))
  const clock: Clock = {
    now: sim.clock.now,
    clearTimeout: sim.clock.clearTimeout,
    setTimeout: (fn, after) => {
      const h = sim.clock.setTimeout(fn, after)
      if (after === ms) armed()
      return h
    }
  }
  return { sim, clock, armed: isArmed }
}
