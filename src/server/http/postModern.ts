/**
 * POST in the 2026-07-28 era (stateless, per request; spec-digest §3.B): one request or
 * notification whose `_meta` carries the protocol version and client capabilities, with
 * `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` headers that must match the body
 * (streamable-http.mdx:L356-L607). A request runs as a {@link ModernRequest}.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { decodeValue, isObject, type JsonRpcRequest } from "../../protocol/jsonrpc.ts"
import { checkParamHeaders, decodeHeaderValue, NAMED_PARAM } from "../../protocol/mcpHeaders.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION } from "../../protocol/modern.ts"
import { isModernVersion, MODERN_VERSIONS } from "../../protocol/versions.ts"
import { header, HEADER_METHOD, HEADER_NAME, writeEmpty, writeRpcError } from "../../transports/http/wire.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import { ModernRequest } from "./ModernRequest.ts"
import { ALL_VERSIONS, headerMismatch } from "./replies.ts"

export const postModern = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, value: unknown, pv: string | undefined, principal: string | undefined): void => {
  if (!isObject(value)) {
    return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: the body must be a single JSON-RPC request or notification"))
  }
  const d = decodeValue(value, ep.options.maxNestingDepth)
  if (d._tag !== "Message") {
    const error = d._tag === "Invalid" && d.reply !== undefined ? d.reply.error : rpcError(ErrorCode.InvalidRequest, "Invalid Request")
    return writeRpcError(res, 400, error, d._tag === "Invalid" ? d.reply?.id : undefined)
  }
  const m = d.message
  if (!("method" in m)) {
    return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: clients must not send JSON-RPC responses in protocol 2026-07-28"), m.id)
  }
  const id = "id" in m ? m.id : undefined
  const params = m.params
  const metaVersion = isObject(params?._meta) ? params._meta[META_PROTOCOL_VERSION] : undefined
  if (metaVersion !== undefined && metaVersion !== pv) {
    return writeRpcError(res, 400, headerMismatch(`MCP-Protocol-Version ${pv === undefined ? "is missing" : JSON.stringify(pv)} but _meta protocolVersion is ${JSON.stringify(metaVersion)}`), id)
  }
  const methodHeader = header(req, HEADER_METHOD)
  if (methodHeader === undefined) return writeRpcError(res, 400, headerMismatch("the Mcp-Method header is required"), id)
  if (methodHeader !== m.method) {
    return writeRpcError(res, 400, headerMismatch(`Mcp-Method ${JSON.stringify(methodHeader)} does not match the body method ${JSON.stringify(m.method)}`), id)
  }
  const named = NAMED_PARAM.get(m.method)
  if (named !== undefined) {
    const nameHeader = header(req, HEADER_NAME)
    const expected = params?.[named]
    if (nameHeader === undefined) return writeRpcError(res, 400, headerMismatch(`the Mcp-Name header is required for ${m.method}`), id)
    const decoded = decodeHeaderValue(nameHeader)
    if (decoded === undefined) return writeRpcError(res, 400, headerMismatch("Mcp-Name has invalid characters or a malformed =?base64?…?= value"), id)
    if (typeof expected !== "string" || decoded !== expected) {
      return writeRpcError(res, 400, headerMismatch(`Mcp-Name ${JSON.stringify(nameHeader)} does not match params.${named}`), id)
    }
  }
  // Mcp-Param-* mirror the tool's `x-mcp-header` arguments (streamable-http.mdx:L356-L607).
  if (m.method === "tools/call" && typeof params?.name === "string") {
    const annotations = ep.server.tools.get(params.name)?.paramHeaders
    const mismatch = annotations === undefined || annotations.length === 0
      ? undefined
      : checkParamHeaders(annotations, params.arguments, (name) => header(req, name))
    if (mismatch !== undefined) return writeRpcError(res, 400, headerMismatch(mismatch), id)
  }
  // Core 2026-07-28 defines no client→server notification over HTTP (L95-L103): accepted, nothing to do.
  if (id === undefined) return writeEmpty(res, 202)
  const request = m as JsonRpcRequest
  const meta = isObject(params?._meta) ? params._meta : undefined
  if (typeof metaVersion !== "string") {
    return writeRpcError(res, 400, rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_PROTOCOL_VERSION}"] is required`), id)
  }
  if (!isModernVersion(metaVersion)) {
    const data = { supported: [...MODERN_VERSIONS], requested: metaVersion }
    return writeRpcError(res, 400, rpcError(ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${metaVersion}`, data), id)
  }
  if (!isObject(meta?.[META_CLIENT_CAPABILITIES])) {
    return writeRpcError(res, 400, rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_CLIENT_CAPABILITIES}"] is required`), id)
  }
  if (request.method === "initialize") {
    return writeRpcError(res, 404, rpcError(ErrorCode.MethodNotFound, `Method not found: initialize is not part of protocol ${metaVersion} (use server/discover)`, { supported: ALL_VERSIONS(true) }), id)
  }
  new ModernRequest(ep.server, ep.host, res, request, { principal, identity: ep.identities.get(req) }).start()
}
