/**
 * One modern-era (2026-07-28) request run through its chart, whatever carries it:
 * the transport-neutral driver of `machines/modernRequest.ts` (validating →
 * dispatching → responded, awaitingInput (MRTR `input_required`), failed,
 * cancelled or timed out). The chart decides; this class provides its effects
 * (dispatch, abort, the shutdown and timeout answers) and hands every message of
 * the request to its {@link ModernRunHost}: the HTTP writer (`http/ModernRequest.ts`,
 * an `Exchange` on a `ServerResponse`) or a message transport's session
 * (`ServerSession`: stdio, WebSocket, memory).
 *
 * The request is dispatched with the pieces a legacy session uses (`methodRefusal`,
 * the MRTR checks, `dispatchRequest`, `HandlerContext`, progress, `Listens`) and no
 * chart of the session's. This object is the request's in-flight entry's host, its
 * handler context's host and its method table state.
 *
 * When it runs as an actor, that actor is a child of `host.actorParent` (the HTTP
 * listener's actor, or the message transport's connection actor): one inspector on
 * the runtime's root sees it. A request whose path through the chart is pure runs
 * without an actor (the fast path, see {@link ModernRequestRun.step} and
 * docs/architecture.md "The modern request's fast path"); everything else, and every
 * request while anyone inspects, runs as the actor.
 */
