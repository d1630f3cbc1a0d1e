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
import { randomBytes } from "node:crypto"
import type { ActorOptions, AnyActorLogic, AnyActorRef, Actor } from "xstate"
import {
  type EarlyRequestPolicy,
  HANDSHAKE_TIMEOUT,
  IDLE_TIMEOUT,
  type InitializeParams,
  type LegacyServerSessionContext,
  legacyServerSessionMachine,
  type RejectParams
} from "../../machines/legacyServerSession.ts"
import {
  capabilityObject,
  missingClientCapabilityFor,
  type ClientCapabilities,
  hasCapability,
  requiredServerCapability,
  type ServerCapabilities
} from "../protocol/capabilities.ts"
import { classifyEra, type Era } from "../protocol/era.ts"
import { ErrorCode, errorMessage, McpError, type RpcErrorObject, rpcError } from "../protocol/errors.ts"
import { makeIdAllocator } from "../protocol/ids.ts"
import {
  decodeBatchItem,
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
  request as makeRequest,
  result as makeResult
} from "../protocol/jsonrpc.ts"
import { META_LOG_LEVEL, META_SERVER_INFO, type ModernRequestContext, readModernContext } from "../protocol/modern.ts"
import {
  INPUT_REQUEST_METHODS,
  type InputRequest,
  type InputRequests,
  inputRequestKey,
  inputRequiredResult,
  type InputResponses,
  inputResponsesOf,
  MRTR_METHODS,
  requestStateOf
} from "../protocol/mrtr.ts"
import { InputRequiredSignal } from "./InputRequiredSignal.ts"
import { defaultProgressBarrier, PROGRESS_BARRIER_TIMEOUT_MS, type ProgressBarrierPolicy } from "./progressBarrier.ts"
import { openRequestState, sealRequestState } from "./requestState.ts"
import {
  ACKNOWLEDGED_METHOD,
  honoredFilter,
  LISTEN_METHOD,
  META_SUBSCRIPTION_ID,
  parseSubscriptionFilter,
  type ServerChange,
  subscriptionNotification
} from "../protocol/subscriptions.ts"
import { allowsBatch, LEGACY_VERSIONS, type LegacyVersion, MODERN_VERSIONS } from "../protocol/versions.ts"
import { InfoListeners, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { realClock } from "../runtime/XStateClock.ts"
import type { TransportCloseDetail, TransportClosed, TransportKind } from "../transports/Transport.ts"
import { dispatchRequest, isThenable, type Result, type SessionState } from "./dispatch.ts"
import type { Identity } from "../policy/Identity.ts"
import type { McpServer } from "./McpServer.ts"
import type { RequestContext, ServerRequestOptions } from "./RequestContext.ts"
import { type Implementation, isLoggingLevel, levelRank, type LoggingLevel } from "./types.ts"

type XStateClock = NonNullable<ActorOptions<AnyActorLogic>["clock"]>

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
  readonly clock?: XStateClock
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
}

interface InFlight {
  readonly request: JsonRpcRequest
  controller: AbortController | undefined
  done: boolean
  lastProgress: number
  /** The response already waited once for the progress barrier (see `finish`). */
  barrierPassed: boolean
  /** Progress rate limit (`progressIntervalMs`): the value held back and its timer. */
  pendingProgress: Record<string, unknown> | undefined
  progressTimer: { readonly clock: XStateClock; readonly timer: unknown } | undefined
  lastProgressSentAt: number
  /** Modern MRTR retry: the handler's own `requestState`, verified and unsealed. */
  requestState: string | undefined
  /** Modern MRTR retry: every answer so far (earlier rounds' from the sealed state, then this retry's). */
  inputResponses: InputResponses | undefined
}

const newInFlight = (request: JsonRpcRequest): InFlight => ({
  request,
  controller: undefined,
  done: false,
  lastProgress: -Infinity,
  barrierPassed: false,
  pendingProgress: undefined,
  progressTimer: undefined,
  lastProgressSentAt: -Infinity,
  requestState: undefined,
  inputResponses: undefined
})

/** An open `subscriptions/listen`: its in-flight entry, the context its result is built for, and how to stop listening. */
interface Listen {
  readonly entry: InFlight
  readonly modern: ModernRequestContext
  readonly unlisten: () => void
}

/**
 * Why a modern handler may not ask for this input, or undefined: only the MRTR
 * methods may answer input_required, and "Servers MUST NOT send an inputRequests
 * that the client has not declared support for in its capabilities" (mrtr.mdx).
 */
export const inputRefusal = (requestMethod: string, modern: ModernRequestContext, method: string, params: Params | undefined): McpError | undefined => {
  if (!MRTR_METHODS.has(requestMethod)) {
    return new McpError(ErrorCode.InternalError, `${requestMethod} cannot ask the client for input: MRTR is only for tools/call, resources/read and prompts/get`)
  }
  const missing = missingClientCapabilityFor(modern.clientCapabilities, method, params)
  if (missing === undefined) return undefined
  return new McpError(ErrorCode.MissingRequiredClientCapability, `Missing required client capability: ${missing}`, { requiredCapabilities: capabilityObject([missing]) })
}

interface PendingOutbound {
  readonly resolve: (r: Result) => void
  readonly reject: (e: unknown) => void
  readonly timer: unknown
  readonly cleanup: () => void
}

/** A server→client request could not be made: the client did not negotiate the capability. */
export class CapabilityError extends Error {
  readonly capability: string
  constructor(capability: string, method: string) {
    super(`Client did not negotiate the "${capability}" capability required by ${method}`)
    this.name = "CapabilityError"
    this.capability = capability
  }
}

