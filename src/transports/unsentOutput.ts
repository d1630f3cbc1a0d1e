/**
 * How much of a stream's output has not reached the OS yet, to tell a slow reader (some
 * of it is taken in a while) from one that stopped (none is). `writableLength` counts a
 * write until all of it is out, so one large write shows no progress there; a socket's
 * libuv handle (a TCP connection, or stdout to a Node parent) counts the write in progress
 * down as the peer takes it (`writeQueueSize`, what net.Socket's `bufferSize` read).
 */
import type { Writable } from "node:stream"

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
