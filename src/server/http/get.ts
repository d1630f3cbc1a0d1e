/**
 * GET: a legacy session's standalone SSE stream (one per session, else 409), or,
 * with `Last-Event-ID`, the resumption of a stream the client lost (200 replay,
 * 204 nothing left, 409 already connected, 400 unknown id).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { acceptsEventStream, header, HEADER_LAST_EVENT_ID, writeEmpty, writeRpcError } from "../../transports/http/wire.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import { lookup } from "./lookup.ts"
import { badRequest } from "./replies.ts"

export const get = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
  if (!acceptsEventStream(req)) {
    return writeRpcError(res, 406, rpcError(ErrorCode.NotAcceptable, "Not Acceptable: Accept must list text/event-stream"))
  }
  const hs = lookup(ep, req, res, principal, pv)
  if (hs === undefined) return
  const last = header(req, HEADER_LAST_EVENT_ID)
  if (last === undefined) {
    if (!hs.openStandalone(res)) {
      writeRpcError(res, 409, rpcError(ErrorCode.Conflict, "Conflict: only one standalone SSE stream is allowed per session"))
    }
    return
  }
  switch (hs.resume(res, last)) {
    case 200:
      return
    case 204:
      return writeEmpty(res, 204)
    case 409:
      return writeRpcError(res, 409, rpcError(ErrorCode.Conflict, "Conflict: that stream is already connected"))
    case 400:
      return writeRpcError(res, 400, badRequest(`unknown Last-Event-ID ${JSON.stringify(last)}`))
  }
}
