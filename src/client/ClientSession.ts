/**
 * One client-side MCP session over a message transport (stdio, WebSocket,
 * memory). The `legacyClientSession` chart decides the lifecycle (handshake,
 * version check, keepalive, close); every outbound request runs the
 * `outboundRequest` chart (in the session's `requests` child, `machines/outboundRequests.ts`),
 * which decides its deadline, progress reset, hard maximum and cancellation. This class
 * executes: the wire, the callers' promises, progress-token injection, the server→client handlers.
 */
import { LegacyMcpMethods } from "./McpMethods.ts"
import type { Actor, ActorOptions, AnyActorLogic, AnyActorRef } from "xstate"
import type { Clock } from "../protocol/clock.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { DEFAULT_PING_TIMEOUT_MS, keepaliveMachine } from "../../machines/keepalive.ts"
import {
  type LegacyClientFailure,
  type LegacyClientSessionEvent,
  legacyClientSessionMachine
} from "../../machines/legacyClientSession.ts"
import { outboundRequestMachine } from "../../machines/outboundRequest.ts"
import { outboundRequestsLogic } from "../../machines/outboundRequests.ts"
import { type ClientCapabilities, type ServerCapabilities } from "../protocol/capabilities.ts"
import { ErrorCode, McpError, rpcError } from "../protocol/errors.ts"
import { RpcError } from "../protocol/requestErrors.ts"
import { ClientCapabilityNotDeclared } from "../protocol/serverRequestErrors.ts"
import { makeIdAllocator } from "../protocol/ids.ts"
import {
  decodeText,
  errorResponse,
  idInFlightReply,
  invalidResponseError,
  isObject,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  notification,
  oversizedResponseError,
  type Params,
  type RequestId,
  request as makeRequest,
  result as makeResult
} from "../protocol/jsonrpc.ts"
import { LEGACY_VERSIONS, type LegacyVersion } from "../protocol/versions.ts"
import { InfoListeners, type PeerInfo, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import { realClock } from "../runtime/XStateClock.ts"
import type { ClientTransportHandlers, Transport, TransportClosed, TransportHandlers } from "../transports/Transport.ts"

export type { ClientTransportHandlers }
import { cancelReason, capabilityRefusal, OutboundRequests, outcomeError, type RequestsActor, requestSent } from "./outbound.ts"
import type { Telemetry } from "../observability/Telemetry.ts"
import { type ClientRuntimeOptions, openClientConnection } from "./clientNode.ts"
import {
  ConnectionLost,
  InitializeFailed,
  RequestCancelled,
  RequestTimeout,
  SessionClosed,
  UnsupportedProtocolVersion
} from "../protocol/requestErrors.ts"

export type Result = { readonly [key: string]: unknown }

export interface Progress {
  readonly progress: number
  readonly total?: number
  readonly message?: string
}

/** Per-call options of a client request: deadline, progress, cancellation. */
export interface RequestOptions {
  /** Deadline without an answer (default: the session's `requestTimeoutMs`, 60 s). */
  readonly timeoutMs?: number
  /** Restart the deadline on each progress notification (default true when `onProgress` is given). */
  readonly resetTimeoutOnProgress?: boolean
  /** Hard maximum from the start, whatever progress says (default 10 × timeoutMs). */
  readonly maxTotalTimeoutMs?: number
  readonly signal?: AbortSignal
  /** Progress callback; a progress token is injected automatically. */
  readonly onProgress?: (progress: Progress) => void
}

/** Context given to handlers of server→client requests. */
export interface ServerRequestContext {
  readonly requestId: RequestId
  readonly signal: AbortSignal
}
/** Answers one server→client request (legacy) or one MRTR input request (modern). */
export type InputHandler = (params: Params | undefined, ctx: ServerRequestContext) => Result | PromiseLike<Result>
type Handler = InputHandler

/**
 * Options of a legacy client session: who we are, what we answer (sampling, elicitation,
 * roots), deadlines and keepalive, and hooks to watch the session chart.
 */
export interface ClientSessionOptions extends ClientRuntimeOptions {
  readonly clientInfo?: { readonly name: string; readonly version: string; readonly [k: string]: unknown }
  /** Extra capabilities to declare; sampling/elicitation/roots are declared when their handler is given. */
  readonly capabilities?: ClientCapabilities
  readonly protocolVersion?: LegacyVersion
  readonly supportedVersions?: ReadonlyArray<LegacyVersion>
  readonly initializeTimeoutMs?: number
  readonly closeTimeoutMs?: number
  readonly requestTimeoutMs?: number
  /**
   * Periodic ping. Default: off when the transport reports liveness itself
   * (a stdio child's exit, a socket close), on otherwise.
   */
  readonly keepalive?: boolean | { readonly intervalMs?: number; readonly timeoutMs?: number; readonly maxMisses?: number }
  /** Answer `sampling/createMessage` (declares the `sampling` capability). */
  readonly onSampling?: Handler
  /** Answer `elicitation/create` (declares `elicitation: { form: {} }` unless `capabilities.elicitation` says more). */
  readonly onElicitation?: Handler
  /** Answer `roots/list` (declares `roots: { listChanged: true }`). */
  readonly onRoots?: Handler
  /** Every state transition of the session chart, from `connecting` on. */
  readonly onStateChange?: (state: string, info: SessionInfo) => void
  /** Every notification from the server (logs, list changes, resource updates). */
  readonly onNotification?: (notification: JsonRpcNotification) => void
  /** Refuse locally to call methods the server did not advertise. Default true. */
  readonly enforceCapabilities?: boolean
  readonly clock?: Clock
  /**
   * Inspection observer of the session's actor tree (the session chart, its keepalive
   * child and its `requests` child), as xstate's `createActor({ inspect })`: fed by the
   * session's connection node (its subtree), so the session stays a node of the runtime's
   * tree. Honoured where a node is opened (a direct `connect`, the `connect*` helpers); an
   * owner that gives `actorParent` observes through its own tree.
   */
  readonly inspect?: ActorOptions<AnyActorLogic>["inspect"]
  /**
   * Time source matching `clock`, for the keepalive activity throttle. Default:
   * `clock.now()` when the clock has one (xstate's `SimulatedClock`), else `Date.now`.
   */
  readonly now?: () => number
  /** OpenTelemetry: a CLIENT span per request (`traceparent` in `_meta`), a session span, metrics. */
  readonly telemetry?: Telemetry
}

/** A request that runs no `outboundRequest` chart: `initialize` (the session chart's deadline) or a keepalive ping. */
interface Pending {
  readonly method: string
  readonly resolve: (r: Result) => void
  readonly reject: (e: unknown) => void
  /** A keepalive ping's CLIENT span: ended with the error when the ping will get no answer (it timed out, it was superseded, the session closed). */
  readonly span?: { end(error?: unknown): void } | undefined
}

/** Server→client requests (sampling, elicitation, roots) a session lets wait on its handlers at once; more are refused. */
export const MAX_SERVER_REQUESTS_IN_FLIGHT = 32

export type ClientSessionEvent =
  | { readonly type: "state"; readonly state: string; readonly info: SessionInfo }
  | { readonly type: "notification"; readonly notification: JsonRpcNotification }

let sessionCounter = 0

/**
 * Where a session sits in a runtime's actor tree, and who hears of its
 * transport's end: what a client connection node (`clientNode.ts`) gives
 * the session it owns. Without one (a direct `connect`) the session opens a
 * node of its own in its runtime.
 */
export interface ClientSessionLifecycle {
  /** The actor whose child the session's chart is (its connection node, or its owner's actor). */
  readonly actorParent?: AnyActorRef
  /** The transport ended (before the session hears of it). */
  readonly onTransportClosed?: (closed: TransportClosed) => void
  /** `close()` was called: the local side ends the connection. */
  readonly onCloseRequested?: (reason: string) => void
}

/**
 * A legacy-era (2024-11-05…2025-11-25) client session over a message transport (stdio,
 * WebSocket, memory): the `legacyClientSession` chart drives the handshake, keepalive and
 * shutdown, and each request is an `outboundRequest` actor with its own deadline,
 * progress and cancellation. `connectStdio` and `connectWs` make one; use
 * `ClientSession.connect(transport)` for a transport of your own.
 *
 * @example
 * ```ts
 * import { ClientSession, McpServer, makeMemoryTransportPair, serveTransport } from "mcp-actors"
 *
 * const server = new McpServer({ name: "calc", version: "1.0.0" }).tool(
 *   { name: "add", inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } } },
 *   (args) => ({ content: [{ type: "text", text: String(Number(args.a) + Number(args.b)) }] })
 * )
 * const [serverSide, clientSide] = makeMemoryTransportPair()
 * serveTransport(server, serverSide)
 *
 * const client = await ClientSession.connect(clientSide, { clientInfo: { name: "host", version: "1.0.0" } })
 * console.log(client.serverInfo?.name)                         // "calc"
 * console.log(await client.callTool("add", { a: 1, b: 2 }))    // { content: [{ type: "text", text: "3" }] }
 * await client.close()
 * ```
 */
export class ClientSession extends LegacyMcpMethods<RequestOptions> implements SessionHandle {
  readonly id: string
  readonly startedAt = Date.now()
  readonly transport: Transport
  readonly ended: Promise<SessionEnd>
  private readonly options: ClientSessionOptions
  private readonly ids = makeIdAllocator()
  /** `initialize` while it is under way (the requests that run a chart are `outbound`'s). */
  private readonly pending = new Map<RequestId, Pending>()
  /** The requests in flight that run the `outboundRequest` chart, in the session's `requests` child. */
  private readonly outbound = new OutboundRequests(() => {
    if (this.inFlightCount === 0) this.drainWaiter?.()
  })
  /**
   * Keepalive pings awaiting an answer, kept out of `pending`: a ping the peer
   * never answers must not count as an in-flight request (it would block the
   * 0↔1 activity edges and the drain on close). Only the latest one is kept.
   */
  private readonly pings = new Map<RequestId, Pending>()
  private readonly incoming = new Map<RequestId, AbortController>()
  private readonly listeners = new InfoListeners()
  private readonly eventListeners = new Set<(e: ClientSessionEvent) => void>()
  private readonly actor: Actor<typeof legacyClientSessionMachine>
  private requestsStarted = false
  private readonly capabilities: ClientCapabilities
  private readonly keepaliveOn: boolean
  private readonly pingTimeoutMs: number
  private lastActivityAt = -Infinity
  private readonly now: () => number
  private activityThrottleMs: number
  private resolveEnded!: (end: SessionEnd) => void
  private endedFlag = false

  private readonly lifecycle: ClientSessionLifecycle

  private constructor(transport: Transport, options: ClientSessionOptions, lifecycle: ClientSessionLifecycle) {
    super()
    this.lifecycle = lifecycle
    this.transport = transport
    this.options = options
    this.id = `client-${++sessionCounter}`
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    this.capabilities = declaredCapabilities(options)
    const ka = options.keepalive
    this.keepaliveOn = ka === undefined ? !transport.authoritativeLiveness : ka !== false
    const kaOptions = typeof ka === "object" ? ka : {}
    this.pingTimeoutMs = kaOptions.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS
    this.activityThrottleMs = Math.max(1, (kaOptions.intervalMs ?? 30_000) / 4)
    const clockNow = (options.clock as { now?: () => number } | undefined)?.now
    this.now = options.now ?? (typeof clockNow === "function" ? () => clockNow.call(options.clock) : Date.now)
    const machine = legacyClientSessionMachine.provide({
      actions: {
        sendInitialize: ({ context }) => this.sendInitialize(context.requestedVersion),
        sendInitialized: () => this.transport.send(notification("notifications/initialized")),
        replyPong: ({ event }) => {
          if (event.type === "PING_RECEIVED") this.transport.send(makeResult(event.id, {}))
        },
        disconnect: () => void this.transport.close(),
        drainAndClose: () => void this.drainAndClose(),
        forceClose: () => {
          this.failAllPending("session closed")
          void this.transport.close()
        },
      },
      actors: {
        keepalive: keepaliveMachine.provide({
          actions: {
            sendPing: () => this.sendKeepalivePing(),
            pingMissed: ({ context }) => {
              this.endPingSpans(new RequestTimeout({ method: "ping", afterMs: context.pingTimeoutMs, deadline: "request", message: `ping: no answer within ${context.pingTimeoutMs} ms` }))
              this.emitLog(`keepalive: ping missed (${context.misses}/${context.maxMisses})`)
            }
          }
        }),
        requests: outboundRequestsLogic(outboundRequestMachine.provide({
          actions: {
            sendCancelled: ({ context }) =>
              this.transport.send(notification("notifications/cancelled", { requestId: context.requestId, reason: cancelReason(context.outcome) }))
          }
        }))
      }
    })
    this.actor = createLeanActor(machine, {
      id: this.id, // the inspector links the actor to this session by it
      input: {
        protocolVersion: options.protocolVersion ?? options.supportedVersions?.[0] ?? LEGACY_VERSIONS[0],
        supportedVersions: options.supportedVersions ?? LEGACY_VERSIONS,
        initializeTimeoutMs: options.initializeTimeoutMs ?? 60_000,
        closeTimeoutMs: options.closeTimeoutMs ?? 5_000,
        keepalive: this.keepaliveOn,
        ...(kaOptions.intervalMs !== undefined ? { pingIntervalMs: kaOptions.intervalMs } : {}),
        ...(kaOptions.timeoutMs !== undefined ? { pingTimeoutMs: kaOptions.timeoutMs } : {}),
        ...(kaOptions.maxMisses !== undefined ? { maxMisses: kaOptions.maxMisses } : {})
      },
      ...(options.clock ? { clock: options.clock } : {}),
      // A node of its connection's tree (seen by the runtime's observers; the node hands `inspect` its subtree).
      ...(lifecycle.actorParent !== undefined ? { parent: lifecycle.actorParent } : options.inspect ? { inspect: options.inspect } : {})
    })
    let last = ""
    const changed = () => {
      const state = stateOf(this.actor.getSnapshot())
      if (state === last) return
      last = state
      if (this.listeners.size === 0 && this.options.onStateChange === undefined && this.eventListeners.size === 0) return
      const info = this.info(state)
      this.listeners.notify({ info: () => info })
      this.options.onStateChange?.(state, info)
      this.emit({ type: "state", state, info })
    }
    // The keepalive child's state is part of the session's (`operating.keepalive.<k>`), and the
    // requests child's activity too (`operating.activity.idle|busy`): watch them.
    let keepalive: unknown
    let activity: unknown
    this.actor.subscribe((snapshot) => {
      const child = snapshot.children.keepalive
      if (child !== undefined && child !== keepalive) {
        keepalive = child
        child.subscribe(changed)
      }
      const requests = snapshot.children.requests as RequestsActor | undefined
      if (requests !== undefined && !this.requestsStarted) {
        this.requestsStarted = true
        activity = requests.getSnapshot().value
        // Stopped with requests still in flight (the session ended): they end as `Aborted`.
        this.outbound.attach(requests, {
          next: (s) => {
            if (s.value === activity) return
            activity = s.value
            changed()
          }
        })
      }
      changed()
      if (snapshot.status === "done") this.finish(snapshot.output!)
    })
    options.telemetry?.observeSession("client", this)
  }

  /**
   * Start the session on `transport` (already created; it is started here) and
   * resolve once the handshake completed — or reject with
   * UnsupportedProtocolVersion / InitializeFailed.
   *
   * Without a place in a tree (`lifecycle.actorParent`) the session is a
   * supervised connection node of its own in the runtime (`options.runtime`,
   * default the process's), as `connectStdio`'s are: listed in its registry,
   * released (transport included) when it ends, whatever ended it.
   */
  static connect(transport: Transport, options: ClientSessionOptions = {}, lifecycle: ClientSessionLifecycle = {}): Promise<ClientSession> {
    return ClientSession.open(transport, options, lifecycle).ready
  }

  /**
   * Start the session on `transport` and return it at once, with `ready`
   * settling as `connect` does: the owner (a client connection node) can
   * supervise the session from its first frame, handshake included.
   */
  static open(
    transport: Transport,
    options: ClientSessionOptions = {},
    lifecycle: ClientSessionLifecycle = {}
  ): { readonly session: ClientSession; readonly ready: Promise<ClientSession> } {
    if (lifecycle.actorParent !== undefined) {
      const session = new ClientSession(transport, options, lifecycle)
      return { session, ready: session.start() }
    }
    const node = openClientConnection(transport.kind, options)
    // Its own timers (the close drain, the keepalive throttle) run on the runtime's clock unless given one.
    const session = new ClientSession(transport, { ...options, clock: options.clock ?? node.runtime.clock }, joinLifecycles(node.lifecycle, lifecycle))
    const ready = session.start()
    try {
      // A failed handshake ends the session: its scope closes and releases the transport.
      node.supervise(session, () => transport.close())
    } catch (e) {
      // The runtime is shutting down: the session was closed with the node.
      return { session, ready: ready.then(() => Promise.reject(e), () => Promise.reject(e)) }
    }
    return { session, ready }
  }

  private start(): Promise<ClientSession> {
    this.actor.start()
    const handlers: ClientTransportHandlers = {
      onFrame: (text) => this.receiveFrame(text),
      onOversized: (bytes, edges) => {
        this.emitLog(`dropped an oversized message of ${bytes} bytes from the server`)
        // The response to a request in flight: that request fails now (not at its deadline).
        const failed = oversizedResponseError(bytes, edges)
        if (failed !== undefined) this.receive(failed)
      },
      onClose: (closed) => {
        this.lifecycle.onTransportClosed?.(closed)
        this.failAllPending(closed.reason, true)
        this.toChart({ type: "TRANSPORT_CLOSED", expected: closed.expected, reason: closed.reason })
      },
      onRequestFailed: (id, error) => this.failRequest(id, error)
    }
    this.transport.start(handlers)
    this.toChart({ type: "TRANSPORT_READY" })
    return new Promise((resolve, reject) => {
      const check = () => {
        const s = this.actor.getSnapshot()
        if (s.hasTag("ready")) {
          sub.unsubscribe()
          resolve(this)
        } else if (s.status === "done") {
          sub.unsubscribe()
          reject(connectError(s.context.failure, s.context.closeReason))
        }
      }
      const sub = this.actor.subscribe(check)
      check()
    })
  }

  // ---------------------------------------------------------------- state

  get serverCapabilities(): ServerCapabilities | undefined {
    return this.actor.getSnapshot().context.serverCapabilities
  }
  get serverInfo(): PeerInfo | undefined {
    return this.actor.getSnapshot().context.serverInfo
  }
  get protocolVersion(): LegacyVersion | undefined {
    return this.actor.getSnapshot().context.protocolVersion
  }
  get instructions(): string | undefined {
    return this.actor.getSnapshot().context.instructions
  }
  /**
   * The chart's state as a dotted string, the keepalive child's state included
   * (e.g. `operating.keepalive.idle|operating.activity.busy`).
   */
  get state(): string {
    return stateOf(this.actor.getSnapshot())
  }
  /** The client session actor, for inspection (read-only use). */
  get chart(): Actor<typeof legacyClientSessionMachine> {
    return this.actor
  }

  /** The transport's MCP session id (Streamable HTTP's `Mcp-Session-Id`): telemetry's `mcp.session.id`. */
  get sessionId(): string | undefined {
    const id = (this.transport as { readonly sessionId?: unknown }).sessionId
    return typeof id === "string" ? id : undefined
  }

  /** The server's URL when the transport dials one (HTTP, WebSocket): telemetry's `server.address`/`server.port`. */
  get serverUrl(): URL | undefined {
    const url = (this.transport as { readonly url?: unknown }).url
    return url instanceof URL ? url : undefined
  }

  info(state: string = this.state): SessionInfo {
    return {
      id: this.id,
      role: "client",
      era: "legacy",
      protocolVersion: this.protocolVersion,
      state,
      transport: this.transport.kind,
      peer: this.serverInfo,
      inFlight: this.inFlightCount,
      // The requests in flight (the inspector lists them with their age).
      ...(this.inFlightCount > 0 ? { requests: [...[...this.pending].map(([id, p]) => ({ id, method: p.method })), ...this.outbound.list()] } : {}),
      startedAt: this.startedAt
    }
  }

  subscribe(listener: (info: SessionInfo) => void): () => void {
    return this.listeners.add(listener)
  }
  /** Told of every change with nothing built for it (a relay that builds its own info only when someone listens). */
  onInfoChange(listener: () => void): () => void {
    return this.listeners.addSignal(listener)
  }

  /** State changes and notifications, for hosts and UIs. */
  on(listener: (event: ClientSessionEvent) => void): () => void {
    this.eventListeners.add(listener)
    return () => this.eventListeners.delete(listener)
  }

  /**
   * Send to the session chart while it runs. Once it reached a final state the
   * event has no effect, and after the deferred `stop()` xstate would warn
   * (`CLOSED` after the transport already ended the session, a late
   * `TRANSPORT_CLOSED` after `failed`, `close()` on an ended session).
   */
  private toChart(event: LegacyClientSessionEvent): void {
    if (this.actor.getSnapshot().status === "active") this.actor.send(event)
  }

  private emit(e: ClientSessionEvent): void {
    for (const l of this.eventListeners) l(e)
  }

  private emitLog(text: string): void {
    this.emit({ type: "notification", notification: notification("notifications/message", { level: "debug", logger: "mcp-actors", data: text }) })
  }

  // ---------------------------------------------------------------- requests

  /** Send a request; resolves with its result or rejects with a typed error (see errors.ts). */
  request(method: string, params?: Params, options: RequestOptions = {}): Promise<Result> {
    const telemetry = this.options.telemetry
    if (telemetry !== undefined && !telemetry.passThrough) return telemetry.clientRequest(this, method, params, (p) => this.request(method, p, options))
    const snapshot = this.actor.getSnapshot()
    if (!snapshot.hasTag("ready")) {
      return Promise.reject(new SessionClosed({ method, message: `${method}: session is ${flatten(snapshot.value)}, not operating` }))
    }
    const refused = this.options.enforceCapabilities === false ? undefined : capabilityRefusal(method, snapshot.context.serverCapabilities)
    if (refused !== undefined) return Promise.reject(refused)
    if (options.signal?.aborted) return Promise.reject(new RequestCancelled({ method, message: `${method} cancelled before it was sent` }))
    const id = this.ids.next()
    if (telemetry !== undefined) telemetry.requestSent(id) // the CLIENT span's jsonrpc.request.id
    const wantsProgress = options.onProgress !== undefined || options.resetTimeoutOnProgress === true
    const progressToken = wantsProgress ? id : undefined
    const sendParams: Params | undefined = progressToken === undefined
      ? params
      : { ...params, _meta: { ...params?._meta, progressToken } }
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 60_000
    if (this.outbound.requests === undefined) {
      return Promise.reject(new SessionClosed({ method, message: `${method}: session is ${this.state}, not operating` }))
    }
    // The request leaves first, its chart starts right after (as `ModernClient`'s): the server starts on
    // it while this turn does the bookkeeping. Whatever the transport does to it inside `send` (a
    // synchronous one answers or fails it there) is kept for its chart (`OutboundRequests.sending`).
    this.outbound.sending(id)
    try {
      this.transport.send(makeRequest(id, method, sendParams))
    } catch (e) {
      // Not sent: no chart, nothing to cancel.
      this.outbound.sending(undefined)
      return Promise.reject(e)
    }
    return new Promise<Result>((resolve, reject) => {
      const started = this.outbound.start(requestSent(id, method, progressToken, options, timeoutMs), {
        method,
        onProgress: options.onProgress,
        tokened: wantsProgress,
        signal: options.signal,
        onAbort: undefined,
        settle: (o, failure) => {
          if (failure !== undefined && o._tag === "Aborted") reject(failure)
          else if (o._tag === "Settled") resolve(o.result as Result)
          else reject(outcomeError(method, o))
        }
      })
      // The session's requests ended inside `send` (its transport closed there, and the chart with it).
      if (!started) reject(new ConnectionLost({ method, message: `${method}: connection lost (the session ended while the request was sent)` }))
    })
  }

  /** Requests in flight: `initialize` while under way, and those that run a chart. */
  private get inFlightCount(): number {
    return this.pending.size + this.outbound.size
  }

  /**
   * The transport failed this one request (`ClientTransportHandlers.onRequestFailed`):
   * its actor ends as `Aborted` (no cancellation is sent: the request is gone) and
   * the caller gets the transport's typed error instead of `ConnectionLost`.
   */
  private failRequest(id: RequestId, error: Error): void {
    const p = this.pending.get(id) ?? this.pings.get(id)
    if (p !== undefined) {
      p.reject(error)
      // `initialize` failed by the transport (HTTP: a lost or unreadable response): no answer can come.
      if (p.method === "initialize") this.toChart({ type: "INITIALIZE_LOST", reason: error.message })
      return
    }
    this.outbound.fail(id, error)
  }

  notify(method: string, params?: Params): void {
    this.transport.send(notification(method, params))
  }

  /** The `initialize` request: not cancellable, its deadline is the chart's `initializeTimeout`. */
  private sendInitialize(version: LegacyVersion): void {
    const id = this.ids.next()
    const clientInfo = this.options.clientInfo ?? { name: "mcp-actors", version: "0.1.0" }
    const params = { protocolVersion: version, capabilities: this.capabilities, clientInfo }
    // The chart sends it, not `request`: its CLIENT span is made here (observability/Telemetry.ts).
    const traced = this.options.telemetry?.clientStep(this, id, "initialize", params)
    this.pending.set(id, {
      method: "initialize",
      resolve: (r) => {
        this.pending.delete(id)
        this.toChart({
          type: "INITIALIZE_RESULT",
          protocolVersion: r.protocolVersion,
          // The server's word, but only in the shapes the spec gives them (a string for capabilities, a
          // name-less serverInfo would reach every reader of `serverCapabilities` / `serverInfo`).
          capabilities: (isObject(r.capabilities) ? r.capabilities : {}) as ServerCapabilities,
          serverInfo: (isObject(r.serverInfo) && typeof r.serverInfo.name === "string" ? r.serverInfo : { name: "unknown", version: "unknown" }) as PeerInfo,
          ...(typeof r.instructions === "string" ? { instructions: r.instructions } : {})
        })
        traced?.end() // after the chart took the negotiated version
      },
      reject: (e) => {
        this.pending.delete(id)
        traced?.end(e)
        if (e instanceof McpError) this.toChart({ type: "INITIALIZE_ERROR", error: e.toRpcError() })
      }
    })
    this.transport.send(makeRequest(id, "initialize", traced?.params ?? params))
  }

  private sendKeepalivePing(): void {
    const id = this.ids.next()
    const done = () => this.pings.delete(id)
    // An older ping still unanswered was already settled by the chart (a miss, or answered by activity).
    this.endPingSpans(new RequestTimeout({ method: "ping", afterMs: this.pingTimeoutMs, deadline: "request", message: "ping: never answered (the next ping is due)" }))
    this.pings.clear()
    const traced = this.options.telemetry?.clientStep(this, id, "ping", undefined)
    this.pings.set(id, {
      method: "ping",
      span: traced,
      resolve: () => {
        done()
        traced?.end()
        this.toChart({ type: "PONG" })
      },
      reject: (e) => {
        done()
        traced?.end(e)
        if (e instanceof McpError && e.code === ErrorCode.MethodNotFound) this.toChart({ type: "PING_UNSUPPORTED" })
        else this.toChart({ type: "PING_FAILED", error: e })
      }
    })
    this.transport.send(makeRequest(id, "ping", traced?.params))
  }

  // ---------------------------------------------------------------- input

  private receiveFrame(text: string): void {
    const decoded = decodeText(text)
    if (decoded._tag !== "Message") {
      // A malformed message from the server cannot be answered usefully; report it.
      this.emitLog(`ignored an invalid message from the server: ${text.slice(0, 200)}`)
      // An invalid response to a request in flight fails that request now (not at its deadline).
      const failed = invalidResponseError(decoded)
      if (failed !== undefined) this.receive(failed)
      return
    }
    this.receive(decoded.message)
  }

  /** One decoded message from the server (public for transports that decode themselves, e.g. HTTP). */
  receive(message: JsonRpcMessage): void {
    if (this.keepaliveOn) {
      const now = this.now()
      if (now - this.lastActivityAt >= this.activityThrottleMs) {
        this.lastActivityAt = now
        this.toChart({ type: "PEER_ACTIVITY" })
      }
    }
    if (!("method" in message)) {
      if (message.id === undefined || message.id === null) return
      if (this.outbound.response(message)) return
      const p = this.pending.get(message.id) ?? this.pings.get(message.id)
      if (!p) return // late or unknown: dropped
      if ("result" in message) p.resolve(message.result)
      else p.reject(new McpError(message.error.code, message.error.message, message.error.data))
      return
    }
    if ("id" in message) return this.receiveRequest(message)
    this.receiveNotification(message)
  }

  private receiveNotification(n: JsonRpcNotification): void {
    if (n.method === "notifications/progress") return this.outbound.progress(n.params)
    if (n.method === "notifications/cancelled") {
      const id = n.params?.requestId as RequestId | undefined
      if (id !== undefined) this.incoming.get(id)?.abort(new Error(String(n.params?.reason ?? "cancelled by server")))
      return
    }
    this.options.onNotification?.(n)
    this.emit({ type: "notification", notification: n })
  }

  private receiveRequest(req: JsonRpcRequest): void {
    if (req.method === "ping") {
      this.toChart({ type: "PING_RECEIVED", id: req.id })
      return
    }
    const handler = inputHandlerFor(this.options, req.method)
    if (!handler) {
      this.transport.send(errorResponse(req.id, rpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method} (client capability not declared)`)))
      return
    }
    if (this.incoming.size >= MAX_SERVER_REQUESTS_IN_FLIGHT) {
      // Each one waits on a handler (a user, a model): a flood must not pile them up without bound.
      this.transport.send(errorResponse(req.id, rpcError(ErrorCode.InternalError, `${req.method}: refused, ${MAX_SERVER_REQUESTS_IN_FLIGHT} requests from the server are already in flight`)))
      return
    }
    if (this.incoming.has(req.id)) {
      // Its id is taken by one in flight: ids must be unique among them (one answer each).
      this.transport.send(idInFlightReply(req.id))
      return
    }
    const controller = new AbortController()
    this.incoming.set(req.id, controller)
    const reply = (m: JsonRpcMessage) => {
      this.incoming.delete(req.id)
      if (!controller.signal.aborted) this.transport.send(m)
    }
    Promise.resolve()
      .then(() => handler(req.params, { requestId: req.id, signal: controller.signal }))
      .then(
        (r) => reply(makeResult(req.id, r)),
        (e) =>
          reply(errorResponse(req.id, inputErrorObject(e)))
      )
  }

  // ---------------------------------------------------------------- closing

  private drainWaiter: (() => void) | undefined

  private async drainAndClose(): Promise<void> {
    if (this.inFlightCount > 0) await new Promise<void>((resolve) => (this.drainWaiter = resolve))
    this.drainWaiter = undefined
    await this.transport.close()
    this.toChart({ type: "CLOSED" })
  }

  /** End the spans of pings that will get no answer (a span the answer or a timeout ended stays as it was). */
  private endPingSpans(error: unknown): void {
    for (const p of this.pings.values()) p.span?.end(error)
  }

  private failAllPending(reason: string, transportLost = false): void {
    this.endPingSpans(new ConnectionLost({ method: "ping", message: `ping: ${transportLost ? "connection lost" : "closed"} (${reason})` }))
    this.pings.clear()
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(new ConnectionLost({ method: p.method, message: `${p.method}: ${transportLost ? "connection lost" : "closed"} (${reason})` }))
    }
    // Every request's chart ends as `Aborted` (no cancellation: the wire is gone); if the
    // `requests` child already stopped, they are aborted here.
    this.outbound.transportClosed(reason)
    for (const c of this.incoming.values()) c.abort(new Error(reason))
    this.incoming.clear()
  }

  /** Graceful close: in-flight requests may finish until `drainMs` (the chart's close timeout), then the transport closes. */
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void> {
    if (!this.endedFlag) this.lifecycle.onCloseRequested?.(options?.reason ?? "client closed")
    if (options?.drainMs !== undefined && !this.endedFlag) {
      // On the session's clock, like every other deadline of the session (virtual in tests).
      const clock = this.options.clock ?? realClock
      const t = clock.setTimeout(() => {
        this.failAllPending("drain deadline passed")
        void this.transport.close()
      }, options.drainMs)
      void this.ended.then(() => clock.clearTimeout(t))
    }
    this.toChart({ type: "CLOSE", ...(options?.reason !== undefined ? { reason: options.reason } : {}) })
    return this.ended.then(() => undefined)
  }

  private finish(output: { readonly expected: boolean; readonly reason: string }): void {
    if (this.endedFlag) return
    this.endedFlag = true
    this.failAllPending(output.reason, !output.expected)
    void this.transport.close()
    this.resolveEnded({ expected: output.expected, reason: output.reason })
    queueMicrotask(() => {
      this.actor.stop()
      this.listeners.clear()
      this.eventListeners.clear()
    })
  }
}


/** A node's lifecycle hooks, then the caller's own (a caller may listen without placing the session). */
const joinLifecycles = (node: ClientSessionLifecycle, own: ClientSessionLifecycle): ClientSessionLifecycle =>
  own.onTransportClosed === undefined && own.onCloseRequested === undefined ? node : {
    actorParent: node.actorParent!,
    onTransportClosed: (closed) => {
      node.onTransportClosed?.(closed)
      own.onTransportClosed?.(closed)
    },
    onCloseRequested: (reason) => {
      node.onCloseRequested?.(reason)
      own.onCloseRequested?.(reason)
    }
  }

/**
 * The error object a server→client request is answered with when its handler fails: an `McpError`'s or
 * an `RpcError`'s own code (a host refusing sampling says -32601), an input the client cannot give (a
 * gateway's client that did not declare it) -32601 as for an undeclared capability, anything else -32603.
 */
const inputErrorObject = (e: unknown) =>
  e instanceof McpError ? e.toRpcError()
    : e instanceof RpcError ? rpcError(e.code, e.message, e.data)
    : e instanceof ClientCapabilityNotDeclared ? rpcError(ErrorCode.MethodNotFound, e.message)
    : rpcError(ErrorCode.InternalError, e instanceof Error ? e.message : String(e))

/** The handler that answers a server→client request (legacy) or an MRTR input request (modern) of this method. */
export const inputHandlerFor = (
  options: Pick<ClientSessionOptions, "onSampling" | "onElicitation" | "onRoots">,
  method: string
): InputHandler | undefined =>
  method === "sampling/createMessage"
    ? options.onSampling
    : method === "elicitation/create"
    ? options.onElicitation
    : method === "roots/list"
    ? options.onRoots
    : undefined

/** The capabilities a client declares: its own, plus those its handlers imply. */
export const declaredCapabilities = (
  options: Pick<ClientSessionOptions, "capabilities" | "onSampling" | "onElicitation" | "onRoots">
): ClientCapabilities => {
  const caps: Record<string, unknown> = { ...options.capabilities }
  if (options.onSampling && caps.sampling === undefined) caps.sampling = {}
  if (options.onElicitation && caps.elicitation === undefined) caps.elicitation = { form: {} }
  if (options.onRoots && caps.roots === undefined) caps.roots = { listChanged: true }
  return caps as ClientCapabilities
}

const connectError = (failure: LegacyClientFailure | undefined, reason: string | undefined) => {
  if (failure?._tag === "UnsupportedProtocolVersion") {
    return new UnsupportedProtocolVersion({
      requested: failure.requested,
      received: failure.received,
      supported: [...failure.supported],
      message: failure.reason
    })
  }
  const why = failure?.reason ?? reason ?? "session ended during the handshake"
  return new InitializeFailed({ reason: failure?._tag ?? "Closed", message: `could not initialize: ${why}` })
}

/** A state value as dotted paths, parallel regions joined by `|`: `operating.keepalive.idle|operating.activity.busy`. */
export const flattenState = (value: unknown, prefix = ""): string => {
  if (typeof value === "string") return prefix + value
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => flattenState(v, `${prefix}${k}.`))
    .join("|")
}
const flatten = (value: unknown): string => flattenState(value)

/**
 * The session's state with its children's: `operating.keepalive.<k>|operating.activity.<a>`
 * while operating (the names the keepalive and the activity had as parallel regions; the
 * activity is the `requests` child's `idle` / `busy`), the chart's value otherwise.
 */
const stateOf = (snapshot: {
  readonly value: unknown
  readonly children: { readonly [id: string]: { getSnapshot(): { readonly value?: unknown } } | undefined }
}): string => {
  const value = snapshot.value
  if (value !== "operating") return flatten(value)
  const keepalive = snapshot.children["keepalive"]?.getSnapshot().value
  const activity = snapshot.children["requests"]?.getSnapshot().value ?? "idle"
  // Asked on every idle ⇄ busy flip (twice per request at one in flight): flat values need no walk.
  if (typeof activity === "string") {
    if (keepalive === undefined) return `operating.activity.${activity}`
    if (typeof keepalive === "string") return `operating.keepalive.${keepalive}|operating.activity.${activity}`
  }
  return flattenState(keepalive === undefined ? { activity } : { keepalive, activity }, "operating.")
}
