/**
 * A modern-era (2026-07-28) MCP client: no handshake and no session. Every
 * request carries its protocol version, client capabilities and client info in
 * `_meta` (2026-07-28/basic/index.mdx:L373-L392), built by `modernMeta`; each
 * request runs the `outboundRequest` chart (deadline, progress reset, hard
 * maximum, cancellation) in the client chart's `requests` child
 * (`machines/outboundRequests.ts`), like `ClientSession.request`.
 *
 * The wire is pluggable (`ModernWire`: "send this request, deliver what comes
 * back, cancel it"): `messageWire(transport)` serves stdio, WebSocket and
 * memory transports (cancellation = `notifications/cancelled`,
 * 2026-07-28/basic/transports/stdio.mdx:L78-L83); `ModernHttpWire`
 * (src/transports/http/client) implements it over Streamable HTTP (one POST
 * per request, cancellation = closing the response stream) and fails single
 * requests with typed errors through `WireHandlers.onRequestFailed`.
 *
 * Behaviour:
 * - ids are unique among our in-flight requests (a counter, optionally prefixed);
 * - `resultType`: absent or "complete" → the result; "input_required" → MRTR:
 *   the inputs are gathered with `onElicitation`/`onSampling`/`onRoots` and the
 *   request retried (new id, `inputResponses`, `requestState` echoed), up to
 *   `maxInputRounds`; no handler for an input → `InputRequired`; anything else →
 *   `InvalidResult`;
 * - -32022 UnsupportedProtocolVersion: retry once, with a new id, with our
 *   preferred version among `data.supported` (2026-07-28/basic/versioning.mdx:L69); that version then
 *   sticks for later requests; no mutual version → `UnsupportedProtocolVersion`;
 * - -32021 MissingRequiredClientCapability → `MissingClientCapability`;
 * - `discover()` sends `server/discover` and records versions, capabilities,
 *   instructions and server info; once known, methods the server did not
 *   advertise fail locally with `CapabilityNotSupported` (like ClientSession);
 * - no `ping`, `logging/setLevel` or `resources/subscribe`: they are not part
 *   of 2026-07-28. The log level travels per request (`logLevel` option).
 * - server→client requests do not exist in 2026-07-28; one that arrives is
 *   ignored (a modern client MUST NOT write responses on stdio, L36-L37).
 */
