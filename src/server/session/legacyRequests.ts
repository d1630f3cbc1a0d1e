/**
 * A legacy request's run in the session: refused or dispatched to its handler, kept
 * in flight, settled once (answered, failed, or cancelled with no answer), with the
 * progress barrier some clients need between the last progress and the response.
 * Modern requests run their own chart (`ModernRequestRun`) and settle through it.
 */
import { ErrorCode, errorMessage, McpError, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import { errorResponse, type JsonRpcRequest, type RequestId, result as makeResult } from "../../protocol/jsonrpc.ts"
import { ownTable } from "../../runtime/EmptyTable.ts"
import { dispatchRequest, isThenable, type Result } from "../dispatch.ts"
import { InputRequiredSignal } from "../InputRequiredSignal.ts"
import { defaultProgressBarrier, PROGRESS_BARRIER_TIMEOUT_MS } from "../progressBarrier.ts"
import type { ServerSession } from "../ServerSession.ts"
import { unbatch } from "./batches.ts"
import { HandlerContext } from "./HandlerContext.ts"
import { type InFlight, newInFlight } from "./InFlight.ts"
import { fault } from "./inputRouter.ts"
import { methodRefusal } from "./methodRefusal.ts"
import { notifyListeners } from "./handle.ts"
import { flushProgress, holdsProgress, type ProgressOut } from "./progress.ts"

/** Run one legacy request (modern ones run their own chart: `serveModern`); whatever throws on the way is answered -32603 (see `fault`). */
export const dispatch = (s: ServerSession, req: JsonRpcRequest): void => {
  try {
    dispatchUnguarded(s, req)
  } catch (e) {
    fault(s, req, e)
  }
}

const dispatchUnguarded = (s: ServerSession, req: JsonRpcRequest): void => {
  const id = req.id
  const refused = methodRefusal(s.server, req.method, undefined)
  if (refused !== undefined) {
    s.server.telemetry?.serverRefused(req, { sessionId: s.id, protocolVersion: s.protocolVersion, transport: s.options.transport }, refused)
    return s.send(errorResponse(id, refused), id)
  }
  const entry = newInFlight(req, s.now())
  track(s, entry)
  notifyListeners(s) // an in-flight edge (the inspector lists requests)
  const ctx = new HandlerContext(s, entry, undefined)
  let out: Result | PromiseLike<Result>
  try {
    out = dispatchRequest(s.server, req, ctx, s.state)
  } catch (e) {
    return finishError(s, entry, e)
  }
  if (isThenable(out)) {
    out.then((r) => finish(s, entry, r), (e) => finishError(s, entry, e))
  } else finish(s, entry, out)
}

const finish = (s: ServerSession, entry: InFlight, value: Result): void => {
  if (entry.done) return
  if (holdsProgress(entry)) flushProgress(progressOut(s), entry)
  // Not while draining: a client whose input ended (stdin EOF) will never answer the ping.
  if (entry.lastProgress !== -Infinity && !entry.barrierPassed && !s.draining && needsProgressBarrier(s)) {
    // Interop (typescript-sdk#2580, see progressBarrier.ts): the response waits for a ping round
    // trip, after which the client has handled the progress notifications. The request stays in
    // flight meanwhile: a drain waits for it, a cancel still wins. Any outcome of the ping releases it.
    entry.barrierPassed = true
    const release = () => {
      entry.barrierRelease = undefined
      finish(s, entry, value)
    }
    entry.barrierRelease = release
    s.request("ping", undefined, { timeoutMs: PROGRESS_BARRIER_TIMEOUT_MS }, entry.request.id).then(release, release)
    return
  }
  if (!settle(s, entry)) return
  const id = entry.request.id
  try {
    s.send(makeResult(id, value), id)
  } catch (e) {
    // The result could not be sent (not serializable: a cycle, a BigInt): the request still gets an answer.
    s.reportError(e)
    s.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: the result could not be sent: ${errorMessage(e)}`)), id)
  }
  afterSettle(s)
}

export const finishError = (s: ServerSession, entry: InFlight, e: unknown): void => {
  // MRTR is the modern era's (ModernRequestRun): a legacy handler cannot answer input_required.
  if (e instanceof InputRequiredSignal) e = new McpError(ErrorCode.InternalError, `${entry.request.method} cannot answer input_required`)
  if (holdsProgress(entry)) flushProgress(progressOut(s), entry)
  if (!settle(s, entry)) return
  const id = entry.request.id
  const error: RpcErrorObject = e instanceof McpError
    ? e.toRpcError()
    : rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
  s.send(errorResponse(id, error), id)
  afterSettle(s)
}

/** Whether this client gets the progress barrier (decided once, from the negotiated clientInfo). */
const needsProgressBarrier = (s: ServerSession): boolean => {
  if (s.progressBarrierCache !== undefined) return s.progressBarrierCache
  const policy = s.options.progressBarrier ?? defaultProgressBarrier
  const decided = policy(s.negotiated().clientInfo, s.options.transport)
  if (s.operating) s.progressBarrierCache = decided
  return decided
}

/** Put `entry` in flight (the session's own table is made on its first request). */
export const track = (s: ServerSession, entry: InFlight): void => {
  const table = (s.inFlight = ownTable(s.inFlight))
  table.set(entry.request.id, entry)
}

/** Mark done; false when it was cancelled (no response may be sent: cancellation.mdx:L37). */
export const settle = (s: ServerSession, entry: InFlight): boolean => {
  if (entry.done) return false
  entry.done = true
  s.inFlight.delete(entry.request.id)
  return true
}

/** A request settled: the idle clock restarts, the inspector hears, a drain may end. */
export const afterSettle = (s: ServerSession): void => {
  s.lastSettledAt = s.now()
  notifyListeners(s)
  if (s.inFlight.size === 0 && s.draining) s.actor?.send({ type: "DRAINED" })
}

/** End `entry` without an answer (cancelled, or the session ends): its handler's signal aborts. */
export const abort = (s: ServerSession, id: RequestId, entry: InFlight, reason: string): void => {
  if (entry.done) return
  // A modern request: its chart decides (DISCONNECTED: abort the handler, nothing more is sent).
  if (entry.run !== undefined) return entry.run.cancel(reason)
  entry.done = true
  s.inFlight.delete(id)
  if (s.batches !== undefined) unbatch(s.batches, id)
  if (holdsProgress(entry)) flushProgress(progressOut(s), entry) // entry.done: the held-back value is dropped, its timer cleared
  ;(entry.controller ??= new AbortController()).abort(new Error(reason)) // a handler reading ctx.signal later must see it aborted
  afterSettle(s)
}

/** What progress needs of this session (made on the first progress report or flush). */
export const progressOut = (s: ServerSession): ProgressOut => {
  if (s.progressSink !== undefined) return s.progressSink
  return (s.progressSink = {
    intervalMs: s.options.progressIntervalMs ?? 0,
    get clock() {
      return s.clock
    },
    now: s.now,
    send: (message, related) => s.send(message, related)
  })
}
