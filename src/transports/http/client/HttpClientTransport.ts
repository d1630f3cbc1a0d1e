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
 * The lifecycle is a chart, {@link httpClientConnectionMachine} (machines/httpClientConnection.ts):
 * the init gate, the endings and the DELETE are its states, and every message
 * and stream is an {@link httpExchangeMachine} child whose retries, resumptions
 * and backoff are its states and delays. This class provides the I/O (POST,
 * GET, DELETE, delivering frames) as the charts' actors and actions, so timers
 * run on the actor's clock (`clock` option: a `SimulatedClock` in tests).
 *
 * `authoritativeLiveness` is false: HTTP does not tell us when a server dies,
 * so the session keeps its keepalive pings.
 */
import { once } from "node:events"
import type { Agent } from "node:http"
import type { Socket } from "node:net"
import { type Actor, type ActorOptions, type AnyActorLogic, type AnyActorRef, createActor, fromPromise, sendParent, toPromise } from "xstate"
import { type HttpClientConnectionEvent, httpClientConnectionMachine, type QueuedMessage } from "../../../../machines/httpClientConnection.ts"
import {
  DEFAULT_HTTP_RECONNECT,
  type HttpExchangeContext,
  type HttpExchangeIo,
  exchangeEnded,
  httpExchangeMachine,
  type HttpReconnectPolicy,
  type PostSummary,
  reconnectDelay,
  type ResumeSummary
} from "../../../../machines/httpExchange.ts"
import { type Clock, systemClock } from "../../../protocol/clock.ts"
import { ConnectionLost, SessionLost } from "../../../protocol/requestErrors.ts"
import type { ClientTransportHandlers } from "../../Transport.ts"
import { isResponseHead, type JsonRpcMessage, oversizedResponseFailure, type RequestId } from "../../../protocol/jsonrpc.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport, type TransportClosed, type TransportHandlers } from "../../Transport.ts"
import { HttpError, HttpNetworkError } from "./errors.ts"
import { deleteSession, HEADER_PROTOCOL_VERSION, HEADER_SESSION_ID, headerValue, type HttpExchangeOptions, openEventStream, postMessage, type PostOutcome, type SseStream } from "./HttpExchange.ts"
import { DEFAULT_CONNECT_TIMEOUT_MS, makeAgent } from "./httpRequest.ts"

export { reconnectDelay }

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
  /** The clock of the backoff and DELETE timers. Default: real time. */
  readonly clock?: Clock
  /** The actor whose child the connection chart is (a client's node in a runtime's tree); default: a root of its own. */
  readonly actorParent?: AnyActorRef
  /**
   * What makes the connection chart's actor: the runtime's `createLeanActor` (what every actor
   * of a runtime is made with: its scheduler, inspection and creation hook), passed down by the
   * client layer since a transport may not import the runtime. Default: xstate's `createActor`.
   */
  readonly createActor?: <TLogic extends AnyActorLogic>(logic: TLogic, options: ActorOptions<TLogic>) => Actor<TLogic>
}

const realClock: Clock = systemClock

const noop = () => {}

type Relay = (source: AnyActorRef | undefined, target: AnyActorRef, event: { readonly type: string }) => void

/**
 * A connection that is a root of its own (no runtime tree, whose relay already does
 * this): its exchanges' done events (`xstate.done.actor.<ever-new id>`) are dropped
 * before it processes them. It names none (each exchange reports `EXCHANGE_ENDED`),
 * and xstate memoizes transition candidates per event type for the life of the chart,
 * so every call would add an entry (issue 8).
 */
const dropExchangeDoneEvents = (connection: AnyActorRef, exchange: AnyActorLogic): void => {
  const system = connection.system as unknown as { _relay?: Relay }
  const relay = system._relay
  if (relay === undefined) return
  system._relay = (source, target, event) => {
    if (target === connection && (source as { readonly logic?: unknown } | undefined)?.logic === exchange && event.type.startsWith("xstate.done.actor.")) return
    relay(source, target, event)
  }
}

type ConnectionActor = Actor<typeof httpClientConnectionMachine>

