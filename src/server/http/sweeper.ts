/**
 * One hibernation sweeper for all of an endpoint's sessions (not a timer each),
 * running on the endpoint's clock only while there are sessions: every
 * `hibernateAfterMs / 2` (at least 100 ms) each session idle that long hibernates
 * its chart (see `ServerSession.hibernate`).
 */
import { every } from "../../protocol/clock.ts"
import type { HttpEndpoint } from "./endpoint.ts"

const sweep = (ep: HttpEndpoint): void => {
  if (ep.sessions.size === 0 || ep.closing !== undefined) return stopSweeper(ep)
  for (const hs of ep.sessions.values()) hs.hibernateIfIdleFor(ep.hibernateAfterMs)
}

/** Start the sweeper unless it runs or hibernation is off (`hibernateAfterMs: 0`). */
export const startSweeper = (ep: HttpEndpoint): void => {
  if (ep.sweeper !== undefined || ep.hibernateAfterMs <= 0) return
  ep.sweeper = every(ep.clock, Math.max(100, Math.floor(ep.hibernateAfterMs / 2)), () => sweep(ep), { unref: true })
}

export const stopSweeper = (ep: HttpEndpoint): void => {
  ep.sweeper?.()
  ep.sweeper = undefined
}
