/**
 * The session's end: `close` asks the chart (which drains what is in flight), and
 * `release` lets go of everything once, whoever ended it (the chart, the transport,
 * an error): requests aborted, server→client requests rejected, the sleep's timer
 * cleared, the owner told, `ended` settled.
 */
import type { SessionEnd } from "../../runtime/SessionHandle.ts"
import type { TransportCloseDetail } from "../../transports/Transport.ts"
import type { ServerSession } from "../ServerSession.ts"
import { ensureActor } from "./chartActor.ts"
import { notifyListeners } from "./handle.ts"
import { abort } from "./legacyRequests.ts"

export const close = (
  s: ServerSession,
  options?: { readonly drainMs?: number; readonly reason?: string; readonly cause?: TransportCloseDetail["cause"] }
): Promise<void> => {
  if (s.released) return s.ended.then(() => undefined)
  s.completeSubscriptions()
  const reason = options?.reason ?? "closed by server"
  if (options?.cause !== undefined) s.closeCause ??= options.cause
  // Requests in flight (modern ones run without the chart) are drained by the chart's `closing`.
  if (s.hibernated || (s.actor === undefined && s.inFlight.size > 0)) ensureActor(s)
  const actor = s.actor
  if (!actor) {
    release(s, s.closeCause === undefined ? { expected: true, reason } : { expected: true, reason, cause: s.closeCause })
  } else {
    if (options?.drainMs !== undefined) {
      const clock = s.clock
      const t = clock.setTimeout(() => s.actor?.send({ type: "TRANSPORT_CLOSED", reason }), options.drainMs)
      void s.ended.then(() => clock.clearTimeout(t))
    }
    actor.send({ type: "CLOSE", reason, inFlight: s.inFlight.size })
  }
  return s.ended.then(() => undefined)
}

export const release = (s: ServerSession, end: SessionEnd): void => {
  if (s.released) return
  s.released = true
  // Told first: what its actor's stop and its owner's release hook run into may ask how it ended (the inspector).
  s.endedWith = end
  const wasOperating = s.operating
  s.operating = false
  s.server.unwatch(s)
  if (wasOperating) s.server.sessionEvents?.("left", s)
  for (const [id, entry] of s.inFlight) abort(s, id, entry, "session closed")
  s.outbound?.rejectAll()
  notifyListeners(s)
  s.actor?.stop()
  const sleep = s.hibernated
  s.hibernated = undefined
  sleep?.end()
  if (s.owner !== undefined) s.owner.sessionReleased(end)
  else s.options.onRelease?.(end)
  s.resolveEnded?.(end)
  s.listeners?.clear()
}
