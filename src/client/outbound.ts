/**
 * Client-side outbound requests, shared by the clients of both eras (`ClientSession`,
 * `ModernClient`): each request runs the `outboundRequest` chart (deadline, progress
 * reset, hard maximum, cancellation) in its client's `requests` child
 * (`machines/outboundRequests.ts`, invoked by `legacyClientSession` or `modernClient`);
 * `OutboundRequests` is the client's side of that child: the callers waiting on their
 * requests, the routing of responses, progress, cancellations and transport failures to
 * the child, and the settling of each caller with its request's outcome (a result or a
 * typed error, errors.ts).
 *
 * What differs per era and per wire stays with the client: how a cancellation is sent
 * (stdio/WebSocket/memory: `notifications/cancelled`; Streamable HTTP: close the
 * response stream, the provided `sendCancelled`) and what a `Failed` outcome means (the
 * modern client maps -32021/-32022 itself before falling back to `outcomeToResult`).
 */
import type { OutboundRequestOutcome, ProgressSnapshot } from "../../machines/outboundRequest.ts"
import { hasRequest, type OutboundRequestsEvent, type OutboundRequestsSnapshot } from "../../machines/outboundRequests.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import type { JsonRpcResponse, Params, RequestId } from "../protocol/jsonrpc.ts"
import type { Progress, Result } from "./ClientSession.ts"
import { hasCapability, requiredServerCapability, type ServerCapabilities } from "../protocol/capabilities.ts"
import { CapabilityNotSupported, ConnectionLost, RequestCancelled, RequestTimeout, RpcError } from "../protocol/requestErrors.ts"

/** The reason a request's chart gives on the wire when it cancels (timeout or caller). */
export const cancelReason = (outcome: OutboundRequestOutcome | undefined): string =>
  outcome?._tag === "TimedOut" ? "timeout" : "cancelled by caller"

/** Params with a progress token merged into `_meta` (and any extra `_meta` entries). */
export const withMeta = (params: Params | undefined, extra: Record<string, unknown>): Params => ({
  ...params,
  _meta: { ...params?._meta, ...extra }
})

/** A client's `requests` child (the table of in-flight request charts), as the client drives it. */
export interface RequestsActor {
  send(event: OutboundRequestsEvent): void
  getSnapshot(): OutboundRequestsSnapshot
  subscribe(observer: { next?: (s: OutboundRequestsSnapshot) => void; complete?: () => void }): { unsubscribe(): void }
  on(type: "outcome", handler: (e: { readonly output: OutboundRequestOutcome }) => void): { unsubscribe(): void }
  on(type: "progress", handler: (e: { readonly requestId: RequestId; readonly progress: ProgressSnapshot }) => void): { unsubscribe(): void }
}

/** What a request's chart starts from (`REQUEST_SENT`). */
export type RequestSent = Extract<OutboundRequestsEvent, { readonly type: "REQUEST_SENT" }>

/** A request's chart input from what its caller asked (`RequestOptions`); `timeoutMs` defaults to `defaultTimeoutMs`. */
export const requestSent = (
  requestId: RequestId,
  method: string,
  progressToken: RequestId | undefined,
  options: {
    readonly timeoutMs?: number | undefined
    readonly resetTimeoutOnProgress?: boolean | undefined
    readonly onProgress?: unknown
    readonly maxTotalTimeoutMs?: number | undefined
  },
  defaultTimeoutMs: number
): RequestSent => {
  // Built field by field, no spreads (once per request): the same fields in the same order, an absent one absent.
  const sent: { -readonly [K in keyof RequestSent]: RequestSent[K] } = { type: "REQUEST_SENT", requestId, method } as RequestSent
  if (progressToken !== undefined) sent.progressToken = progressToken
  sent.timeoutMs = options.timeoutMs ?? defaultTimeoutMs
  sent.resetTimeoutOnProgress = options.resetTimeoutOnProgress ?? options.onProgress !== undefined
  if (options.maxTotalTimeoutMs !== undefined) sent.maxTotalTimeoutMs = options.maxTotalTimeoutMs
  return sent
}

