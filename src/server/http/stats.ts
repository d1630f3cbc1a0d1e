/** An endpoint's internal sizes, for leak checks and the inspector. */
import type { HttpEndpoint } from "./endpoint.ts"

/** Internal sizes; every one returns to 0 once no session or request is live (leak checks). */
export interface HttpServerStats {
  readonly sessions: number
  /** Sessions whose chart is hibernated (idle; actor stopped, snapshot kept). */
  readonly hibernated: number
  readonly openStreams: number
  readonly pendingExchanges: number
  readonly modernInFlight: number
  readonly storedSessions: number
  readonly keepAliveTimer: boolean
  /** Sessions still in the handshake (admission control's budget). */
  readonly handshaking: number
  /** Sessions evicted by admission control so far. */
  readonly evicted: number
}

export const endpointStats = (ep: HttpEndpoint): HttpServerStats => {
  let pendingExchanges = 0
  let hibernated = 0
  for (const hs of ep.sessions.values()) {
    pendingExchanges += hs.exchangeCount
    if (hs.session.isHibernated) hibernated++
  }
  return {
    sessions: ep.sessions.size,
    hibernated,
    openStreams: ep.hub.size,
    pendingExchanges,
    modernInFlight: ep.host.live.size,
    storedSessions: ep.eventStore?.sessionCount ?? 0,
    keepAliveTimer: ep.hub.ticking,
    handshaking: ep.limiter.handshakes,
    evicted: ep.limiter.evictions
  }
}
