/**
 * The Streamable HTTP client transport for the legacy era (2025-03-26 …
 * 2025-11-25; spec-digest §3.A, 2025-11-25/basic/transports.mdx:L86-L280).
 * It turns the `Transport` contract (frames in, frames out) into HTTP:
 *
 * - **POST per message** with `Accept: application/json, text/event-stream`
 *   (L86-L131). A request's answer comes as JSON or as an SSE stream; every
 *   message of the stream is delivered through `onFrame`. Notifications and
 *   responses expect 202.
 * - **Session and version headers.** `Mcp-Session-Id` is taken from the
 *   `initialize` response (visible ASCII only, L192-L220) and sent on every
 *   later request, with `MCP-Protocol-Version` = the negotiated version
 *   (L263-L280). Requests wait for `notifications/initialized` to be accepted
 *   (POSTs are concurrent; without that gate a server could see `tools/list`
 *   before `initialized` and refuse it, lifecycle.mdx:L157-L159).
 * - **Standalone stream.** Once `initialized` is accepted, a GET opens the
 *   server→client stream (L133-L154); 405 means the server offers none.
 * - **Resumption** (L164-L190). A POST stream that ends before its response,
 *   and the standalone stream whenever it ends, are resumed with GET +
 *   `Last-Event-ID`, after the server's `retry:` delay (a MUST) growing
 *   exponentially on repeated failures. Attempts are bounded **per outage**:
 *   the count is reset only when a stream delivers something (an event or a
 *   new event id), never by a stream that merely connected and ended, so a
 *   server that accepts and hangs up at once cannot keep the client looping.
 *   A POST stream without any event id cannot be resumed: its request fails
 *   with `ConnectionLost`.
 * - **Errors.** An error status whose body is a JSON-RPC error becomes that
 *   error for the pending request (an `RpcError` for the caller); any other
 *   error status fails it with a typed `HttpError`; a connection lost on the
 *   way back fails it with `ConnectionLost` (the server may have acted on it,
 *   so it is not re-sent). These go through the session's `onRequestFailed`
 *   hook and leave the transport running.
 * - **Session loss.** A 404 to a request carrying the session id means the
 *   server forgot the session (L192-L220: the client MUST start a new one).
 *   Every in-flight request fails with `SessionLost` and the transport ends
 *   (`expected: false`, `sessionLost` true). Re-initializing is the owner's
 *   job: a `ClientSession` cannot go back to its handshake — see
 *   `src/client/HttpClientSession.ts`.
 * - **Unreachable for good** (the rule): a connection that fails before
 *   reaching the server (refused, DNS, unreachable, connect timeout) is safe
 *   to retry, and is, with the same backoff; when one POST, GET or resumption
 *   has failed that way `maxAttempts + 1` times in a row (≈ 8 s with the
 *   defaults), the server is unreachable for good: the transport ends with
 *   `onClose({ expected: false })`. No other failure ends it.
 * - **Close**: stops every stream and retry, sends DELETE with the session id
 *   (405 and errors ignored, bounded by `deleteTimeoutMs`) and destroys the
 *   connection pool; then `onClose({ expected: true })`.
 *
 * `authoritativeLiveness` is false: HTTP does not tell us when a server dies,
 * so the session keeps its keepalive pings.
 */
import { once, setMaxListeners } from "node:events"
import type { Agent } from "node:http"
import type { Socket } from "node:net"
import { setTimeout as sleepFor } from "node:timers/promises"
import { ConnectionLost, SessionLost } from "../../../protocol/requestErrors.ts"
import { backoffDelay } from "../../../protocol/backoff.ts"
import type { ClientTransportHandlers } from "../../Transport.ts"
import type { JsonRpcMessage, RequestId } from "../../../protocol/jsonrpc.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport, type TransportClosed, type TransportHandlers } from "../../Transport.ts"
import { HttpError, HttpNetworkError } from "./errors.ts"
import {
  deleteSession,
  type GetOutcome,
  HEADER_PROTOCOL_VERSION,
  HEADER_SESSION_ID,
  headerValue,
  openEventStream,
  postMessage,
  type PostOutcome,
  type SseStream
} from "./HttpExchange.ts"
import { DEFAULT_CONNECT_TIMEOUT_MS, makeAgent } from "./httpRequest.ts"

