/**
 * One POST that carried JSON-RPC requests, from the body to its last response.
 *
 * Response policy (2025-11-25/basic/transports.mdx:L86-L131 lets the server pick
 * `application/json` or `text/event-stream` per request):
 * - start as JSON: when the handler answers without sending anything else
 *   first, the response is one `application/json` body (cheapest, and what
 *   most calls are);
 * - upgrade to SSE on the first related message that is not the response
 *   (progress, a log, a server→client request): headers, priming event, then
 *   every message of the exchange as an event, the response last, then the
 *   stream ends.
 * A batch (2025-03-26) answers a JSON array once every request is answered, or
 * upgrades the same way.
 *
 * The exchange does not know the era: its {@link ExchangeOwner} decides event
 * ids and what a dropped connection means (legacy session: keep recording for
 * `Last-Event-ID`; modern request: cancellation).
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http"
import type { RpcErrorObject } from "../../protocol/errors.ts"
import { encode, errorResponse, type JsonRpcMessage, type RequestId } from "../../protocol/jsonrpc.ts"
import { supersedingKey } from "../../protocol/supersedingKey.ts"
import { type SseHub, SseStream, type SseStreamOptions } from "../../transports/http/SseStream.ts"
import { writeJson } from "../../transports/http/wire.ts"

export interface ExchangeOwner {
  /** The exchange is switching to SSE: options for its stream (priming id, retry, max duration). */
  streamOptions(exchange: Exchange, forcePriming: boolean): SseStreamOptions
  /**
   * Record an event for resumption and return its id (undefined: not resumable). `supersedes`:
   * the message's `supersedingKey` (it makes older events with that key on the stream obsolete).
   */
  record(exchange: Exchange, data: string, supersedes: string | undefined): string | undefined
  /** HTTP status of a JSON answer made of this single response. */
  jsonStatus(message: JsonRpcMessage): number
  /** The exchange is over: every response delivered, cancelled, or failed. */
  finished(exchange: Exchange): void
  /** The client connection went away (or was dropped) before the exchange was over. */
  detached(exchange: Exchange): void
}

/** The exchange a watched response belongs to, for the one shared "close" listener (set while watched). */
const WATCHED_BY: unique symbol = Symbol("mcp-actors exchange")
type WatchedResponse = ServerResponse & { [WATCHED_BY]?: Exchange | undefined }

/**
 * The "close" listener of every watched response (node calls it with the response as `this`). Why one
 * function and not a closure per exchange: under churn of calls answered later (an async handler), a
 * closure per exchange as the response's listener kept every exchange, and through it its request and
 * session, alive for the young GC (modern-era calls: ≈ 10.8 MB survived each scavenge, ≈ 0.12 MB with
 * this listener; docs/performance.md, "Calls answered later: a closure per watched response").
 */
function onWatchedClose(this: WatchedResponse): void {
  this[WATCHED_BY]?.pendingClosed()
}

export class Exchange {
  readonly owner: ExchangeOwner
  // Request ids still waiting for their response: nearly every POST carries one request,
  // so that case needs no Set (an allocation per request saved); a batch gets one.
  private one: RequestId | undefined
  private oneWaiting: boolean
  private readonly many: Set<RequestId> | undefined
  /** Set for a batch: responses (encoded) collected while still in JSON mode. */
  private readonly batch: Array<string> | undefined
  private readonly hub: SseHub
  res: ServerResponse | undefined
  sse: SseStream | undefined
  /** Legacy stream number once upgraded (0 = none). */
  streamKey = 0
  upgraded = false
  done = false
  /** Extra headers for the response head (the session id on the initialize response). */
  headers: OutgoingHttpHeaders | undefined

  /** `ids`: the request of a single POST, or the requests of a batch. */
  constructor(owner: ExchangeOwner, hub: SseHub, res: ServerResponse, ids: RequestId | ReadonlyArray<RequestId>, batch: boolean) {
    this.owner = owner
    this.hub = hub
    this.res = res
    if (Array.isArray(ids)) {
      this.many = new Set(ids)
      this.oneWaiting = false
    } else {
      this.many = undefined
      this.one = ids as RequestId
      this.oneWaiting = true
    }
    this.batch = batch ? [] : undefined
  }

  /** Responses known before any request runs (a batch's invalid items): they lead the batch's answer. */
  preload(responses: ReadonlyArray<JsonRpcMessage>): void {
    for (const r of responses) this.batch?.push(encode(r))
  }

  /** How many requests still wait for their response. */
  get waiting(): number {
    return this.many !== undefined ? this.many.size : this.oneWaiting ? 1 : 0
  }

  /** The one request of a single-request exchange, while it waits. */
  get sole(): RequestId | undefined {
    return this.many === undefined && this.oneWaiting ? this.one : undefined
  }

  /** Call `fn` with each request id still waiting. */
  forEachAwaiting(fn: (id: RequestId) => void): void {
    if (this.many !== undefined) for (const id of [...this.many]) fn(id)
    else if (this.oneWaiting) fn(this.one!)
  }