import type { Actor, AnyActorRef, StateValue } from "xstate"
import { type ModernRequestContext as ChartContext, type ModernRequestEvent, modernRequestMachine } from "../../../machines/modernRequest.ts"
import type { Clock } from "../../protocol/clock.ts"
import { ErrorCode, errorMessage, McpError, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import { errorResponse, type JsonRpcMessage, type JsonRpcRequest, notification, type Params, type RequestId, result as makeResult } from "../../protocol/jsonrpc.ts"
import { type ModernRequestContext, readModernContext } from "../../protocol/modern.ts"
import { MRTR_METHODS } from "../../protocol/mrtr.ts"
import { LISTEN_METHOD } from "../../protocol/subscriptions.ts"
import { createLeanActor } from "../../runtime/ActorScheduler.ts"
import { inspection } from "../../runtime/inspection.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { TransportKind } from "../../transports/Transport.ts"
import { dispatchRequest, isThenable, type Result, type SessionState } from "../dispatch.ts"
import { InputRequiredSignal } from "../InputRequiredSignal.ts"
import type { McpServer } from "../McpServer.ts"
import { isLoggingLevel, levelRank, type LoggingLevel } from "../types.ts"
import { HandlerContext, type HandlerHost, type Negotiated } from "./HandlerContext.ts"
import { type InFlight, newInFlight } from "./InFlight.ts"
import { methodRefusal } from "./methodRefusal.ts"
import { discoverResult, modernResult } from "./modernResults.ts"
import { inputRequiredValue, openRetry } from "./mrtrRetry.ts"
import { flushProgress, holdsProgress, type ProgressOut, reportProgress } from "./progress.ts"
import { Listens } from "./subscriptions.ts"

/** How modern requests run their chart (the HTTP server's `modernRequests` option; a session's too). */
export interface ModernRequestOptions {
  /**
   * `"always"`: every request runs as its chart's actor from the start, pure or not (what an
   * inspector sees is what runs). Default `"lazy"`: a request whose path through the chart is
   * pure runs without an actor; the actor starts where the path stops being pure. Any
   * inspection-hub listener (the live inspector, OpenTelemetry transition events) forces
   * `"always"` while it listens.
   */
  readonly chart?: "lazy" | "always"
  /** Told how each request ended (tests: the fast path and the chart agree). */
  readonly settled?: (settled: ModernRequestSettled) => void
}

/** How one modern request ended, in the chart's terms (whether or not an actor ran it). */
export interface ModernRequestSettled {
  readonly id: RequestId
  /** `fast`: no actor at all; `chart`: an actor from the start; `lazy`: an actor from where the path stopped being pure. */
  readonly ran: "fast" | "chart" | "lazy"
  /** The chart's state value when the request ended. */
  readonly value: StateValue
  readonly context: ChartContext
  /** The chart events the request stepped through, in order (with or without an actor). */
  readonly events: ReadonlyArray<ModernRequestEvent>
}

/**
 * What carries one modern request (the writer) and what it runs with. The writer's
 * `respond`, `failWith` and `cancelled` end the request's channel; it then calls
 * {@link ModernRequestRun.ended} (at once, or when its stream has ended: HTTP).
 */
export interface ModernRunHost {
  readonly server: McpServer
  /** Who sent the request (MRTR state is bound to the principal) and its identity (the handler context's). */
  readonly principal: string | undefined
  readonly identity: Identity | undefined
  readonly transportKind: TransportKind
  /** The chart's actor is a child of this one (the runtime's tree); without it the chart is a root. */
  readonly actorParent: AnyActorRef | undefined
  readonly modernRequests: ModernRequestOptions | undefined
  /** Progress timers run on this clock; `now` is its time (MRTR `requestState` deadlines). */
  readonly clock: Clock
  now(): number
  /** At most one progress notification per this many ms (0: no limit). */
  readonly progressIntervalMs: number
  /** `server/discover` is answered inside a telemetry step (message transports: it is the request's span). */
  readonly discoverSpan: boolean
  /** An unexpected error (the request is answered -32603 anyway). */
  reportError(e: unknown): void
  /** The handler's entry is in flight (a session's table: a cancel or a duplicate id finds it there). */
  track(run: ModernRequestRun, entry: InFlight): void
  /** A related notification (progress, a log, a listen's acknowledgement or change). */
  deliver(run: ModernRequestRun, message: JsonRpcMessage): void
  /** The request's one response (`entry`: its in-flight entry, if the handler ran). */
  respond(run: ModernRequestRun, message: JsonRpcMessage, entry: InFlight | undefined): void
  /** Answer with this error (invalid `_meta`, shutdown, timeout): the request is over. */
  failWith(run: ModernRequestRun, error: RpcErrorObject): void
  /** End without a response (cancelled: nothing more is sent for it). */
  cancelled(run: ModernRequestRun, entry: InFlight | undefined): void
}

export class ModernRequestRun implements HandlerHost, SessionState, ProgressOut {
  readonly request: JsonRpcRequest
  private readonly host: ModernRunHost
  /** The request's chart as an actor, once it runs as one (see {@link step}). */
  private actor: Actor<typeof modernRequestMachine> | undefined
  /** Without an actor: the chart's (flat) state the request is in, and the context fields a pure path sets. */
  private fastValue: FastValue = "validating"
  private fastRound = 0
  private fastMessages = 0
  private fastErrorCode: number | undefined = undefined
  /** Made for `modernRequests.settled` only: the chart events stepped so far. */
  private trace: Array<ModernRequestEvent> | undefined
  private ran: ModernRequestSettled["ran"] = "fast"
  /** The error a shutdown answers with (read by the chart's `answerShutdown`). */
  private shutdownError: RpcErrorObject | undefined
  /** The request's `_meta`, read once it is valid. */
  private modern: ModernRequestContext | undefined
  /** The handler's in-flight entry, once it runs (none for `server/discover` or a refusal). */
  private entry: InFlight | undefined
  /** Made only for a `subscriptions/listen`. */
  private listens: Listens | undefined
  /** The writer's channel ended (see {@link ended}). */
  done = false

  // SessionState: the method table's per-session state (a modern request never sets either: both methods are refused).
  logLevel: LoggingLevel | undefined = undefined
  subscriptions: Set<string> | undefined = undefined

  constructor(host: ModernRunHost, request: JsonRpcRequest) {
    this.host = host
    this.request = request
    if (host.modernRequests?.settled !== undefined) this.trace = []
  }

  get server(): McpServer {
    return this.host.server
  }

  /** Validate `_meta` and run the request (or answer why not). */
  start(): void {
    const round = hasRequestState(this.request) ? 1 : 0
    // Not pure from the start (see `step`): an MRTR retry, or someone inspects (they draw what runs).
    if (round !== 0 || inspection.listenerCount !== 0 || this.host.modernRequests?.chart === "always") this.runChart(undefined)
    // The chart's validation reads `_meta` itself (HTTP checked the headers against it first).
    const read = readModernContext(this.request)
    if (read.ok) {
      this.modern = read.context
      this.step({ type: "VALIDATED", round })
    } else {
      this.step({ type: "INVALID", code: read.error.code })
      if (!this.done) this.host.failWith(this, read.error)
    }
  }

  // ------------------------------------------------------------ the chart, with or without an actor

  /**
   * Step the chart with `event`.
   *
   * The fast path (no actor) — the ruling, docs/architecture.md "The modern request's fast path":
   * a request runs without an actor only while its path through `modernRequest` is pure: from
   * `validating`, `VALIDATED` (round 0, no deadline) enters `dispatching.unbounded` and runs the
   * `dispatch` entry action, then `ANSWERED` with a result goes to `responded`, or with an error
   * to `failed` recording its code (`recordError`); `INVALID` goes to `failed` the same way; a
   * related notification (`MESSAGE`: progress, a log, a listen) is a self-transition of
   * `dispatching` that only counts it (`countMessage`). Those transitions change nothing but the
   * state and those context fields, and their one effect (`dispatch`) is the same method call
   * here; the final state's done event to the parent is not a transition there (the listener and
   * connection charts have none for it). Anything else is not pure: `input_required` (an MRTR
   * round), a disconnect or cancel, a shutdown, an MRTR retry (round > 0), a deadline (a timer;
   * none is set today), or any inspection listener. Then the request runs as the
   * actor: from the start when known up front, otherwise the actor is created in the equivalent
   * state (`dispatching.unbounded`, the same context, restored from a snapshot: `dispatch` is not
   * run again) and given the event. test/modern.fastpath.test.ts (HTTP) and
   * test/modern.fastpath-messages.test.ts (WebSocket, stdio) run every `xstate/graph` path of the
   * chart both ways and check they agree.
   */
  private step(event: ModernRequestEvent): void {
    const actor = this.actor
    if (actor !== undefined) {
      if (actor.getSnapshot().status !== "active") return
      this.trace?.push(event)
      actor.send(event)
      return
    }
    switch (this.fastValue) {
      case "validating":
        if (event.type === "VALIDATED") {
          this.trace?.push(event)
          this.fastRound = event.round
          this.fastValue = "dispatching"
          return this.dispatch() // the `dispatch` entry action
        }
        if (event.type === "INVALID") {
          this.trace?.push(event)
          this.fastErrorCode = event.code
          this.fastValue = "failed"
        }
        return // the chart has no other transition from `validating`
      case "dispatching":
        if (event.type === "MESSAGE") {
          // A pure self-transition (`countMessage` assigns, nothing else): no actor for it.
          this.trace?.push(event)
          this.fastMessages++
          return
        }
        if (event.type === "ANSWERED" && event.outcome !== "inputRequired") {
          this.trace?.push(event)
          if (event.outcome === "result") this.fastValue = "responded"
          else {
            this.fastErrorCode = event.code
            this.fastValue = "failed"
          }
          return
        }
        // Not pure: the chart runs from here.
        this.runChart(event)
        return
      default:
        return // a final state: the chart is done and takes no event
    }
  }

  /** Start the request's actor: from the start (`event` undefined), or in the state the fast path reached, then step it with `event`. */
  private runChart(event: ModernRequestEvent | undefined): void {
    const parent = this.host.actorParent
    const input = { id: this.request.id, method: this.request.method }
    const base = parent === undefined ? { id: ACTOR_ID, input } : { id: ACTOR_ID, input, parent }
    // Only from `dispatching` (the fast path's one non-final, non-initial state).
    const snapshot = event === undefined ? undefined : runningModernRequest.resolveState({ value: { dispatching: "unbounded" }, context: this.fastContext() })
    const actor = createLeanActor(runningModernRequest, snapshot === undefined ? base : { ...base, snapshot })
    ;(actor as unknown as Owned)[OWNER] = this
    this.actor = actor
    this.ran = event === undefined ? "chart" : "lazy"
    actor.start()
    if (event !== undefined) this.step(event)
  }

  /** The chart's context for the fast path's state (a pure path sets `round`, `messages` and `errorCode` only). */
  private fastContext(): ChartContext {
    return { id: this.request.id, method: this.request.method, deadlineMs: 0, round: this.fastRound, messages: this.fastMessages, errorCode: this.fastErrorCode, reason: undefined }
  }

  // ------------------------------------------------------------ the chart's effects

  /** The chart's `dispatch`: run the method. Whatever throws on the way is answered -32603. */
  dispatch(): void {
    try {
      this.dispatchUnguarded(this.modern!)
    } catch (e) {
      this.fault(e)
    }
  }

  /** The chart's `abortHandler`: the handler sees `ctx.signal` aborted; nothing more is sent for it. */
  abortHandler(reason: string): void {
    const entry = this.entry
    if (entry === undefined || entry.done) return
    entry.done = true
    if (holdsProgress(entry)) flushProgress(this, entry) // entry.done: the held-back value is dropped
    ;(entry.controller ??= new AbortController()).abort(new Error(reason)) // a handler reading ctx.signal later sees it aborted
  }

  /** The chart's `answerShutdown`. */
  answerShutdown(): void {
    if (this.shutdownError !== undefined && !this.done) this.host.failWith(this, this.shutdownError)
  }

  /** The chart's `answerTimeout`. */
  answerTimeout(): void {
    if (!this.done) this.host.failWith(this, { code: ErrorCode.InternalError, message: `Internal error: ${this.request.method} timed out` })
  }

  // ------------------------------------------------------------ from the writer

  /** The client cancelled (closed the HTTP stream, `notifications/cancelled`, the connection ended): abort the handler, send nothing more. */
  cancel(reason: string): void {
    if (this.done) return
    this.step({ type: "DISCONNECTED", reason })
    if (!this.done) this.host.cancelled(this, this.entry)
  }

  /** Shutdown: abort the handler and answer the client with this error. */
  fail(error: RpcErrorObject): void {
    if (this.done) return
    this.shutdownError = error
    this.step({ type: "SHUTDOWN", code: error.code, message: error.message })
    // Not dispatching (still validating, or already answered): the request still ends.
    if (!this.done) this.host.failWith(this, error)
  }

  /** A graceful shutdown ends an open `subscriptions/listen` with its `complete` result. */
  completeSubscriptions(): void {
    this.listens?.completeAll()
  }

  /**
   * The writer's channel is over (every end calls this once; later calls do nothing). The chart
   * normally ended first (ANSWERED, DISCONNECTED, SHUTDOWN reach a final state, which stops it).
   * Otherwise end it too, but not from inside its own step (the response may be delivered from
   * the `dispatch` action): a microtask later.
   */
  ended(): void {
    if (this.done) return
    this.done = true
    const actor = this.actor
    if (actor !== undefined && actor.getSnapshot().status === "active") {
      queueMicrotask(() => {
        this.settle()
        actor.stop()
      })
    } else this.settle()
  }

  /** Tell `modernRequests.settled` how the request ended (the actor's step that answered has completed by now). */
  private settle(): void {
    const settled = this.host.modernRequests?.settled
    if (settled === undefined) return
    const snapshot = this.actor?.getSnapshot()
    settled({
      id: this.request.id,
      ran: this.ran,
      value: snapshot === undefined ? (this.fastValue === "dispatching" ? { dispatching: "unbounded" } : this.fastValue) : snapshot.value,
      context: snapshot === undefined ? this.fastContext() : snapshot.context,
      events: this.trace ?? []
    })
  }

  // ------------------------------------------------------------ dispatch

  private dispatchUnguarded(modern: ModernRequestContext): void {
    const req = this.request
    const id = req.id
    const host = this.host
    const server = host.server
    if (req.method === "server/discover") {
      const telemetry = server.telemetry
      if (telemetry === undefined || !host.discoverSpan) return this.send(makeResult(id, discoverResult(server)), id)
      return telemetry.serverStep(req, () => ({ sessionId: undefined, protocolVersion: modern.protocolVersion, transport: host.transportKind }), () =>
        this.send(makeResult(id, discoverResult(server)), id))
    }
    const refused = methodRefusal(server, req.method, modern)
    if (refused !== undefined) {
      server.telemetry?.serverRefused(req, { sessionId: undefined, protocolVersion: modern.protocolVersion, transport: host.transportKind }, refused)
      return this.send(errorResponse(id, refused), id)
    }
    if (req.method === LISTEN_METHOD) {
      this.listens = new Listens({
        server,
        send: (message, related) => this.send(message, related),
        track: (entry) => this.track(entry),
        finish: (entry, value) => this.finish(entry, value),
        context: (entry) => new HandlerContext(this, entry, modern),
        fault: (e) => this.fault(e)
      })
      return this.listens.listen(req, modern)
    }
    const entry = newInFlight(req)
    if (MRTR_METHODS.has(req.method)) {
      // A retry's inputs and state are attacker-controlled (mrtr.mdx, Security): checked before the handler runs.
      const invalid = openRetry(server, entry, host.principal, host.now())
      if (invalid !== undefined) return this.send(errorResponse(id, rpcError(ErrorCode.InvalidParams, `Invalid params: ${invalid}`)), id)
    }
    this.track(entry)
    const ctx = new HandlerContext(this, entry, modern)
    let out: Result | PromiseLike<Result>
    try {
      out = dispatchRequest(server, req, ctx, this)
    } catch (e) {
      return this.finishError(entry, e)
    }
    if (isThenable(out)) out.then((r) => this.finish(entry, r), (e) => this.finishError(entry, e))
    else this.finish(entry, out)
  }

  private track(entry: InFlight): void {
    this.entry = entry
    entry.run = this
    this.host.track(this, entry)
  }

  private finish(entry: InFlight, value: Result): void {
    if (entry.done) return
    if (holdsProgress(entry)) flushProgress(this, entry)
    entry.done = true
    const id = entry.request.id
    try {
      this.send(makeResult(id, modernResult(this.host.server, value)), id)
    } catch (e) {
      // The result could not be sent (not serializable: a cycle, a BigInt): the request still gets an answer.
      this.reportError(e)
      this.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: the result could not be sent: ${errorMessage(e)}`)), id)
    }
  }

  private finishError(entry: InFlight, e: unknown): void {
    if (e instanceof InputRequiredSignal) return this.finishInputRequired(entry, e)
    if (holdsProgress(entry)) flushProgress(this, entry)
    if (entry.done) return
    entry.done = true
    const error: RpcErrorObject = e instanceof McpError ? e.toRpcError() : rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
    this.send(errorResponse(entry.request.id, error), entry.request.id)
  }

  /** MRTR: the handler asked for input; answer `input_required` (its own state sealed), or fail where MRTR does not apply. */
  private finishInputRequired(entry: InFlight, signal: InputRequiredSignal): void {
    const method = entry.request.method
    if (!MRTR_METHODS.has(method)) return this.finishError(entry, new McpError(ErrorCode.InternalError, `${method} cannot answer input_required`))
    let value: Result
    try {
      value = inputRequiredValue(this.host.server, entry, signal, this.host.principal, this.now())
    } catch (e) {
      return this.finishError(entry, e)
    }
    this.finish(entry, value)
  }

  /** Something threw while the request was handled: it is answered -32603 unless it already was. */
  private fault(e: unknown): void {
    try {
      this.reportError(e)
    } catch {
      // A throwing reporter must not undo the safety net.
    }
    const error = new McpError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
    if (this.entry !== undefined) return this.finishError(this.entry, error)
    this.send(errorResponse(this.request.id, error.toRpcError()), this.request.id)
  }

  private reportError(e: unknown): void {
    this.host.reportError(e)
  }

  /**
   * Every message of the request goes out here: the chart first (delivering the response may
   * end the request and stop the chart), then the writer. A handler that answers after a cancel
   * or a shutdown finds the chart done: nothing to record.
   */
  send(message: JsonRpcMessage, related: RequestId | undefined): void {
    if (related !== this.request.id) return
    if ("method" in message) {
      this.step(MESSAGE)
      this.host.deliver(this, message)
    } else {
      this.step(answered(message))
      this.host.respond(this, message, this.entry)
    }
  }

  // ------------------------------------------------------------ HandlerHost (what the handler context reads)

  /** Not a session id: modern requests have none (the context reports `sessionId` undefined). */
  readonly id = "modern"
  get identity(): Identity | undefined {
    return this.host.identity
  }
  get transportKind(): TransportKind {
    return this.host.transportKind
  }
  /** Legacy only (a modern context reads its `_meta`). */
  get sessionLogLevel(): undefined {
    return undefined
  }
  /** Legacy only (a modern context reads its `_meta`): the defaults, should anything ask. */
  negotiated(): Negotiated {
    const modern = this.modern
    return { protocolVersion: modern?.protocolVersion ?? "", clientCapabilities: modern?.clientCapabilities ?? {}, clientInfo: undefined }
  }
  _closeStream(): boolean {
    return false
  }
  _progress(entry: InFlight, progress: number, total?: number, message?: string): void {
    reportProgress(this, entry, progress, total, message)
  }
  _log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight, modern: ModernRequestContext | undefined): void {
    // 2026-07-28: no log messages for a request that did not ask for them.
    const threshold = modern?.logLevel
    if (!isLoggingLevel(threshold) || levelRank(level) < levelRank(threshold) || entry.done) return
    const params: Record<string, unknown> = { level, data }
    if (logger !== undefined) params.logger = logger
    this.send(notification("notifications/message", params), entry.request.id)
  }
  _request(_entry: InFlight, modern: ModernRequestContext | undefined, method: string, _params: Params | undefined): Promise<Result> {
    // 2026-07-28 servers send no JSON-RPC requests; the three input methods go through MRTR (HandlerContext.request).
    return Promise.reject(new McpError(ErrorCode.MethodNotFound, `${method}: servers send no requests in protocol ${modern?.protocolVersion ?? "2026-07-28"}`))
  }

  // ------------------------------------------------------------ ProgressOut

  get intervalMs(): number {
    return this.host.progressIntervalMs
  }
  get clock(): Clock {
    return this.host.clock
  }
  now(): number {
    return this.host.now()
  }
}

const MESSAGE = { type: "MESSAGE" } as const

/** The chart's states the fast path can be in (it leaves `dispatching` only for `responded` or `failed`). */
type FastValue = "validating" | "dispatching" | "responded" | "failed"

/**
 * Every request's chart has this one actor id. A chart that ends tells its parent
 * `xstate.done.actor.<id>`, and xstate memoizes the transitions for each event type on the
 * parent's state nodes, process-wide and forever: a distinct id per request made that table
 * grow by one key per request (and cost ~20 µs each).
 */
const ACTOR_ID = "modernRequest"

/** The request that runs an actor: a property under a private symbol (a WeakMap entry per request costs GC). */
const OWNER = Symbol("ModernRequestRun")
interface Owned {
  [OWNER]: ModernRequestRun
}
const ownerOf = (self: unknown): ModernRequestRun => (self as Owned)[OWNER]

/**
 * The chart with this module's effects (the production-provided machine), provided once (`provide` builds a new machine:
 * per request it would cost more than the request). Each action finds its request on `self`.
 */
export const runningModernRequest = modernRequestMachine.provide({
  actions: {
    dispatch: ({ self }) => ownerOf(self).dispatch(),
    abortHandler: ({ self, context }) => ownerOf(self).abortHandler(context.reason ?? "cancelled"),
    answerShutdown: ({ self }) => ownerOf(self).answerShutdown(),
    answerTimeout: ({ self }) => ownerOf(self).answerTimeout()
  }
})

/** What a response says about how the request ended (an MRTR `input_required` result is not a final answer). */
const answered = (message: JsonRpcMessage): { readonly type: "ANSWERED"; readonly outcome: "result" | "inputRequired" | "error"; readonly code?: number } => {
  if ("error" in message) return { type: "ANSWERED", outcome: "error", code: message.error.code }
  const result = "result" in message ? (message.result as { readonly resultType?: unknown } | undefined) : undefined
  return { type: "ANSWERED", outcome: result?.resultType === "input_required" ? "inputRequired" : "result" }
}

/** An MRTR retry carries the sealed `requestState` of the previous round. */
const hasRequestState = (request: JsonRpcRequest): boolean => typeof request.params?.requestState === "string"
