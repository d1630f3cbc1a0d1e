import { afterEach, describe, expect, it, vi } from "vitest"
import { makeCoarseClock } from "../src/runtime/CoarseClock.ts"

// Shared bucketed timers: never early, at most one resolution late, one host timer.
describe("CoarseClock", () => {
  afterEach(() => void vi.useRealTimers())

  it("fires bucketed timers at or after their deadline, at most one resolution late, from one host timer", () => {
    vi.useFakeTimers({ now: 0 })
    const clock = makeCoarseClock({ resolutionMs: 1_000, realBelowMs: 5_000 })
    const fired: Array<[string, number]> = []
    clock.setTimeout(() => void fired.push(["a", Date.now()]), 10_300)
    clock.setTimeout(() => void fired.push(["b", Date.now()]), 10_900)
    clock.setTimeout(() => void fired.push(["c", Date.now()]), 20_000)
    expect(clock.pending).toBe(3)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(10_299)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(701) // to t = 11 000
    expect(fired.map(([n]) => n)).toEqual(["a", "b"])
    for (const [, t] of fired) expect(t).toBeLessThanOrEqual(11_000)
    expect(fired[0]![1]).toBeGreaterThanOrEqual(10_300)
    vi.advanceTimersByTime(9_000)
    expect(fired.map(([n]) => n)).toEqual(["a", "b", "c"])
    expect(clock.pending).toBe(0)
    expect(clock.armed).toBe(false)
  })

  it("cancels bucketed timers and disarms when nothing is left; short delays use real timers", () => {
    vi.useFakeTimers({ now: 0 })
    const clock = makeCoarseClock({ resolutionMs: 1_000, realBelowMs: 5_000 })
    const fired: Array<string> = []
    const a = clock.setTimeout(() => void fired.push("a"), 30_000)
    const b = clock.setTimeout(() => void fired.push("b"), 30_000)
    clock.clearTimeout(a)
    expect(clock.pending).toBe(1)
    clock.clearTimeout(b)
    expect(clock.pending).toBe(0)
    expect(clock.armed).toBe(false)
    const short = clock.setTimeout(() => void fired.push("short"), 1_234)
    vi.advanceTimersByTime(1_233)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(["short"])
    clock.clearTimeout(short)
    vi.advanceTimersByTime(60_000)
    expect(fired).toEqual(["short"])
  })

  it("a timer that fired or was cleared no longer holds its callback (a bucket Set's dropped storage may still hold the entry)", () => {
    vi.useFakeTimers({ now: 0 })
    const clock = makeCoarseClock({ resolutionMs: 1_000, realBelowMs: 5_000 })
    // The callback closes over its session: an entry kept by a dropped hash table in old space would
    // keep the whole session reachable for the young GC (docs/performance.md).
    const cleared = clock.setTimeout(() => {}, 30_000) as { fn?: unknown }
    const fired = clock.setTimeout(() => {}, 10_000) as { fn?: unknown }
    expect(typeof cleared.fn).toBe("function")
    clock.clearTimeout(cleared)
    expect(cleared.fn).toBeUndefined()
    vi.advanceTimersByTime(11_000)
    expect(fired.fn).toBeUndefined()
    expect(clock.pending).toBe(0)
  })
})