export class HttpClientTransport implements Transport {
  readonly kind = "http" as const
  readonly authoritativeLiveness = false
  readonly url: URL
  private readonly options: HttpClientTransportOptions
  private readonly reconnect: HttpReconnectPolicy
  private readonly maxMessageBytes: number
  private readonly agent: Agent
  private readonly clock: Clock
  /** The connection chart, running from construction to the end. */
  private readonly actor: ConnectionActor
  /** Aborted when closing starts or the connection ends: every exchange's I/O stops. */
  private readonly lifetime = new AbortController()
  /** Every socket still open, so `close()` resolves only once they are all closed. */
  private readonly sockets = new Set<Socket>()
  private readonly onSocket = (socket: Socket): void => {
    if (this.sockets.has(socket) || socket.destroyed) return
    this.sockets.add(socket)
    socket.once("close", () => this.sockets.delete(socket))
  }
  private handlers: (TransportHandlers & Partial<ClientTransportHandlers>) | undefined
  private endedWith: TransportClosed | undefined
  private closing: Promise<void> | undefined
  /** Set on entering the chart's `sessionLost` (before `onClose`, which reads it). */
  private lostSession = false

  constructor(options: HttpClientTransportOptions) {
    this.options = options
    this.url = new URL(options.url)
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${this.url.href}`)
    this.reconnect = { ...DEFAULT_HTTP_RECONNECT, ...definedOnly(options.reconnect) }
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.agent = makeAgent(this.url)
    this.clock = options.clock ?? realClock
    const exchange = httpExchangeMachine.provide({
      actors: {
        post: fromPromise<PostSummary, HttpExchangeIo>(({ input, signal }) => this.post(input, this.withLifetime(signal))),
        resume: fromPromise<ResumeSummary, HttpExchangeIo>(({ input, signal }) => this.resume(input, this.withLifetime(signal)))
      },
      actions: {
        reportFailure: ({ context }) => this.later(() => this.exchangeFailed(context)),
        diagnostic: (_, params) => this.diagnostic(params.text),
        reportEnd: sendParent(({ context, self }) => exchangeEnded(self.id, context))
      }
    })
    const machine = httpClientConnectionMachine.provide({
      actors: {
        exchange,
        deleteSession: fromPromise(() => this.sendDelete()),
        release: fromPromise(() => this.release())
      },
      actions: {
        failInFlight: ({ self, context }) => this.failInFlight(self, context.queue, (context.reason ?? "404").replace(/^session lost: /, "")),
        abortExchanges: () => this.lifetime.abort(),
        reportClosed: () => this.end({ expected: true, reason: "closed" }),
        reportEnded: ({ context }) => this.end({ expected: false, reason: context.reason ?? "ended" })
      }
    })
    this.actor = (options.createActor ?? createActor)(machine, {
      input: {
        ...(options.standaloneStream === undefined ? {} : { standaloneStream: options.standaloneStream }),
        ...(options.deleteOnClose === undefined ? {} : { deleteOnClose: options.deleteOnClose }),
        reconnect: this.reconnect
      },
      clock: this.clock,
      ...(options.actorParent !== undefined ? { parent: options.actorParent } : {})
    })
    if (options.actorParent === undefined) dropExchangeDoneEvents(this.actor, exchange)
    this.actor.start()
  }

  /** The session id the server assigned (undefined before initialize, or for a server without sessions). */
  get sessionId(): string | undefined {
    return this.actor.getSnapshot().context.sessionId
  }
  /** The negotiated protocol version, sent as `MCP-Protocol-Version` (undefined before initialize). */
  get protocolVersion(): string | undefined {
    return this.actor.getSnapshot().context.protocolVersion
  }
  /** True once the server answered 404 to our session id: the transport ended and a new session is needed. */
  get sessionLost(): boolean {
    return this.lostSession
  }
  /** True once the transport ended (closed, session lost, server unreachable). */
  get ended(): boolean {
    return this.endedWith !== undefined
  }
  /** The connection chart's actor (read-only use: inspection, tests). */
  get connection(): ConnectionActor {
    return this.actor
  }

  start(handlers: TransportHandlers): void {
    if (this.handlers !== undefined) throw new Error("HttpClientTransport.start: already started")
    this.handlers = handlers
  }

  send(message: JsonRpcMessage): void {
    if (this.handlers === undefined || this.endedWith !== undefined) return
    const text = JSON.stringify(message)
    if (!("method" in message)) return this.step({ type: "ONE_WAY", label: "response", text })
    if ("id" in message) return this.step({ type: "REQUEST", id: message.id, method: message.method, text })
    if (message.method === "notifications/initialized") return this.step({ type: "INITIALIZED", text })
    if (message.method === "notifications/cancelled") {
      // The request is over for the caller: stop following its stream.
      const target = message.params?.requestId
      if (typeof target === "string" || typeof target === "number") this.step({ type: "CANCEL", id: target })
    }
    this.step({ type: "ONE_WAY", label: message.method, text })
  }

  /**
   * The session calls `send` from inside its own chart's actions; stepping this
   * chart there would nest one actor's step in another's (xstate warns when a
   * nested step spawns). A microtask later, in order, nothing is nested.
   */
  private step(event: HttpClientConnectionEvent): void {
    queueMicrotask(() => this.actor.send(event))
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closing = (async () => {
      if (this.actor.getSnapshot().status === "active") {
        const done = toPromise(this.actor).catch(noop)
        this.actor.send({ type: "CLOSE" })
        await done
      }
      // Ended on its own (or while closing): the pool still has to go.
      if (this.actor.getSnapshot().value !== "closed") await this.release()
      this.end({ expected: true, reason: "closed" })
    })()
    return this.closing
  }

  // ---------------------------------------------------------------- the exchanges' I/O (provided actors)

  /** POST one message; deliver what comes back; summarize for the exchange chart. */
  private async post(io: HttpExchangeIo, signal: AbortSignal): Promise<PostSummary> {
    const headers = await this.requestHeaders()
    const hadSession = headers[HEADER_SESSION_ID] !== undefined
    let outcome: PostOutcome
    try {
      outcome = await postMessage(this.url, io.text, this.exchangeOptions(headers, signal, io))
    } catch (e) {
      return networkFailure(e)
    }
    const request = io.kind === "request"
    switch (outcome._tag) {
      case "Accepted":
        return { _tag: "Accepted" }
      case "TooLarge":
        if (!request) return { _tag: "TooLarge", bytes: outcome.bytes }
        this.handlers?.onOversized(outcome.bytes)
        if (io.id === undefined) return { _tag: "TooLarge", bytes: outcome.bytes }
        // The body is the request's answer, unread: the request fails as with any invalid response.
        this.deliver(JSON.stringify(oversizedResponseFailure(io.id, outcome.bytes)))
        return { _tag: "Answered" }
      case "Json":
        if (request && !this.acceptSession(io, outcome)) return { _tag: "Answered" }
        if (request) for (const frame of outcome.messages) this.deliver(frame)
        return { _tag: "Json", status: outcome.status }
      case "Stream": {
        if (!request || !this.acceptSession(io, outcome)) {
          outcome.stream.close()
          return { _tag: "Accepted" }
        }
        return this.read(outcome.stream, signal)
      }
      case "Rejected": {
        const what = `${io.method}: HTTP ${outcome.status}${outcome.rpcError ? ` (${outcome.rpcError.code} ${outcome.rpcError.message})` : snippet(outcome.body)}`
        const rejected = { _tag: "Rejected", status: outcome.status, message: what, body: outcome.body, hadSession } as const
        if (!request || (outcome.status === 404 && hadSession)) return rejected
        if (outcome.rpcError !== undefined && io.id !== undefined) {
          // The body answers this request (its id may be missing or null: HTTP already correlates them).
          this.deliver(JSON.stringify({ jsonrpc: "2.0", id: io.id, error: outcome.rpcError }))
          return { _tag: "Answered" }
        }
        if (io.method === "initialize") return { _tag: "InitializeFailed", reason: `initialize failed: ${what}` }
        return rejected
      }
    }
  }

  /** What the POST and the GET of an exchange both go out with. */
  private exchangeOptions(headers: Record<string, string>, signal: AbortSignal, io: HttpExchangeIo): HttpExchangeOptions {
    return {
      headers,
      signal,
      agent: this.agent,
      onSocket: this.onSocket,
      connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      clock: this.clock,
      maxMessageBytes: this.maxMessageBytes,
      onOversized: (bytes, head) => {
        this.handlers?.onOversized(bytes)
        // A request's stream carries its answer: an oversized response is that answer, and the
        // request fails now, not at its deadline (the server may keep the stream open).
        if (io.kind === "request" && io.id !== undefined && isResponseHead(head)) this.deliver(JSON.stringify(oversizedResponseFailure(io.id, bytes)))
      }
    }
  }

  /** GET + `Last-Event-ID` (the standalone stream, or resuming a request's); deliver; summarize. */
  private async resume(io: HttpExchangeIo, signal: AbortSignal): Promise<ResumeSummary> {
    const headers = await this.requestHeaders()
    const hadSession = headers[HEADER_SESSION_ID] !== undefined
    try {
      const outcome = await openEventStream(this.url, { ...this.exchangeOptions(headers, signal, io), lastEventId: io.cursor })
      if (outcome._tag === "Rejected") {
        return { _tag: "Rejected", status: outcome.status, message: `GET: HTTP ${outcome.status}${snippet(outcome.body)}`, body: outcome.body, hadSession }
      }
      if (io.kind === "standalone") this.actor.send({ type: "STANDALONE_READY" })
      return await this.read(outcome.stream, signal)
    } catch (e) {
      return networkFailure(e)
    }
  }

  /** Read a stream to its end (or until the exchange is stopped), delivering each message. */
  private async read(stream: SseStream, signal: AbortSignal): Promise<ResumeSummary> {
    const before = stream.lastEventId
    let events = 0
    const stop = () => stream.close()
    signal.addEventListener("abort", stop, { once: true })
    if (signal.aborted) stream.close()
    try {
      for await (const event of stream) {
        events++
        if (event.type !== "message" || event.data === "") continue // priming events, other event types
        this.deliver(event.data)
        // Answered here: the connection stopped this exchange (its signal aborted).
        if (signal.aborted || this.endedWith !== undefined) break
      }
    } finally {
      signal.removeEventListener("abort", stop)
    }
    return {
      _tag: "StreamEnded",
      progressed: events > 0 || stream.lastEventId !== before,
      cursor: stream.lastEventId,
      retryMs: stream.retryMs,
      endedBy: stream.endedBy === "error" ? "error" : "end"
    }
  }

  /**
   * The answer to `initialize` carries the session id; it must be known before
   * the result is delivered (the session answers with `initialized` at once).
   * False when it is invalid (the connection failed).
   */
  private acceptSession(io: HttpExchangeIo, outcome: PostOutcome): boolean {
    if (io.method !== "initialize" || this.sessionId !== undefined) return true
    const id = headerValue(outcome.headers, HEADER_SESSION_ID)
    if (id === undefined) return true // a server without sessions
    this.actor.send({ type: "SESSION_ID", sessionId: id })
    return this.endedWith === undefined
  }

  /** One message from the server: tell the chart what it answers, then hand it to the session. */
  private deliver(text: string): void {
    if (this.handlers === undefined || this.endedWith !== undefined || this.lifetime.signal.aborted) return
    const answered = answeredId(text)
    if (answered !== undefined) {
      this.actor.send({ type: "ANSWERED", id: answered.id, ...(typeof answered.protocolVersion === "string" ? { protocolVersion: answered.protocolVersion } : {}) })
    }
    this.handlers.onFrame(text)
  }

  private async requestHeaders(): Promise<Record<string, string>> {
    const h = this.options.headers
    const extra = typeof h === "function" ? await h() : h
    const out: Record<string, string> = { ...extra }
    const { sessionId, protocolVersion } = this.actor.getSnapshot().context
    if (sessionId !== undefined) out[HEADER_SESSION_ID] = sessionId
    if (protocolVersion !== undefined) out[HEADER_PROTOCOL_VERSION] = protocolVersion
    return out
  }

  private async sendDelete(): Promise<void> {
    const timeout = new AbortController()
    const timer = this.clock.setTimeout(() => timeout.abort(), this.options.deleteTimeoutMs ?? 2_000)
    try {
      const status = await deleteSession(this.url, { headers: await this.requestHeaders(), signal: timeout.signal, agent: this.agent, onSocket: this.onSocket, clock: this.clock })
      if (status >= 400 && status !== 405 && status !== 404) this.diagnostic(`DELETE answered ${status}`)
    } catch (e) {
      this.diagnostic(`DELETE failed: ${describe(e)}`)
    } finally {
      this.clock.clearTimeout(timer)
    }
  }

  /** Destroy the pool; resolve once every socket is closed. */
  private async release(): Promise<void> {
    this.agent.destroy()
    // A socket leaves the set on its 'close' event, which comes once its handle is closed
    // (`destroyed`/`closed` are set earlier, before the handle is gone).
    await Promise.all([...this.sockets].map((socket) => once(socket, "close").catch(noop)))
  }

  // ---------------------------------------------------------------- endings (provided actions)

  /** An exchange ended without an answer: fail its request, or note a one-way message's failure. */
  private exchangeFailed(context: HttpExchangeContext): void {
    const failure = context.failure
    // Closing aborted it: nothing to report (the session is closing too).
    if (failure === undefined || this.lifetime.signal.aborted) return
    if (context.kind !== "request" || context.id === undefined) return this.diagnostic(failure.message)
    const error = failure.kind === "http"
      ? new HttpError({ method: context.method, status: failure.status ?? 0, message: failure.message, ...(failure.body === undefined ? {} : { body: failure.body }) })
      : new ConnectionLost({ method: context.method, message: failure.message })
    this.requestFailed(context.id, error)
  }

  /**
   * The session is lost: every request in flight (not already failed) or waiting
   * for the init gate fails with `SessionLost`.
   */
  private failInFlight(self: AnyActorRef, queue: ReadonlyArray<QueuedMessage>, reason: string): void {
    this.lostSession = true
    const children = (self.getSnapshot() as { readonly children: Readonly<Record<string, AnyActorRef | undefined>> }).children
    const inFlight = Object.values(children).map((child) => child?.getSnapshot().context as HttpExchangeContext | undefined)
    for (const c of [...inFlight, ...queue]) {
      if (c === undefined || c.kind !== "request" || c.id === undefined || ("failure" in c && c.failure !== undefined)) continue
      const id = c.id
      this.later(() => this.requestFailed(id, new SessionLost({ method: c.method, message: `${c.method}: the server lost the session (${reason})` })))
    }
  }

  private requestFailed(id: RequestId, error: Error): void {
    if (this.handlers?.onRequestFailed !== undefined) this.handlers.onRequestFailed(id, error)
    else this.diagnostic(`${error.message} (the session has no onRequestFailed hook: the request stays pending until its timeout)`)
  }

  private end(closed: TransportClosed): void {
    if (this.endedWith !== undefined) return
    this.endedWith = closed
    this.lifetime.abort()
    this.later(() => this.handlers?.onClose(closed))
  }

  /** An exchange's signal (its actor stopped) joined with the connection's lifetime. */
  private withLifetime(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, this.lifetime.signal])
  }

  /**
   * Run the owner's callback after the chart's step: callbacks run the session's own
   * actors, which must not step inside this chart's actions (xstate warns, and the
   * order of nested steps is hard to reason about). Microtasks keep the order.
   */
  private later(fn: () => void): void {
    queueMicrotask(fn)
  }

  private diagnostic(text: string): void {
    this.options.onDiagnostic?.(text)
  }
}

/** A failed exchange: before reaching the server (safe to retry) or after (the server may have acted). */
const networkFailure = (e: unknown): { readonly _tag: "Unreached" | "Lost"; readonly message: string } =>
  e instanceof HttpNetworkError && !e.reachedServer ? { _tag: "Unreached", message: e.message } : { _tag: "Lost", message: describe(e) }

const definedOnly = (o: ReconnectOptions | undefined): Partial<HttpReconnectPolicy> => {
  const out: { -readonly [K in keyof HttpReconnectPolicy]?: number } = {}
  if (o?.initialDelayMs !== undefined) out.initialDelayMs = o.initialDelayMs
  if (o?.maxDelayMs !== undefined) out.maxDelayMs = o.maxDelayMs
  if (o?.factor !== undefined) out.factor = o.factor
  if (o?.maxAttempts !== undefined) out.maxAttempts = o.maxAttempts
  return out
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
