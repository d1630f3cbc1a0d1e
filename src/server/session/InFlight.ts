/**
 * One request in flight on a server session: the request, its abort controller, and
 * what its progress notifications and MRTR retry carry along until it is answered.
 */
import type { Clock } from "../../protocol/clock.ts"
import type { JsonRpcRequest } from "../../protocol/jsonrpc.ts"
import type { InputResponses } from "../../protocol/mrtr.ts"

/** A request in flight: created when dispatched, `done` once answered, cancelled or aborted. */
export interface InFlight {
  readonly request: JsonRpcRequest
  controller: AbortController | undefined
  done: boolean
  lastProgress: number
  /** The response already waited once for the progress barrier (see `finish`). */
  barrierPassed: boolean
  /**
   * While its response waits for the barrier's pong: what releases it (the session's drain calls it). Kept
   * here, not in a table of the session's: a long-lived session's `Set` of these closures (one add and delete
   * per call) kept every such call reachable for the young GC through its dropped hash tables
   * (docs/performance.md, "Legacy calls with progress and the young GC").
   */
  barrierRelease: (() => void) | undefined
  /** Progress rate limit (`progressIntervalMs`): the value held back and its timer. */
  pendingProgress: Record<string, unknown> | undefined
  progressTimer: { readonly clock: Clock; readonly timer: unknown } | undefined
  lastProgressSentAt: number
  /** Modern MRTR retry: the handler's own `requestState`, verified and unsealed. */
  requestState: string | undefined
  /** Modern MRTR retry: every answer so far (earlier rounds' from the sealed state, then this retry's). */
  inputResponses: InputResponses | undefined
  /** A modern request run through its chart (`ModernRequestRun`): a cancel or the session's end goes through it. */
  run: { cancel(reason: string): void; completeSubscriptions(): void } | undefined
  /** When the session received it (its clock's epoch ms), if it says: the inspector's request age. */
  readonly receivedAt: number | undefined
}

export const newInFlight = (request: JsonRpcRequest, receivedAt?: number): InFlight => ({
  request,
  receivedAt,
  controller: undefined,
  done: false,
  lastProgress: -Infinity,
  barrierPassed: false,
  barrierRelease: undefined,
  pendingProgress: undefined,
  progressTimer: undefined,
  lastProgressSentAt: -Infinity,
  requestState: undefined,
  inputResponses: undefined,
  run: undefined
})

