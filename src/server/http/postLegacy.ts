/**
 * POST of one legacy message: `initialize` opens a session (initialize.ts); anything
 * else goes to the session it names — a request on an exchange of its own (400 if
 * its id is already in flight), a notification or response answered 202.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { decodeValue, idInFlightReply } from "../../protocol/jsonrpc.ts"
import { writeEmpty, writeRpcError } from "../../transports/http/wire.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import { Exchange } from "./Exchange.ts"
import { initialize } from "./initialize.ts"
import { lookup } from "./lookup.ts"
import { cancelledRequestId, receiveInto } from "./receive.ts"

export const postLegacy = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, value: unknown, principal: string | undefined, pv: string | undefined): void => {
  const d = decodeValue(value, ep.options.maxNestingDepth)
  if (d._tag !== "Message") {
    const error = d._tag === "Invalid" && d.reply !== undefined ? d.reply.error : rpcError(ErrorCode.InvalidRequest, "Invalid Request")
    return writeRpcError(res, 400, error, d._tag === "Invalid" ? d.reply?.id : undefined)
  }
  const m = d.message
  const isRequest = "method" in m && "id" in m
  if (isRequest && m.method === "initialize") return initialize(ep, req, res, m, principal)
  const hs = lookup(ep, req, res, principal, pv)
  if (hs === undefined) return
  // Same principal (lookup checked it); the latest token's claims are what policies see (only an auth hook sets them).
  if (ep.options.authenticate !== undefined) {
    const identity = ep.identities.get(req)
    if (identity !== undefined) hs.session.identity = identity
  }
  if (!isRequest) {
    receiveInto(ep, hs, undefined, m)
    const cancelled = cancelledRequestId(m)
    if (cancelled !== undefined) hs.cancelled(cancelled)
    return writeEmpty(res, 202)
  }
  if (hs.exchangeFor(m.id) !== undefined) {
    return writeRpcError(res, 400, idInFlightReply(m.id).error, m.id)
  }
  const ex = new Exchange(hs, ep.hub, res, m.id, false)
  hs.track(ex)
  receiveInto(ep, hs, ex, m)
  ex.watch()
}
