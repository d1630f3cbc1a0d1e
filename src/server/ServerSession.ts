/**
 * One server-side MCP connection: a stdio process, a WebSocket, or a Streamable
 * HTTP session. Legacy traffic runs through the `legacyServerSession` chart
 * (created on the first legacy message); modern (2026-07-28) requests are served
 * statelessly from their `_meta` on the same connection (dual-era).
 *
 * Decide/execute split: the chart decides the lifecycle (what is allowed when,
 * which error, when to close); this class executes — it owns the in-flight
 * table, the handler contexts, outbound requests and the wire.
 *
 * This file is the composition: the session's state and its public face. Each
 * concept is its own file under `./session/`: input routing (`inputRouter.ts`),
 * the chart glue (`chartActor.ts`, `chartActions.ts`, `serverChart.ts`), legacy
 * requests and their settling (`legacyRequests.ts`), messages to the client
 * (`clientMessages.ts`), the modern era (`modernEra.ts`), hibernation
 * (`hibernate.ts`, `hibernation.ts`, `Sleep.ts`), the handle the runtime, registry
 * and inspector see (`handle.ts`) and the session's end (`ending.ts`). They are plain
 * functions taking the session (no per-message objects on the hot path).
 */
import type { Actor, AnyActorRef } from "xstate"
import type {
  ActivityFacts,
  EarlyRequestPolicy,
  InitializeParams,
  LegacyServerSessionContext,
  legacyServerSessionMachine
} from "../../machines/legacyServerSession.ts"
import { type Clock, clockOf } from "../protocol/clock.ts"
import type { Era } from "../protocol/era.ts"
import { ErrorCode, rpcError } from "../protocol/errors.ts"
import { errorResponse, type JsonRpcBatchResponse, type JsonRpcMessage, type JsonRpcRequest, notification, type Params, type RequestId } from "../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../protocol/modern.ts"
import type { ServerChange } from "../protocol/subscriptions.ts"
import type { LegacyVersion } from "../protocol/versions.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import { InfoListeners, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import type { ClearingMap } from "../protocol/ClearingMap.ts"
import { emptyTable } from "../runtime/EmptyTable.ts"
import { realClock } from "../runtime/XStateClock.ts"
import type { TransportCloseDetail, TransportClosed, TransportKind } from "../transports/Transport.ts"
import type { Identity } from "../policy/Identity.ts"
import { joinRuntime } from "./connectionNode.ts"
import type { Result, SessionState } from "./dispatch.ts"
import { type McpServer, WATCH_KEY } from "./McpServer.ts"
import type { ProgressBarrierPolicy } from "./progressBarrier.ts"
import type { ServerRequestOptions } from "./RequestContext.ts"
import type { LoggingLevel } from "./types.ts"
import { holdForBatch, type PendingBatches } from "./session/batches.ts"
import { ensureActor, negotiatedFacts } from "./session/chartActor.ts"
import { log, notifyServerChange, requestClient, requestFromHandler } from "./session/clientMessages.ts"
import { close, release } from "./session/ending.ts"
import { info, stateName } from "./session/handle.ts"
import type { Negotiated } from "./session/HandlerContext.ts"
import { hibernate, hibernateIfIdleFor, persist, restoreSession } from "./session/hibernate.ts"
import type { PersistedServerSession } from "./session/hibernation.ts"
import type { InFlight } from "./session/InFlight.ts"
import { fault, routeBatch, routeFrame, routeMessage } from "./session/inputRouter.ts"
import { progressOut } from "./session/legacyRequests.ts"
import type { ModernRequestOptions } from "./session/ModernRequestRun.ts"
import type { SessionModernHost } from "./session/modernEra.ts"
import type { OutboundRequests } from "./session/outboundRequests.ts"
import { type ProgressOut, reportProgress } from "./session/progress.ts"
import { newSessionId } from "./session/sessionId.ts"
import type { Sleep } from "./session/Sleep.ts"

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
   * HTTP listener's), given by the owner that supervises the session
   * (`serveTransport`, the HTTP and WebSocket servers). Without it the session
   * joins `runtime` as a connection of its own: a `connection` node under the
   * root (the chart its child, seen by one inspector on the root), listed in the
   * runtime's registry, released when the runtime shuts down.
   */
  readonly actorParent?: AnyActorRef
  /**
   * The runtime a session made without `actorParent` joins (its tree, registry,
   * supervisor, and clock unless `clock` is given). Default: the process's
   * (`defaultMcpRuntime()`). Ignored with `actorParent`: its owner's runtime holds it.
   */
  readonly runtime?: McpRuntime
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
 * Made directly (no `actorParent`), it is a supervised connection of its own in
 * `options.runtime` (default the process's): a node of its tree, in its registry,
 * released by its shutdown.
 */
export class ServerSession implements SessionHandle {
  readonly id: string
  readonly server: McpServer
  readonly startedAt: number
  /** Who sends this connection's requests; HTTP refreshes it from each request's credentials (same principal). */
  identity: Identity | undefined
  // The fields below are the session's state, read and written by its parts in `./session/` (hence not `private`).
  /** @internal */ readonly options: ServerSessionOptions
  /** @internal */ readonly sendOut: SendToClient
  /** @internal Does what `send`, `closeStream`, `onRelease` and `onReady` would (an HTTP session): see {@link ServerSessionOwner}. */
  readonly owner: ServerSessionOwner | undefined
  /** @internal Batches (2025-03-26) still collecting: each request id of one maps to its collector. */
  batches: PendingBatches | undefined
  /** @internal The shared empty table while nothing is in flight (an idle session owns no Map): see `track`. */
  inFlight: ClearingMap<RequestId, InFlight> = emptyTable()
  /** @internal Server→client requests are rare: made on the first one (allocations count when sessions churn). */
  outbound: OutboundRequests | undefined
  /** @internal */ readonly state: SessionState = { logLevel: undefined, subscriptions: undefined, subscribing: 0 }
  /** Changes told to `listeners` so far, listened to or not (see `SessionHandle.infoVersion`). */
  infoVersion = 0
  /** @internal Made on the first subscriber (the inspector's): most sessions never get one. */
  listeners: InfoListeners | undefined
  /** @internal This session's key in its server's change listeners while it watches (`McpServer.watch`). */
  [WATCH_KEY]: number | undefined = undefined
  /** @internal */ actor: Actor<typeof legacyServerSessionMachine> | undefined
  /** @internal Mirrors the chart's `operating` state for the hot path (set by `announceReady`, cleared by `beginDrain`). */
  operating = false
  /** @internal */ draining = false
  /** @internal */ released = false
  /** @internal */ era: Era | "unknown" = "unknown"
  /** @internal When the last request finished (the idle timeout counts from here). */
  lastSettledAt: number
  /** @internal */ readonly createdAt: number
  /** @internal A modern request was served here: the legacy handshake deadline no longer applies. */
  servedModern = false
  /** @internal `onReady` was called. */
  readied = false
  /** @internal Why `close` was asked for (a transport may tell its peer). */
  closeCause: TransportCloseDetail["cause"] | undefined
  /** @internal */ negotiatedCache: Negotiated | undefined
  /** @internal The chart's sleep while hibernated (its persisted snapshot and wake-up timer; the actor is stopped). */
  hibernated: Sleep | undefined
  /** @internal */ readonly now: () => number
  /** @internal The request the chart is deciding on (the `dispatch` action reads it). */
  held: JsonRpcRequest | undefined
  /** @internal What this session's modern requests run with: one object per session, made on the first one. */
  modernHost: SessionModernHost | undefined
  /** @internal Whether this client gets the progress barrier, once decided (see `legacyRequests.ts`). */
  progressBarrierCache: boolean | undefined
  /** @internal What progress needs of this session (made on the first progress report or flush). */
  progressSink: ProgressOut | undefined
  /** @internal Timers of this session (server→client deadlines, drain) run on the chart's clock. */
  get clock(): Clock {
    return this.options.clock ?? realClock
  }
  // `ended` is made when first read (most HTTP sessions are never awaited): a promise and its resolver fewer per session.
  private endedPromise: Promise<SessionEnd> | undefined
  /** @internal */ resolveEnded: ((end: SessionEnd) => void) | undefined
  /** @internal */ endedWith: SessionEnd | undefined
  /** @internal Its chart's actor names it (`ACTOR_SESSION`, chartActor.ts): the inspector joins them with no lookup by id. */
  get namedByItsActors(): boolean {
    return true
  }

  /** Settles once, when the session has ended for good. */
  get ended(): Promise<SessionEnd> {
    if (this.endedPromise !== undefined) return this.endedPromise
    const ended = this.endedWith
    return (this.endedPromise = ended !== undefined
      ? Promise.resolve(ended)
      : new Promise((resolve) => (this.resolveEnded = resolve)))
  }

  constructor(server: McpServer, options: ServerSessionOptions, owner?: ServerSessionOwner) {
    // Made directly (no owner gave it a place in a tree): a supervised connection of its own in a runtime.
    const joined = options.actorParent === undefined ? joinRuntime(options, owner) : undefined
    if (joined !== undefined) {
      options = joined.options
      owner = joined.owner
    }
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
    try {
      if (options.restore !== undefined) restoreSession(this, options.restore)
      else if ((options.handshakeTimeoutMs ?? 0) > 0) ensureActor(this)
    } catch (e) {
      joined?.abandon("session not constructed")
      throw e
    }
    server.telemetry?.observeSession("server", this)
    joined?.supervise(this)
  }

  // ---------------------------------------------------------------- input (session/inputRouter.ts)

  /** One text frame from the transport (stdio line, WebSocket message). */
  receiveFrame(text: string): void {
    routeFrame(this, text)
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
    routeBatch(this, items)
  }

  /**
   * @internal Every message to the client goes through here: the response to a request of a
   * pending batch is held for the batch's array instead.
   */
  send(message: JsonRpcMessage, related: RequestId | undefined): void {
    const batches = this.batches
    if (batches !== undefined && holdForBatch(batches, message)) return
    this.out(message, related)
  }

  /** @internal To the wire (past the batch collector). */
  out(message: JsonRpcMessage, related: RequestId | undefined): void {
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
      routeMessage(this, message)
    } catch (e) {
      fault(this, message, e)
    }
  }

  /** @internal An unexpected error, to `options.onError` (default: stderr). */
  reportError(e: unknown): void {
    ;(this.options.onError ?? defaultOnError)(e)
  }

  /** The transport ended (stdin EOF, socket closed): abort everything and release. */
  transportClosed(closed: TransportClosed): void {
    if (this.released) return
    if (this.actor || this.hibernated) ensureActor(this).send({ type: "TRANSPORT_CLOSED", reason: closed.reason })
    else release(this, { expected: closed.expected, reason: closed.reason })
  }

  // ---------------------------------------------------------------- chart (session/chartActor.ts, chartActions.ts)

  /** @internal The activity facts the chart's idle decisions read (`IDLE_CHECK`, `RESUMED`). */
  activity(): ActivityFacts {
    return { inFlight: this.inFlight.size, idleForMs: this.now() - this.lastSettledAt }
  }

  /** @internal The server's tools, resources or prompts changed (it watches from `operating` on). */
  serverChanged(change: ServerChange): void {
    notifyServerChange(this, change)
  }

  /** @internal The chart's context, from the running actor or the hibernated snapshot. */
  chartContext(): LegacyServerSessionContext | undefined {
    return this.actor?.getSnapshot().context ?? this.hibernated?.chart.context
  }

  /** The client's `logging/setLevel` threshold (handler contexts' `logLevel`). */
  get sessionLogLevel(): LoggingLevel | undefined {
    return this.state.logLevel
  }

  /** Negotiated facts for handler contexts (the chart's context, read once per session). */
  negotiated(): Negotiated {
    // Fixed once the handshake is done: computed once, not per request.
    return this.negotiatedCache ?? negotiatedFacts(this)
  }

  // ---------------------------------------------------------------- what handlers use (session/HandlerContext.ts, clientMessages.ts)

  /** @internal used by HandlerContext */
  _closeStream(id: RequestId): boolean {
    return this.owner !== undefined ? this.owner.dropStream(id) : this.options.closeStream?.(id) ?? false
  }
  /** @internal used by HandlerContext */
  _progress(entry: InFlight, progress: number, total?: number, message?: string): void {
    reportProgress(progressOut(this), entry, progress, total, message)
  }
  /** @internal used by HandlerContext */
  _log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight, modern: ModernRequestContext | undefined): void {
    log(this, level, data, logger, entry, modern)
  }
  /** @internal used by HandlerContext */
  _request(entry: InFlight, modern: ModernRequestContext | undefined, method: string, params: Params | undefined, options?: ServerRequestOptions) {
    return requestFromHandler(this, entry, modern, method, params, options)
  }

  /** Send `notifications/message` outside any request (legacy sessions only). */
  logMessage(level: LoggingLevel, data: unknown, logger?: string): void {
    if (this.era === "legacy") log(this, level, data, logger, undefined, undefined)
  }

  /** A server-initiated notification to this client. */
  notify(method: string, params?: Params): void {
    if (!this.released) this.send(notification(method, params), undefined)
  }

  /** A server→client request (legacy sessions). Fails locally when the client did not negotiate it. */
  request(method: string, params?: Params, options?: ServerRequestOptions, related?: RequestId): Promise<Result> {
    return requestClient(this, method, params, options, related)
  }

  /** End every open `subscriptions/listen` with its `complete` result: what a graceful close SHOULD do. */
  completeSubscriptions(): void {
    if (this.inFlight.size === 0) return
    for (const entry of [...this.inFlight.values()]) entry.run?.completeSubscriptions()
  }

  // ---------------------------------------------------------------- the handle (session/handle.ts, hibernate.ts, ending.ts)

  /** The chart's state value as a dotted string. */
  stateName(): string {
    return stateName(this)
  }

  get protocolVersion(): string | undefined {
    return this.chartContext()?.protocolVersion
  }

  get clientInfo(): InitializeParams["clientInfo"] | undefined {
    return this.chartContext()?.clientInfo
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
    return hibernate(this)
  }

  /** Hibernate when nothing has been in flight for `idleMs` (the HTTP server's sweeper calls this). */
  hibernateIfIdleFor(idleMs: number): boolean {
    return hibernateIfIdleFor(this, idleMs)
  }

  /**
   * Hibernate (if not yet) and return this session as plain data that survives
   * `JSON.stringify`, for a fresh process to serve on (`ServerSessionOptions.restore`).
   * Undefined when it cannot hibernate (not operating, or work in flight).
   */
  persist(): PersistedServerSession | undefined {
    return persist(this)
  }

  /** @internal The sleeping chart's idle deadline passed (`Sleep`): restore the actor, which closes. */
  _wake(): void {
    ensureActor(this)
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
    return info(this)
  }

  subscribe(listener: (info: SessionInfo) => void): () => void {
    return (this.listeners ??= new InfoListeners()).add(listener)
  }

  onInfoChange(listener: () => void): () => void {
    return (this.listeners ??= new InfoListeners()).addSignal(listener)
  }

  close(options?: { readonly drainMs?: number; readonly reason?: string; readonly cause?: TransportCloseDetail["cause"] }): Promise<void> {
    return close(this, options)
  }
}
