/**
 * Progress notifications of one request (progress.mdx): only increasing values, none
 * after the response, and an optional rate limit (`progressIntervalMs`: at most one per
 * interval, the latest value held back and sent when the window ends).
 */
import { type JsonRpcMessage, notification, type RequestId } from "../../protocol/jsonrpc.ts"
import type { Clock } from "../../protocol/clock.ts"
import type { InFlight } from "./InFlight.ts"

/** What progress needs of its session. */
export interface ProgressOut {
  readonly intervalMs: number
  readonly clock: Clock
  now(): number
  send(message: JsonRpcMessage, related: RequestId): void
}

/** Report progress of `entry` (ignored after its response, or when not increasing). */
export const reportProgress = (out: ProgressOut, entry: InFlight, progress: number, total?: number, message?: string): void => {
  const token = entry.request.params?._meta?.progressToken
  // Progress stops after completion (progress.mdx:L94) and must increase (L53).
  if (token === undefined || entry.done || !(progress > entry.lastProgress)) return
  entry.lastProgress = progress
  const params: Record<string, unknown> = { progressToken: token, progress }
  if (total !== undefined) params.total = total
  if (message !== undefined) params.message = message
  const interval = out.intervalMs
  if (interval <= 0) return out.send(notification("notifications/progress", params), entry.request.id)
  // Rate limit (progress.mdx: SHOULD): at most one notification per interval; within a
  // window only the latest value is kept (still increasing), sent when the window ends.
  const now = out.now()
  if (entry.progressTimer === undefined && now - entry.lastProgressSentAt >= interval) {
    entry.lastProgressSentAt = now
    return out.send(notification("notifications/progress", params), entry.request.id)
  }
  entry.pendingProgress = params
  if (entry.progressTimer === undefined) {
    const clock = out.clock
    entry.progressTimer = {
      clock,
      timer: clock.setTimeout(() => {
        entry.progressTimer = undefined
        flushProgress(out, entry)
      }, Math.max(1, interval - (now - entry.lastProgressSentAt)))
    }
  }
}

/** Whether `entry` has a value held back by the rate limit (or its timer). */
export const holdsProgress = (entry: InFlight): boolean => entry.progressTimer !== undefined || entry.pendingProgress !== undefined

/** Send a progress value held back by the rate limit (before the response: none may follow it); a done entry's is dropped. */
export const flushProgress = (out: ProgressOut, entry: InFlight): void => {
  if (entry.progressTimer !== undefined) {
    entry.progressTimer.clock.clearTimeout(entry.progressTimer.timer)
    entry.progressTimer = undefined
  }
  const pending = entry.pendingProgress
  if (pending === undefined || entry.done) return
  entry.pendingProgress = undefined
  entry.lastProgressSentAt = out.now()
  out.send(notification("notifications/progress", pending), entry.request.id)
}