/** One caller waiting on its request's outcome. */
export interface OutboundWaiter {
  readonly method: string
  /** The outcome; `failure` when the transport failed this one request (then the outcome is `Aborted`). */
  readonly settle: (outcome: OutboundRequestOutcome, failure: Error | undefined) => void
  readonly onProgress?: ((p: Progress) => void) | undefined
  /** Whether a progress token (the request's id) was sent with it. */
  readonly tokened: boolean
  /** The caller's abort signal: aborting it cancels the request (the chart sends the cancellation). */
  readonly signal?: AbortSignal | undefined
  /** Set by `start`: the listener on `signal` (removed once settled; kept on the waiter, not in a Map of its own). */
  onAbort?: (() => void) | undefined
}

/** A progress notification's numbers as the caller's `onProgress` gets them. */
export const progressOf = (p: { readonly progress: number; readonly total?: number | undefined; readonly message?: string | undefined }): Progress => ({
  progress: p.progress,
  ...(p.total !== undefined ? { total: p.total } : {}),
  ...(p.message !== undefined ? { message: p.message } : {})
})

/**
 * A client's requests in flight: its side of the `requests` child. Each `start` registers
 * the caller and starts the request's chart; responses, progress, cancellations and a
 * transport's failure of one request go to the chart; its outcome settles the caller.
 * When the child stops (the client ended), every caller left gets `Aborted`.
 */
export class OutboundRequests {
  /**
   * ClearingMaps: a long-lived client (the gateway's to its upstream, thousands of calls) adds and deletes one
   * waiter per request, and a `Map`'s dropped hash tables kept each waiter (its caller's promise, the call)
   * reachable for the young GC once a full GC had moved the table to old space (docs/performance.md,
   * "The gateway's per-call path and the young GC").
   */
  private readonly waiting = new ClearingMap<RequestId, OutboundWaiter>()
  private readonly failures = new ClearingMap<RequestId, Error>()
  private actor: RequestsActor | undefined
  /**
   * The request on its way out before its chart starts (`sending`, then `start` in the same turn: the
   * clients send first), and what its transport did to it meanwhile: answered, failed or closed inside
   * `send` (a synchronous transport of a user's). `start` takes it up, so nothing is lost.
   */
  private sendingId: RequestId | undefined
  private early: { readonly response: JsonRpcResponse } | { readonly failure: Error } | { readonly closed: string } | undefined

  private readonly onSettled: (() => void) | undefined

  /** `onSettled`: after each caller was settled (a drain waits for the last). */
  constructor(onSettled?: () => void) {
    this.onSettled = onSettled
  }

  /** Requests whose callers wait. */
  get size(): number {
    return this.waiting.size
  }

  /** The child to run the charts in (undefined before the client's chart started it and after it stopped). */
  get requests(): RequestsActor | undefined {
    return this.actor
  }

  /** The requests in flight, as `info()` lists them. */
  list(): Array<{ readonly id: RequestId; readonly method: string }> {
    return [...this.waiting].map(([id, w]) => ({ id, method: w.method }))
  }

  /**
   * The client's chart started its `requests` child: outcomes and advancing progress come
   * from it. `observer` sees its snapshots; when it stops, every caller left ends `Aborted`
   * ("client ended") before `observer.complete`.
   */
  attach(actor: RequestsActor, observer: { readonly next?: (s: OutboundRequestsSnapshot) => void; readonly complete?: () => void } = {}): void {
    this.actor = actor
    actor.subscribe({
      ...(observer.next !== undefined ? { next: observer.next } : {}),
      complete: () => {
        this.actor = undefined
        this.abortAll("client ended")
        observer.complete?.()
      }
    })
    actor.on("outcome", ({ output }) => this.settle(output))
    actor.on("progress", ({ requestId, progress }) => this.waiting.get(requestId)?.onProgress?.(progressOf(progress)))
  }

  /**
   * Request `id` is sent now, before its chart starts (`start` follows in the same turn): a response,
   * failure or close its transport delivers inside `send` is kept for `start` instead of being dropped
   * (undefined: it was not sent after all).
   */
  sending(id: RequestId | undefined): void {
    this.sendingId = id
    this.early = undefined
  }