  /** `id` no longer waits; false when it was not waiting. */
  private settle(id: RequestId): boolean {
    if (this.many !== undefined) return this.many.delete(id)
    if (!this.oneWaiting || this.one !== id) return false
    this.oneWaiting = false
    return true
  }

  /** Watch the connection while the exchange waits (called only if it did not finish synchronously). */
  watch(): void {
    if (this.done || this.upgraded || this.res === undefined) return
    // Already gone (the client left during an async auth hook): "close" will not fire again.
    if (this.res.destroyed) return this.pendingClosed()
    // Only here: most calls are answered before `watch` (no listener, no `off` for them).
    if (this.watched) return
    this.watched = true
    ;(this.res as WatchedResponse)[WATCHED_BY] = this
    this.res.on("close", onWatchedClose) // fires once per response; the handler is guarded anyway
  }

  /** `watch` put the shared "close" listener on `res`. */
  private watched = false

  private unwatch(): void {
    if (!this.watched) return
    this.watched = false
    const res = this.res as WatchedResponse | undefined
    if (res === undefined) return
    res.off("close", onWatchedClose)
    res[WATCHED_BY] = undefined
  }

  /** @internal The watched response closed (its shared listener). */
  pendingClosed(): void {
    if (this.done || this.upgraded) return
    // Nothing was sent yet, so the client holds no event id: there is no stream to resume.
    this.res = undefined
    this.watched = false
    this.owner.detached(this)
  }

  /**
   * One message for this exchange. `answers` is the request id it responds to
   * (undefined for progress, logs, server→client requests).
   */
  deliver(message: JsonRpcMessage, answers: RequestId | undefined): void {
    if (this.done) return
    // Encoded first: a message that cannot be serialized throws before anything changed,
    // so the session can still answer the request (-32603) through this exchange.
    const data = encode(message)
    if (answers !== undefined) this.settle(answers)
    if (!this.upgraded) {
      if (answers !== undefined) {
        if (this.batch === undefined) {
          if (this.res !== undefined) writeJson(this.res, this.owner.jsonStatus(message), data, this.headers)
          return this.finish()
        }
        this.batch.push(data)
        if (this.waiting === 0) {
          if (this.res !== undefined) writeJson(this.res, 200, `[${this.batch.join(",")}]`, this.headers)
          this.finish()
        }
        return
      }
      this.upgrade(false)
    }
    this.emit(data, answers === undefined ? supersedingKey(message) : undefined)
    if (this.waiting === 0) this.finish()
  }

  private emit(data: string, supersedes: string | undefined): void {
    const id = this.owner.record(this, data, supersedes)
    this.sse?.event(id, data)
  }

  /** Switch to SSE (first related message, or a forced close). */
  private upgrade(forcePriming: boolean): void {
    this.upgraded = true
    const res = this.res
    if (res === undefined) return
    this.unwatch()
    const options = this.owner.streamOptions(this, forcePriming)
    this.sse = new SseStream(res, this.hub, {
      ...options,
      ...(this.headers === undefined ? {} : { headers: this.headers }),
      onDetach: () => this.onStreamDetach()
    })
    // Responses: they supersede nothing.
    if (this.batch !== undefined) for (const data of this.batch.splice(0)) this.emit(data, undefined)
  }

  /** A resumed GET takes over the stream of this exchange. */
  attach(stream: SseStream): void {
    this.res = stream.res
    this.sse = stream
  }

  private onStreamDetach(): void {
    this.sse = undefined
    this.res = undefined
    if (!this.done) this.owner.detached(this)
  }

  /**
   * Server-side close of the connection before the exchange is over (SSE
   * polling, SEP-1699): switches to SSE first if needed, always with a priming
   * event, so the client can resume with `GET` + `Last-Event-ID`.
   */
  dropConnection(): boolean {
    if (this.done) return false
    if (!this.upgraded) this.upgrade(true)
    if (this.sse === undefined) return false
    this.sse.drop()
    return true
  }

  /** A request of this exchange was cancelled: no response will come for it (cancellation.mdx:L37). */
  cancel(id: RequestId): void {
    if (this.done || !this.settle(id)) return
    if (this.waiting > 0) return
    if (!this.upgraded && this.batch !== undefined && this.batch.length > 0) {
      if (this.res !== undefined) writeJson(this.res, 200, `[${this.batch.join(",")}]`, this.headers)
    } else if (!this.upgraded && this.res !== undefined && !this.res.headersSent) {
      // A request must get JSON or SSE: an event stream that ends without events says "no response".
      new SseStream(this.res, this.hub, this.headers === undefined ? {} : { headers: this.headers }).end()
    }
    this.finish()
  }

  /** Answer every request still waiting with this error (the session ended under them). */
  fail(error: RpcErrorObject): void {
    this.forEachAwaiting((id) => this.deliver(errorResponse(id, error), id))
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    this.unwatch()
    this.sse?.end()
    this.sse = undefined
    this.owner.finished(this)
  }
}
