/**
 * Input routing: which part of the session a client message goes to. A response
 * answers one of our server→client requests; a notification is the chart's
 * (`initialized`) or cancels a request; a request is a duplicate id, a modern
 * (2026-07-28) request with its own chart, a legacy request served straight from
 * `operating`, or a lifecycle step of the chart (initialize, ping, anything before
 * `operating`). A batch (2025-03-26) is unpacked into messages. Plain functions of the
 * session: nothing is allocated per message.
 */
import { classifyEra } from "../../protocol/era.ts"
import { ErrorCode, errorMessage, McpError } from "../../protocol/errors.ts"
import { decodeText, errorResponse, idInFlightReply, type JsonRpcMessage, type JsonRpcNotification, type RequestId } from "../../protocol/jsonrpc.ts"
import type { ServerSession } from "../ServerSession.ts"
import { receiveBatch } from "./batches.ts"
import { ensureActor } from "./chartActor.ts"
import { abort, dispatch, finishError } from "./legacyRequests.ts"
import { serveModern } from "./modernEra.ts"

/** One text frame (stdio line, WebSocket message): a message, a batch, or invalid JSON-RPC (answered as such). */
export const routeFrame = (s: ServerSession, text: string): void => {
  const decoded = decodeText(text, s.options.maxNestingDepth)
  if (decoded._tag === "Message") return s.receive(decoded.message)
  if (decoded._tag === "Invalid") {
    if (decoded.reply) s.send(decoded.reply, undefined)
    return
  }
  routeBatch(s, decoded.messages)
}

/** One decoded message (the session's `receive` wraps it in the safety net, `fault`). */
export const routeMessage = (s: ServerSession, message: JsonRpcMessage): void => {
  if (s.released) return
  if (!("method" in message)) return void s.outbound?.answer(message)
  if (!("id" in message)) return routeNotification(s, message)
  const req = message
  if (s.inFlight.has(req.id)) {
    // Ids are unique among in-flight requests (any method, ping included): a duplicate would make responses ambiguous.
    // Sent past the batch collector: a batch waiting on this id waits for the first request's answer.
    s.out(idInFlightReply(req.id), req.id)
    return
  }
  if (s.options.modern !== false && req.method !== "initialize" && classifyEra(req) === "modern") {
    return serveModern(s, req)
  }
  if (s.operating && req.method !== "ping" && req.method !== "initialize") return dispatch(s, req)
  s.era = "legacy"
  const actor = ensureActor(s)
  const telemetry = s.server.telemetry
  if (req.method === "initialize" || req.method === "ping") {
    // Answered within the chart's step: the step is the request's span (observability/Telemetry.ts).
    const step = () => actor.send(req.method === "ping" ? { type: "PING", id: req.id } : { type: "INITIALIZE", id: req.id, params: req.params, elapsedMs: s.now() - s.createdAt })
    if (telemetry === undefined) step()
    else telemetry.serverStep(req, () => ({ sessionId: s.id, protocolVersion: s.protocolVersion, transport: s.options.transport }), step)
  } else {
    s.held = req
    actor.send({ type: "REQUEST", id: req.id, method: req.method })
    s.held = undefined
  }
}

const routeNotification = (s: ServerSession, n: JsonRpcNotification): void => {
  switch (n.method) {
    case "notifications/initialized":
      s.era = "legacy"
      ensureActor(s).send({ type: "INITIALIZED" })
      return
    case "notifications/cancelled": {
      const id = n.params?.requestId as RequestId | undefined
      // Unknown, finished or non-cancellable ids are ignored (cancellation.mdx:L41, L77).
      if (id === undefined) return
      const entry = s.inFlight.get(id)
      if (!entry || entry.request.method === "initialize") return
      abort(s, id, entry, typeof n.params?.reason === "string" ? n.params.reason : "cancelled by client")
      return
    }
    case "notifications/roots/list_changed":
      s.server.sessionEvents?.("rootsChanged", s)
      return
    default:
      // notifications/progress for our outbound requests, unknown: nothing to answer.
      return
  }
}

/**
 * Something threw while `message` was handled. A request that is still in flight is
 * failed with -32603 (which settles it); one that never got that far is answered
 * -32603 too. A duplicate id belongs to the request already in flight: left alone.
 */
export const fault = (s: ServerSession, message: JsonRpcMessage, e: unknown): void => {
  try {
    s.reportError(e)
  } catch {
    // A throwing reporter must not undo the safety net.
  }
  if (s.released || !("method" in message) || !("id" in message)) return
  const error = new McpError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
  const entry = s.inFlight.get(message.id)
  if (entry !== undefined) {
    if (entry.request === message) finishError(s, entry, error)
    return
  }
  s.send(errorResponse(message.id, error.toRpcError()), message.id)
}

/** A JSON-RPC batch (see `ServerSession.receiveBatch`): collected by `batches.ts`, its items routed one by one. */
export const routeBatch = (s: ServerSession, items: ReadonlyArray<unknown>): void => {
  receiveBatch({
    version: s.chartContext()?.protocolVersion,
    maxNestingDepth: s.options.maxNestingDepth,
    sendBatch: s.options.sendBatch,
    pending: () => (s.batches ??= new Map()),
    get existing() {
      return s.batches
    },
    inFlight: (id) => s.inFlight.has(id),
    send: (message) => s.send(message, undefined),
    out: (message) => s.out(message, undefined),
    receive: (message) => s.receive(message),
    released: () => s.released
  }, items)
}