  /**
   * Wait for `sent`'s outcome (its chart starts now); false when there is no child to run it in. The
   * request is sent after, or just before (`sending`): what happened to it meanwhile reaches its chart now.
   */
  start(sent: RequestSent, waiter: OutboundWaiter): boolean {
    const id = sent.requestId
    const early = id === this.sendingId ? this.early : undefined
    this.sendingId = undefined
    this.early = undefined
    const actor = this.actor
    if (actor === undefined) return false
    this.waiting.set(id, waiter)
    // The request's chart starts in the client's `requests` child (one tree, one inspector).
    actor.send(sent)
    const signal = waiter.signal
    if (signal !== undefined) {
      const onAbort = () => this.actor?.send({ type: "CANCEL", requestId: id, reason: String(signal.reason ?? "aborted") })
      waiter.onAbort = onAbort
      // No `once`: a signal aborts once, and the listener goes when the request settles (no options to read per request).
      signal.addEventListener("abort", onAbort)
    }
    if (early !== undefined) {
      if ("response" in early) this.response(early.response)
      else if ("failure" in early) this.fail(id, early.failure)
      else actor.send({ type: "TRANSPORT_CLOSED", requestId: id, reason: early.closed })
    }
    return true
  }

  /** Whether a caller waits on `id`. */
  has(id: RequestId): boolean {
    return this.waiting.has(id)
  }

  /** A response: to its request's chart; false when no caller waits on its id (late, foreign: the caller drops it). */
  response(message: JsonRpcResponse): boolean {
    const id = message.id
    if (id === null || id === undefined) return false
    if (!this.waiting.has(id)) {
      if (id !== this.sendingId) return false
      // Answered inside its own `send`: its chart gets it once it starts.
      this.early = { response: message }
      return true
    }
    if ("result" in message) this.actor?.send({ type: "RESPONSE", requestId: id, result: message.result })
    else this.actor?.send({ type: "ERROR_RESPONSE", requestId: id, error: message.error })
    return true
  }

  /**
   * `notifications/progress`: our progress token is the request's id, so it goes to that
   * request's chart (an unknown one changes nothing), which says whether it advances (then `onProgress`).
   */
  progress(params: Params | undefined): void {
    const token = params?.progressToken as RequestId | undefined
    if (token === undefined || typeof params?.progress !== "number" || this.waiting.get(token)?.tokened !== true) return
    this.actor?.send({
      type: "PROGRESS",
      requestId: token,
      progress: params.progress,
      ...(typeof params.total === "number" ? { total: params.total } : {}),
      ...(typeof params.message === "string" ? { message: params.message } : {})
    })
  }

  /**
   * The transport failed this one request: its chart ends as `Aborted` (no cancellation is
   * sent: the request is gone) and the caller gets `error` instead of `ConnectionLost`.
   */
  fail(id: RequestId, error: Error): void {
    if (id === this.sendingId && !this.waiting.has(id)) {
      this.early = { failure: error }
      return
    }
    if (this.actor === undefined || !hasRequest(this.actor, id)) return
    this.failures.set(id, error)
    this.actor.send({ type: "TRANSPORT_CLOSED", requestId: id, reason: error.message })
  }

  /** Cancel every request in flight (each chart sends its cancellation). */
  cancelAll(reason: string): void {
    for (const id of [...this.waiting.keys()]) this.actor?.send({ type: "CANCEL", requestId: id, reason })
  }

  /** The wire is gone: every chart ends as `Aborted` (no cancellation), and callers whose chart cannot run any more too. */
  transportClosed(reason: string): void {
    if (this.sendingId !== undefined && !this.waiting.has(this.sendingId)) this.early = { closed: reason }
    this.actor?.send({ type: "TRANSPORT_CLOSED", reason })
    this.abortAll(reason)
  }

  /** Every caller left ends `Aborted` (its chart can no longer run). */
  abortAll(reason: string): void {
    for (const id of [...this.waiting.keys()]) this.settle({ _tag: "Aborted", requestId: id, reason })
  }

  private settle(outcome: OutboundRequestOutcome): void {
    const id = outcome.requestId
    const w = this.waiting.get(id)
    if (w === undefined) return
    this.waiting.delete(id)
    if (w.signal !== undefined) {
      const onAbort = w.onAbort
      if (onAbort !== undefined) w.signal.removeEventListener("abort", onAbort)
    }
    const failure = this.failures.get(id)
    if (failure !== undefined) this.failures.delete(id)
    w.settle(outcome, failure)
    this.onSettled?.()
  }
}

/** The refusal of a call the server did not advertise the capability for (`enforceCapabilities`), or undefined. */
export const capabilityRefusal = (method: string, serverCapabilities: ServerCapabilities | undefined): CapabilityNotSupported | undefined => {
  const capability = requiredServerCapability(method)
  return capability === undefined || hasCapability(serverCapabilities, capability)
    ? undefined
    : new CapabilityNotSupported({ method, capability, message: `${method}: the server did not advertise the "${capability}" capability` })
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
