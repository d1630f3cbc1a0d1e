/**
 * POST, up to the era: Accept lists JSON and SSE (406) → Content-Type JSON (415) →
 * `MCP-Protocol-Version` supported (400) → body size (413) → JSON (400/-32700).
 * Then `MCP-Protocol-Version: 2026-07-28` or a `_meta` protocol version ⇒ modern
 * (postModern.ts, stateless); an array ⇒ a batch (postBatch.ts); anything else ⇒
 * one legacy message (postLegacy.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { unrefTimer } from "../../protocol/clock.ts"
import { isObject } from "../../protocol/jsonrpc.ts"
import { META_PROTOCOL_VERSION } from "../../protocol/modern.ts"
import { isModernVersion } from "../../protocol/versions.ts"
import { readBodyInto } from "../../transports/http/readBody.ts"
import { acceptsPostResponses, isJsonContentType, writeRpcError } from "../../transports/http/wire.ts"
import { type HttpEndpoint, internalError, supportedVersion } from "./endpoint.ts"
import { postBatch } from "./postBatch.ts"
import { postLegacy } from "./postLegacy.ts"
import { postModern } from "./postModern.ts"
import { unsupportedVersion } from "./replies.ts"

const looksModern = (v: unknown): boolean => {
  if (!isObject(v)) return false
  if (v.method === "server/discover") return true
  const params = v.params
  return isObject(params) && isObject(params._meta) && META_PROTOCOL_VERSION in params._meta
}

export const post = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
  if (!acceptsPostResponses(req)) {
    return writeRpcError(res, 406, rpcError(ErrorCode.NotAcceptable, "Not Acceptable: Accept must list both application/json and text/event-stream"))
  }
  if (!isJsonContentType(req)) {
    return writeRpcError(res, 415, rpcError(ErrorCode.UnsupportedMediaType, "Unsupported Media Type: Content-Type must be application/json"))
  }
  if (pv !== undefined && !supportedVersion(ep, pv)) return writeRpcError(res, 400, unsupportedVersion(pv, ep.modernEnabled))
  readBodyInto(req, ep.maxMessageBytes, (body) => {
    try {
      if (typeof body !== "string") return tooLarge(ep, req, res, body.bytes)
      let value: unknown
      try {
        value = JSON.parse(body)
      } catch (e) {
        return writeRpcError(res, 400, rpcError(ErrorCode.ParseError, `Parse error: ${e instanceof Error ? e.message : "invalid JSON"}`))
      }
      if (ep.modernEnabled && ((pv !== undefined && isModernVersion(pv)) || (!Array.isArray(value) && looksModern(value)))) {
        return postModern(ep, req, res, value, pv, principal)
      }
      if (Array.isArray(value)) return postBatch(ep, req, res, value, principal, pv)
      postLegacy(ep, req, res, value, principal, pv)
    } catch (error) {
      internalError(ep, res, error)
    }
  })
}

const tooLarge = (ep: HttpEndpoint, req: IncomingMessage, res: ServerResponse, bytes: number): void => {
  // Stop reading: answer now and close the connection rather than drain an oversized body.
  writeRpcError(
    res,
    413,
    rpcError(ErrorCode.InvalidRequest, `Invalid Request: body of ${bytes}+ bytes exceeds the limit of ${ep.maxMessageBytes}`),
    undefined,
    { connection: "close" }
  )
  res.once("finish", () => {
    if (!req.complete) unrefTimer(ep.clock.setTimeout(() => req.socket.destroy(), 200))
  })
}
