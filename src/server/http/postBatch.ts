/**
 * JSON-RPC batches: 2025-03-26 sessions only (spec-digest §6; other versions: 400 + -32600).
 * The answer is one JSON array (or one SSE stream) with every request's response and an
 * error for each invalid item — initialize (never batched), a malformed item, an id
 * already in flight — as JSON-RPC 2.0 §6 asks; notifications add nothing, and a batch of
 * notifications and responses only is 202.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { decodeBatchItem, encode, type JsonRpcErrorResponse, type JsonRpcMessage, type RequestId } from "../../protocol/jsonrpc.ts"
import { allowsBatch } from "../../protocol/versions.ts"
import { writeEmpty, writeJson, writeRpcError } from "../../transports/http/wire.ts"
import type { HttpEndpoint } from "./endpoint.ts"
import { Exchange } from "./Exchange.ts"
import { lookup } from "./lookup.ts"
import { cancelledRequestId, receiveInto } from "./receive.ts"

export const postBatch = (
  ep: HttpEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  items: ReadonlyArray<unknown>,
  principal: string | undefined,
  pv: string | undefined
): void => {
  if (items.length === 0) return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: empty batch"))
  const hs = lookup(ep, req, res, principal, pv)
  if (hs === undefined) return
  const identity = ep.identities.get(req)
  if (identity !== undefined) hs.session.identity = identity
  const version = hs.session.protocolVersion
  if (!allowsBatch(version)) {
    return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not part of protocol version ${version ?? "(not negotiated)"}`))
  }
  const messages: Array<JsonRpcMessage> = []
  const ids: Array<RequestId> = []
  const refused: Array<JsonRpcErrorResponse> = []
  const taken = (id: RequestId) => hs.exchangeFor(id) !== undefined || ids.includes(id)
  for (const item of items) {
    const d = decodeBatchItem(item, ep.options.maxNestingDepth, taken)
    if (d._tag === "Refused") {
      if (d.reply !== undefined) refused.push(d.reply)
      continue
    }
    const m = d.message
    if ("method" in m && "id" in m) ids.push(m.id)
    messages.push(m)
  }
  const ex = ids.length > 0 ? new Exchange(hs, ep.hub, res, ids, true) : undefined
  if (ex !== undefined) {
    ex.preload(refused)
    hs.track(ex)
  }
  for (const m of messages) {
    receiveInto(ep, hs, ex, m)
    const cancelled = cancelledRequestId(m)
    if (cancelled !== undefined) hs.cancelled(cancelled)
  }
  if (ex !== undefined) return ex.watch()
  if (refused.length > 0) return writeJson(res, 200, `[${refused.map(encode).join(",")}]`)
  writeEmpty(res, 202)
}
