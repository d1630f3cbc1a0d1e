import type { SimulatedClock } from "xstate"
import { waitForTurns } from "./waitFor.ts"

/** A few event-loop turns: what a timer fired on virtual time needs to reach its promise. */
export const turns = () => waitForTurns(() => false, "", 20).catch(() => {})

/**
 * Moves `sim` forward to `t` ms (since this helper was made) in 100 ms steps, with a few
 * event-loop turns after each: a timer armed in one step fires on the next (a single
 * `increment(t)` would skip the timers armed by the ones it fires).
 */
export const steppedTime = (sim: SimulatedClock) => {
  let now = 0
  return async (t: number): Promise<void> => {
    while (now < t) {
      const step = Math.min(100, t - now)
      sim.increment(step)
      now += step
      await turns()
    }
  }
}
