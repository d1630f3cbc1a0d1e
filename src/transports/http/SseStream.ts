/**
 * One Server-Sent Events response (a POST response stream, a resumed stream or
 * the standalone GET stream), and the hub that keeps long-lived streams alive.
 *
 * - Opening writes the headers and, for resumable streams, a priming event (an
 *   id and empty data) with a `retry:` field (SEP-1699, 2025-11-25/basic/transports.mdx:L86-L131),
 *   so a client can reconnect with `Last-Event-ID` even if the first real event
 *   never reaches it.
 * - A stream ends in one of two ways: `end()` (its work is done) or a detach —
 *   the client went away, the server closed it early (`drop()`, polling via
 *   server-side disconnect, `maxDurationMs`), or the client stopped reading
 *   (`maxBufferedBytes`). A detach is reported once to `onDetach`; whoever owns
 *   the stream decides what it means (legacy: keep going into the event store;
 *   modern: cancel the request).
 * - Keep-alive comments (`: keepalive`) go out from one shared timer per server
 *   rather than one timer per stream. That timer and `maxDurationMs` run on the
 *   server's {@link Clock}, so virtual time drives them in tests.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http"
import { ClearingMap } from "../../protocol/ClearingMap.ts"
import { type Clock, every, systemClock } from "../../protocol/clock.ts"

/** Above this much unsent output the client is considered stalled and the connection is dropped. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024

export interface SseStreamOptions {
  readonly headers?: OutgoingHttpHeaders
  /** `retry:` sent on open (ms); undefined = none. */
  readonly retryMs?: number
  /** Id of the priming event; undefined = no priming event. */
  readonly primingId?: string
  /** Close the connection (not the logical stream) after this long; 0/undefined = never. */
  readonly maxDurationMs?: number
  readonly maxBufferedBytes?: number
  /** The connection ended before `end()`: client gone, server drop, stalled reader. */
  readonly onDetach?: () => void
}

export const SSE_HEADERS: OutgoingHttpHeaders = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  // Proxies (nginx) must not buffer the stream (2026-07-28 streamable-http.mdx:L136).
  "x-accel-buffering": "no"
}

/** Keeps the set of open streams and writes a comment on each one that has been silent for a while. */
export class SseHub {
  /**
   * By a key each stream carries, in a ClearingMap: a `Set` of the streams (each holding its
   * response and session) kept ended ones reachable for the young GC (see ClearingMap.ts).
   */
  private readonly streams = new ClearingMap<number, SseStream>()
  private nextKey = 0
  private stopTicking: (() => void) | undefined
  private readonly keepAliveMs: number
  /** The clock of the keep-alive tick and of every stream's `maxDurationMs`. */
  readonly clock: Clock

  constructor(keepAliveMs: number, clock: Clock = systemClock) {
    this.keepAliveMs = keepAliveMs
    this.clock = clock
  }

  get size(): number {
    return this.streams.size
  }

  add(stream: SseStream): void {
    if (stream.hubKey !== undefined && this.streams.get(stream.hubKey) === stream) return
    stream.hubKey = this.nextKey++
    this.streams.set(stream.hubKey, stream)
    if (this.stopTicking === undefined && this.keepAliveMs > 0) {
      // Ticking at half the period with a "wrote since last tick" flag bounds silence to one period.
      this.stopTicking = every(this.clock, Math.max(1, Math.floor(this.keepAliveMs / 2)), () => this.tick(), { unref: true })
    }
  }

  remove(stream: SseStream): void {
    if (stream.hubKey !== undefined) this.streams.deleteIf(stream.hubKey, stream)
    if (this.streams.size === 0 && this.stopTicking !== undefined) {
      this.stopTicking()
      this.stopTicking = undefined
    }
  }

  /** Whether the shared keep-alive timer is running (leak checks). */
  get ticking(): boolean {
    return this.stopTicking !== undefined
  }

  private tick(): void {
    for (const s of this.streams.values()) {
      if (s.wroteSinceTick) s.wroteSinceTick = false
      else s.comment("keepalive")
    }
  }
}

export class SseStream {
  readonly res: ServerResponse
  /** Set on every write; cleared by the hub's tick. */
  wroteSinceTick = true
  /** Its key in its hub's table while open. */
  hubKey: number | undefined = undefined
  private readonly hub: SseHub
  private readonly options: SseStreamOptions
  private done = false
  private maxTimer: unknown

  constructor(res: ServerResponse, hub: SseHub, options: SseStreamOptions = {}) {
    this.res = res
    this.hub = hub
    this.options = options
    res.writeHead(200, options.headers === undefined ? SSE_HEADERS : { ...options.headers, ...SSE_HEADERS })
    let head = ""
    if (options.primingId !== undefined) {
      head = `id: ${options.primingId}\n${options.retryMs !== undefined ? `retry: ${options.retryMs}\n` : ""}data: \n\n`
    } else if (options.retryMs !== undefined) head = `retry: ${options.retryMs}\n\n`
    if (head.length > 0) res.write(head)
    else res.flushHeaders()
    res.on("close", this.onClose)
    hub.add(this)
    // The client may already be gone (e.g. it left while an async auth hook ran): "close" will not fire again.
    // Deferred, so the owner has stored the stream before it hears about the detach.
    if (res.destroyed) queueMicrotask(this.onClose)
    if (options.maxDurationMs !== undefined && options.maxDurationMs > 0) {
      this.maxTimer = hub.clock.setTimeout(() => this.drop(), options.maxDurationMs)
    }
  }

  /** True once ended or detached: nothing more can be written. */
  get closed(): boolean {
    return this.done
  }

  /** One `message` event; `id` when the stream is resumable. */
  event(id: string | undefined, data: string): void {
    if (this.done) return
    this.wroteSinceTick = true
    this.res.write(id === undefined ? `event: message\ndata: ${data}\n\n` : `id: ${id}\nevent: message\ndata: ${data}\n\n`)
    if (this.res.writableLength > (this.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES)) {
      // The client stopped reading: stop buffering for it (resumable streams keep their events in the store).
      this.res.destroy()
    }
  }

  comment(text: string): void {
    if (this.done) return
    this.wroteSinceTick = true
    this.res.write(`: ${text}\n\n`)
  }

  /** The stream's work is done: end the response normally. */
  end(): void {
    if (this.done) return
    this.cleanup()
    this.res.end()
  }

  /** Close the connection without finishing the stream (the client may resume with Last-Event-ID). */
  drop(): void {
    if (this.done) return
    this.cleanup()
    this.res.end()
    this.options.onDetach?.()
  }

  private readonly onClose = (): void => {
    if (this.done) return
    this.cleanup()
    this.options.onDetach?.()
  }

  private cleanup(): void {
    this.done = true
    this.res.off("close", this.onClose)
    if (this.maxTimer !== undefined) this.hub.clock.clearTimeout(this.maxTimer)
    this.hub.remove(this)
  }
}
