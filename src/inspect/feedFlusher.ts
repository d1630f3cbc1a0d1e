/**
 * When the inspector's feed is flushed: at most one flush pending, `flushMs` after the first line
 * queued since the last one (on the inspector's clock; a turn of the event loop for `flushMs <= 0`).
 * A flush that held something back for the next one (feedBatch.ts: new sessions under churn) arms
 * the next flush itself, so what it held goes out even if nothing else happens. While `keepAlive`
 * says so (a client is connected), each flush arms the next: the flush also finds what changed with
 * nothing queued (sessions polled by their `infoVersion`). Not with `flushMs <= 0`: that would spin.
 */
import { type Clock, unrefTimer } from "../protocol/clock.ts"

export interface FeedFlusher {
  /** A line was queued: flush within `flushMs` (no-op while a flush is pending or running). */
  readonly schedule: () => void
  /** Drop the pending flush (the inspector closes). */
  readonly cancel: () => void
}

/** `run` sends what is queued and returns whether it held something back for the next flush. */
export const makeFeedFlusher = (clock: Clock, flushMs: number, run: () => boolean, keepAlive: () => boolean = () => false): FeedFlusher => {
  let pending = false
  let timer: unknown
  const fire = () => {
    timer = undefined
    // Still pending while it runs: the lines the flush itself queues go out in it, not in another one.
    const held = run()
    pending = false
    if (held || (flushMs > 0 && keepAlive())) schedule()
  }
  const schedule = () => {
    if (pending) return
    pending = true
    if (flushMs <= 0) setImmediate(fire)
    else timer = unrefTimer(clock.setTimeout(fire, flushMs))
  }
  const cancel = () => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
    pending = false
  }
  return { schedule, cancel }
}