/** A server→client request got no answer in time (a `notifications/cancelled` was sent). */
export class RequestTimeoutError extends Error {
  constructor(method: string, ms: number) {
    super(`${method} timed out after ${ms} ms`)
    this.name = "RequestTimeoutError"
  }
}

const MAX_DELAY = 2 ** 31 - 1

/** The session a running chart belongs to (the implementations below are shared by all sessions). */
const owner = (context: { readonly runtime: unknown }): ServerSession => context.runtime as ServerSession

/**
 * The server chart with the runtime's implementations, built once: creating a
 * machine per session (`.provide()` per instance) cost ~20 % of session set-up.
 * Each implementation finds its session through the actor (`self`).
 */
const runtimeServerMachine = legacyServerSessionMachine.provide({
  guards: {
    idleTimeoutExpired: ({ context }) => owner(context)._idleTimeoutExpired(),
    handshakeTimeoutEnabled: ({ context }) => owner(context)._handshakeTimeoutEnabled(),
    nothingInFlight: ({ context }) => owner(context).inFlightCount === 0
  },
  delays: {
    handshakeTimeout: ({ context }) => owner(context)._handshakeDelay(),
    idleTimeout: ({ context }) => owner(context)._idleDelay()
  },
  actions: {
    respondInitialize: ({ context }, params) => owner(context)._respondInitialize(params.id, context.protocolVersion),
    reject: ({ context }, params: RejectParams) => owner(context)._reject(params),
    replyPong: ({ context }, params) => owner(context)._replyPong(params.id),
    dispatch: ({ context }, params) => owner(context)._dispatchHeld(params.id),
    announceReady: ({ context }) => owner(context)._announceReady(),
    beginDrain: ({ context }) => owner(context)._beginDrain(),
    cancelInFlight: ({ context }) => owner(context)._cancelInFlight(),
    release: ({ context }) => owner(context)._released(context.closeReason ?? "closed")
  }
})

/** The advertised capabilities a client speaking `version` knows (`completions` arrived in 2025-03-26). */
const capabilitiesFor = (caps: ServerCapabilities, version: string | undefined): ServerCapabilities => {
  if ((version ?? "") >= "2025-03-26" || caps.completions === undefined) return caps
  const { completions: _, ...older } = caps
  return older
}

interface Negotiated {
  readonly protocolVersion: string
  readonly clientCapabilities: ClientCapabilities
  readonly clientInfo: Implementation | undefined
}

/** What a hibernated session keeps of its chart. */
interface HibernatedSnapshot {
  readonly status: "active"
  readonly value: unknown
  readonly historyValue: unknown
  readonly context: LegacyServerSessionContext
  readonly children: Record<string, never>
  readonly output: undefined
  readonly error: undefined
}

/**
 * The answer to one batch being put together: a slot per item that has (or will have) a
 * response, filled as they come; `onComplete` gets the filled ones once the batch was
 * fully received (`sealed`) and nothing is awaited any more.
 */
class BatchCollector {
  private readonly slots: Array<JsonRpcResponse | undefined> = []
  private readonly slotOf = new Map<RequestId, number>()
  private awaited = 0
  private open = true
  private done = false
  onComplete: ((responses: JsonRpcBatchResponse) => void) | undefined
  /** A response known now (an invalid item). */
  add(response: JsonRpcResponse): void {
    this.slots.push(response)
  }
  /** A request whose response is awaited. */
  expect(id: RequestId): void {
    this.slotOf.set(id, this.slots.length)
    this.slots.push(undefined)
    this.awaited++
  }
  expects(id: RequestId): boolean {
    return this.slotOf.has(id)
  }
  /** The response for `id`, or undefined when it ended without one (cancelled). */
  answer(id: RequestId, response: JsonRpcResponse | undefined): void {
    const slot = this.slotOf.get(id)
    if (slot === undefined) return
    this.slotOf.delete(id)
    this.slots[slot] = response
    this.awaited--
    this.check()
  }
  /** Every item was handed to the session. */
  sealed(): void {
    this.open = false
    this.check()
  }
  drain(): ReadonlyArray<JsonRpcResponse> {
    return this.slots.filter((r): r is JsonRpcResponse => r !== undefined)
  }
  private check(): void {
    if (this.open || this.done || this.awaited > 0) return
    this.done = true
    this.onComplete?.(this.drain())
  }
}

const defaultOnError = (error: unknown): void => console.error("mcp-actors: internal error while serving a message:", error)


/**
 * Session ids: 128 bits from the CSPRNG, base64url (visible ASCII). Drawn from a
 * pooled 4 KiB buffer: a 16-byte `randomBytes` call costs ~7 µs, a quarter of a
 * session's set-up on the churn benchmark.
 */
let idPool = Buffer.alloc(0)
let idPoolOffset = 0
const newSessionId = (): string => {
  if (idPoolOffset + 16 > idPool.length) {
    idPool = randomBytes(4096)
    idPoolOffset = 0
  }
  const id = idPool.toString("base64url", idPoolOffset, idPoolOffset + 16)
  idPool.fill(0, idPoolOffset, idPoolOffset + 16) // used bytes do not linger in memory
  idPoolOffset += 16
  return id
}

/**
 * The handler's view of one request. A class rather than a closure bag: one
 * small allocation per request on the hot path; everything else is lazy.
 */
