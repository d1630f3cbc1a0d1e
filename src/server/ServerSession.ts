/**
 * One server-side MCP connection: a stdio process, a WebSocket, or a Streamable
 * HTTP session. Legacy traffic runs through the `legacyServerSession` chart
 * (created on the first legacy message); modern (2026-07-28) requests are served
 * statelessly from their `_meta` on the same connection (dual-era).
 *
 * Decide/execute split: the chart decides the lifecycle (what is allowed when,
 * which error, when to close); this class executes — it owns the in-flight
 * table, the handler contexts, outbound requests and the wire.
 */
import type { Actor, ActorOptions, AnyActorRef } from "xstate"
import {
  type ActivityFacts,
  type EarlyRequestPolicy,
  HANDSHAKE_TIMEOUT,
  IDLE_TIMEOUT,
  type InitializeParams,
  type LegacyServerSessionContext,
  type legacyServerSessionMachine,
  type RejectParams
} from "../../machines/legacyServerSession.ts"
import { missingClientCapabilityFor } from "../protocol/capabilities.ts"
import { classifyEra, type Era } from "../protocol/era.ts"
import { ErrorCode, errorMessage, McpError, type RpcErrorObject, rpcError } from "../protocol/errors.ts"
import {
  decodeText,
  errorResponse,
  idInFlightReply,
  type JsonRpcBatchResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  notification,
  type Params,
  type RequestId,
  result as makeResult
} from "../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../protocol/modern.ts"
import type { ServerChange } from "../protocol/subscriptions.ts"
import { LEGACY_VERSIONS, type LegacyVersion } from "../protocol/versions.ts"
import { InfoListeners, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { emptyTable, ownTable } from "../runtime/EmptyTable.ts"
import { realClock } from "../runtime/XStateClock.ts"
import type { TransportCloseDetail, TransportClosed, TransportKind } from "../transports/Transport.ts"
import type { Identity } from "../policy/Identity.ts"
import { dispatchRequest, isThenable, type Result, type SessionState } from "./dispatch.ts"
import { InputRequiredSignal } from "./InputRequiredSignal.ts"
import type { McpServer } from "./McpServer.ts"
import { defaultProgressBarrier, PROGRESS_BARRIER_TIMEOUT_MS, type ProgressBarrierPolicy } from "./progressBarrier.ts"
import type { RequestContext, ServerRequestOptions } from "./RequestContext.ts"
import { type Implementation, isLoggingLevel, levelRank, type LoggingLevel } from "./types.ts"
import { holdForBatch, type PendingBatches, receiveBatch, unbatch } from "./session/batches.ts"
import { HandlerContext, type Negotiated } from "./session/HandlerContext.ts"
import { checkRestorable, compactChart, type PersistedChart, type PersistedServerSession } from "./session/hibernation.ts"
import { type Clock, clockOf } from "../protocol/clock.ts"
import { type InFlight, newInFlight } from "./session/InFlight.ts"
import { initializeResult } from "./session/initializeResult.ts"
import { methodRefusal } from "./session/methodRefusal.ts"
import { ClientCapabilityNotDeclared, OutboundRequests } from "./session/outboundRequests.ts"
import { flushProgress, holdsProgress, type ProgressOut, reportProgress } from "./session/progress.ts"
import { bindChart, runtimeServerLogic, type runtimeServerMachine, unbindChart } from "./session/serverChart.ts"
import { newSessionId } from "./session/sessionId.ts"
import { Sleep } from "./session/Sleep.ts"
import { type ModernRequestOptions, ModernRequestRun } from "./session/ModernRequestRun.ts"
import { SessionModernHost } from "./session/modernEra.ts"

// The session's parts live in `./session/`; these were always exported from here.
export { CapabilityError, ClientCapabilityNotDeclared, ClientResponseTimeout, RequestTimeoutError } from "./session/outboundRequests.ts"
export { inputRefusal } from "./session/HandlerContext.ts"
export type { PersistedChart, PersistedServerSession } from "./session/hibernation.ts"
export { runtimeServerMachine } from "./session/serverChart.ts"

/** Writes one message to the client; `related` names the client request it belongs to (HTTP stream routing). */
export type SendToClient = (message: JsonRpcMessage, related: RequestId | undefined) => void

/**
 * Options of one server session. Transports fill `transport`, `send` and `onRelease`;
 * users pass the rest through `serveTransport`, `makeHttpServer` or `makeWsServer`.
 */
export interface ServerSessionOptions {
  readonly transport: TransportKind
  readonly send: SendToClient
  /**
   * Send the answer to a JSON-RPC batch (2025-03-26) as one array: one line on stdio, one
   * frame on WebSocket. Without it a batch's responses go out one by one (Streamable HTTP
   * answers batches itself, see `HttpServer`).
   */
  readonly sendBatch?: (responses: JsonRpcBatchResponse) => void
  /** Called once when the session is released (close the stdio/ws transport, drop the HTTP session). */
  readonly onRelease?: (end: SessionEnd) => void
  /**
   * Called once when the session leaves its handshake: the chart reached
   * `operating`, or a modern request was served (that era has no handshake).
   * Admission control stops counting it against the handshake budget then.
   */
  readonly onReady?: () => void
  readonly id?: string
  readonly supportedVersions?: ReadonlyArray<LegacyVersion>
  /** Serve modern (2026-07-28) requests on this connection too. Default true. */
  readonly modern?: boolean
  readonly idleTimeoutMs?: number
  readonly handshakeTimeoutMs?: number
  readonly drainTimeoutMs?: number
  readonly earlyRequests?: EarlyRequestPolicy
  /** Deadline for server→client requests (sampling, elicitation, roots). */
  readonly requestTimeoutMs?: number
  /** Who sends this connection's requests (the HTTP auth hook's principal): MRTR state is bound to it. */
  readonly principal?: string
  /** The authenticated identity (claims) behind `principal`, for the policy guard. */
  readonly identity?: Identity
  readonly clock?: Clock
  /**
   * The actor this session's chart is a child of (its connection's, or its
   * HTTP listener's): the chart then joins the runtime's actor tree, seen by
   * one inspector on the root. Without it the chart is a root of its own.
   */
  readonly actorParent?: AnyActorRef
  /** Send at most one progress notification per request per this many ms (latest value wins). Default 0: no limit. */
  readonly progressIntervalMs?: number
  /** Close the HTTP stream carrying a request's response (it stays resumable); see RequestContext.closeSSEStream. */
  readonly closeStream?: (requestId: RequestId) => boolean
  /** Time source matching `clock` (tests pass the simulated clock's `now`). */
  readonly now?: () => number
  /**
   * Which clients get a ping round trip between a request's last progress
   * notification and its response (an SDK client bug; see `progressBarrier.ts`).
   * Default: stdio and WebSocket clients other than ours.
   */
  readonly progressBarrier?: ProgressBarrierPolicy
  /**
   * An unexpected error while serving a message (a bug, or input nothing foresaw): the
   * request is answered -32603 and the session goes on. Default: logged on stderr.
   */
  readonly onError?: (error: unknown) => void
  /**
   * Deepest nesting of objects/arrays a message may have (the message is level 1,
   * `params` level 2); deeper params get -32602. Default 100 (`DEFAULT_MAX_NESTING_DEPTH` in protocol/jsonrpc.ts).
   */
  readonly maxNestingDepth?: number
  /**
   * Serve on a session hibernated by another process (`ServerSession.persist`): same id, its
   * chart restored from the persisted snapshot on the next lifecycle event.
   */
  readonly restore?: PersistedServerSession
  /** How modern (2026-07-28) requests run their chart (as `makeHttpServer`'s `modernRequests`). */
  readonly modernRequests?: ModernRequestOptions
}

/**
 * What an owner that wraps a session (an HTTP session) does for it, as methods of
 * one object: given to the constructor, it replaces `send`, `closeStream`,
 * `onRelease` and `onReady`, so its sessions can share one options object
 * instead of four closures and an options copy each (an idle session's weight).
 */
export interface ServerSessionOwner {
  /** `send`: one message to the client. */
  deliver(message: JsonRpcMessage, related: RequestId | undefined): void
  /** `closeStream` */
  dropStream(requestId: RequestId): boolean
  /** `onRelease` */
  sessionReleased(end: SessionEnd): void
  /** `onReady` */
  sessionReady(): void
}

/** One `now` function per clock, shared by its sessions (not a closure per session). */
const nowFns = new WeakMap<Clock, () => number>()
const nowOf = (clock: Clock): (() => number) => {
  let now = nowFns.get(clock)
  if (now === undefined) nowFns.set(clock, (now = () => clock.now()))
  return now
}

const defaultOnError = (error: unknown): void => console.error("mcp-actors: internal error while serving a message:", error)


/**
 * One client's session on an `McpServer`: the legacy lifecycle chart
 * (`machines/legacyServerSession.ts`), the requests in flight, and modern (2026-07-28)
 * requests arriving on the same connection. Made by `serveTransport` and the HTTP and
 * WebSocket servers; users hold it to watch its state, notify its client, or close it.
 */
export class ServerSession implements SessionHandle {
  readonly id: string
  readonly server: McpServer
  readonly startedAt: number
  /** Who sends this connection's requests; HTTP refreshes it from each request's credentials (same principal). */
  identity: Identity | undefined
  private readonly options: ServerSessionOptions
  private readonly sendOut: SendToClient
  /** Does what `send`, `closeStream`, `onRelease` and `onReady` would (an HTTP session): see {@link ServerSessionOwner}. */
  private readonly owner: ServerSessionOwner | undefined
  /** Batches (2025-03-26) still collecting: each request id of one maps to its collector. */
  private batches: PendingBatches | undefined
  // The shared empty table while nothing is in flight (an idle session owns no Map): see `track`.
  private inFlight: Map<RequestId, InFlight> = emptyTable()
  // Server→client requests are rare: their table and id counter are made on the first one
  // (every allocation counts when sessions churn, see docs/performance.md).
  private outbound: OutboundRequests | undefined
  private readonly state: SessionState = { logLevel: undefined, subscriptions: undefined }
  // Made on the first subscriber (the inspector's): most sessions never get one.
  private listeners: InfoListeners | undefined
  private actor: Actor<typeof legacyServerSessionMachine> | undefined
  /** Mirrors the chart's `operating` state for the hot path (set by `announceReady`, cleared by `beginDrain`). */
  private operating = false
  private draining = false
  private released = false
  private era: Era | "unknown" = "unknown"
  /** When the last request finished (the idle timeout counts from here). */
  private lastSettledAt: number
  private readonly createdAt: number
  /** A modern request was served here: the legacy handshake deadline no longer applies. */
  private servedModern = false
  /** `onReady` was called. */
  private readied = false
  /** Why `close` was asked for (a transport may tell its peer). */
  private closeCause: TransportCloseDetail["cause"] | undefined
  private negotiatedCache: Negotiated | undefined
  /** The chart's sleep while hibernated (its persisted snapshot and wake-up timer; the actor is stopped). */
  private hibernated: Sleep | undefined
  private readonly now: () => number
  /** Timers of this session (server→client deadlines, drain) run on the chart's clock. */
  private get clock(): Clock {
    return this.options.clock ?? realClock
  }
  // `ended` is made when first read (most HTTP sessions are never awaited): a promise and its resolver fewer per session.
  private endedPromise: Promise<SessionEnd> | undefined
  private resolveEnded: ((end: SessionEnd) => void) | undefined
  private endedWith: SessionEnd | undefined
  /** Settles once, when the session has ended for good. */
  get ended(): Promise<SessionEnd> {
    if (this.endedPromise !== undefined) return this.endedPromise
    const ended = this.endedWith
    return (this.endedPromise = ended !== undefined
      ? Promise.resolve(ended)
      : new Promise((resolve) => (this.resolveEnded = resolve)))
  }

  constructor(server: McpServer, options: ServerSessionOptions, owner?: ServerSessionOwner) {
    this.server = server
    this.options = options
    this.sendOut = options.send
    this.owner = owner
    this.id = options.restore?.id ?? options.id ?? newSessionId()
    this.startedAt = options.restore?.startedAt ?? Date.now()
    this.identity = options.identity
    // Deadlines read the time of the clock that enforces them (the one clock, src/protocol/clock.ts).
    this.now = options.now ?? nowOf(clockOf(options.clock))
    this.lastSettledAt = this.now()
    this.createdAt = this.lastSettledAt
    // With a handshake deadline the chart runs from the start: a connection that never
    // sends anything is closed too. (Without one it starts with the first legacy message,
    // so per-request modern sessions never create an actor.)
    if (options.restore !== undefined) this.restored(options.restore)
    else if ((options.handshakeTimeoutMs ?? 0) > 0) this.ensureActor()
    server.telemetry?.observeSession("server", this)
  }

  // ---------------------------------------------------------------- input

  /** One text frame from the transport (stdio line, WebSocket message). */
  receiveFrame(text: string): void {
    const decoded = decodeText(text, this.options.maxNestingDepth)
    if (decoded._tag === "Message") return this.receive(decoded.message)
    if (decoded._tag === "Invalid") {
      if (decoded.reply) this.send(decoded.reply, undefined)
      return
    }
    this.receiveBatch(decoded.messages)
  }

  /**
   * A JSON-RPC batch: only 2025-03-26 has them (spec-digest §6; `2025-03-26/basic/index.mdx`
   * "MUST support receiving JSON-RPC batches"). Its answer is one array holding the response
   * of every request and of every invalid item, in item order; notifications add nothing,
   * and a batch with no response at all is not answered (JSON-RPC 2.0 §6). Notifications the
   * requests cause (progress, logs) go out on their own meanwhile. In any other version (or
   * before the handshake) the batch is refused with one -32600 without an id.
   */
  receiveBatch(items: ReadonlyArray<unknown>): void {
    const session = this
    receiveBatch({
      version: this.chartContext()?.protocolVersion,
      maxNestingDepth: this.options.maxNestingDepth,
      sendBatch: this.options.sendBatch,
      pending: () => (this.batches ??= new Map()),
      get existing() {
        return session.batches
      },
      inFlight: (id) => this.inFlight.has(id),
      send: (message) => this.send(message, undefined),
      out: (message) => this.out(message, undefined),
      receive: (message) => this.receive(message),
      released: () => this.released
    }, items)
  }

  /**
   * Every message to the client goes through here: the response to a request of a
   * pending batch is held for the batch's array instead.
   */
  private send(message: JsonRpcMessage, related: RequestId | undefined): void {
    const batches = this.batches
    if (batches !== undefined && holdForBatch(batches, message)) return
    this.out(message, related)
  }

  /** To the wire (past the batch collector). */
  private out(message: JsonRpcMessage, related: RequestId | undefined): void {
    const owner = this.owner
    if (owner !== undefined) owner.deliver(message, related)
    else this.sendOut(message, related)
  }

  /** A frame over the size limit was dropped by the transport. */
  receiveOversized(bytes: number): void {
    this.send(errorResponse(null, rpcError(ErrorCode.InvalidRequest, `Invalid Request: message of ${bytes} bytes exceeds the limit`)), undefined)
  }

  /**
   * One decoded message. The safety net of every transport: whatever throws
   * while it is handled is answered -32603 (a request) or reported (anything
   * else), never left to crash the process or to keep the id in flight.
   */
  receive(message: JsonRpcMessage): void {
    try {
      this.receiveUnguarded(message)
    } catch (e) {
      this.fault(message, e)
    }
  }

  /**
   * Something threw while `message` was handled. A request that is still in flight is
   * failed with -32603 (which settles it); one that never got that far is answered
   * -32603 too. A duplicate id belongs to the request already in flight: left alone.
   */
  /** An unexpected error, to `options.onError` (default: stderr). */
  private reportError(e: unknown): void {
    ;(this.options.onError ?? defaultOnError)(e)
  }

  private fault(message: JsonRpcMessage, e: unknown): void {
    try {
      this.reportError(e)
    } catch {
      // A throwing reporter must not undo the safety net.
    }
    if (this.released || !("method" in message) || !("id" in message)) return
    const error = new McpError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
    const entry = this.inFlight.get(message.id)
    if (entry !== undefined) {
      if (entry.request === message) this.finishError(entry, error)
      return
    }
    this.send(errorResponse(message.id, error.toRpcError()), message.id)
  }

  private receiveUnguarded(message: JsonRpcMessage): void {
    if (this.released) return
    if (!("method" in message)) return this.receiveResponse(message)
    if (!("id" in message)) return this.receiveNotification(message)
    const req = message
    if (this.inFlight.has(req.id)) {
      // Ids are unique among in-flight requests (any method, ping included): a duplicate would make responses ambiguous.
      // Sent past the batch collector: a batch waiting on this id waits for the first request's answer.
      this.out(idInFlightReply(req.id), req.id)
      return
    }
    if (this.options.modern !== false && req.method !== "initialize" && classifyEra(req) === "modern") {
      return this.handleModern(req)
    }
    if (this.operating && req.method !== "ping" && req.method !== "initialize") return this.dispatch(req)
    this.era = "legacy"
    const actor = this.ensureActor()
    const telemetry = this.server.telemetry
    if (req.method === "initialize" || req.method === "ping") {
      // Answered within the chart's step: the step is the request's span (observability/Telemetry.ts).
      const step = () => actor.send(req.method === "ping" ? { type: "PING", id: req.id } : { type: "INITIALIZE", id: req.id, params: req.params, elapsedMs: this.now() - this.createdAt })
      if (telemetry === undefined) step()
      else telemetry.serverStep(req, () => ({ sessionId: this.id, protocolVersion: this.protocolVersion, transport: this.options.transport }), step)
    } else {
      this.held = req
      actor.send({ type: "REQUEST", id: req.id, method: req.method })
      this.held = undefined
    }
  }

  /** The request the chart is deciding on (the `dispatch` action reads it). */
  private held: JsonRpcRequest | undefined

  private receiveNotification(n: JsonRpcNotification): void {
    switch (n.method) {
      case "notifications/initialized":
        this.era = "legacy"
        this.ensureActor().send({ type: "INITIALIZED" })
        return
      case "notifications/cancelled": {
        const id = n.params?.requestId as RequestId | undefined
        // Unknown, finished or non-cancellable ids are ignored (cancellation.mdx:L41, L77).
        if (id === undefined) return
        const entry = this.inFlight.get(id)
        if (!entry || entry.request.method === "initialize") return
        this.abort(id, entry, typeof n.params?.reason === "string" ? n.params.reason : "cancelled by client")
        return
      }
      default:
        // notifications/progress for our outbound requests, roots/list_changed, unknown: nothing to answer.
        return
    }
  }

  private receiveResponse(r: JsonRpcResponse): void {
    this.outbound?.answer(r)
  }

  /** The transport ended (stdin EOF, socket closed): abort everything and release. */
  transportClosed(closed: TransportClosed): void {
    if (this.released) return
    if (this.actor || this.hibernated) this.ensureActor().send({ type: "TRANSPORT_CLOSED", reason: closed.reason })
    else this.release({ expected: closed.expected, reason: closed.reason })
  }

  // ---------------------------------------------------------------- chart

  private ensureActor() {
    if (this.actor) return this.actor
    const sleep = this.hibernated
    if (sleep !== undefined) {
      this.hibernated = undefined
      sleep.end()
    }
    const o = this.options
    // One options object, filled in place (no spread temporaries: every churned session makes one).
    const actorOptions: ActorOptions<typeof runtimeServerMachine> & { -readonly [K in "snapshot" | "clock" | "parent"]?: unknown } = {
      id: this.id, // the inspector links the actor to this session by it
      input: {
        supportedVersions: o.supportedVersions ?? LEGACY_VERSIONS,
        idleTimeoutMs: o.idleTimeoutMs ?? 0,
        handshakeTimeoutMs: o.handshakeTimeoutMs ?? 0,
        drainTimeoutMs: o.drainTimeoutMs ?? 5_000,
        earlyRequests: o.earlyRequests ?? "reject",
        // The facts, for a chart that starts after its connection did.
        servedModern: this.servedModern,
        elapsedMs: this.now() - this.createdAt,
        activity: this.activity()
      }
    }
    if (sleep !== undefined) actorOptions.snapshot = sleep.chart
    if (o.clock) actorOptions.clock = o.clock
    if (o.actorParent !== undefined) actorOptions.parent = o.actorParent
    const actor = createLeanActor(runtimeServerLogic, actorOptions as ActorOptions<typeof runtimeServerMachine>)
    bindChart(actor, this)
    this.actor = actor
    actor.subscribe({
      next: () => this.notifyListeners(),
      // A throwing action stops the chart (xstate reports it here, or rethrows it on a timer when
      // nobody listens, which would kill the process): end this session, not the others.
      error: (e) => {
        this.reportError(e)
        queueMicrotask(() => this.release({ expected: false, reason: `internal error: ${errorMessage(e)}` }))
      }
    })
    actor.start()
    // A restored actor has no timers: the chart decides on idleness and re-arms the deadline.
    if (sleep !== undefined) actor.send({ type: "RESUMED", ...this.activity() })
    return actor
  }

  /** @internal The activity facts the chart's idle decisions read (`IDLE_CHECK`, `RESUMED`). */
  activity(): ActivityFacts {
    return { inFlight: this.inFlight.size, idleForMs: this.now() - this.lastSettledAt }
  }

  /** @internal The chart's provided actions (see `runtimeServerMachine`). */
  /** @internal */
  _respondInitialize(id: RequestId, version: LegacyVersion | undefined): void {
    try {
      this.send(makeResult(id, initializeResult(this.server, version)), id)
    } catch (e) {
      // A chart action must not throw (it would stop the chart): the failure is the client's answer.
      this.reportError(e)
      this.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)), id)
    }
  }
  /** @internal */
  _reject(params: RejectParams): void {
    this.server.telemetry?.serverStepFailed(params.id, params.code, params.message)
    this.send(errorResponse(params.id, rpcError(params.code, params.message)), params.id)
  }
  /** @internal */
  _replyPong(id: RequestId): void {
    this.send(makeResult(id, {}), id)
  }
  /** @internal */
  _dispatchHeld(id: RequestId): void {
    const req = this.held
    if (req && req.id === id) this.dispatch(req)
  }
  /** @internal */
  _announceReady(): void {
    this.operating = true
    this.lastSettledAt = this.now() // idle is counted from the handshake completing, not from the session's creation
    this.server.watch(this)
    this.ready()
  }

  private ready(): void {
    if (this.readied) return
    this.readied = true
    if (this.owner !== undefined) this.owner.sessionReady()
    else this.options.onReady?.()
  }
  /** @internal */
  _beginDrain(): void {
    this.operating = false
    this.draining = true
    // The pong may never come (stdin EOF): answer now rather than lose the reply at the drain deadline.
    if (this.barrierWaits !== undefined) for (const release of [...this.barrierWaits]) release()
    // Not to a chart that ended meanwhile (the transport closed before the microtask ran).
    if (this.inFlight.size === 0) queueMicrotask(() => this.actor?.getSnapshot().status === "active" && this.actor.send({ type: "DRAINED" }))
  }
  /** @internal */
  _cancelInFlight(): void {
    for (const [id, entry] of this.inFlight) this.abort(id, entry, "session closed")
  }
  /** @internal */
  _released(reason: string): void {
    // A server session never asks to be restarted: every end is expected from the supervisor's view.
    const cause = reason === HANDSHAKE_TIMEOUT || reason === IDLE_TIMEOUT ? "timeout" : this.closeCause
    queueMicrotask(() => this.release(cause === undefined ? { expected: true, reason } : { expected: true, reason, cause }))
  }

  /** @internal The server's tools, resources or prompts changed (it watches from `operating` on). */
  serverChanged(change: ServerChange): void {
    if (!this.operating) return
    if (change.type === "resourceUpdated") {
      if (this.state.subscriptions?.has(change.uri)) this.notify("notifications/resources/updated", { uri: change.uri })
    } else this.notify(`notifications/${change.type}/list_changed`)
  }

  // ---------------------------------------------------------------- requests

  /** Run one legacy request (modern ones run their own chart: `handleModern`); whatever throws on the way is answered -32603 (see `fault`). */
  private dispatch(req: JsonRpcRequest): void {
    try {
      this.dispatchUnguarded(req)
    } catch (e) {
      this.fault(req, e)
    }
  }

  private dispatchUnguarded(req: JsonRpcRequest): void {
    const id = req.id
    const refused = methodRefusal(this.server, req.method, undefined)
    if (refused !== undefined) {
      this.server.telemetry?.serverRefused(req, { sessionId: this.id, protocolVersion: this.protocolVersion, transport: this.options.transport }, refused)
      return this.send(errorResponse(id, refused), id)
    }
    const entry = newInFlight(req, this.now())
    this.track(entry)
    this.notifyListeners() // an in-flight edge (the inspector lists requests)
    const ctx = this.makeContext(entry)
    let out: Result | PromiseLike<Result>
    try {
      out = dispatchRequest(this.server, req, ctx, this.state)
    } catch (e) {
      return this.finishError(entry, e)
    }
    if (isThenable(out)) {
      out.then((r) => this.finish(entry, r), (e) => this.finishError(entry, e))
    } else this.finish(entry, out)
  }

  private finish(entry: InFlight, value: Result): void {
    if (entry.done) return
    if (holdsProgress(entry)) flushProgress(this.progressOut(), entry)
    // Not while draining: a client whose input ended (stdin EOF) will never answer the ping.
    if (entry.lastProgress !== -Infinity && !entry.barrierPassed && !this.draining && this.needsProgressBarrier()) {
      // Interop (typescript-sdk#2580, see progressBarrier.ts): the response waits for a ping round
      // trip, after which the client has handled the progress notifications. The request stays in
      // flight meanwhile: a drain waits for it, a cancel still wins. Any outcome of the ping releases it.
      entry.barrierPassed = true
      const waits = (this.barrierWaits ??= new Set())
      const release = () => {
        waits.delete(release)
        this.finish(entry, value)
      }
      waits.add(release)
      this.request("ping", undefined, { timeoutMs: PROGRESS_BARRIER_TIMEOUT_MS }, entry.request.id).then(release, release)
      return
    }
    if (!this.settle(entry)) return
    const id = entry.request.id
    try {
      this.send(makeResult(id, value), id)
    } catch (e) {
      // The result could not be sent (not serializable: a cycle, a BigInt): the request still gets an answer.
      this.reportError(e)
      this.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: the result could not be sent: ${errorMessage(e)}`)), id)
    }
    this.afterSettle()
  }

  private finishError(entry: InFlight, e: unknown): void {
    // MRTR is the modern era's (ModernRequestRun): a legacy handler cannot answer input_required.
    if (e instanceof InputRequiredSignal) e = new McpError(ErrorCode.InternalError, `${entry.request.method} cannot answer input_required`)
    if (holdsProgress(entry)) flushProgress(this.progressOut(), entry)
    if (!this.settle(entry)) return
    const id = entry.request.id
    const error: RpcErrorObject = e instanceof McpError
      ? e.toRpcError()
      : rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
    this.send(errorResponse(id, error), id)
    this.afterSettle()
  }

  private progressBarrierCache: boolean | undefined
  /** Responses waiting for their progress barrier's pong (released at once when draining starts). */
  private barrierWaits: Set<() => void> | undefined
  /** Whether this client gets the progress barrier (decided once, from the negotiated clientInfo). */
  private needsProgressBarrier(): boolean {
    if (this.progressBarrierCache !== undefined) return this.progressBarrierCache
    const policy = this.options.progressBarrier ?? defaultProgressBarrier
    const decided = policy(this.negotiated().clientInfo, this.options.transport)
    if (this.operating) this.progressBarrierCache = decided
    return decided
  }

  /** Put `entry` in flight (the session's own table is made on its first request). */
  private track(entry: InFlight): void {
    const table = (this.inFlight = ownTable(this.inFlight))
    table.set(entry.request.id, entry)
  }

  /** Mark done; false when it was cancelled (no response may be sent: cancellation.mdx:L37). */
  private settle(entry: InFlight): boolean {
    if (entry.done) return false
    entry.done = true
    this.inFlight.delete(entry.request.id)
    return true
  }

  private afterSettle(): void {
    this.lastSettledAt = this.now()
    this.notifyListeners()
    if (this.inFlight.size === 0 && this.draining) this.actor?.send({ type: "DRAINED" })
  }

  private abort(id: RequestId, entry: InFlight, reason: string): void {
    if (entry.done) return
    // A modern request: its chart decides (DISCONNECTED: abort the handler, nothing more is sent).
    if (entry.run !== undefined) return entry.run.cancel(reason)
    entry.done = true
    this.inFlight.delete(id)
    if (this.batches !== undefined) unbatch(this.batches, id)
    if (holdsProgress(entry)) flushProgress(this.progressOut(), entry) // entry.done: the held-back value is dropped, its timer cleared
    ;(entry.controller ??= new AbortController()).abort(new Error(reason)) // a handler reading ctx.signal later must see it aborted
    this.afterSettle()
  }

  private makeContext(entry: InFlight): RequestContext {
    return new HandlerContext(this, entry, undefined)
  }

  /** The client's `logging/setLevel` threshold (handler contexts' `logLevel`). */
  get sessionLogLevel(): LoggingLevel | undefined {
    return this.state.logLevel
  }

  /** Negotiated facts for handler contexts (the chart's context, read once per session). */
  negotiated(): Negotiated {
    // Fixed once the handshake is done: computed once, not per request.
    if (this.negotiatedCache !== undefined) return this.negotiatedCache
    const c = this.chartContext()
    const n: Negotiated = {
      protocolVersion: c?.protocolVersion ?? LEGACY_VERSIONS[0],
      clientCapabilities: c?.clientCapabilities ?? {},
      clientInfo: c?.clientInfo as Implementation | undefined
    }
    if (this.operating) this.negotiatedCache = n
    return n
  }

  /** @internal used by HandlerContext */
  _closeStream(id: RequestId): boolean {
    return this.owner !== undefined ? this.owner.dropStream(id) : this.options.closeStream?.(id) ?? false
  }
  /** @internal used by HandlerContext */
  _progress(entry: InFlight, progress: number, total?: number, message?: string): void {
    reportProgress(this.progressOut(), entry, progress, total, message)
  }

  private progressSink: ProgressOut | undefined
  /** What progress needs of this session (made on the first progress report or flush). */
  private progressOut(): ProgressOut {
    if (this.progressSink !== undefined) return this.progressSink
    const session = this
    return (this.progressSink = {
      intervalMs: this.options.progressIntervalMs ?? 0,
      get clock() {
        return session.clock
      },
      now: this.now,
      send: (message, related) => this.send(message, related)
    })
  }
  /** @internal used by HandlerContext */
  _log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight, modern: ModernRequestContext | undefined): void {
    this.log(level, data, logger, entry, modern)
  }
  /** @internal used by HandlerContext */
  _request(entry: InFlight, modern: ModernRequestContext | undefined, method: string, params: Params | undefined, options?: ServerRequestOptions) {
    return this.requestFromHandler(entry, modern, method, params, options)
  }

  private log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight | undefined, modern: ModernRequestContext | undefined): void {
    let threshold: LoggingLevel | undefined
    if (modern) {
      // 2026-07-28: no log messages for a request that did not ask for them.
      if (!isLoggingLevel(modern.logLevel)) return
      threshold = modern.logLevel
    } else threshold = this.state.logLevel
    if (threshold !== undefined && levelRank(level) < levelRank(threshold)) return
    if (entry?.done) return
    const params: Record<string, unknown> = { level, data }
    if (logger !== undefined) params.logger = logger
    this.send(notification("notifications/message", params), entry?.request.id)
  }

  /** Send `notifications/message` outside any request (legacy sessions only). */
  logMessage(level: LoggingLevel, data: unknown, logger?: string): void {
    if (this.era === "legacy") this.log(level, data, logger, undefined, undefined)
  }

  /** A server-initiated notification to this client. */
  notify(method: string, params?: Params): void {
    if (!this.released) this.send(notification(method, params), undefined)
  }

  private requestFromHandler(
    entry: InFlight,
    modern: ModernRequestContext | undefined,
    method: string,
    params: Params | undefined,
    options?: ServerRequestOptions
  ): Promise<Result> {
    if (modern) {
      // 2026-07-28 servers send no JSON-RPC requests; the three input methods go through MRTR (HandlerContext.request).
      return Promise.reject(new McpError(ErrorCode.MethodNotFound, `${method}: servers send no requests in protocol ${modern.protocolVersion}`))
    }
    return this.request(method, params, options, entry.request.id)
  }

  /** A server→client request (legacy sessions). Fails locally when the client did not negotiate it. */
  request(method: string, params?: Params, options?: ServerRequestOptions, related?: RequestId): Promise<Result> {
    if (this.released) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, "Session closed"))
    // lifecycle.mdx:L160-L163: no requests but ping before the client's `initialized`.
    if (!this.operating && method !== "ping") {
      return Promise.reject(new McpError(ErrorCode.InvalidRequest, `${method} must wait until the client has sent notifications/initialized`))
    }
    const missing = missingClientCapabilityFor(this.chartContext()?.clientCapabilities ?? {}, method, params)
    if (missing !== undefined) return Promise.reject(ClientCapabilityNotDeclared.of(missing, method))
    const timeoutMs = options?.timeoutMs ?? this.options.requestTimeoutMs ?? 60_000
    const outbound = (this.outbound ??= new OutboundRequests((message, rel) => this.send(message, rel)))
    return outbound.request(method, params, timeoutMs, options?.signal, this.clock, related)
  }

  // ---------------------------------------------------------------- modern era

  private handleModern(req: JsonRpcRequest): void {
    if (this.era === "unknown") this.era = "modern"
    if (!this.servedModern) {
      this.servedModern = true
      this.actor?.send({ type: "MODERN_SERVED" })
      this.ready()
    }
    // The request's lifecycle is its own chart (machines/modernRequest.ts), as over HTTP.
    new ModernRequestRun((this.modernHost ??= new SessionModernHost(this, this.options)), req).start()
  }

  /** What this session's modern requests run with: one object per session, made on the first one. */
  private modernHost: SessionModernHost | undefined

  /** @internal ModernEraSession */
  get _clock(): Clock {
    return this.clock
  }
  /** @internal */
  _now(): number {
    return this.now()
  }
  /** @internal */
  _reportError(e: unknown): void {
    this.reportError(e)
  }
  /** @internal */
  _trackModern(entry: InFlight): void {
    this.track(entry)
    this.notifyListeners() // an in-flight edge (the inspector lists requests)
  }
  /** @internal */
  _untrackModern(run: ModernRequestRun): boolean {
    const id = run.request.id
    const entry = this.inFlight.get(id)
    if (entry === undefined || entry.run !== run) return false
    this.inFlight.delete(id)
    return true
  }
  /** @internal */
  _sendModern(message: JsonRpcMessage, related: RequestId): void {
    this.send(message, related)
  }
  /** @internal */
  _unbatch(id: RequestId): void {
    if (this.batches !== undefined) unbatch(this.batches, id)
  }
  /** @internal */
  _afterSettle(): void {
    this.afterSettle()
  }

  /** End every open `subscriptions/listen` with its `complete` result: what a graceful close SHOULD do. */
  completeSubscriptions(): void {
    if (this.inFlight.size === 0) return
    for (const entry of [...this.inFlight.values()]) entry.run?.completeSubscriptions()
  }

  // ---------------------------------------------------------------- lifecycle / handle

  /** The chart's state value as a dotted string. */
  stateName(): string {
    if (this.hibernated !== undefined) return flatten(this.hibernated.chart.value)
    if (!this.actor || (this.era === "modern" && this.actor.getSnapshot().value === "awaitingInitialize")) {
      return this.released ? "closed" : this.era === "modern" ? "stateless" : "awaitingInitialize"
    }
    return flatten(this.actor.getSnapshot().value)
  }

  get protocolVersion(): string | undefined {
    return this.chartContext()?.protocolVersion
  }

  get clientInfo(): InitializeParams["clientInfo"] | undefined {
    return this.chartContext()?.clientInfo
  }

  /** The chart's context, from the running actor or the hibernated snapshot. */
  private chartContext(): LegacyServerSessionContext | undefined {
    return this.actor?.getSnapshot().context ?? this.hibernated?.chart.context
  }

  /** True while the chart is hibernated (see `hibernate`). */
  get isHibernated(): boolean {
    return this.hibernated !== undefined
  }

  /**
   * Hibernate an idle operating session: keep the chart's persisted snapshot,
   * stop the actor (and its timers), and keep one wake-up timer for the idle
   * deadline. Requests in `operating` never need the actor, so they are served
   * as before; the next lifecycle event (ping, close, a second initialize, the
   * transport ending, the idle deadline) restores the actor from the snapshot
   * and re-arms its timers (`RESUMED`). An idle session then weighs a few
   * hundred bytes instead of a live actor's ~4.5 KB. False when not eligible.
   */
  hibernate(): boolean {
    const actor = this.actor
    if (actor === undefined || !this.operating || this.draining || this.released) return false
    if (this.inFlight.size > 0 || (this.outbound?.size ?? 0) > 0) return false
    // No live object in the context: xstate's persisted snapshot is plain data (and shares the context).
    const sleep = (this.hibernated = new Sleep(compactChart(actor.getPersistedSnapshot() as PersistedChart), this))
    this.inFlight = emptyTable() // empty here: an idle session keeps no table
    this.actor = undefined
    actor.stop()
    unbindChart(actor)
    sleep.decide()
    return true
  }

  /** Hibernate when nothing has been in flight for `idleMs` (the HTTP server's sweeper calls this). */
  hibernateIfIdleFor(idleMs: number): boolean {
    if (this.inFlight.size > 0 || this.now() - this.lastSettledAt < idleMs) return false
    if (this.hibernated !== undefined) this.inFlight = emptyTable() // asleep already, woken by requests only: drop their (empty) table
    return this.hibernate()
  }

  /**
   * Hibernate (if not yet) and return this session as plain data that survives
   * `JSON.stringify`, for a fresh process to serve on (`ServerSessionOptions.restore`).
   * Undefined when it cannot hibernate (not operating, or work in flight).
   */
  persist(): PersistedServerSession | undefined {
    if (this.hibernated === undefined && !this.hibernate()) return undefined
    const subscriptions = this.state.subscriptions
    return {
      id: this.id,
      chart: this.hibernated!.chart,
      lastSettledAt: this.lastSettledAt,
      startedAt: this.startedAt,
      ...(this.state.logLevel === undefined ? {} : { logLevel: this.state.logLevel }),
      ...(subscriptions === undefined || subscriptions.size === 0 ? {} : { subscriptions: [...subscriptions] })
    }
  }

  /** Take over a session another process persisted: hibernated in `operating`, as it was left. */
  private restored(p: PersistedServerSession): void {
    checkRestorable(p)
    this.era = "legacy"
    const sleep = (this.hibernated = new Sleep(p.chart, this))
    this.lastSettledAt = p.lastSettledAt
    if (p.logLevel !== undefined) this.state.logLevel = p.logLevel
    if (p.subscriptions !== undefined) this.state.subscriptions = new Set(p.subscriptions)
    // What the chart's `announceReady` did in the first process.
    this.operating = true
    this.readied = true
    this.server.watch(this)
    sleep.decide()
  }

  /** @internal The sleeping chart's idle deadline passed (`Sleep`): restore the actor, which closes. */
  _wake(): void {
    this.ensureActor()
  }

  get transportKind(): TransportKind {
    return this.options.transport
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  /** When nothing was last in flight (the idle clock), or undefined while a request or a server→client request is pending. */
  get idleSince(): number | undefined {
    return this.inFlight.size > 0 || (this.outbound?.size ?? 0) > 0 ? undefined : this.lastSettledAt
  }

  /** End the session at once to make room for others (admission control); the transport tells the peer (`overload`). */
  evict(reason: string): void {
    void this.close({ drainMs: 0, reason, cause: "overload" })
  }

  info(): SessionInfo {
    return {
      id: this.id,
      role: "server",
      era: this.era,
      protocolVersion: this.protocolVersion,
      state: this.stateName(),
      transport: this.options.transport,
      peer: this.clientInfo,
      inFlight: this.inFlight.size,
      ...(this.inFlight.size === 0
        ? {}
        : { requests: Array.from(this.inFlight.values(), (e) => (e.receivedAt === undefined ? { id: e.request.id, method: e.request.method } : { id: e.request.id, method: e.request.method, since: e.receivedAt })) }),
      startedAt: this.startedAt
    }
  }

  subscribe(listener: (info: SessionInfo) => void): () => void {
    return (this.listeners ??= new InfoListeners()).add(listener)
  }

  onInfoChange(listener: () => void): () => void {
    return (this.listeners ??= new InfoListeners()).addSignal(listener)
  }

  private notifyListeners(): void {
    // Called on every chart step: no closure unless someone listens.
    if (this.listeners !== undefined && this.listeners.size > 0) this.listeners.notify(() => this.info())
  }

  close(options?: { readonly drainMs?: number; readonly reason?: string; readonly cause?: TransportCloseDetail["cause"] }): Promise<void> {
    if (this.released) return this.ended.then(() => undefined)
    this.completeSubscriptions()
    const reason = options?.reason ?? "closed by server"
    if (options?.cause !== undefined) this.closeCause ??= options.cause
    // Requests in flight (modern ones run without the chart) are drained by the chart's `closing`.
    if (this.hibernated || (this.actor === undefined && this.inFlight.size > 0)) this.ensureActor()
    if (!this.actor) {
      this.release(this.closeCause === undefined ? { expected: true, reason } : { expected: true, reason, cause: this.closeCause })
    } else {
      if (options?.drainMs !== undefined) {
        const clock = this.clock
        const t = clock.setTimeout(() => this.actor?.send({ type: "TRANSPORT_CLOSED", reason }), options.drainMs)
        void this.ended.then(() => clock.clearTimeout(t))
      }
      this.actor.send({ type: "CLOSE", reason, inFlight: this.inFlight.size })
    }
    return this.ended.then(() => undefined)
  }

  private release(end: SessionEnd): void {
    if (this.released) return
    this.released = true
    this.operating = false
    this.server.unwatch(this)
    for (const [id, entry] of this.inFlight) this.abort(id, entry, "session closed")
    this.outbound?.rejectAll()
    this.notifyListeners()
    this.actor?.stop()
    const sleep = this.hibernated
    this.hibernated = undefined
    sleep?.end()
    if (this.owner !== undefined) this.owner.sessionReleased(end)
    else this.options.onRelease?.(end)
    this.endedWith = end
    this.resolveEnded?.(end)
    this.listeners?.clear()
  }
}

const flatten = (value: unknown, prefix = ""): string => {
  if (typeof value === "string") return prefix + value
  return Object.entries(value as Record<string, unknown>).map(([k, v]) => flatten(v, `${prefix}${k}.`)).join("|")
}
