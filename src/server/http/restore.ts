/**
 * Hibernated sessions as plain data: `persistSessions` hands out every idle session
 * (left out: those with work or a stream open); `restoreSessions` serves sessions
 * another server persisted, on the same ids, hibernated until their next lifecycle event.
 */
import { isWellFormedSessionId } from "../../transports/http/wire.ts"
import { type HttpEndpoint, register, releaseSession } from "./endpoint.ts"
import { HttpSession, type PersistedHttpSession } from "./HttpSession.ts"
import { startSweeper } from "./sweeper.ts"

export const persistSessions = (ep: HttpEndpoint): ReadonlyArray<PersistedHttpSession> => [...ep.sessions.values()].flatMap((hs) => hs.persist() ?? [])

/** Returns how many were taken (not while closing, nor a malformed or live id). */
export const restoreSessions = (ep: HttpEndpoint, persisted: ReadonlyArray<PersistedHttpSession>): number => {
  let taken = 0
  for (const p of persisted) {
    if (ep.closing !== undefined || typeof p.id !== "string" || !isWellFormedSessionId(p.id) || ep.sessions.has(p.id)) continue
    const hs = new HttpSession(ep.server, ep.host, p.principal, ep.sessionOptions, p)
    // Supervised like a new session: its scope under the listener's, its registry entry.
    ep.runtime.adopt(hs.session, ep.listener, releaseSession)
    ep.limiter.add(hs, undefined, p.principal)
    ep.limiter.ready(hs) // restored in `operating`: past its handshake
    ep.sessions.set(hs.id, hs)
    register(ep, hs)
    taken++
  }
  if (taken > 0) startSweeper(ep)
  return taken
}
