/**
 * Client-side outbound requests, shared by the clients of both eras: each
 * request is an `outboundRequest` actor (deadline, progress reset, hard
 * maximum, cancellation), spawned as a child of its client's chart
 * (`REQUEST_SENT`; `legacyClientSession` or `modernClient`), kept in a table that routes the matching response
 * and `notifications/progress` to it, and whose outcome becomes a result or a
 * typed error (errors.ts).
 *
 * What differs per era and per wire is passed in: how a cancellation is sent
 * (stdio/WebSocket/memory: `notifications/cancelled`; Streamable HTTP: close
 * the response stream) and what a `Failed` outcome means (the modern client
 * maps -32021/-32022 itself before falling back to `outcomeToResult`).
 *
 * Used by `ClientSession` (legacy) and `ModernClient`.
 */
import type { Actor } from "xstate"
import type { OutboundRequestInput, OutboundRequestOutcome, outboundRequestMachine } from "../../machines/outboundRequest.ts"
import type { JsonRpcResponse, Params, ProgressToken, RequestId } from "../protocol/jsonrpc.ts"
import type { Progress, Result } from "./ClientSession.ts"
import { ConnectionLost, RequestCancelled, RequestTimeout, RpcError } from "../protocol/requestErrors.ts"

export type OutboundActor = Actor<typeof outboundRequestMachine>

/** What a client call asks of one request's chart. */
export interface OutboundStart {
  readonly id: RequestId
  readonly method: string
  readonly progressToken?: ProgressToken
  readonly timeoutMs: number
  readonly resetTimeoutOnProgress: boolean
  readonly maxTotalTimeoutMs?: number
}

/**
 * Follow a request actor (a child spawned by its client's chart) to its outcome: an abort
 * of `signal` sends it `CANCEL`, and `onOutcome` gets its output once it is done — or
 * `Aborted` when it was stopped before reaching one (its parent session ended).
 */
export const watchOutbound = (
  actor: OutboundActor,
  signal: AbortSignal | undefined,
  onOutcome: (outcome: OutboundRequestOutcome) => void
): void => {
  const onAbort = () => actor.send({ type: "CANCEL", reason: String(signal?.reason ?? "aborted") })
  actor.subscribe({
    complete: () => {
      signal?.removeEventListener("abort", onAbort)
      const snapshot = actor.getSnapshot()
      onOutcome(
        snapshot.status === "done" && snapshot.output !== undefined
          ? snapshot.output
          : { _tag: "Aborted", requestId: snapshot.context.requestId, reason: "client ended" }
      )
    }
  })
  signal?.addEventListener("abort", onAbort, { once: true })
}

/** The input of a request's chart, from what a client call asked for. */
export const outboundInput = (o: OutboundStart): OutboundRequestInput => ({
  requestId: o.id,
  method: o.method,
  ...(o.progressToken !== undefined ? { progressToken: o.progressToken } : {}),
  timeoutMs: o.timeoutMs,
  resetTimeoutOnProgress: o.resetTimeoutOnProgress,
  ...(o.maxTotalTimeoutMs !== undefined ? { maxTotalTimeoutMs: o.maxTotalTimeoutMs } : {})
})

/** The reason a request's chart gives on the wire when it cancels (timeout or caller). */
export const cancelReason = (outcome: OutboundRequestOutcome | undefined): string =>
  outcome?._tag === "TimedOut" ? "timeout" : "cancelled by caller"

/** Params with a progress token merged into `_meta` (and any extra `_meta` entries). */
export const withMeta = (params: Params | undefined, extra: Record<string, unknown>): Params => ({
  ...params,
  _meta: { ...params?._meta, ...extra }
})

interface Entry {
  readonly actor: OutboundActor
  readonly onProgress: ((p: Progress) => void) | undefined
  readonly progressToken: ProgressToken | undefined
}

/** In-flight requests by id (and by progress token), routing responses and progress to their actors. */
export class OutboundTable {
  private readonly entries = new Map<RequestId, Entry>()
  private readonly byToken = new Map<ProgressToken, RequestId>()

  get size(): number {
    return this.entries.size
  }

  add(id: RequestId, entry: Entry): void {
    this.entries.set(id, entry)
    if (entry.progressToken !== undefined) this.byToken.set(entry.progressToken, id)
  }

  /** Forget a finished request (its actor is done). */
  remove(id: RequestId): void {
    const e = this.entries.get(id)
    if (!e) return
    this.entries.delete(id)
    if (e.progressToken !== undefined) this.byToken.delete(e.progressToken)
  }

  /** Deliver a response to its actor; false when the id is unknown (late or foreign: dropped). */
  response(message: JsonRpcResponse): boolean {
    if (message.id === undefined || message.id === null) return false
    const e = this.entries.get(message.id)
    if (!e) return false
    if ("result" in message) e.actor.send({ type: "RESPONSE", result: message.result })
    else e.actor.send({ type: "ERROR_RESPONSE", error: message.error })
    return true
  }

  /**
   * Deliver `notifications/progress` params to the request holding the token.
   * The callback sees only progress that advances (progress.mdx:L53).
   */
  progress(params: Params | undefined): boolean {
    const token = params?.progressToken as ProgressToken | undefined
    const id = token === undefined ? undefined : this.byToken.get(token)
    const e = id === undefined ? undefined : this.entries.get(id)
    if (!e || typeof params?.progress !== "number") return false
    const before = e.actor.getSnapshot().context.lastProgress?.progress
    const progress: Progress = {
      progress: params.progress,
      ...(typeof params.total === "number" ? { total: params.total } : {}),
      ...(typeof params.message === "string" ? { message: params.message } : {})
    }
    e.actor.send({ type: "PROGRESS", ...progress })
    if (before === undefined || progress.progress > before) e.onProgress?.(progress)
    return true
  }

  /** Cancel every in-flight request (each actor sends its cancellation). */
  cancelAll(reason: string): void {
    for (const e of [...this.entries.values()]) e.actor.send({ type: "CANCEL", reason })
  }

  /** The wire is gone: every in-flight request fails fast (`Aborted` → ConnectionLost). */
  transportClosed(reason: string): void {
    for (const e of [...this.entries.values()]) e.actor.send({ type: "TRANSPORT_CLOSED", reason })
  }
}

/** The typed error for an outcome that is not `Settled` (Failed → RpcError). */
export const outcomeError = (method: string, o: Exclude<OutboundRequestOutcome, { _tag: "Settled" }>): Error => {
  switch (o._tag) {
    case "Failed":
      return new RpcError({ method, code: o.error.code, message: o.error.message, data: o.error.data })
    case "TimedOut":
      return new RequestTimeout({ method, afterMs: o.afterMs, deadline: o.deadline, message: `${method} timed out after ${o.afterMs} ms` })
    case "Cancelled":
      return new RequestCancelled({ method, message: `${method} cancelled${o.reason ? `: ${o.reason}` : ""}` })
    case "Aborted":
      return new ConnectionLost({ method, message: `${method}: connection lost (${o.reason})` })
  }
}

/** The result of a settled request, or throw its typed error. */
export const outcomeToResult = (method: string, o: OutboundRequestOutcome): Result => {
  if (o._tag === "Settled") return o.result as Result
  throw outcomeError(method, o)
}
