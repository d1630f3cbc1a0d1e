/**
 * What the session does when its chart decides (the provided actions of
 * `runtimeServerMachine`, see `serverChart.ts`): answer `initialize` and `ping`,
 * refuse, run a held request, become ready, drain, cancel, release.
 */
import { HANDSHAKE_TIMEOUT, IDLE_TIMEOUT, type RejectParams } from "../../../machines/legacyServerSession.ts"
import { ErrorCode, errorMessage, rpcError } from "../../protocol/errors.ts"
import { errorResponse, type RequestId, result as makeResult } from "../../protocol/jsonrpc.ts"
import type { LegacyVersion } from "../../protocol/versions.ts"
import type { ServerSession } from "../ServerSession.ts"
import { release } from "./ending.ts"
import { initializeResult } from "./initializeResult.ts"
import { abort, dispatch } from "./legacyRequests.ts"

export const respondInitialize = (s: ServerSession, id: RequestId, version: LegacyVersion | undefined): void => {
  try {
    s.send(makeResult(id, initializeResult(s.server, version)), id)
  } catch (e) {
    // A chart action must not throw (it would stop the chart): the failure is the client's answer.
    s.reportError(e)
    s.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)), id)
  }
}

export const reject = (s: ServerSession, params: RejectParams): void => {
  s.server.telemetry?.serverStepFailed(params.id, params.code, params.message)
  s.send(errorResponse(params.id, rpcError(params.code, params.message)), params.id)
}

export const replyPong = (s: ServerSession, id: RequestId): void => s.send(makeResult(id, {}), id)

/** The chart let the held request through (`REQUEST` before `operating`, as `earlyRequests` allows). */
export const dispatchHeld = (s: ServerSession, id: RequestId): void => {
  const req = s.held
  if (req && req.id === id) dispatch(s, req)
}

export const announceReady = (s: ServerSession): void => {
  s.operating = true
  s.lastSettledAt = s.now() // idle is counted from the handshake completing, not from the session's creation
  s.server.watch(s)
  s.server.sessionEvents?.("joined", s)
  ready(s)
}

/** `onReady`, once: the chart reached `operating`, or a modern request was served. */
export const ready = (s: ServerSession): void => {
  if (s.readied) return
  s.readied = true
  if (s.owner !== undefined) s.owner.sessionReady()
  else s.options.onReady?.()
}

export const beginDrain = (s: ServerSession): void => {
  s.operating = false
  s.draining = true
  // The pong may never come (stdin EOF): answer now rather than lose the reply at the drain deadline.
  // (Those responses are still in flight: each entry holds its release.)
  if (s.inFlight.size > 0) for (const entry of [...s.inFlight.values()]) entry.barrierRelease?.()
  // Not to a chart that ended meanwhile (the transport closed before the microtask ran).
  if (s.inFlight.size === 0) queueMicrotask(() => s.actor?.getSnapshot().status === "active" && s.actor.send({ type: "DRAINED" }))
}

export const cancelInFlight = (s: ServerSession): void => {
  for (const [id, entry] of s.inFlight) abort(s, id, entry, "session closed")
}

export const released = (s: ServerSession, reason: string): void => {
  // A server session never asks to be restarted: every end is expected from the supervisor's view.
  const cause = reason === HANDSHAKE_TIMEOUT || reason === IDLE_TIMEOUT ? "timeout" : s.closeCause
  queueMicrotask(() => release(s, cause === undefined ? { expected: true, reason } : { expected: true, reason, cause }))
}
