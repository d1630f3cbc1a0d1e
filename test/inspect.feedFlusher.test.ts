/**
 * The inspector feed's flush schedule (src/inspect/feedFlusher.ts), on a simulated clock: one flush
 * pending at a time, `flushMs` after the first line; lines queued by the flush itself go out in it;
 * a flush that held something back arms the next one; closing drops the pending one.
 */
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeFeedFlusher } from "../src/inspect/feedFlusher.ts"

describe("inspector feed flusher", () => {
  it("one flush per flushMs however many lines; a line queued by the flush itself arms nothing", () => {
    const clock = new SimulatedClock()
    let runs = 0
    const flusher = makeFeedFlusher(clock, 50, () => {
      runs++
      flusher.schedule() // the flush's own lines (a drain sends): no second flush for them
      return false
    })
    for (let i = 0; i < 10; i++) flusher.schedule()
    clock.increment(49)
    expect(runs).toBe(0)
    clock.increment(1)
    expect(runs).toBe(1)
    clock.increment(500)
    expect(runs).toBe(1)
  })

  it("a flush that held something back runs again flushMs later with nothing else queued, then stops", () => {
    const clock = new SimulatedClock()
    const holds = [true, false]
    let runs = 0
    const flusher = makeFeedFlusher(clock, 50, () => (runs++, holds.shift() ?? false))
    flusher.schedule()
    clock.increment(50)
    expect(runs).toBe(1)
    clock.increment(50)
    expect(runs).toBe(2)
    clock.increment(500)
    expect(runs).toBe(2)
  })

  it("while keepAlive holds, each flush arms the next with nothing queued; once it stops, so do they; never with flushMs 0", () => {
    const clock = new SimulatedClock()
    let connected = true
    let runs = 0
    const flusher = makeFeedFlusher(clock, 50, () => (runs++, false), () => connected)
    flusher.schedule()
    clock.increment(50)
    clock.increment(50)
    clock.increment(50)
    expect(runs).toBe(3)
    connected = false
    clock.increment(50) // the flush already armed runs, and arms nothing
    clock.increment(500)
    expect(runs).toBe(4)
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0)
    // flushMs 0 (a turn of the event loop): no re-arming, or it would spin.
    let spins = 0
    const immediate = makeFeedFlusher(clock, 0, () => (spins++, false), () => true)
    immediate.schedule()
    return new Promise<void>((resolve) => setImmediate(() => setImmediate(() => {
      expect(spins).toBe(1)
      resolve()
    })))
  })

  it("cancel drops the pending flush", () => {
    const clock = new SimulatedClock()
    let runs = 0
    const flusher = makeFeedFlusher(clock, 50, () => (runs++, false))
    flusher.schedule()
    flusher.cancel()
    clock.increment(500)
    expect(runs).toBe(0)
  })
})
