/**
 * An xstate clock for long, rarely-firing timers shared by many sessions (the
 * handshake and idle deadlines of thousands of HTTP sessions): timers land in
 * buckets of `resolutionMs` driven by ONE host timer, so scheduling and
 * cancelling is a Set insert/delete instead of a Node timer each. A timer
 * fires at or after its deadline (up to one resolution late), never early.
 * Delays shorter than `realBelowMs` go straight to the base clock: precision matters there.
 *
 * It is not a time source of its own: it runs on a base {@link Clock} (the
 * system clock by default, an Effect-backed or simulated one in tests), so
 * virtual time drives it like every other timer.
 */
import { type Clock, systemClock, unrefTimer } from "../protocol/clock.ts"

export interface CoarseClock extends Clock {
  /** Bucketed timers pending (real ones not counted). */
  readonly pending: number
  /** Whether the shared host timer is armed. */
  readonly armed: boolean
}

interface Entry {
  /** Emptied once the timer fired or was cleared: a bucket `Set`'s dropped tables keep the entry, not its session (see ClearingMap.ts). */
  fn: (() => void) | undefined
  readonly tick: number
}
type Handle = Entry | { readonly real: unknown }

export const makeCoarseClock = (options: { readonly resolutionMs?: number; readonly realBelowMs?: number; readonly base?: Clock } = {}): CoarseClock => {
  const res = options.resolutionMs ?? 1_000
  const realBelow = options.realBelowMs ?? 10 * res
  const base = options.base ?? systemClock
  // The hot path (every session deadline) reads the time twice: skip the indirection for the system clock.
  const now = base === systemClock ? Date.now : () => base.now()
  const buckets = new Map<number, Set<Entry>>()
  let timer: unknown
  let armedTick = Infinity
  let pending = 0

  const arm = (tick: number) => {
    if (tick >= armedTick) return
    if (timer !== undefined) base.clearTimeout(timer)
    armedTick = tick
    // The sessions' own sockets keep the process alive, not their deadlines.
    timer = unrefTimer(base.setTimeout(fire, Math.max(0, tick * res - now())))
  }
  const fire = () => {
    timer = undefined
    armedTick = Infinity
    const current = Math.floor(now() / res)
    let next = Infinity
    for (const [tick, entries] of buckets) {
      if (tick <= current) {
        buckets.delete(tick)
        for (const e of entries) {
          pending--
          const fn = e.fn!
          e.fn = undefined
          fn()
        }
      } else if (tick < next) next = tick
    }
    // Timers scheduled by the callbacks above re-armed already; this covers the rest.
    if (next !== Infinity) arm(next)
  }

  return {
    now,
    setTimeout: (fn: (...args: Array<any>) => void, ms: number): Handle => {
      if (ms < realBelow) return { real: base.setTimeout(fn, ms) }
      const tick = Math.ceil((now() + ms) / res)
      const entry: Entry = { fn, tick }
      let bucket = buckets.get(tick)
      if (bucket === undefined) buckets.set(tick, (bucket = new Set()))
      bucket.add(entry)
      pending++
      arm(tick)
      return entry
    },
    clearTimeout: (handle: Handle | undefined): void => {
      if (handle === undefined) return
      if ("real" in handle) return base.clearTimeout(handle.real)
      const bucket = buckets.get(handle.tick)
      if (bucket?.delete(handle)) {
        handle.fn = undefined
        pending--
        if (bucket.size === 0) buckets.delete(handle.tick)
        if (buckets.size === 0 && timer !== undefined) {
          base.clearTimeout(timer)
          timer = undefined
          armedTick = Infinity
        }
      }
    },
    get pending() {
      return pending
    },
    get armed() {
      return timer !== undefined
    }
  }
}