class HandlerContext implements RequestContext {
  readonly #session: ServerSession
  readonly #entry: InFlight
  readonly #modern: ModernRequestContext | undefined
  #negotiated: ReturnType<ServerSession["negotiated"]> | undefined
  /** MRTR: input requests made so far in this run of the handler (their keys follow call order). */
  #inputs = 0
  #asked: Record<string, InputRequest> | undefined
  constructor(session: ServerSession, entry: InFlight, modern: ModernRequestContext | undefined) {
    this.#session = session
    this.#entry = entry
    this.#modern = modern
  }
  get requestId(): RequestId {
    return this.#entry.request.id
  }
  get method(): string {
    return this.#entry.request.method
  }
  get era(): Era {
    return this.#modern ? "modern" : "legacy"
  }
  private get legacy() {
    return this.#negotiated ??= this.#session.negotiated()
  }
  get protocolVersion(): string {
    return this.#modern ? this.#modern.protocolVersion : this.legacy.protocolVersion
  }
  get sessionId(): string | undefined {
    return this.#modern ? undefined : this.#session.id
  }
  get identity(): Identity | undefined {
    return this.#session.identity
  }
  get transport(): TransportKind {
    return this.#session.transportKind
  }
  get clientCapabilities(): ClientCapabilities {
    return this.#modern ? this.#modern.clientCapabilities : this.legacy.clientCapabilities
  }
  get clientInfo(): Implementation | undefined {
    return this.#modern ? this.#modern.clientInfo as Implementation | undefined : this.legacy.clientInfo
  }
  get meta() {
    return this.#entry.request.params?._meta as { readonly [key: string]: unknown } | undefined
  }
  get signal(): AbortSignal {
    return (this.#entry.controller ??= new AbortController()).signal
  }
  closeSSEStream(): boolean {
    return this.#modern ? false : this.#session._closeStream(this.#entry.request.id)
  }
  progress(progress: number, total?: number, message?: string): void {
    this.#session._progress(this.#entry, progress, total, message)
  }
  log(level: LoggingLevel, data: unknown, logger?: string): void {
    this.#session._log(level, data, logger, this.#entry, this.#modern)
  }
  request(method: string, params?: Params, options?: ServerRequestOptions): Promise<Result> {
    if (this.#modern !== undefined && INPUT_REQUEST_METHODS.has(method)) return this.#input(this.#modern, method, params)
    return this.#session._request(this.#entry, this.#modern, method, params, options)
  }
  get inputResponses(): InputResponses | undefined {
    return this.#entry.inputResponses
  }
  get requestState(): string | undefined {
    return this.#entry.requestState
  }
  inputRequired(input: { readonly inputRequests?: InputRequests; readonly requestState?: string }): never {
    if (this.#modern === undefined) {
      throw new McpError(ErrorCode.InternalError, "inputRequired is for 2026-07-28 requests (MRTR); a legacy session asks with ctx.elicit/createMessage/listRoots")
    }
    throw new InputRequiredSignal({ ...this.#asked, ...input.inputRequests }, input.requestState)
  }
  /** MRTR: the client's answer to this call if the retry carries one, else ask for it (the request ends with input_required). */
  #input(modern: ModernRequestContext, method: string, params: Params | undefined): Promise<Result> {
    const refused = inputRefusal(this.#entry.request.method, modern, method, params)
    if (refused !== undefined) return Promise.reject(refused)
    const key = inputRequestKey(method, ++this.#inputs)
    const responses = this.inputResponses
    // The retry's answers are the client's object: only its own keys count.
    const answer = responses !== undefined && Object.hasOwn(responses, key) ? responses[key] : undefined
    if (answer !== undefined) return Promise.resolve(answer)
    const asked = (this.#asked ??= {})
    asked[key] = params === undefined ? { method } : { method, params }
    // Every pending ask shares `asked`: whichever rejection the handler lets through carries them all.
    return Promise.reject(new InputRequiredSignal(asked, undefined))
  }
  elicit(params: Params, options?: ServerRequestOptions) {
    return this.request("elicitation/create", params, options)
  }
  createMessage(params: Params, options?: ServerRequestOptions) {
    return this.request("sampling/createMessage", params, options)
  }
  listRoots(options?: ServerRequestOptions) {
    return this.request("roots/list", undefined, options)
  }
}

/**
 * One client's session on an `McpServer`: the legacy lifecycle chart
 * (`machines/legacyServerSession.ts`), the requests in flight, and modern (2026-07-28)
 * requests arriving on the same connection. Made by `serveTransport` and the HTTP and
 * WebSocket servers; users hold it to watch its state, notify its client, or close it.
 */
export class ServerSession implements SessionHandle {
  readonly id: string
  readonly server: McpServer
  readonly startedAt = Date.now()
  /** Who sends this connection's requests; HTTP refreshes it from each request's credentials (same principal). */
  identity: Identity | undefined
  private readonly options: ServerSessionOptions
  private readonly sendOut: SendToClient
  /** Batches (2025-03-26) still collecting: each request id of one maps to its collector. */
  private batches: Map<RequestId, BatchCollector> | undefined
  private readonly inFlight = new Map<RequestId, InFlight>()
  /** Open `subscriptions/listen` requests (also in `inFlight`), with what ends them gracefully. */
  // Made on the first listen: most sessions never have one, and churn pays for every allocation.
  private listens: Map<RequestId, Listen> | undefined
  // Server→client requests are rare: their table and id counter are made on the first one
  // (every allocation counts when sessions churn, see docs/performance.md).
  private pending: Map<RequestId, PendingOutbound> | undefined
  private ids: ReturnType<typeof makeIdAllocator> | undefined
  private readonly state: SessionState = { logLevel: undefined, subscriptions: undefined }
  private readonly listeners = new InfoListeners()
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
  /** The chart's persisted snapshot while hibernated (the actor is stopped). */
  private hibernated: HibernatedSnapshot | undefined
  private wakeTimer: { readonly clock: XStateClock; readonly timer: unknown } | undefined
  private readonly now: () => number
  /** Timers of this session (server→client deadlines, drain) run on the chart's clock. */
  private get clock(): XStateClock {
    return this.options.clock ?? realClock
  }
  private unlistenServer: (() => void) | undefined
  private resolveEnded!: (end: SessionEnd) => void
  readonly ended: Promise<SessionEnd>

  constructor(server: McpServer, options: ServerSessionOptions) {
    this.server = server
    this.options = options
    this.sendOut = options.send
    this.id = options.id ?? newSessionId()
    this.identity = options.identity
    this.now = options.now ?? Date.now
    this.lastSettledAt = this.now()
    this.createdAt = this.lastSettledAt
    // With a handshake deadline the chart runs from the start: a connection that never
    // sends anything is closed too. (Without one it starts with the first legacy message,
    // so per-request modern sessions never create an actor.)
    if ((options.handshakeTimeoutMs ?? 0) > 0) this.ensureActor()
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
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
    const version = this.chartContext()?.protocolVersion
    if (!allowsBatch(version)) {
      this.send(
        errorResponse(null, rpcError(ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not supported in protocol version ${version ?? "(not negotiated)"}`)),
        undefined
      )
      return
    }
    const batch = new BatchCollector()
    const requests: Array<JsonRpcRequest> = []
    const others: Array<JsonRpcMessage> = []
    // A taken id is refused here, not through `receive`: the collector waits on the id of the request already in flight.
    const taken = (id: RequestId) => this.inFlight.has(id) || batch.expects(id) || this.batches?.has(id) === true
    for (const item of items) {
      const d = decodeBatchItem(item, this.options.maxNestingDepth, taken)
      if (d._tag === "Refused") {
        // The item's own error, in the array (an invalid notification gets none).
        if (d.reply !== undefined) batch.add(d.reply)
        continue
      }
      const m = d.message
      if ("method" in m && "id" in m) {
        batch.expect(m.id)
        requests.push(m)
      } else others.push(m)
    }
    const sendBatch = this.options.sendBatch
    if (sendBatch === undefined) {
      // No way to frame an array (none of our transports lacks one): the responses go out one by one.
      for (const r of batch.drain()) this.sendOut(r, undefined)
      for (const m of [...others, ...requests]) this.receive(m)
      return
    }
    batch.onComplete = (responses) => {
      if (responses.length > 0 && !this.released) sendBatch(responses)
    }
    if (requests.length > 0) {
      const batches = (this.batches ??= new Map())
      for (const r of requests) batches.set(r.id, batch)
    }
    // Responses and notifications first (a cancellation in the batch may target an earlier request).
    for (const m of others) this.receive(m)
    for (const r of requests) this.receive(r)
    batch.sealed()
  }

  /**
   * Every message to the client goes through here: the response to a request of a
   * pending batch is held for the batch's array instead.
   */
  private send(message: JsonRpcMessage, related: RequestId | undefined): void {
    const batches = this.batches
    if (batches !== undefined && !("method" in message) && message.id !== undefined && message.id !== null) {
      const batch = batches.get(message.id)
      if (batch !== undefined) {
        batches.delete(message.id)
        batch.answer(message.id, message)
        return
      }
    }
    this.sendOut(message, related)
  }

  /** A request of a pending batch ended without a response (cancelled): the batch stops waiting for it. */
  private unbatch(id: RequestId): void {
    const batch = this.batches?.get(id)
    if (batch === undefined) return
    this.batches!.delete(id)
    batch.answer(id, undefined)
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
      if (entry.request === message) this.finishError(entry, error, undefined)
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
      this.sendOut(idInFlightReply(req.id), req.id)
      return
    }
    if (this.options.modern !== false && req.method !== "initialize" && classifyEra(req) === "modern") {
      return this.handleModern(req)
    }
    if (this.operating && req.method !== "ping" && req.method !== "initialize") return this.dispatch(req, undefined)
    this.era = "legacy"
    const actor = this.ensureActor()
    if (req.method === "initialize") actor.send({ type: "INITIALIZE", id: req.id, params: req.params })
    else if (req.method === "ping") actor.send({ type: "PING", id: req.id })
    else {
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
    if (r.id === undefined || r.id === null) return
    const p = this.pending?.get(r.id)
    if (!p) return // late or unknown: dropped (cancellation.mdx:L45)
    this.pending!.delete(r.id)
    p.cleanup()
    if ("result" in r) p.resolve(r.result)
    else p.reject(new McpError(r.error.code, r.error.message, r.error.data))
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
    const hibernated = this.hibernated
    if (hibernated !== undefined) {
      this.hibernated = undefined
      if (this.wakeTimer) {
        this.wakeTimer.clock.clearTimeout(this.wakeTimer.timer)
        this.wakeTimer = undefined
      }
    }
    const actor = createLeanActor(runtimeServerMachine, {
      ...(hibernated !== undefined ? { snapshot: hibernated as unknown as never } : {}),
      input: {
        supportedVersions: this.options.supportedVersions ?? LEGACY_VERSIONS,
        idleTimeoutMs: this.options.idleTimeoutMs ?? 0,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 0,
        drainTimeoutMs: this.options.drainTimeoutMs ?? 5_000,
        earlyRequests: this.options.earlyRequests ?? "reject",
        runtime: this
      },
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...(this.options.actorParent !== undefined ? { parent: this.options.actorParent } : {})
    })
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
    // A restored actor has no timers: re-enter `operating` to re-arm the idle deadline.
    if (hibernated !== undefined) actor.send({ type: "RESUMED" })
    return actor
  }

  /** @internal The chart's provided guards, delays and actions (see `runtimeServerMachine`). */
  _idleTimeoutExpired(): boolean {
    const idleMs = this.options.idleTimeoutMs ?? 0
    return idleMs > 0 && this.inFlight.size === 0 && this.now() - this.lastSettledAt >= idleMs
  }
  /** @internal A dual-era connection that speaks modern never sends initialize: no handshake deadline for it. */
  _handshakeTimeoutEnabled(): boolean {
    return (this.options.handshakeTimeoutMs ?? 0) > 0 && !this.servedModern
  }
  /**
   * @internal The whole handshake is bounded from the session's start, not re-armed when initialize is
   * answered. On a connection that served modern requests (no handshake) the delay is its idle deadline.
   */
  _handshakeDelay(): number {
    if (this.servedModern) return this._idleDelay()
    const hs = this.options.handshakeTimeoutMs ?? 0
    if (hs <= 0) return MAX_DELAY
    return Math.min(Math.max(1, hs - (this.now() - this.createdAt)), MAX_DELAY)
  }
  /** @internal Re-armed for what remains since the last request finished; full period while busy. */
  _idleDelay(): number {
    const idleMs = this.options.idleTimeoutMs ?? 0
    if (idleMs <= 0) return MAX_DELAY
    const remaining = this.inFlight.size > 0 ? idleMs : idleMs - (this.now() - this.lastSettledAt)
    return Math.min(Math.max(1, remaining), MAX_DELAY)
  }
  /** @internal */
  _respondInitialize(id: RequestId, version: LegacyVersion | undefined): void {
    try {
      this.respondInitialize(id, version)
    } catch (e) {
      // A chart action must not throw (it would stop the chart): the failure is the client's answer.
      this.reportError(e)
      this.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)), id)
    }
  }
  /** @internal */
  _reject(params: RejectParams): void {
    this.send(errorResponse(params.id, rpcError(params.code, params.message)), params.id)
  }
  /** @internal */
  _replyPong(id: RequestId): void {
    this.send(makeResult(id, {}), id)
  }
  /** @internal */
  _dispatchHeld(id: RequestId): void {
    const req = this.held
    if (req && req.id === id) this.dispatch(req, undefined)
  }
  /** @internal */
  _announceReady(): void {
    this.operating = true
    this.lastSettledAt = this.now() // idle is counted from the handshake completing, not from the session's creation
    this.unlistenServer = this.server.onChange((c) => this.onServerChange(c))
    this.ready()
  }

  private ready(): void {
    if (this.readied) return
    this.readied = true
    this.options.onReady?.()
  }
  /** @internal */
  _beginDrain(): void {
    this.operating = false
    this.draining = true
    // The pong may never come (stdin EOF): answer now rather than lose the reply at the drain deadline.
    if (this.barrierWaits !== undefined) for (const release of [...this.barrierWaits]) release()
    if (this.inFlight.size === 0) queueMicrotask(() => this.actor?.send({ type: "DRAINED" }))
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

  private respondInitialize(id: RequestId, protocolVersion: LegacyVersion | undefined): void {
    const result: Record<string, unknown> = {
      protocolVersion,
      capabilities: capabilitiesFor(this.server.capabilities(), protocolVersion),
      serverInfo: this.server.info
    }
    // `instructions` arrived in 2025-03-26: an older client is not sent fields its version lacks.
    if (this.server.instructions !== undefined && (protocolVersion ?? "") >= "2025-03-26") result.instructions = this.server.instructions
    this.send(makeResult(id, result), id)
  }

  private onServerChange(change: ServerChange): void {
    if (!this.operating) return
    if (change.type === "resourceUpdated") {
      if (this.state.subscriptions?.has(change.uri)) this.notify("notifications/resources/updated", { uri: change.uri })
    } else this.notify(`notifications/${change.type}/list_changed`)
  }

  // ---------------------------------------------------------------- requests

  /** Run one request; whatever throws on the way is answered -32603 (see `fault`). */
  private dispatch(req: JsonRpcRequest, modern: ModernRequestContext | undefined): void {
    try {
      this.dispatchUnguarded(req, modern)
    } catch (e) {
      this.fault(req, e)
    }
  }

  private dispatchUnguarded(req: JsonRpcRequest, modern: ModernRequestContext | undefined): void {
    const id = req.id
    const capability = requiredServerCapability(req.method)
    if (capability !== undefined && !hasCapability(this.server.capabilities(), capability)) {
      this.send(errorResponse(id, rpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method} (server capability "${capability}" not supported)`)), id)
      return
    }
    if (modern && (req.method === "logging/setLevel" || req.method === "resources/subscribe" || req.method === "resources/unsubscribe")) {
      // Removed in 2026-07-28 (changelog items 4-5).
      this.send(errorResponse(id, rpcError(ErrorCode.MethodNotFound, `Method not found: ${req.method} is not part of protocol ${modern.protocolVersion}`)), id)
      return
    }
    const entry = newInFlight(req)
    if (modern && MRTR_METHODS.has(req.method)) {
      // A retry's inputs and state are attacker-controlled (mrtr.mdx, Security): checked before the handler runs.
      const invalid = this.checkRetry(entry)
      if (invalid !== undefined) {
        this.send(errorResponse(id, rpcError(ErrorCode.InvalidParams, `Invalid params: ${invalid}`)), id)
        return
      }
    }
    this.inFlight.set(id, entry)
    const ctx = this.makeContext(entry, modern)
    let out: Result | PromiseLike<Result>
    try {
      out = dispatchRequest(this.server, req, ctx, this.state)
    } catch (e) {
      return this.finishError(entry, e, modern)
    }
    if (isThenable(out)) {
      out.then((r) => this.finish(entry, r, modern), (e) => this.finishError(entry, e, modern))
    } else this.finish(entry, out, modern)
  }

  /** Why a modern retry's `inputResponses`/`requestState` are refused, or undefined (the state is unsealed into `entry`). */
  private checkRetry(entry: InFlight): string | undefined {
    const params = entry.request.params
    const responses = inputResponsesOf(params)
    if (responses === "invalid") return "inputResponses must map keys to result objects"
    const state = requestStateOf(params)
    if (state === "invalid") return "requestState must be a string"
    let earlier: InputResponses | undefined
    if (state !== undefined) {
      const binding = { method: entry.request.method, params, principal: this.options.principal }
      const opened = openRequestState(this.server.requestStateKey, state, binding, this.now())
      if (!opened.ok) return `requestState ${opened.reason}`
      entry.requestState = opened.state
      earlier = opened.answers
    }
    entry.inputResponses = earlier === undefined ? responses : { ...earlier, ...responses }
    return undefined
  }

  private finish(entry: InFlight, value: Result, modern: ModernRequestContext | undefined): void {
    if (entry.done) return
    this.flushProgress(entry)
    // Not while draining: a client whose input ended (stdin EOF) will never answer the ping.
    if (entry.lastProgress !== -Infinity && !entry.barrierPassed && modern === undefined && !this.draining && this.needsProgressBarrier()) {
      // Interop (typescript-sdk#2580, see progressBarrier.ts): the response waits for a ping round
      // trip, after which the client has handled the progress notifications. The request stays in
      // flight meanwhile: a drain waits for it, a cancel still wins. Any outcome of the ping releases it.
      entry.barrierPassed = true
      const waits = (this.barrierWaits ??= new Set())
      const release = () => {
        waits.delete(release)
        this.finish(entry, value, modern)
      }
      waits.add(release)
      this.request("ping", undefined, { timeoutMs: PROGRESS_BARRIER_TIMEOUT_MS }, entry.request.id).then(release, release)
      return
    }
    if (!this.settle(entry)) return
    const id = entry.request.id
    try {
      this.send(makeResult(id, modern ? this.modernResult(value) : value), id)
    } catch (e) {
      // The result could not be sent (not serializable: a cycle, a BigInt): the request still gets an answer.
      this.reportError(e)
      this.send(errorResponse(id, rpcError(ErrorCode.InternalError, `Internal error: the result could not be sent: ${errorMessage(e)}`)), id)
    }
    this.afterSettle(modern)
  }

  private finishError(entry: InFlight, e: unknown, modern: ModernRequestContext | undefined): void {
    if (e instanceof InputRequiredSignal) return this.finishInputRequired(entry, e, modern)
    this.flushProgress(entry)
    if (!this.settle(entry)) return
    const id = entry.request.id
    const error: RpcErrorObject = e instanceof McpError
      ? e.toRpcError()
      : rpcError(ErrorCode.InternalError, `Internal error: ${errorMessage(e)}`)
    this.send(errorResponse(id, error), id)
    this.afterSettle(modern)
  }

  /** MRTR: the handler asked for input; answer `input_required` (its own state sealed), or fail where MRTR does not apply. */
  private finishInputRequired(entry: InFlight, signal: InputRequiredSignal, modern: ModernRequestContext | undefined): void {
    const { method, params } = entry.request
    if (modern === undefined || !MRTR_METHODS.has(method)) {
      return this.finishError(entry, new McpError(ErrorCode.InternalError, `${method} cannot answer input_required`), modern)
    }
    let value: Result
    try {
      // The answers so far travel sealed: the client sends only the latest round's (mrtr.mdx, Client Requirements 4).
      const answers = entry.inputResponses
      const sealed = signal.requestState === undefined && answers === undefined
        ? undefined
        : sealRequestState(this.server.requestStateKey, { state: signal.requestState, answers }, { method, params, principal: this.options.principal }, this.now())
      value = inputRequiredResult(signal.inputRequests, sealed)
    } catch (e) {
      return this.finishError(entry, e, modern)
    }
    this.finish(entry, value, modern)
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

  /** Mark done; false when it was cancelled (no response may be sent: cancellation.mdx:L37). */
  private settle(entry: InFlight): boolean {
    if (entry.done) return false
    entry.done = true
    this.inFlight.delete(entry.request.id)
    return true
  }

  private afterSettle(_modern: ModernRequestContext | undefined): void {
    this.lastSettledAt = this.now()
    if (this.inFlight.size === 0 && this.draining) this.actor?.send({ type: "DRAINED" })
  }

  private abort(id: RequestId, entry: InFlight, reason: string): void {
    if (entry.done) return
    entry.done = true
    this.inFlight.delete(id)
    if (this.batches !== undefined) this.unbatch(id)
    this.flushProgress(entry) // entry.done: the held-back value is dropped, its timer cleared
    ;(entry.controller ??= new AbortController()).abort(new Error(reason)) // a handler reading ctx.signal later must see it aborted
    this.afterSettle(undefined)
  }

  private makeContext(entry: InFlight, modern: ModernRequestContext | undefined): RequestContext {
    return new HandlerContext(this, entry, modern)
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
    return this.options.closeStream?.(id) ?? false
  }
  /** @internal used by HandlerContext */
  _progress(entry: InFlight, progress: number, total?: number, message?: string): void {
    this.progress(entry, progress, total, message)
  }
  /** @internal used by HandlerContext */
  _log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight, modern: ModernRequestContext | undefined): void {
    this.log(level, data, logger, entry, modern)
  }
  /** @internal used by HandlerContext */
  _request(entry: InFlight, modern: ModernRequestContext | undefined, method: string, params: Params | undefined, options?: ServerRequestOptions) {
    return this.requestFromHandler(entry, modern, method, params, options)
  }

  private progress(entry: InFlight, progress: number, total?: number, message?: string): void {
    const token = entry.request.params?._meta?.progressToken
    // Progress stops after completion (progress.mdx:L94) and must increase (L53).
    if (token === undefined || entry.done || !(progress > entry.lastProgress)) return
    entry.lastProgress = progress
    const params: Record<string, unknown> = { progressToken: token, progress }
    if (total !== undefined) params.total = total
    if (message !== undefined) params.message = message
    const interval = this.options.progressIntervalMs ?? 0
    if (interval <= 0) return this.send(notification("notifications/progress", params), entry.request.id)
    // Rate limit (progress.mdx: SHOULD): at most one notification per interval; within a
    // window only the latest value is kept (still increasing), sent when the window ends.
    const now = this.now()
    if (entry.progressTimer === undefined && now - entry.lastProgressSentAt >= interval) {
      entry.lastProgressSentAt = now
      return this.send(notification("notifications/progress", params), entry.request.id)
    }
    entry.pendingProgress = params
    if (entry.progressTimer === undefined) {
      const clock = this.clock
      entry.progressTimer = {
        clock,
        timer: clock.setTimeout(() => {
          entry.progressTimer = undefined
          this.flushProgress(entry)
        }, Math.max(1, interval - (now - entry.lastProgressSentAt)))
      }
    }
  }

  /** Send a progress value held back by the rate limit (before the response: none may follow it). */
  private flushProgress(entry: InFlight): void {
    if (entry.progressTimer !== undefined) {
      entry.progressTimer.clock.clearTimeout(entry.progressTimer.timer)
      entry.progressTimer = undefined
    }
    const pending = entry.pendingProgress
    if (pending === undefined || entry.done) return
    entry.pendingProgress = undefined
    entry.lastProgressSentAt = this.now()
    this.send(notification("notifications/progress", pending), entry.request.id)
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
    if (missing !== undefined) return Promise.reject(new CapabilityError(missing, method))
    const id = `s${(this.ids ??= makeIdAllocator()).next()}`
    const clock = this.clock
    const timeoutMs = options?.timeoutMs ?? this.options.requestTimeoutMs ?? 60_000
    return new Promise<Result>((resolve, reject) => {
      const cancel = (reason: string) => {
        if (!this.pending!.delete(id)) return
        clock.clearTimeout(timer)
        options?.signal?.removeEventListener("abort", onAbort)
        this.send(notification("notifications/cancelled", { requestId: id, reason }), related)
      }
      const onAbort = () => {
        cancel("aborted")
        reject(options?.signal?.reason ?? new Error("aborted"))
      }
      const timer = clock.setTimeout(() => {
        cancel("timeout")
        reject(new RequestTimeoutError(method, timeoutMs))
      }, timeoutMs)
      options?.signal?.addEventListener("abort", onAbort, { once: true })
      ;(this.pending ??= new Map()).set(id, {
        resolve,
        reject,
        timer,
        cleanup: () => {
          clock.clearTimeout(timer)
          options?.signal?.removeEventListener("abort", onAbort)
        }
      })
      this.send(makeRequest(id, method, params), related)
    })
  }

  // ---------------------------------------------------------------- modern era

  private handleModern(req: JsonRpcRequest): void {
    if (this.era === "unknown") this.era = "modern"
    if (!this.servedModern) {
      this.servedModern = true
      this.ready()
    }
    const read = readModernContext(req)
    if (!read.ok) {
      this.send(errorResponse(req.id, read.error), req.id)
      return
    }
    if (req.method === "server/discover") {
      const value: Record<string, unknown> = {
        supportedVersions: [...MODERN_VERSIONS, ...LEGACY_VERSIONS],
        capabilities: this.server.capabilities()
      }
      if (this.server.instructions !== undefined) value.instructions = this.server.instructions
      this.send(makeResult(req.id, this.modernResult(value)), req.id)
      return
    }
    if (req.method === "ping") {
      // Removed in 2026-07-28.
      this.send(errorResponse(req.id, rpcError(ErrorCode.MethodNotFound, "Method not found: ping is not part of protocol 2026-07-28")), req.id)
      return
    }
    if (req.method === LISTEN_METHOD) return this.listen(req, read.context)
    this.dispatch(req, read.context)
  }

  /**
   * `subscriptions/listen`: a request that stays in flight as the stream of the
   * changes its filter asked for (2026-07-28, spec-digest §2 "Subscriptions").
   * The acknowledgement (the honoured filter) is the first message; each
   * notification carries the listen id in `_meta`. It ends when the client
   * cancels it (closes the HTTP stream; `notifications/cancelled` on stdio),
   * with a `complete` result on a graceful close (`completeSubscriptions`), or
   * silently with the transport.
   */
  private listen(req: JsonRpcRequest, modern: ModernRequestContext): void {
    const id = req.id
    const parsed = parseSubscriptionFilter(req.params)
    if (!parsed.ok) {
      this.send(errorResponse(id, rpcError(ErrorCode.InvalidParams, `Invalid params: ${parsed.message}`)), id)
      return
    }
    const filter = honoredFilter(parsed.filter, this.server.capabilities())
    const entry = newInFlight(req)
    this.inFlight.set(id, entry)
    this.send(notification(ACKNOWLEDGED_METHOD, { _meta: { [META_SUBSCRIPTION_ID]: id }, notifications: filter }), id)
    const unlisten = this.server.onChange((change) => {
      const n = subscriptionNotification(filter, change, id)
      if (n !== undefined && !entry.done) this.send(notification(n.method, n.params), id)
    })
    ;(this.listens ??= new Map()).set(id, { entry, modern, unlisten })
    // A cancel or the session's end aborts the entry: stop listening then.
    entry.controller = new AbortController()
    entry.controller.signal.addEventListener("abort", () => {
      unlisten()
      this.listens?.delete(id)
    }, { once: true })
  }

  /** End every open `subscriptions/listen` with its `complete` result: what a graceful close SHOULD do. */
  completeSubscriptions(): void {
    if (this.listens === undefined) return
    for (const [id, { entry, modern, unlisten }] of this.listens) {
      this.listens.delete(id)
      unlisten()
      this.finish(entry, { _meta: { [META_SUBSCRIPTION_ID]: id } }, modern)
    }
  }

  private modernResult(value: Result): Result {
    const meta = (value._meta as Record<string, unknown> | undefined) ?? {}
    return { resultType: "complete", ...value, _meta: { ...meta, [META_SERVER_INFO]: this.server.info } }
  }

  // ---------------------------------------------------------------- lifecycle / handle

  /** The chart's state value as a dotted string. */
  stateName(): string {
    if (this.hibernated !== undefined) return flatten(this.hibernated.value)
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
    return this.actor?.getSnapshot().context ?? this.hibernated?.context
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
    if (this.inFlight.size > 0 || (this.pending?.size ?? 0) > 0) return false
    // The persisted shape, built by hand: `getPersistedSnapshot()` deep-copies the context,
    // which would clone this session through `context.runtime`.
    const live = actor.getSnapshot()
    this.hibernated = {
      status: "active",
      value: live.value,
      historyValue: live.historyValue,
      context: live.context,
      children: {},
      output: undefined,
      error: undefined
    }
    this.actor = undefined
    actor.stop()
    this.armWake()
    return true
  }

  /** Hibernate when nothing has been in flight for `idleMs` (the HTTP server's sweeper calls this). */
  hibernateIfIdleFor(idleMs: number): boolean {
    if (this.inFlight.size > 0 || this.now() - this.lastSettledAt < idleMs) return false
    return this.hibernate()
  }

  private armWake(): void {
    const idleMs = this.options.idleTimeoutMs ?? 0
    if (idleMs <= 0) return
    const clock = this.clock
    const delay = Math.min(Math.max(1, idleMs - (this.now() - this.lastSettledAt)), MAX_DELAY)
    const timer = clock.setTimeout(() => {
      this.wakeTimer = undefined
      if (this.hibernated === undefined) return
      // Requests served while hibernated moved the deadline: sleep on, or let the chart decide.
      if (!this._idleTimeoutExpired()) this.armWake()
      else this.ensureActor()
    }, delay)
    this.wakeTimer = { clock, timer }
  }

  get transportKind(): TransportKind {
    return this.options.transport
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  /** When nothing was last in flight (the idle clock), or undefined while a request or a server→client request is pending. */
  get idleSince(): number | undefined {
    return this.inFlight.size > 0 || (this.pending?.size ?? 0) > 0 ? undefined : this.lastSettledAt
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
      startedAt: this.startedAt
    }
  }

  subscribe(listener: (info: SessionInfo) => void): () => void {
    return this.listeners.add(listener)
  }

  private notifyListeners(): void {
    // Called on every chart step: no closure unless someone listens.
    if (this.listeners.size > 0) this.listeners.notify(() => this.info())
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
      this.actor.send({ type: "CLOSE", reason })
    }
    return this.ended.then(() => undefined)
  }

  private release(end: SessionEnd): void {
    if (this.released) return
    this.released = true
    this.operating = false
    this.unlistenServer?.()
    for (const [id, entry] of this.inFlight) this.abort(id, entry, "session closed")
    for (const [id, p] of this.pending ?? []) {
      this.pending!.delete(id)
      p.cleanup()
      p.reject(new McpError(ErrorCode.ConnectionClosed, "Session closed before the client answered"))
    }
    this.notifyListeners()
    this.actor?.stop()
    this.hibernated = undefined
    if (this.wakeTimer) this.wakeTimer.clock.clearTimeout(this.wakeTimer.timer)
    this.wakeTimer = undefined
    this.options.onRelease?.(end)
    this.resolveEnded(end)
    this.listeners.clear()
  }
}

const flatten = (value: unknown, prefix = ""): string => {
  if (typeof value === "string") return prefix + value
  return Object.entries(value as Record<string, unknown>).map(([k, v]) => flatten(v, `${prefix}${k}.`)).join("|")
}