export interface ReconnectOptions {
  /** First delay when the server gave no `retry:`. Default 250 ms. */
  readonly initialDelayMs?: number
  /** Cap of the exponential growth (never below the server's `retry:`). Default 5 s. */
  readonly maxDelayMs?: number
  /** Growth per failed attempt. Default 2. */
  readonly factor?: number
  /** Attempts per outage (reconnections of a stream, re-sends of an unsent message). Default 5. */
  readonly maxAttempts?: number
}

export type HeadersInit =
  | Readonly<Record<string, string>>
  | (() => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>)

export interface HttpClientTransportOptions {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  readonly url: string | URL
  /** Extra headers on every request (e.g. `authorization`); a function is called per request. */
  readonly headers?: HeadersInit
  /** Largest JSON body or SSE event accepted (larger ones are dropped and reported). Default 4 MiB. */
  readonly maxMessageBytes?: number
  readonly reconnect?: ReconnectOptions
  /** Open the standalone GET stream after initialization. Default true. */
  readonly standaloneStream?: boolean
  /** TCP/TLS connect deadline per request. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** Deadline of the DELETE sent by `close()`. Default 2 s. */
  readonly deleteTimeoutMs?: number
  /** Send DELETE on close. Default true. */
  readonly deleteOnClose?: boolean
  /** Human-readable notes on things that went wrong without failing a request (a rejected notification, a dropped stream). */
  readonly onDiagnostic?: (text: string) => void
}

interface ResolvedReconnect {
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  readonly factor: number
  readonly maxAttempts: number
}

/** One request in flight: from its POST to its response, over as many resumptions as it takes. */
interface RequestExchange {
  readonly id: RequestId
  readonly method: string
  readonly abort: AbortController
  readonly signal: AbortSignal
  /** Answered (or failed, or given up): stop resuming, ignore what is left. */
  done: boolean
}

/** Where a stream's messages belong: a request's stream, or the standalone GET stream. */
type StreamOwner = RequestExchange | undefined

/**
 * The delay before reconnection attempt `attempt` (1-based): the server's
 * `retry:` (else `initialDelayMs`) the first time, then growing by `factor`,
 * capped at `maxDelayMs` — but never below the server's `retry:`.
 */
export const reconnectDelay = (attempt: number, retryMs: number | undefined, options: ResolvedReconnect): number => {
  const base = retryMs ?? options.initialDelayMs
  return backoffDelay({ baseMs: base, factor: options.factor, maxMs: Math.max(options.maxDelayMs, base) }, attempt)
}

/** Session ids MUST be visible ASCII (0x21–0x7E) (2025-11-25/basic/transports.mdx:L192-L220). */
const isValidSessionId = (id: string): boolean => /^[\x21-\x7e]+$/.test(id)

const noop = () => {}

export class HttpClientTransport implements Transport {
  readonly kind = "http" as const
  readonly authoritativeLiveness = false
  readonly url: URL
  private readonly options: HttpClientTransportOptions
  private readonly reconnect: ResolvedReconnect
  private readonly maxMessageBytes: number
  private readonly agent: Agent
  private readonly lifetime = new AbortController()
  private readonly tasks = new Set<Promise<void>>()
  private readonly exchanges = new Map<RequestId, RequestExchange>()
  /** Every socket still open, so `close()` resolves only once they are all closed. */
  private readonly sockets = new Set<Socket>()
  private readonly onSocket = (socket: Socket): void => {
    if (this.sockets.has(socket) || socket.destroyed) return
    this.sockets.add(socket)
    socket.once("close", () => this.sockets.delete(socket))
  }
  private handlers: (TransportHandlers & Partial<ClientTransportHandlers>) | undefined
  private sessionIdValue: string | undefined
  private protocolVersionValue: string | undefined
  private initializeId: RequestId | undefined
  /** Requests wait for `notifications/initialized` to be accepted. */
  private gate: Promise<void> | undefined
  private standaloneStarted = false
  private endedWith: TransportClosed | undefined
  private closing: Promise<void> | undefined
  private sessionLostValue = false

