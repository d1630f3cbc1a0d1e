/**
 * After the auth hook: 503 while closing, then by method — POST (post.ts),
 * GET (the standalone stream or a resume, get.ts), DELETE (delete.ts). The
 * 2026-07-28 era has no GET stream and no DELETE (streamable-http.mdx:L650-L737).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { isModernVersion } from "../../protocol/versions.ts"
import { header, HEADER_PROTOCOL_VERSION, writeRpcError } from "../../transports/http/wire.ts"
import { del } from "./delete.ts"
import { type HttpEndpoint, supportedVersion } from "./endpoint.ts"
import { get } from "./get.ts"
import { post } from "./post.ts"
import { unsupportedVersion } from "./replies.ts"

export const route = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, principal: string | undefined): void => {
  if (ep.closing !== undefined) {
    return writeRpcError(res, 503, rpcError(ErrorCode.ServiceUnavailable, "Service Unavailable: server shutting down"), undefined, { "retry-after": ep.retryAfter })
  }
  const pv = header(req, HEADER_PROTOCOL_VERSION)
  if (req.method === "POST") return post(ep, req, res, principal, pv)
  if (pv !== undefined && ep.modernEnabled && isModernVersion(pv)) {
    return writeRpcError(res, 405, rpcError(ErrorCode.MethodNotAllowed, `Method Not Allowed: ${req.method} is not part of protocol ${pv}`), undefined, { allow: "POST" })
  }
  if (pv !== undefined && !supportedVersion(ep, pv)) return writeRpcError(res, 400, unsupportedVersion(pv, ep.modernEnabled))
  if (req.method === "GET") return get(ep, req, res, principal, pv)
  return del(ep, req, res, principal, pv)
}
