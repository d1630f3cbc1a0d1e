/**
 * The legacy session a request names by `Mcp-Session-Id`: 400 when missing or
 * malformed, 404 when unknown, ended, or bound to another principal (which is
 * indistinguishable from a missing one); with `versionHeaderMustMatch`, 400 for
 * a version header other than the negotiated one.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { header, HEADER_SESSION_ID, isWellFormedSessionId, writeRpcError } from "../../transports/http/wire.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import type { HttpSession } from "./HttpSession.ts"
import { badRequest, SESSION_NOT_FOUND } from "./replies.ts"

/** The session a request names, or undefined after answering 400/404. */
export const lookup = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): HttpSession | undefined => {
  const sid = header(req, HEADER_SESSION_ID)
  if (sid === undefined) return void writeRpcError(res, 400, badRequest("Mcp-Session-Id header is required"))
  const hs = ep.sessions.get(sid)
  // Only well-formed ids are ever stored: a known one needs no check (a regex per request saved).
  if (hs === undefined && !isWellFormedSessionId(sid)) return void writeRpcError(res, 400, badRequest("malformed Mcp-Session-Id"))
  // Another principal's session is indistinguishable from a missing one.
  if (hs === undefined || hs.ended || hs.principal !== principal) return void writeRpcError(res, 404, SESSION_NOT_FOUND)
  if (pv !== undefined && ep.versionHeaderMustMatch) {
    const negotiated = hs.session.protocolVersion
    if (negotiated !== undefined && pv !== negotiated) {
      return void writeRpcError(res, 400, badRequest(`MCP-Protocol-Version ${pv} does not match the negotiated version ${negotiated}`))
    }
  }
  return hs
}
