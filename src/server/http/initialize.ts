/**
 * A legacy `initialize` POST opens a session if admission control lets it
 * (`SessionLimiter`: sessions still in the handshake are evicted first, then the
 * longest-idle; 429 at a per-address/per-principal cap, 503 + Retry-After when
 * every session is busy). The session is supervised from here on: its scope under
 * the listener's, its registry entry, the hibernation sweeper running.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { httpStatusErrorCode, rpcError } from "../../protocol/errors.ts"
import type { JsonRpcRequest } from "../../protocol/jsonrpc.ts"
import { writeRpcError } from "../../transports/http/wire.ts"
import { type HttpEndpoint, register, releaseSession } from "./endpoint.ts"
import { Exchange } from "./Exchange.ts"
import { HttpSession } from "./HttpSession.ts"
import { receiveInto } from "./receive.ts"
import { startSweeper } from "./sweeper.ts"

/** The client's address as the socket reports it; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as its IPv4 address. */
export const remoteAddress = (req: IncomingMessage): string | undefined => {
  const a = req.socket.remoteAddress
  return a !== undefined && a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a
}

export const initialize = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, m: JsonRpcRequest, principal: string | undefined): void => {
  // Read only for a per-address cap: `socket.remoteAddress` caches `_peername` on the socket, and
  // sockets with and without it have different shapes, which made node's own response path
  // (`end`, `onFinish`, socket timeouts) megamorphic for every later request on any socket.
  const address = (ep.options.maxSessionsPerAddress ?? 0) > 0 ? remoteAddress(req) : undefined
  const admission = ep.limiter.admit(address, principal)
  if (!admission.ok) {
    return writeRpcError(res, admission.status, rpcError(httpStatusErrorCode(admission.status), admission.message), m.id, { "retry-after": ep.retryAfter })
  }
  const identity = ep.identities.get(req)
  const hs = new HttpSession(ep.server, ep.host, principal, identity === undefined ? ep.sessionOptions : { ...ep.sessionOptions, identity })
  // Its scope: released when the session ends; closed first by a runtime shutdown, it ends the session.
  ep.runtime.adopt(hs.session, ep.listener, releaseSession)
  ep.limiter.add(hs, address, principal)
  ep.sessions.set(hs.id, hs)
  startSweeper(ep)
  register(ep, hs)
  const ex = new Exchange(hs, ep.hub, res, m.id, false)
  hs.initExchange = ex
  hs.track(ex)
  receiveInto(ep, hs, ex, m)
  ex.watch()
}
