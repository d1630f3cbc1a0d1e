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
