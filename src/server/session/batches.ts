/**
 * JSON-RPC batches on a message transport's session (2025-03-26 only: spec-digest §6;
 * `2025-03-26/basic/index.mdx` "MUST support receiving JSON-RPC batches"): routing a
 * batch's items, and holding each request's response for the batch's one array.
 */
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { decodeBatchItem, errorResponse, type JsonRpcBatchResponse, type JsonRpcMessage, type JsonRpcRequest, type RequestId } from "../../protocol/jsonrpc.ts"
import { allowsBatch } from "../../protocol/versions.ts"
import { BatchCollector } from "./BatchCollector.ts"

/** Batches still collecting: each request id of one maps to its collector (made on the first batch). */
export type PendingBatches = Map<RequestId, BatchCollector>

/** What routing a batch needs of its session. */
export interface BatchRoute {
  /** The negotiated protocol version (batches only in 2025-03-26). */
  readonly version: string | undefined
  readonly maxNestingDepth: number | undefined
  /** Sends the batch's answer as one array (one line, one frame); without it responses go out one by one. */
  readonly sendBatch: ((responses: JsonRpcBatchResponse) => void) | undefined
  /** The session's pending batches, made if none. */
  pending(): PendingBatches
  /** The ones there are (undefined: none yet). */
  readonly existing: PendingBatches | undefined
  /** An id already in flight on the session. */
  inFlight(id: RequestId): boolean
  /** Through the session's send (a refusal of the whole batch). */
  send(message: JsonRpcMessage): void
  /** To the wire, past the batch collector. */
  out(message: JsonRpcMessage): void
  /** One message of the batch, as if it came alone. */
  receive(message: JsonRpcMessage): void
  /** The session has ended (a batch completing later is not sent). */
  released(): boolean
}

/**
 * A JSON-RPC batch. Its answer is one array holding the response of every request and of
 * every invalid item, in item order; notifications add nothing, and a batch with no response
 * at all is not answered (JSON-RPC 2.0 §6). Notifications the requests cause (progress, logs)
 * go out on their own meanwhile. In any other version (or before the handshake) the batch is
 * refused with one -32600 without an id.
 */
export const receiveBatch = (route: BatchRoute, items: ReadonlyArray<unknown>): void => {
  const version = route.version
  if (!allowsBatch(version)) {
    route.send(errorResponse(null, rpcError(ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not supported in protocol version ${version ?? "(not negotiated)"}`)))
    return
  }
  const batch = new BatchCollector()
  const requests: Array<JsonRpcRequest> = []
  const others: Array<JsonRpcMessage> = []
  // A taken id is refused here, not through `receive`: the collector waits on the id of the request already in flight.
  const taken = (id: RequestId) => route.inFlight(id) || batch.expects(id) || route.existing?.has(id) === true
  for (const item of items) {
    const d = decodeBatchItem(item, route.maxNestingDepth, taken)
    if (d._tag === "Refused") {
      // The item's own error, in the array (an invalid notification gets none).
      if (d.reply !== undefined) batch.add(d.reply)
      continue
    }
    const m = d.message
    if ("method" in m && "id" in m) {
      batch.expect(m.id)
      requests.push(m)
    } else others.push(m)
  }
  const sendBatch = route.sendBatch
  if (sendBatch === undefined) {
    // No way to frame an array (none of our transports lacks one): the responses go out one by one.
    for (const r of batch.drain()) route.out(r)
    for (const m of [...others, ...requests]) route.receive(m)
    return
  }
  batch.onComplete = (responses) => {
    if (responses.length > 0 && !route.released()) sendBatch(responses)
  }
  if (requests.length > 0) {
    const batches = route.pending()
    for (const r of requests) batches.set(r.id, batch)
  }
  // Responses and notifications first (a cancellation in the batch may target an earlier request).
  for (const m of others) route.receive(m)
  for (const r of requests) route.receive(r)
  batch.sealed()
}

/** The response to a request of a pending batch is held for the batch's array: true when `message` was. */
export const holdForBatch = (batches: PendingBatches, message: JsonRpcMessage): boolean => {
  if ("method" in message || message.id === undefined || message.id === null) return false
  const batch = batches.get(message.id)
  if (batch === undefined) return false
  batches.delete(message.id)
  batch.answer(message.id, message)
  return true
}

/** A request of a pending batch ended without a response (cancelled): the batch stops waiting for it. */
export const unbatch = (batches: PendingBatches, id: RequestId): void => {
  const batch = batches.get(id)
  if (batch === undefined) return
  batches.delete(id)
  batch.answer(id, undefined)
}
