/**
 * Closing an endpoint: new requests get 503; every session closes with `drainMs` for its
 * in-flight requests; modern listen streams complete; after `drainMs` + 1 s (on the
 * endpoint's clock) what is left is failed or released by force; then the listener's
 * chart ends. Idempotent: a second call gets the same promise.
 */
import { sleepOn } from "../../protocol/clock.ts"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { type HttpEndpoint, releaseSession } from "./endpoint.ts"
import type { HttpCloseOptions } from "./options.ts"
import { stopSweeper } from "./sweeper.ts"

export const closeEndpoint = (ep: HttpEndpoint, closeOptions?: HttpCloseOptions): Promise<void> => {
  if (ep.closing !== undefined) return ep.closing
  const { sessions, host } = ep
  ep.listener.beginClose("server shutting down")
  stopSweeper(ep)
  const drainMs = closeOptions?.drainMs ?? 5_000
  ep.closing = (async () => {
    const all = new Promise<void>((resolve) => {
      ep.drained = resolve
      if (sessions.size === 0 && host.live.size === 0) resolve()
    })
    for (const hs of [...sessions.values()]) void hs.session.close({ drainMs, reason: "server shutting down" })
    // Modern listen streams would otherwise hold the drain open: they end with their `complete` result.
    for (const r of [...host.live.values()]) r.completeSubscriptions()
    const stop = new AbortController()
    await Promise.race([all, sleepOn(ep.clock, drainMs + 1_000, stop.signal)])
    stop.abort()
    const error = rpcError(ErrorCode.ConnectionClosed, "Server shutting down")
    for (const r of [...host.live.values()]) r.fail(error)
    // Sessions whose close did not finish in time are released by force.
    for (const hs of [...sessions.values()]) releaseSession(hs.session)
    await new Promise<void>((resolve) => setImmediate(resolve))
    // Every session's scope is closed by now (or closed here): the listener's chart ends.
    await ep.listener.release()
  })()
  return ep.closing
}