  constructor(options: HttpClientTransportOptions) {
    this.options = options
    this.url = new URL(options.url)
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${this.url.href}`)
    this.reconnect = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 250,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 5_000,
      factor: options.reconnect?.factor ?? 2,
      maxAttempts: options.reconnect?.maxAttempts ?? 5
    }
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.agent = makeAgent(this.url)
    // Every exchange listens on it (directly or through AbortSignal.any): many may run at once.
    setMaxListeners(0, this.lifetime.signal)
  }

  /** The session id the server assigned (undefined before initialize, or for a server without sessions). */
  get sessionId(): string | undefined {
    return this.sessionIdValue
  }
  /** The negotiated protocol version, sent as `MCP-Protocol-Version` (undefined before initialize). */
  get protocolVersion(): string | undefined {
    return this.protocolVersionValue
  }
  /** True once the server answered 404 to our session id: the transport ended and a new session is needed. */
  get sessionLost(): boolean {
    return this.sessionLostValue
  }
  /** True once the transport ended (closed, session lost, server unreachable). */
  get ended(): boolean {
    return this.endedWith !== undefined
  }

  start(handlers: TransportHandlers): void {
    if (this.handlers !== undefined) throw new Error("HttpClientTransport.start: already started")
    this.handlers = handlers
  }

  send(message: JsonRpcMessage): void {
    if (this.handlers === undefined || this.isDone()) return
    const text = JSON.stringify(message)
    if ("method" in message && "id" in message) {
      const abort = new AbortController()
      const ex: RequestExchange = {
        id: message.id,
        method: message.method,
        abort,
        signal: AbortSignal.any([abort.signal, this.lifetime.signal]),
        done: false
      }
      this.exchanges.set(ex.id, ex)
      if (ex.method === "initialize") this.initializeId = ex.id
      this.track(this.runRequest(ex, text))
      return
    }
    const label = "method" in message ? message.method : "response"
    if ("method" in message && message.method === "notifications/cancelled") {
      // The request is over for the caller: stop following its stream.
      const target = this.exchanges.get(message.params?.requestId as RequestId)
      if (target !== undefined) this.settle(target)
    }
    if ("method" in message && message.method === "notifications/initialized") {
      const acknowledged = this.runOneWay(label, text, true)
      this.gate = acknowledged
      this.track(acknowledged)
      return
    }
    this.track(this.runOneWay(label, text, false))
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closing = (async () => {
      const mayDelete = this.options.deleteOnClose !== false && this.sessionIdValue !== undefined && !this.sessionLostValue && this.endedWith === undefined
      this.lifetime.abort()
      this.exchanges.clear()
      await Promise.allSettled([...this.tasks])
      if (mayDelete) await this.sendDelete()
      this.agent.destroy()
      // A socket leaves the set on its 'close' event, which comes once its handle is closed
      // (`destroyed`/`closed` are set earlier, before the handle is gone).
      await Promise.all([...this.sockets].map((socket) => once(socket, "close").catch(noop)))
      this.end({ expected: true, reason: "closed" })
    })()
    return this.closing
  }

  // ---------------------------------------------------------------- requests

  private async runRequest(ex: RequestExchange, text: string): Promise<void> {
    if (this.gate !== undefined) await this.gate
    const sent = await this.post(text, ex.signal, ex)
    if (sent === undefined || ex.done) {
      if (sent?.outcome._tag === "Stream") sent.outcome.stream.close()
      return
    }
    const { outcome, sessionId } = sent
    switch (outcome._tag) {
      case "Accepted":
        return // the answer will come on another stream (the standalone one)
      case "TooLarge":
        this.handlers?.onOversized(outcome.bytes)
        return this.failRequest(ex, new ConnectionLost({ method: ex.method, message: `${ex.method}: the response (${outcome.bytes} bytes) exceeds maxMessageBytes` }))
      case "Json":
        if (!this.acceptSession(ex, outcome)) return
        for (const frame of outcome.messages) this.deliver(frame, ex)
        if (!ex.done) {
          this.failRequest(ex, new HttpError({ method: ex.method, status: outcome.status, message: `${ex.method}: the JSON response did not contain its answer` }))
        }
        return
      case "Stream": {
        if (!this.acceptSession(ex, outcome)) return outcome.stream.close()
        const { stream } = outcome
        await this.consume(stream, ex)
        if (!ex.done) await this.follow(ex, stream.lastEventId, stream.retryMs, true)
        return
      }
      case "Rejected":
        return this.rejected(ex, ex.method, outcome, sessionId)
    }
  }

  /**
   * The answer to `initialize` carries the session id; it must be known before
   * the result is delivered (the session answers with `initialized` at once).
   */
  private acceptSession(ex: RequestExchange, outcome: PostOutcome): boolean {
    if (ex.id !== this.initializeId || this.sessionIdValue !== undefined) return true
    const id = headerValue(outcome.headers, HEADER_SESSION_ID)
    if (id === undefined) return true // a server without sessions
    if (!isValidSessionId(id)) {
      this.end({ expected: false, reason: `initialize: the server sent an invalid Mcp-Session-Id (${JSON.stringify(id.slice(0, 64))})` })
      return false
    }
    this.sessionIdValue = id
    return true
  }

  private rejected(ex: RequestExchange | undefined, method: string, outcome: Extract<PostOutcome, { _tag: "Rejected" }>, sessionId: string | undefined): void {
    if (outcome.status === 404 && sessionId !== undefined) return this.loseSession(`${method} answered 404`)
    const what = `${method}: HTTP ${outcome.status}${outcome.rpcError ? ` (${outcome.rpcError.code} ${outcome.rpcError.message})` : snippet(outcome.body)}`
    if (ex === undefined) return this.diagnostic(what)
    if (outcome.rpcError !== undefined) {
      // The body answers this request (its id may be missing or null: HTTP already correlates them).
      this.deliver(JSON.stringify({ jsonrpc: "2.0", id: ex.id, error: outcome.rpcError }), ex)
      return
    }
    if (ex.id === this.initializeId) return this.end({ expected: false, reason: `initialize failed: ${what}` })
    this.failRequest(ex, new HttpError({ method, status: outcome.status, message: what, ...(outcome.body !== "" ? { body: outcome.body.slice(0, 512) } : {}) }))
  }

  // ---------------------------------------------------------------- notifications and responses

  private async runOneWay(label: string, text: string, isInitialized: boolean): Promise<void> {
    if (!isInitialized && this.gate !== undefined) await this.gate
    const sent = await this.post(text, this.lifetime.signal, undefined)
    if (sent === undefined) return
    const { outcome, sessionId } = sent
    switch (outcome._tag) {
      case "Stream":
        outcome.stream.close()
        break
      case "Rejected":
        return this.rejected(undefined, label, outcome, sessionId)
      default:
        break
    }
    if (isInitialized && !this.isDone() && this.options.standaloneStream !== false && !this.standaloneStarted) {
      this.standaloneStarted = true
      this.track(this.follow(undefined, "", undefined, false))
    }
  }

  // ---------------------------------------------------------------- the wire

  /**
   * POST with retries while the connection fails before reaching the server
   * (nothing was sent, so nothing can be duplicated). Resolves undefined when
   * aborted or when the server turned out unreachable for good (the transport
   * then ended); a failure after reaching the server fails the request.
   */
  private async post(text: string, signal: AbortSignal, ex: RequestExchange | undefined): Promise<{ readonly outcome: PostOutcome; readonly sessionId: string | undefined } | undefined> {
    for (let attempt = 1;; attempt++) {
      if (signal.aborted || this.isDone()) return undefined
      const sessionId = this.sessionIdValue
      try {
        const outcome = await postMessage(this.url, text, {
          headers: await this.requestHeaders(),
          signal,
          agent: this.agent,
          onSocket: this.onSocket,
          connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          maxMessageBytes: this.maxMessageBytes,
          onOversized: (bytes) => this.handlers?.onOversized(bytes)
        })
        return { outcome, sessionId }
      } catch (e) {
        if (signal.aborted || this.isDone()) return undefined
        if (e instanceof HttpNetworkError && !e.reachedServer) {
          if (attempt > this.reconnect.maxAttempts) {
            this.unreachable(e, attempt)
            return undefined
          }
          if (!(await this.sleep(reconnectDelay(attempt, undefined, this.reconnect), signal))) return undefined
          continue
        }
        const message = e instanceof Error ? e.message : String(e)
        if (ex !== undefined) this.failRequest(ex, new ConnectionLost({ method: ex.method, message: `${ex.method}: connection lost before the answer (${message})` }))
        else this.diagnostic(`a message could not be delivered: ${message}`)
        return undefined
      }
    }
  }

  /** Read a stream to its end, delivering each message. True when it made progress (an event or a new event id). */
  private async consume(stream: SseStream, owner: StreamOwner): Promise<boolean> {
    const before = stream.lastEventId
    let events = 0
    const stop = () => stream.close()
    const signal = owner?.signal ?? this.lifetime.signal
    signal.addEventListener("abort", stop, { once: true })
    try {
      for await (const event of stream) {
        events++
        if (event.type !== "message" || event.data === "") continue // priming events, other event types
        this.deliver(event.data, owner)
        if (owner?.done || this.isDone()) break
      }
    } finally {
      signal.removeEventListener("abort", stop)
    }
    return events > 0 || stream.lastEventId !== before
  }

  /**
   * Keep a stream going with GET (+ `Last-Event-ID` once there is a cursor):
   * the standalone stream (`owner` undefined) for as long as the transport
   * lives, a request's stream until its answer arrives. `reconnecting` is
   * false for the first GET of the standalone stream (no delay).
   */
  private async follow(owner: StreamOwner, cursor: string, retryMs: number | undefined, reconnecting: boolean): Promise<void> {
    const what = owner === undefined ? "the standalone stream" : `the response stream of ${owner.method}`
    const signal = owner?.signal ?? this.lifetime.signal
    if (owner !== undefined && cursor === "") {
      return this.failRequest(owner, new ConnectionLost({ method: owner.method, message: `${owner.method}: the response stream ended before the answer and the server gave no event id to resume it` }))
    }
    let attempts = 0
    let lastFailure: unknown = undefined
    for (;;) {
      if (signal.aborted || this.isDone() || owner?.done) return
      if (reconnecting) {
        attempts++
        if (attempts > this.reconnect.maxAttempts) {
          if (lastFailure instanceof HttpNetworkError && !lastFailure.reachedServer) return this.unreachable(lastFailure, attempts)
          const message = `${what} could not be resumed after ${this.reconnect.maxAttempts} attempts${lastFailure === undefined ? "" : ` (last: ${describe(lastFailure)})`}`
          if (owner === undefined) return this.diagnostic(message)
          return this.failRequest(owner, new ConnectionLost({ method: owner.method, message: `${owner.method}: ${message}` }))
        }
        if (!(await this.sleep(reconnectDelay(attempts, retryMs, this.reconnect), signal))) return
      }
      reconnecting = true
      let outcome: GetOutcome
      const sessionId = this.sessionIdValue
      try {
        outcome = await openEventStream(this.url, {
          headers: await this.requestHeaders(),
          lastEventId: cursor,
          signal,
          agent: this.agent,
          onSocket: this.onSocket,
          connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          maxMessageBytes: this.maxMessageBytes,
          onOversized: (bytes) => this.handlers?.onOversized(bytes)
        })
      } catch (e) {
        if (signal.aborted || this.isDone()) return
        lastFailure = e
        continue
      }
      if (outcome._tag === "Rejected") {
        if (outcome.status === 404 && sessionId !== undefined) return this.loseSession(`GET (${what}) answered 404`)
        if (outcome.status === 405) {
          if (owner === undefined) return // no standalone stream on this server: fine
          return this.failRequest(owner, new ConnectionLost({ method: owner.method, message: `${owner.method}: the response stream ended before the answer and the server does not resume streams (GET 405)` }))
        }
        lastFailure = new HttpError({ method: "GET", status: outcome.status, message: `GET: HTTP ${outcome.status}${snippet(outcome.body)}` })
        continue
      }
      const { stream } = outcome
      if (await this.consume(stream, owner)) attempts = 0
      if (stream.lastEventId !== "") cursor = stream.lastEventId
      retryMs = stream.retryMs ?? retryMs
      lastFailure = stream.endedBy === "error" ? new Error("the connection broke") : new Error("the server ended the stream")
    }
  }

  /** One message from the server: note what the transport needs from it, then hand it to the session. */
  private deliver(text: string, via: StreamOwner): void {
    if (this.handlers === undefined || this.isDone()) return
    const answered = answeredId(text)
    if (answered !== undefined) {
      if (answered.id === this.initializeId && typeof answered.protocolVersion === "string") this.protocolVersionValue = answered.protocolVersion
      const ex = this.exchanges.get(answered.id)
      if (ex !== undefined) {
        this.exchanges.delete(ex.id)
        ex.done = true
        // Answered on another stream (a resumption, the standalone stream): stop following its own.
        if (ex !== via) ex.abort.abort()
      }
    }
    this.handlers.onFrame(text)
  }

  private async requestHeaders(): Promise<Record<string, string>> {
    const h = this.options.headers
    const extra = typeof h === "function" ? await h() : h
    const out: Record<string, string> = { ...extra }
    if (this.sessionIdValue !== undefined) out[HEADER_SESSION_ID] = this.sessionIdValue
    if (this.protocolVersionValue !== undefined) out[HEADER_PROTOCOL_VERSION] = this.protocolVersionValue
    return out
  }

  private async sendDelete(): Promise<void> {
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(), this.options.deleteTimeoutMs ?? 2_000)
    try {
      const status = await deleteSession(this.url, { headers: await this.requestHeaders(), signal: timeout.signal, agent: this.agent, onSocket: this.onSocket })
      if (status >= 400 && status !== 405 && status !== 404) this.diagnostic(`DELETE answered ${status}`)
    } catch (e) {
      this.diagnostic(`DELETE failed: ${describe(e)}`)
    } finally {
      clearTimeout(timer)
    }
  }

  // ---------------------------------------------------------------- endings

  /** This request is over (answered elsewhere, cancelled): stop its stream and retries. */
  private settle(ex: RequestExchange): void {
    this.exchanges.delete(ex.id)
    ex.done = true
    ex.abort.abort()
  }

  private failRequest(ex: RequestExchange, error: Error): void {
    if (ex.done) return
    this.settle(ex)
    if (this.handlers?.onRequestFailed !== undefined) this.handlers.onRequestFailed(ex.id, error)
    else this.diagnostic(`${error.message} (the session has no onRequestFailed hook: the request stays pending until its timeout)`)
  }

  private loseSession(reason: string): void {
    if (this.isDone()) return
    this.sessionLostValue = true
    const lost = [...this.exchanges.values()]
    for (const ex of lost) {
      this.failRequest(ex, new SessionLost({ method: ex.method, message: `${ex.method}: the server lost the session (${reason})` }))
    }
    this.end({ expected: false, reason: `session lost: ${reason}` })
  }

  private unreachable(e: HttpNetworkError, attempts: number): void {
    this.end({ expected: false, reason: `server unreachable (${attempts} attempts): ${e.message}` })
  }

  private end(closed: TransportClosed): void {
    if (this.endedWith !== undefined) return
    this.endedWith = closed
    this.lifetime.abort()
    this.handlers?.onClose(closed)
  }

  private isDone(): boolean {
    return this.endedWith !== undefined || this.lifetime.signal.aborted
  }

  private diagnostic(text: string): void {
    this.options.onDiagnostic?.(text)
  }

  private sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    return sleepFor(ms, undefined, { signal }).then(() => true, () => false)
  }

  private track(task: Promise<void>): void {
    const t = task.catch((e: unknown) => this.diagnostic(`internal error: ${describe(e)}`))
    this.tasks.add(t)
    void t.finally(() => this.tasks.delete(t)).catch(noop)
  }
}

/** The id of a response (and the `protocolVersion` of a result, for `initialize`), without trusting the text. */
const answeredId = (text: string): { readonly id: RequestId; readonly protocolVersion: unknown } | undefined => {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof v !== "object" || v === null || Array.isArray(v) || "method" in v) return undefined
  const id = (v as { id?: unknown }).id
  if (typeof id !== "string" && typeof id !== "number") return undefined
  const result = (v as { result?: unknown }).result
  const protocolVersion = typeof result === "object" && result !== null ? (result as { protocolVersion?: unknown }).protocolVersion : undefined
  return { id, protocolVersion }
}

const snippet = (body: string): string => (body.trim() === "" ? "" : `: ${body.trim().slice(0, 200)}`)

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A transport for `url` (see {@link HttpClientTransport}). */
export const makeHttpClientTransport = (options: HttpClientTransportOptions): HttpClientTransport => new HttpClientTransport(options)
