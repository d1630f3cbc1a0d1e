/**
 * How much of a stream's output has not reached the OS yet, to tell a slow reader (some
 * of it is taken in a while) from one that stopped (none is). `writableLength` counts a
 * write until all of it is out, so one large write shows no progress there; a socket's
 * libuv handle (a TCP connection, or stdout to a Node parent) counts the write in progress
 * down as the peer takes it (`writeQueueSize`, what net.Socket's `bufferSize` read).
 */
import type { Writable } from "node:stream"
import { type Clock, unrefTimer } from "../protocol/clock.ts"

export interface UnsentOutput {
  readonly length: number
  readonly queued: number
}

export const unsentOutput = (stream: Writable): UnsentOutput => {
  const handle = (stream as { readonly _handle?: { readonly writeQueueSize?: unknown } | null })._handle
  return { length: stream.writableLength, queued: typeof handle?.writeQueueSize === "number" ? handle.writeQueueSize : 0 }
}

/** Some output was taken between `before` and `now`: the first count shrank, or it stayed and the second did. */
export const outputTaken = (before: UnsentOutput, now: UnsentOutput): boolean =>
  now.length < before.length || (now.length === before.length && now.queued < before.queued)

/**
 * A deadline for a reader that stopped, not for one that is slow: at the end of each period of `ms`
 * on `clock`, `unsent()` gives the output each stream still holds (by any key); if some of it was
 * taken since the last look another period starts, else (none taken, or none left) `expired` runs.
 * Returns a cancel (call it when the output is out or the stream closed). With `unref`, the timer
 * does not keep the process alive.
 */
export const stallDeadline = (
  clock: Clock,
  ms: number,
  unsent: () => ReadonlyMap<unknown, UnsentOutput>,
  expired: () => void,
  options: { readonly unref?: boolean } = {}
): (() => void) => {
  let last = unsent()
  let timer: unknown = undefined
  const arm = (): void => {
    timer = clock.setTimeout(look, ms)
    if (options.unref === true) unrefTimer(timer)
  }
  const look = (): void => {
    timer = undefined
    const now = unsent()
    let taken = false
    for (const [key, output] of now) {
      const before = last.get(key)
      if (before === undefined || outputTaken(before, output)) taken = true
    }
    if (!taken) return expired()
    last = now
    arm()
  }
  arm()
  return () => {
    if (timer !== undefined) clock.clearTimeout(timer)
    timer = undefined
  }
}