import type { Telemetry } from "../observability/Telemetry.ts"
import { McpMethods } from "./McpMethods.ts"
import { pickMutualVersion } from "../../machines/eraProbe.ts"
import { capabilityPaths, type ClientCapabilities, type ServerCapabilities } from "../protocol/capabilities.ts"
import {
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type Params,
  type RequestId,
  request as makeRequest
} from "../protocol/jsonrpc.ts"
import { ErrorCode } from "../protocol/errors.ts"
import { META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_SERVER_INFO, modernMeta } from "../protocol/modern.ts"
import { MODERN_VERSIONS, type ModernVersion } from "../protocol/versions.ts"
import { InfoListeners, type PeerInfo, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import type { Transport, TransportKind } from "../transports/Transport.ts"
import { messageWire, type ModernWire, type WireHandlers } from "../transports/modernWire.ts"
import { declaredCapabilities, type InputHandler, inputHandlerFor, type RequestOptions, type Result } from "./ClientSession.ts"
import { inputRequestsOf, type InputResponses, MRTR_METHODS, retryParams } from "../protocol/mrtr.ts"
import { ConnectionLost, RequestCancelled, RpcError, SessionClosed, UnsupportedProtocolVersion } from "../protocol/requestErrors.ts"
import { ACKNOWLEDGED_METHOD, LISTEN_METHOD, type SubscriptionFilter, subscriptionIdOf } from "../protocol/subscriptions.ts"
import { type ListenOptions, Subscription, type SubscriptionWire } from "./Subscription.ts"
import { HttpError } from "../transports/http/client/errors.ts"
import { InputRequired, InvalidResult, MissingClientCapability } from "./modernErrors.ts"
import type { Actor, ActorOptions, AnyActorLogic, AnyActorRef } from "xstate"
import { modernClientMachine } from "../../machines/modernClient.ts"
import { outboundRequestMachine, type OutboundRequestOutcome } from "../../machines/outboundRequest.ts"
import { outboundRequestsLogic } from "../../machines/outboundRequests.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { type ClientRuntimeOptions, openClientConnection } from "./clientNode.ts"
import { cancelReason, capabilityRefusal, OutboundRequests, outcomeToResult, type RequestsActor, requestSent, withMeta } from "./outbound.ts"
import type { Clock } from "../protocol/clock.ts"

// ------------------------------------------------------------------ wire
// The wire contract lives with the transports (src/transports/modernWire.ts): the HTTP
// wire (src/transports/http/client/ModernHttpWire.ts) implements it below the client layer.
export { messageWire, type ModernWire, type WireHandlers } from "../transports/modernWire.ts"

const isWire = (x: Transport | ModernWire): x is ModernWire => typeof (x as ModernWire).cancel === "function"

/**
 * A failure that retrying will not fix: a JSON-RPC error, or an HTTP 4xx other than
 * 408/429 (e.g. 404 from a server without this endpoint, 401). A listen stops on it
 * instead of reconnecting.
 */
const isRefusal = (error: Error): boolean =>
  error instanceof RpcError || (error instanceof HttpError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429)

// ------------------------------------------------------------------ client

/**
 * Options of a modern client: what it declares in every request's `_meta`, its deadlines,
 * and the handlers that answer MRTR input requests.
 */
export interface ModernClientOptions extends ClientRuntimeOptions {
  /** OpenTelemetry: a CLIENT span per request (`traceparent` in `_meta`) and metrics. */
  readonly telemetry?: Telemetry
  readonly clientInfo?: { readonly name: string; readonly version: string; readonly [k: string]: unknown }
  /** Capabilities declared in every request's `_meta` (default none). */
  readonly capabilities?: ClientCapabilities
  /** Modern versions this client speaks, preferred first. Default `MODERN_VERSIONS`. */
  readonly protocolVersions?: ReadonlyArray<ModernVersion>
  /** The version to start with (default the first of `protocolVersions`). */
  readonly protocolVersion?: ModernVersion
  readonly requestTimeoutMs?: number
  /** How long `close()` lets in-flight requests finish before cancelling them. Default 5000 ms. */
  readonly closeTimeoutMs?: number
  /** Default `_meta["io.modelcontextprotocol/logLevel"]` (no log messages without it). */
  readonly logLevel?: string
  /** Refuse locally to call methods the server did not advertise (once discovered). Default true. */
  readonly enforceCapabilities?: boolean
  /** Answer MRTR `elicitation/create` input requests (declares `elicitation: { form: {} }` unless `capabilities` says more). */
  readonly onElicitation?: InputHandler
  /** Answer MRTR `sampling/createMessage` input requests (declares `sampling`). */
  readonly onSampling?: InputHandler
  /** Answer MRTR `roots/list` input requests (declares `roots`). */
  readonly onRoots?: InputHandler
  /** Retries of one request with gathered inputs before giving up with `InputRequired`. Default 8. */
  readonly maxInputRounds?: number
  /** Notifications from the server (request-scoped logs, …). */
  readonly onNotification?: (notification: JsonRpcNotification) => void
  /** Diagnostics: unreadable or unexpected messages. */
  readonly onDiagnostic?: (text: string) => void
  /** Request ids are `${idPrefix}${n}` when set (strings), else numbers. */
  readonly idPrefix?: string
  /** A `server/discover` result obtained elsewhere (the era probe): recorded as if `discover()` had run. */
  readonly discovered?: Result
  readonly clock?: Clock
  /**
   * Inspection observer of the client's actor tree (its chart and its `requests` child, where every request runs),
   * fed by its connection node; with `actorParent` the owner observes through its own tree.
   */
  readonly inspect?: ActorOptions<AnyActorLogic>["inspect"]
  /** The actor whose child the client's chart is (its owner's node in a runtime's tree); without it `create` opens a node of its own. */
  readonly actorParent?: AnyActorRef
}

/** Per-call options of a modern request: `RequestOptions` plus its `_meta` log level and extra entries. */
export interface ModernRequestOptions extends RequestOptions {
  /** `_meta["io.modelcontextprotocol/logLevel"]` for this request (overrides the client's). */
  readonly logLevel?: string
  /** Extra `_meta` entries (trace context, …); the protocol keys always win. */
  readonly meta?: Record<string, unknown>
  /**
   * Declare for this request only the input capabilities (elicitation, sampling, roots) that both this
   * client and these capabilities have, so the server never asks for input that cannot be answered
   * (a gateway calling on behalf of a client that declared fewer). Default: the client's own.
   */
  readonly inputCapabilities?: ClientCapabilities
}

const INPUT_CAPABILITIES = ["elicitation", "sampling", "roots"] as const

/** `own` without the input capabilities `allowed` lacks; those both have take `allowed`'s detail (what the asker can answer). */
const narrowInputs = (own: ClientCapabilities, allowed: ClientCapabilities): ClientCapabilities => {
  const out: Record<string, unknown> = { ...own }
  for (const k of INPUT_CAPABILITIES) {
    if (own[k] === undefined || allowed[k] === undefined) delete out[k]
    else out[k] = allowed[k]
  }
  return out as ClientCapabilities
}

/**
 * `narrowInputs` once per `allowed` object: a gateway passes the same one for every call of a
 * legacy session (its negotiated capabilities), so the per-call cost is one WeakMap lookup.
 */
const narrowedCache = new WeakMap<ClientCapabilities, { readonly own: ClientCapabilities; readonly narrowed: ClientCapabilities }>()
const narrowInputsCached = (own: ClientCapabilities, allowed: ClientCapabilities): ClientCapabilities => {
  const hit = narrowedCache.get(allowed)
  if (hit !== undefined && hit.own === own) return hit.narrowed
  const narrowed = narrowInputs(own, allowed)
  narrowedCache.set(allowed, { own, narrowed })
  return narrowed
}

/** What `server/discover` told us. */
export interface DiscoverInfo {
  readonly supportedVersions: ReadonlyArray<string>
  readonly capabilities: ServerCapabilities
  readonly instructions: string | undefined
  readonly serverInfo: PeerInfo | undefined
}

/** `data.supported` of an UnsupportedProtocolVersionError, when it is a list of strings. */
export const supportedVersionsOf = (data: unknown): ReadonlyArray<string> | undefined => {
  if (typeof data !== "object" || data === null) return undefined
  const supported = (data as { readonly supported?: unknown }).supported
  return Array.isArray(supported) ? supported.filter((v): v is string => typeof v === "string") : undefined
}

const serverInfoOf = (result: Result): PeerInfo | undefined => {
  const meta = result._meta
  if (typeof meta !== "object" || meta === null) return undefined
  const info = (meta as Record<string, unknown>)[META_SERVER_INFO]
  return typeof info === "object" && info !== null ? (info as PeerInfo) : undefined
}

/** Whether a result carries a modern-era marker (`resultType` or `_meta` serverInfo). */
export const hasModernMarkers = (result: Result): boolean => result.resultType !== undefined || serverInfoOf(result) !== undefined

let clientCounter = 0

/**
 * A modern-era (2026-07-28) client: no handshake and no session, every request self-contained.
 * It answers `input_required` results itself (MRTR) with its `onElicitation`, `onSampling`
 * and `onRoots` handlers, retries once on a version mismatch, and keeps
 * `subscriptions/listen` streams open with `listen`.
 *
 * @example
 * ```ts
 * import { ModernClient, ModernHttpWire } from "mcp-actors"
 *
 * // against `mcp-actors serve --http 3000`: its demo server's tools
 * const client = await ModernClient.connect(new ModernHttpWire({ url: "http://127.0.0.1:3000/mcp" }), {
 *   discover: true,                                               // server/discover first: versions, capabilities
 *   onElicitation: async () => ({ action: "accept", content: { name: "Ada" } })
 * })
 * console.log(await client.callTool("echo", { text: "hi" }))   // { resultType: "complete", content: [ … 'hi' ], … }
 * const sub = client.listen({ toolsListChanged: true }, { onNotification: (n) => console.log(n.method) })
 * console.log(await sub.acknowledged)                             // what the server agreed to deliver
 * sub.close()
 * await client.close()
 * ```
 */
export class ModernClient extends McpMethods<ModernRequestOptions> implements SessionHandle {
  readonly id: string
  readonly era = "modern" as const
  readonly startedAt = Date.now()
  readonly ended: Promise<SessionEnd>
  private readonly wire: ModernWire
  private readonly options: ModernClientOptions
  private readonly versions: ReadonlyArray<ModernVersion>
  private version: ModernVersion
  private readonly capabilities: ClientCapabilities
  private readonly clientInfo: { readonly name: string; readonly version: string }
  /** Requests in flight (their charts run in the chart's `requests` child) and their callers. */
  private readonly outbound = new OutboundRequests()
  /** Open subscriptions, and the one each listen request id in flight belongs to. */
  private readonly subscriptions = new Set<Subscription>()
  private readonly listenIds = new Map<RequestId, Subscription>()
  private readonly listeners = new InfoListeners()
  private counter = 0
  /** The client's chart (`machines/modernClient.ts`): open → closing → closed, its `requests` child throughout. */
  private readonly actor: Actor<typeof modernClientMachine>
  private wireClosed = false
  /** A `CLOSE` was sent to the chart (the only way into `closing`). */
  private closeSent = false
  private discoverInfo: DiscoverInfo | undefined
  private lastServerInfo: PeerInfo | undefined
  private resolveEnded!: (end: SessionEnd) => void

  private constructor(wire: ModernWire, options: ModernClientOptions) {
    super()
    this.wire = wire
    this.options = options
    this.id = `modern-client-${++clientCounter}`
    this.versions = options.protocolVersions ?? MODERN_VERSIONS
    if (this.versions.length === 0) throw new Error("ModernClient: protocolVersions is empty")
    this.version = options.protocolVersion ?? this.versions[0]!
    this.capabilities = declaredCapabilities(options)
    this.clientInfo = options.clientInfo ?? { name: "mcp-actors", version: "0.1.0" }
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    if (options.discovered) this.recordDiscovery(options.discovered)
    this.actor = createLeanActor(
      modernClientMachine.provide({
        actions: { releaseWire: ({ context }) => this.releaseWire(context.closeReason ?? "client closed") },
        actors: {
          requests: outboundRequestsLogic(outboundRequestMachine.provide({
            actions: { sendCancelled: ({ context }) => this.wire.cancel(context.requestId, cancelReason(context.outcome)) }
          }))
        }
      }),
      {
        // The client's id: its telemetry's session span finds the chart's transitions by it.
        id: this.id,
        input: { closeTimeoutMs: options.closeTimeoutMs ?? 5_000 },
        ...(options.clock ? { clock: options.clock } : {}),
        // A node of its connection's tree (seen by the runtime's observers; the node hands `inspect` its subtree).
        ...(options.actorParent !== undefined ? { parent: options.actorParent } : options.inspect ? { inspect: options.inspect } : {})
      }
    )
    // The session span (`mcp.client.session`) and `mcp.client.session.duration`.
    options.telemetry?.observeSession("client", this)
  }

  /** Where the client's chart is: `open`, `closing` (draining), or `closed`. */
  private get status(): "open" | "closing" | "closed" {
    const snapshot = this.actor.getSnapshot()
    return snapshot.status !== "active" ? "closed" : snapshot.hasTag("open") ? "open" : "closing"
  }

  /** The client actor, for inspection (read-only use); its `requests` child holds the requests in flight. */
  get chart(): Actor<typeof modernClientMachine> {
    return this.actor
  }

  /**
   * A client on `transport` (a message transport, started here) or on a `ModernWire`. Nothing is sent.
   *
   * Without a place in a tree (`actorParent`) the client is a supervised connection node of its own
   * in the runtime (`runtime`, default the process's): listed in its registry and released (its wire
   * with it) when it ends, whatever ended it.
   */
  static create(transport: Transport | ModernWire, options: ModernClientOptions = {}): ModernClient {
    const wire = isWire(transport) ? transport : messageWire(transport)
    if (options.actorParent !== undefined) {
      const client = new ModernClient(wire, options)
      client.start()
      return client
    }
    const node = openClientConnection(wire.kind, options)
    // The node hears of the wire's end before the client does (who ended it: the peer).
    const watched: ModernWire = {
      kind: wire.kind,
      ...(wire.url === undefined ? {} : { url: wire.url }),
      start: (h) => wire.start({ ...h, onClose: (closed) => (node.transportClosed(closed), h.onClose(closed)) }),
      send: (request) => wire.send(request),
      ...(wire.sendText === undefined ? {} : { sendText: (text: string) => wire.sendText!(text) }),
      cancel: (id, reason) => wire.cancel(id, reason),
      close: () => wire.close()
    }
    // Its timers (the chart's, a listen's reconnection) run on the runtime's clock unless given one.
    const client = new ModernClient(watched, { ...options, actorParent: node.actor, clock: options.clock ?? node.runtime.clock })
    client.start()
    // Leaving `open` while the wire is up is a local close (`close()`): the node records it.
    let open = true
    client.actor.subscribe((s) => {
      if (open && s.status === "active" && !s.hasTag("open")) {
        open = false
        node.closeRequested(s.context.closeReason ?? "client closed")
      }
    })
    node.supervise(client, () => wire.close())
    return client
  }

  /** Like `create`; with `discover: true` it also calls `server/discover` first (and fails if that fails). */
  static async connect(transport: Transport | ModernWire, options: ModernClientOptions & { readonly discover?: boolean } = {}): Promise<ModernClient> {
    const client = ModernClient.create(transport, options)
    if (options.discover) {
      try {
        await client.discover()
      } catch (e) {
        await client.close({ drainMs: 0 })
        throw e
      }
    }
    return client
  }

  private start(): void {
    this.actor.start()
    const requests = this.actor.getSnapshot().children.requests as RequestsActor | undefined
    // Stopped with requests still in flight (the client ended): they end as `Aborted`.
    if (requests !== undefined) {
      this.outbound.attach(requests, {
        // While closing, the drain ends when the last request does.
        next: (s) => {
          // `closeSent` first: only a `CLOSE` leads the chart to `closing`, and it is the cheap test (every response ends idle).
          if (s.value === "idle" && this.closeSent && this.status === "closing") this.actor.send({ type: "REQUESTS_IDLE" })
        }
      })
    }
    this.wire.start({
      onMessage: (m) => this.receive(m),
      onInvalid: (text) => this.options.onDiagnostic?.(text),
      onRequestFailed: (id, error) => this.failRequest(id, error),
      onClose: (closed) => {
        if (this.wireClosed) return
        this.wireClosed = true
        // Every request's chart ends as `Aborted` (no cancellation: the wire is gone).
        this.outbound.transportClosed(closed.reason)
        this.listenIds.clear()
        for (const s of [...this.subscriptions]) s._transportClosed(closed.reason)
        if (this.actor.getSnapshot().status === "active") this.actor.send({ type: "WIRE_CLOSED", expected: closed.expected, reason: closed.reason })
        this.notifyListeners()
        this.resolveEnded({ expected: closed.expected, reason: closed.reason })
      }
    })
  }

  // ---------------------------------------------------------------- state

  /** The version sent in `_meta` (changes after a -32022 retry or a discover). */
  get protocolVersion(): ModernVersion {
    return this.version
  }
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.discoverInfo?.capabilities
  }
  get serverInfo(): PeerInfo | undefined {
    return this.lastServerInfo
  }
  get instructions(): string | undefined {
    return this.discoverInfo?.instructions
  }
  get discovered(): DiscoverInfo | undefined {
    return this.discoverInfo
  }
  get inFlight(): number {
    return this.outbound.size
  }
  get state(): "open" | "closing" | "closed" {
    return this.status
  }

  /** The server's URL when the wire dials one (HTTP): telemetry's `server.address`/`server.port`. */
  get serverUrl(): URL | undefined {
    return this.wire.url
  }

  info(): SessionInfo {
    return {
      id: this.id,
      role: "client",
      era: "modern",
      protocolVersion: this.version,
      state: this.status,
      transport: this.wire.kind,
      peer: this.lastServerInfo,
      inFlight: this.outbound.size,
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

  private notifyListeners(): void {
    this.listeners.notify(this)
  }
  /** `info()` as the listeners' lazy snapshot (one closure per client, not two per request). */

  // ---------------------------------------------------------------- requests

  /** Send a request with the modern `_meta`; resolves with its result or rejects with a typed error. */
  request(method: string, params?: Params, options: ModernRequestOptions = {}): Promise<Result> {
    const telemetry = this.options.telemetry
    if (telemetry !== undefined && !telemetry.passThrough) return telemetry.clientRequest(this, method, params, (p) => this.request(method, p, options))
    if (this.status !== "open") {
      return Promise.reject(new SessionClosed({ method, message: `${method}: client is ${this.status}` }))
    }
    // Enforced once discovered (before, nothing is known of the server).
    const refused = this.options.enforceCapabilities === false || this.discoverInfo === undefined ? undefined : capabilityRefusal(method, this.discoverInfo.capabilities)
    if (refused !== undefined) return Promise.reject(refused)
    // The first round here; `input_required` goes on in `withInputRounds` (one promise per round, no async frame).
    return this.attempt(method, params, options, this.version, false, false)
  }

  /**
   * MRTR (2026-07-28/basic/patterns/mrtr.mdx): while the server answers
   * `input_required`, gather the inputs it asks for with our handlers and retry
   * the original request — a new id each time, the inputs in `inputResponses`,
   * its `requestState` echoed verbatim (never one it did not send) — at most
   * `maxInputRounds` times.
   */
  private async withInputRounds(method: string, params: Params | undefined, options: ModernRequestOptions, first: Result): Promise<Result> {
    const maxRounds = this.options.maxInputRounds ?? 8
    let result = first
    for (let round = 0; ; round++) {
      if (result.resultType !== "input_required") return result
      const inputRequests = inputRequestsOf(result)
      const requestState = typeof result.requestState === "string" ? result.requestState : undefined
      if (!MRTR_METHODS.has(method) || inputRequests === "invalid" || (inputRequests === undefined && requestState === undefined)) {
        throw new InvalidResult({ method, resultType: result.resultType, message: `${method}: malformed input_required result (only tools/call, resources/read and prompts/get may ask, with inputRequests or requestState)` })
      }
      if (round >= maxRounds) {
        throw new InputRequired({ method, inputRequests: result.inputRequests, requestState: result.requestState, message: `${method}: still input_required after ${maxRounds} rounds` })
      }
      const responses = inputRequests === undefined ? undefined : await this.gatherInputs(method, inputRequests, result, options)
      result = await this.attempt(method, retryParams(params, responses, requestState), options, this.version, false, true)
    }
  }

  /** Ask our handlers for every input request (in parallel); no handler for one → `InputRequired`. */
  private async gatherInputs(
    method: string,
    inputRequests: Readonly<Record<string, { readonly method: string; readonly params?: Params }>>,
    result: Result,
    options: ModernRequestOptions
  ): Promise<InputResponses> {
    const signal = options.signal ?? new AbortController().signal
    const entries = Object.entries(inputRequests)
    const answers = await Promise.all(entries.map(([key, r]) => {
      const handler = inputHandlerFor(this.options, r.method)
      if (handler === undefined) {
        throw new InputRequired({
          method,
          inputRequests: result.inputRequests,
          requestState: result.requestState,
          message: `${method}: the server needs ${r.method} (input "${key}"), and this client has no handler for it`
        })
      }
      return Promise.resolve(handler(r.params, { requestId: key, signal }))
    }))
    if (signal.aborted) throw new RequestCancelled({ method, message: `${method} cancelled while gathering inputs` })
    return Object.fromEntries(entries.map(([key], i) => [key, answers[i]!]))
  }

  /** The `_meta` entries every request of `version` carries (built once per version: capabilities and info are fixed). */
  private metaFor(version: ModernVersion): Record<string, unknown> {
    const cached = this.metaCache
    if (cached !== undefined && cached.version === version) return cached.meta
    const meta = modernMeta(version, this.capabilities, this.clientInfo)
    this.metaCache = { version, meta }
    return meta
  }
  private metaCache: { readonly version: ModernVersion; readonly meta: Record<string, unknown> } | undefined

  /**
   * The request as the text `JSON.stringify(makeRequest(id, method, { ...params, _meta }))` makes of it
   * (the same bytes: `test/client.modern-request-text.test.ts`), from cached parts: the `_meta` entries
   * every request of this client carries (version, capabilities, info, log level) are serialized once
   * per combination, not per request. Undefined (the object path) when `params` is not a plain object
   * without `_meta` of its own.
   */
  private requestText(
    id: RequestId,
    method: string,
    params: Params | undefined,
    version: ModernVersion,
    logLevel: string | undefined,
    inputCapabilities: ClientCapabilities | undefined,
    progressToken: RequestId | undefined
  ): string | undefined {
    let body: string
    if (params === undefined) body = "{"
    else {
      if (Object.getPrototypeOf(params) !== Object.prototype || Object.hasOwn(params, "_meta") || Object.hasOwn(params, "toJSON")) return undefined
      const json = JSON.stringify(params)
      body = json.length === 2 ? "{" : `${json.slice(0, -1)},`
    }
    const head = this.metaHead(version, logLevel, inputCapabilities)
    const token = progressToken === undefined ? "" : `,"progressToken":${JSON.stringify(progressToken)}`
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":${JSON.stringify(method)},"params":${body}"_meta":${head}${token}}}}`
  }

  /** The serialized `_meta` of a request without its closing brace and progress token, the last one kept (a gateway's calls repeat it). */
  private metaHead(version: ModernVersion, logLevel: string | undefined, inputCapabilities: ClientCapabilities | undefined): string {
    const last = this.lastHead
    if (last !== undefined && last.version === version && last.logLevel === logLevel && last.inputCapabilities === inputCapabilities) return last.text
    const meta: Record<string, unknown> = { ...this.metaFor(version) }
    if (logLevel !== undefined) meta[META_LOG_LEVEL] = logLevel
    if (inputCapabilities !== undefined) meta[META_CLIENT_CAPABILITIES] = narrowInputsCached(this.capabilities, inputCapabilities)
    const text = JSON.stringify(meta).slice(0, -1)
    this.lastHead = { version, logLevel, inputCapabilities, text }
    return text
  }
  private lastHead: { readonly version: ModernVersion; readonly logLevel: string | undefined; readonly inputCapabilities: ClientCapabilities | undefined; readonly text: string } | undefined


  private nextId(): RequestId {
    const n = ++this.counter
    return this.options.idPrefix === undefined ? n : `${this.options.idPrefix}${n}`
  }

  /**
   * One request on the wire, settled by its chart. `inRounds`: part of `withInputRounds` (which
   * handles `input_required`); otherwise an `input_required` result starts it. Not `async`: the
   * outcome is read in one `then` (a refusal before sending is a rejected promise).
   */
  private attempt(method: string, params: Params | undefined, options: ModernRequestOptions, version: ModernVersion, retried: boolean, inRounds: boolean): Promise<Result> {
    try {
      return this.sendAttempt(method, params, options, version, retried, inRounds)
    } catch (e) {
      // Whatever throws while sending fails this request only, as from an async method.
      return Promise.reject(e)
    }
  }

  private sendAttempt(method: string, params: Params | undefined, options: ModernRequestOptions, version: ModernVersion, retried: boolean, inRounds: boolean): Promise<Result> {
    if (options.signal?.aborted) return Promise.reject(new RequestCancelled({ method, message: `${method} cancelled before it was sent` }))
    const id = this.nextId()
    this.options.telemetry?.requestSent(id) // the CLIENT span's jsonrpc.request.id
    const wantsProgress = options.onProgress !== undefined || options.resetTimeoutOnProgress === true
    const progressToken = wantsProgress ? id : undefined
    const logLevel = options.logLevel ?? this.options.logLevel
    if (this.outbound.requests === undefined) return Promise.reject(new SessionClosed({ method, message: `${method}: client is ${this.status}` }))
    // The request leaves first, its chart starts right after: the server starts on it while this turn
    // does the bookkeeping, and nothing it answers can be read before this turn ends (every wire
    // delivers on a later turn or microtask, never inside `send`).
    // (A transport that answers, fails or closes inside `send` anyway: `OutboundRequests.sending` keeps it for the chart.)
    const text = this.wire.sendText === undefined || options.meta !== undefined ? undefined : this.requestText(id, method, params, version, logLevel, options.inputCapabilities, progressToken)
    this.outbound.sending(id)
    try {
      if (text !== undefined) this.wire.sendText!(text)
      else {
        // One `_meta` object (the caller's, then ours on top), as `withMeta(params, {…})` would make it.
        const meta: Record<string, unknown> = { ...params?._meta, ...options.meta, ...this.metaFor(version) }
        if (logLevel !== undefined) meta[META_LOG_LEVEL] = logLevel
        if (options.inputCapabilities !== undefined) meta[META_CLIENT_CAPABILITIES] = narrowInputsCached(this.capabilities, options.inputCapabilities)
        if (progressToken !== undefined) meta.progressToken = progressToken
        this.wire.send(makeRequest(id, method, { ...params, _meta: meta }))
      }
    } catch (e) {
      // Not sent: no chart (`attempt` turns the throw into this request's rejection).
      this.outbound.sending(undefined)
      throw e
    }
    const sent = requestSent(id, method, progressToken, options, this.options.requestTimeoutMs ?? 60_000)
    // One promise per attempt: the outcome is read as it settles (no `then` on an outcome promise, one
    // microtask hop fewer on the way back); a retry or an MRTR round is adopted.
    const resultP = new Promise<Result>((resolve, reject) => {
      const started = this.outbound.start(sent, {
        method,
        onProgress: options.onProgress,
        tokened: wantsProgress,
        signal: options.signal,
        onAbort: undefined,
        settle: (outcome, failed) => {
          try {
            resolve(this.attempted(method, params, options, version, retried, inRounds, outcome, failed))
          } catch (e) {
            reject(e)
          }
        }
      })
      // The client's requests ended inside `send` (its wire closed there, and the chart with it).
      if (!started) reject(new ConnectionLost({ method, message: `${method}: connection lost (the client ended while the request was sent)` }))
    })
    this.notifyListeners()
    return resultP
  }

  /** What an attempt's outcome means: its result, a retry with another version, an MRTR round, or a typed error. */
  private attempted(
    method: string,
    params: Params | undefined,
    options: ModernRequestOptions,
    version: ModernVersion,
    retried: boolean,
    inRounds: boolean,
    outcome: OutboundRequestOutcome,
    failure: Error | undefined
  ): Result | Promise<Result> {
    this.notifyListeners()

    if (failure !== undefined && outcome._tag === "Aborted") throw failure
    if (outcome._tag === "Failed") {
      const { code, message, data } = outcome.error
      if (code === ErrorCode.UnsupportedProtocolVersion) {
        const supported = supportedVersionsOf(data)
        // 2026-07-28/basic/versioning.mdx:L69 — select a mutually supported version from `supported` and retry (once).
        const next = retried || supported === undefined
          ? undefined
          : pickMutualVersion(this.versions.filter((v) => v !== version), supported)
        if (next !== undefined && this.status === "open") {
          this.version = next
          return this.attempt(method, params, options, next, true, inRounds)
        }
        throw new UnsupportedProtocolVersion({
          requested: version,
          received: (data as { readonly requested?: unknown } | undefined)?.requested,
          supported: [...(supported ?? [])],
          message: `${method}: the server does not support protocol ${version}${supported ? ` (it supports ${supported.join(", ")})` : ""}: ${message}`
        })
      }
      if (code === ErrorCode.MissingRequiredClientCapability) {
        const required = (data as { readonly requiredCapabilities?: unknown } | undefined)?.requiredCapabilities
        throw new MissingClientCapability({
          method,
          requiredCapabilities: [...capabilityPaths(required)],
          required,
          message: `${method}: ${message}`
        })
      }
    }
    const result = this.checkResult(method, outcomeToResult(method, outcome))
    return inRounds || result.resultType !== "input_required" ? result : this.withInputRounds(method, params, options, result)
  }

  /**
   * The wire failed one request (`WireHandlers.onRequestFailed`): its actor
   * ends as `Aborted` (nothing is sent: the exchange is over) and the caller
   * gets the wire's typed error instead of `ConnectionLost`.
   */
  private failRequest(id: RequestId, error: Error): void {
    const subscription = this.listenIds.get(id)
    if (subscription !== undefined) return subscription._failed(error, isRefusal(error))
    this.outbound.fail(id, error)
  }

  /** `resultType`: absent → "complete" (changelog item 8); "input_required" → MRTR; anything else is invalid. */
  private checkResult(method: string, result: Result): Result {
    const info = serverInfoOf(result)
    if (info !== undefined) this.lastServerInfo = info
    const resultType = result.resultType
    // input_required goes back to `withInputRounds`, which answers it or gives up.
    if (resultType === undefined || resultType === "complete" || resultType === "input_required") return result
    throw new InvalidResult({ method, resultType, message: `${method}: unknown resultType ${JSON.stringify(resultType)}` })
  }

  private receive(m: JsonRpcMessage): void {
    if (!("method" in m)) {
      const subscription = m.id === null || m.id === undefined ? undefined : this.listenIds.get(m.id)
      if (subscription !== undefined) return subscription._message(m)
      // Unknown ids (late, cancelled) are dropped.
      this.outbound.response(m)
      return
    }
    if (!("id" in m) && this.listenIds.size > 0) {
      // A listen stream's traffic: its acknowledgement and changes carry its id in `_meta`; a teardown names it.
      const streamId = m.method === "notifications/cancelled" ? m.params?.requestId as RequestId | undefined : subscriptionIdOf(m.params)
      const subscription = streamId === undefined ? undefined : this.listenIds.get(streamId)
      if (subscription !== undefined) return subscription._message(m)
      if (m.method === ACKNOWLEDGED_METHOD) return
    }
    if ("id" in m) {
      // 2026-07-28 servers send no requests (MRTR); a modern client writes no responses (stdio.mdx:L36-L37).
      this.options.onDiagnostic?.(`ignored a server→client request ${m.method} (not part of protocol ${this.version})`)
      return
    }
    if (m.method === "notifications/progress") return this.outbound.progress(m.params)
    this.options.onNotification?.(m)
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * `subscriptions/listen`: a long-lived stream of the change notifications
   * `filter` asks for (2026-07-28). The returned subscription acknowledges
   * (`acknowledged`: what the server agreed to deliver), delivers each change to
   * `options.onNotification`, reconnects with backoff when the stream drops
   * (`machines/listenStream.ts`), and ends on `close()`, on the server's
   * graceful close, on an error response, or with this client.
   */
  listen(filter: SubscriptionFilter, options: ListenOptions = {}): Subscription {
    if (this.status !== "open") throw new SessionClosed({ method: LISTEN_METHOD, message: `${LISTEN_METHOD}: client is ${this.status}` })
    const subscription = new Subscription(filter, this.subscriptionWire(), options)
    if (!subscription.over) this.subscriptions.add(subscription) // `done` removes it
    return subscription
  }

  private subscriptionWire(): SubscriptionWire {
    return {
      nextId: () => this.nextId(),
      sendListen: (id, filter, subscription) => {
        this.listenIds.set(id, subscription)
        const params = withMeta({ notifications: filter }, modernMeta(this.version, this.capabilities, this.clientInfo))
        this.wire.send(makeRequest(id, LISTEN_METHOD, params))
      },
      cancel: (id, reason) => {
        this.listenIds.delete(id)
        this.wire.cancel(id, reason)
      },
      forget: (id) => {
        this.listenIds.delete(id)
      },
      done: (subscription) => {
        this.subscriptions.delete(subscription)
      },
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      parent: this.actor
    }
  }

  // ---------------------------------------------------------------- discover

  /** `server/discover`: supported versions, capabilities, instructions, server info. */
  async discover(options?: ModernRequestOptions): Promise<Result> {
    const result = await this.request("server/discover", undefined, options)
    this.recordDiscovery(result)
    return result
  }

  /** Record a `server/discover` result obtained elsewhere (e.g. by a re-probe). */
  recordDiscovery(result: Result): void {
    const supported = Array.isArray(result.supportedVersions)
      ? (result.supportedVersions as ReadonlyArray<unknown>).filter((v): v is string => typeof v === "string")
      : []
    const info = serverInfoOf(result)
    if (info !== undefined) this.lastServerInfo = info
    this.discoverInfo = {
      supportedVersions: supported,
      capabilities: (typeof result.capabilities === "object" && result.capabilities !== null ? result.capabilities : {}) as ServerCapabilities,
      instructions: typeof result.instructions === "string" ? result.instructions : undefined,
      serverInfo: info
    }
    if (supported.length > 0 && !supported.includes(this.version)) {
      const mutual = pickMutualVersion(this.versions, supported)
      if (mutual !== undefined) this.version = mutual
    }
  }

  // ---------------------------------------------------------------- closing

  /**
   * Refuse new requests, let in-flight ones finish for `drainMs` (default
   * `closeTimeoutMs`, 5 s), cancel what is left (`notifications/cancelled`),
   * then close the wire. Resolves once it ended. Idempotent.
   */
  async close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void> {
    if (this.status !== "open") return this.ended.then(() => undefined)
    // The chart drains (`drainTimeout`, on the client's clock) and then runs `releaseWire`.
    this.closeSent = true
    this.actor.send({
      type: "CLOSE",
      ...(options?.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
      ...(options?.reason !== undefined ? { reason: options.reason } : {})
    })
    // Nothing in flight: the drain is over at once.
    if (this.outbound.requests?.getSnapshot().value === "idle") this.actor.send({ type: "REQUESTS_IDLE" })
    this.notifyListeners()
    await this.ended
  }

  /** The chart's `releaseWire`: cancel what is left in flight, end the subscriptions, close the wire. */
  private releaseWire(reason: string): void {
    this.outbound.cancelAll(reason)
    for (const s of [...this.subscriptions]) s.close()
    void this.wire.close()
  }
}

