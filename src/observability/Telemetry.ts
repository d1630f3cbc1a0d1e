/**
 * OpenTelemetry for MCP sessions, following the MCP semantic conventions
 * (`semconv.ts`): a SERVER span per handled request, a CLIENT span per outgoing
 * request, a span per session whose chart transitions are span events, the four
 * duration histograms, and Prometheus text for `/metrics`.
 *
 * Spans are Effect `Tracer.Span`s made directly through a `Tracer.Tracer`
 * (`effect/observability`'s OTLP tracer by default, see `otlp.ts`), so the plain
 * (Promise) runtime needs no fiber to emit them. Metrics are Effect `Metric`s in
 * a registry of their own, rendered by `PrometheusMetrics.formatUnsafe`.
 *
 * Opt-in and free when off: servers and clients call in only when a
 * `Telemetry` was given (one property check on the hot path).
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { Context, Exit, Metric, Option, Tracer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import type { AnyActorRef } from "xstate"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import { McpError, type RpcErrorObject } from "../protocol/errors.ts"
import type { JsonRpcRequest, Params, RequestId } from "../protocol/jsonrpc.ts"
import { type InspectionEvent, type InspectionSubscription, inspection } from "../runtime/inspection.ts"
import type { SessionEnd, SessionHandle, SessionInfo } from "../runtime/SessionHandle.ts"
import { InputRequiredSignal } from "../server/InputRequiredSignal.ts"
import type { RequestContext, ServerRequestOptions } from "../server/RequestContext.ts"
import { ServerRequestShorthands } from "../server/session/ServerRequestShorthands.ts"
import * as S from "./semconv.ts"
import { formatTraceparent, readTraceContext, type RemoteParent, withTraceContext } from "./traceContext.ts"

type Result = { readonly [key: string]: unknown }
type MaybePromise<A> = A | PromiseLike<A>
type Side = "server" | "client"

/** How a `Telemetry` records: where spans go, sampling, and what it may record. */
export interface TelemetryOptions {
  /**
   * Where spans go: any Effect tracer (`makeOtlpTelemetry` passes the OTLP/HTTP one;
   * tests pass an in-memory one). Without it no spans are made, only metrics.
   */
  readonly tracer?: Tracer.Tracer
  /** Record the tool call's arguments on its spans (`gen_ai.tool.call.arguments`). Default false: they may hold secrets. */
  readonly recordArguments?: boolean
  /**
   * Share of new traces that are recorded (head sampling), 0..1. Default 1. A span that
   * continues a remote parent follows the parent's sampled flag, and passes its own on.
   */
  readonly sampleRatio?: number
  /**
   * Most series kept per group (operation histograms; the other metrics). Method names, tool
   * names and error codes come partly from peers: past the cap new ones share an `_OTHER` series.
   * Default 2000.
   */
  readonly maxSeries?: number
  /** The registry the metrics live in (an OTLP metrics exporter may read it too). Default: a new one. */
  readonly metricRegistry?: Metric.MetricRegistry
  /** Flush and stop the exporter (set by `makeOtlpTelemetry`). */
  readonly onClose?: () => Promise<void>
  /** Export what is buffered now (set by `makeOtlpTelemetry`). */
  readonly onFlush?: () => Promise<void>
}

/** A span being handled in this async context: client requests made inside it become its children. */
interface Frame {
  readonly span: Tracer.Span
  readonly tracestate: string | undefined
}

// Epoch nanoseconds with sub-millisecond resolution (Effect spans take bigint times).
const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
const nowNs = (): bigint => origin + process.hrtime.bigint()
const seconds = (fromNs: bigint, toNs: bigint): number => Number(toNs - fromNs) / 1e9

const isThenable = <A>(v: MaybePromise<A>): v is PromiseLike<A> =>
  typeof v === "object" && v !== null && typeof (v as PromiseLike<A>).then === "function"

/** How an operation ended, in the conventions' terms. */
interface Outcome {
  readonly errorType: string | undefined
  readonly statusCode: string | undefined
  readonly error: unknown
}
const OK: Outcome = { errorType: undefined, statusCode: undefined, error: undefined }

const resultOutcome = (r: Result): Outcome =>
  r.isError === true ? { errorType: S.TOOL_ERROR, statusCode: undefined, error: new Error("tool_error: the tool reported an error") } : OK

const errorOutcome = (e: unknown): Outcome => {
  // MRTR: asking the client for input is how the request goes on, not a failure.
  if (e instanceof InputRequiredSignal) return OK
  const code = e instanceof McpError ? e.code : typeof (e as { code?: unknown })?.code === "number" ? (e as { code: number }).code : undefined
  if (code !== undefined) return { errorType: String(code), statusCode: String(code), error: e }
  const name = e instanceof Error && e.name !== "Error" ? e.name : "_OTHER"
  return { errorType: name, statusCode: undefined, error: e }
}

/** End a span's outcome when the call settles (its result or its error), passing the settlement on. */
const finishWhenSettled = <R extends Result>(p: Promise<R>, finish: (o: Outcome) => void): Promise<R> =>
  p.then(
    (r) => {
      finish(resultOutcome(r))
      return r
    },
    (e: unknown) => {
      finish(errorOutcome(e))
      throw e
    }
  )

const endSpan = (span: Tracer.Span, outcome: Outcome, end: bigint): void => {
  if (outcome.errorType !== undefined) {
    span.attribute(S.ERROR_TYPE, outcome.errorType)
    if (outcome.statusCode !== undefined) span.attribute(S.RPC_RESPONSE_STATUS_CODE, outcome.statusCode)
    span.end(end, Exit.fail(outcome.error))
  } else span.end(end, Exit.void)
}

/** What a server span of a chart step needs from its session (read after the step). */
export interface StepFacts {
  readonly sessionId: string | undefined
  readonly protocolVersion: string | undefined
  readonly transport: string
}

/** A chart's state value as one string, as sessions report it (`a.b`, parallel regions joined by `|`). */
const flattenValue = (value: unknown, prefix = ""): string => {
  if (typeof value === "string") return prefix + value
  if (typeof value !== "object" || value === null) return prefix + String(value)
  return Object.entries(value as Record<string, unknown>).map(([k, v]) => flattenValue(v, `${prefix}${k}.`)).join("|")
}

/** The facts of a client session a CLIENT span needs (any of our client classes). */
export interface ClientFacts {
  info(): SessionInfo
  /** The MCP session id when the transport has one (Streamable HTTP `Mcp-Session-Id`). */
  readonly sessionId?: string | undefined
  /** The server's URL when the transport dials one (HTTP, WebSocket): `server.address`, `server.port`. */
  readonly serverUrl?: URL | undefined
}

/** `server.address` and `server.port` of a CLIENT span, from the URL its client dials. */
const serverAttributes = (span: Tracer.Span, session: ClientFacts): void => {
  const url = session.serverUrl
  if (url === undefined) return
  // An IPv6 literal is bracketed in a URL, not in `server.address`.
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  span.attribute(S.SERVER_ADDRESS, host)
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" || url.protocol === "wss:" ? 443 : 80
  span.attribute(S.SERVER_PORT, port)
}

const DURATION_HELP = {
  [S.MCP_SERVER_OPERATION_DURATION]: "Duration of an MCP request as observed by the server (seconds).",
  [S.MCP_CLIENT_OPERATION_DURATION]: "Duration of an MCP request as observed by the client (seconds).",
  [S.MCP_SERVER_SESSION_DURATION]: "Duration of an MCP session as observed by the server (seconds).",
  [S.MCP_CLIENT_SESSION_DURATION]: "Duration of an MCP session as observed by the client (seconds)."
} as const
type DurationName = keyof typeof DURATION_HELP

const OVERFLOW = "_OTHER"

const SESSIONS = "mcp_actors_sessions"
const TRANSITIONS = "mcp_actors_session_transitions_total"
const ERRORS = "mcp_actors_errors_total"

/**
 * The duration histograms' unit, as Effect's OTLP exporter takes it: from a `unit` attribute (it has no
 * unit option), which it also sends with each data point; its Prometheus text leaves it out (the names
 * carry `_seconds`).
 */
const SECONDS = "s"

/** Prometheus names: OTel's `.`→`_` mapping plus the unit suffix of the duration histograms. */
const prometheusName = (id: string): string => (Object.hasOwn(DURATION_HELP, id) ? `${id}_seconds` : id)

/** A session being watched: its span (when tracing), its last state, and how to stop watching. */
interface WatchedSession {
  /** Its key in `live` (a number: the session itself as a key stayed reachable from the table's dropped storage). */
  readonly key: number
  readonly side: Side
  state: string
  /** The last state each of its charts (the session's, its keepalive's) was seen in by a transition event. */
  chartStates: Map<AnyActorRef, string> | undefined
  /** Transitions taken before it was known to be a session (a legacy server session's first step): replayed onto its span. */
  early: Array<readonly [bigint, Record<string, unknown>]> | undefined
  /** Known to be a session (client, or a legacy-era server session): it gets a span and a duration. */
  stateful: boolean
  span: Tracer.Span | undefined
  readonly startNs: bigint
}

/**
 * The telemetry of one process (or one server/client group): give it to
 * `new McpServer({ telemetry })`, the clients' `telemetry` option and
 * `makeHttpServer(…, { metrics })`. Without a tracer it records metrics only.
 *
 * @example
 * ```ts
 * import { makeHttpServer, makeOtlpTelemetry, McpServer } from "mcp-actors"
 *
 * const telemetry = await makeOtlpTelemetry({ url: "http://127.0.0.1:4318", serviceName: "notes" })
 * const server = new McpServer({ name: "notes", version: "1.0.0", telemetry })
 * const http = await makeHttpServer(server, { port: 3000, metrics: telemetry }) // GET /metrics: Prometheus text
 * // … at shutdown:
 * await http.close()
 * await telemetry.close() // flushes the spans still buffered
 * ```
 */
export class Telemetry {
  readonly tracer: Tracer.Tracer | undefined
  private readonly recordArguments: boolean
  private readonly sampleRatio: number
  private readonly maxSeries: number
  private readonly options: TelemetryOptions
  /** Metrics live in this context's registry, not Effect's process-wide default. */
  readonly metricsContext: Context.Context<never>
  private readonly series = new Map<string, Metric.Metric<number, unknown>>()
  /** The operation histograms' series by their attribute values (the hot path's lookup). */
  private readonly operations = new Map<string, Metric.Metric<number, unknown>>()
  /**
   * Stateful sessions being watched, by their `key`. These per-session tables are `ClearingMap`s: they live as
   * long as the telemetry and see every session come and go, and a `Map`'s dropped hash tables kept ended
   * sessions reachable for the young GC (`src/protocol/ClearingMap.ts`).
   */
  private readonly live = new ClearingMap<number, WatchedSession>()
  private nextKey = 0
  /** States ever seen per side (their gauge stays, at 0, once empty). */
  private readonly seenStates = new Set<string>()
  private readonly sessionSpans = new ClearingMap<string, Tracer.Span>()
  private readonly frames = new AsyncLocalStorage<Frame>()
  /** Set while `clientRequest` calls back into the client: that inner call is the plain one. */
  private inside = false
  /** The CLIENT span of the request being sent by that inner call: {@link requestSent} gives it the id the client minted. */
  private sending: Tracer.Span | undefined
  /** Sessions with a span, by their chart actor's id: the chart's transitions (inspection microsteps) become span events. */
  private readonly spansByActor = new ClearingMap<string, WatchedSession>()
  /** The inspection hub, for microsteps only (while tracing). */
  private hub: InspectionSubscription | undefined
  /** The request whose chart step is running (`serverStep`), and its outcome so far. */
  private stepping: { readonly id: RequestId; outcome: Outcome } | undefined

  constructor(options: TelemetryOptions = {}) {
    this.options = options
    this.tracer = options.tracer
    this.recordArguments = options.recordArguments === true
    this.sampleRatio = Math.min(1, Math.max(0, options.sampleRatio ?? 1))
    this.maxSeries = options.maxSeries ?? 2_000
    this.metricsContext = Context.make(Metric.MetricRegistry, options.metricRegistry ?? new Map())
    // Every transition, self-transitions included, as the chart takes it (`subscribe` only sees
    // snapshots, so a transition back to the same state would be missed). Actors made from now on
    // report through the hub; while nobody else listens it hands over microsteps alone.
    if (this.tracer !== undefined) this.hub = inspection.subscribe((e) => this.onMicrostep(e), { kinds: ["@xstate.microstep"] })
  }

  // ------------------------------------------------------------ server

  /**
   * Handle one request under a SERVER span (child of the client's span when its
   * `_meta` carries a `traceparent`) and record `mcp.server.operation.duration`.
   * `run` gets a context whose server→client requests carry this span's context.
   */
  serverRequest(request: JsonRpcRequest, ctx: RequestContext, run: (ctx: RequestContext) => MaybePromise<Result>): MaybePromise<Result> {
    const start = nowNs()
    const method = request.method
    const target = S.targetOf(method, request.params)
    const transport = ctx.transport
    let span: Tracer.Span | undefined
    let traced = ctx
    let remote: RemoteParent | undefined
    const tracer = this.tracer
    if (tracer !== undefined) {
      remote = readTraceContext(ctx.meta)
      span = this.openServerSpan(tracer, request, target, remote, start, ctx)
      traced = new TracedContext(ctx, this, { span, tracestate: remote?.tracestate })
    }
    const finish = (outcome: Outcome) => {
      const end = nowNs()
      if (span !== undefined) endSpan(span, outcome, end)
      this.operation("server", method, target, outcome, ctx.protocolVersion, transport, seconds(start, end))
    }
    let out: MaybePromise<Result>
    try {
      out = span === undefined ? run(traced) : this.frames.run({ span, tracestate: remote?.tracestate }, run, traced)
    } catch (e) {
      finish(errorOutcome(e))
      throw e
    }
    if (!isThenable(out)) {
      finish(resultOutcome(out))
      return out
    }
    return finishWhenSettled(Promise.resolve(out), finish)
  }

  /**
   * A request the session answers within a chart step or at once, not through a handler
   * (`initialize`, `ping`, `server/discover`): a SERVER span around `run`, and
   * `mcp.server.operation.duration`. `facts` are read after the step (the negotiated version).
   * A refusal inside the step is reported with {@link serverStepFailed}.
   */
  serverStep(request: JsonRpcRequest, facts: () => StepFacts, run: () => void): void {
    const start = nowNs()
    const method = request.method
    const tracer = this.tracer
    let span: Tracer.Span | undefined
    if (tracer !== undefined) {
      const remote = readTraceContext(request.params?._meta)
      span = tracer.span({
        name: method,
        parent: remote === undefined ? Option.none() : Option.some(Tracer.externalSpan(remote)),
        annotations: Context.empty(),
        links: [],
        startTime: start,
        kind: "server",
        root: remote === undefined,
        sampled: remote?.sampled ?? this.sampleRoot()
      })
    }
    const outer = this.stepping
    const step = this.stepping = { id: request.id, outcome: OK }
    try {
      run()
    } catch (e) {
      step.outcome = errorOutcome(e)
      throw e
    } finally {
      this.stepping = outer
      const f = facts()
      const end = nowNs()
      if (span !== undefined) {
        this.requestAttributes(span, method, undefined, request.params, f.protocolVersion, f.transport)
        span.attribute(S.JSONRPC_REQUEST_ID, String(request.id))
        if (f.sessionId !== undefined) span.attribute(S.MCP_SESSION_ID, f.sessionId)
        endSpan(span, step.outcome, end)
      }
      this.operation("server", method, undefined, step.outcome, f.protocolVersion, f.transport, seconds(start, end))
    }
  }

  /** A request's SERVER span: child of the client's span (`remote`), linked to the session's span, with the request's attributes. */
  private openServerSpan(
    tracer: Tracer.Tracer,
    request: JsonRpcRequest,
    target: string | undefined,
    remote: RemoteParent | undefined,
    start: bigint,
    facts: { readonly sessionId?: string | undefined; readonly protocolVersion?: string | undefined; readonly transport: string }
  ): Tracer.Span {
    const method = request.method
    const session = facts.sessionId === undefined ? undefined : this.sessionSpans.get(facts.sessionId)
    const span = tracer.span({
      name: target === undefined ? method : `${method} ${target}`,
      parent: remote === undefined ? Option.none() : Option.some(Tracer.externalSpan(remote)),
      annotations: Context.empty(),
      // The session span is another trace's root: linked, not a parent (the client's span is).
      links: session === undefined ? [] : [{ span: session, attributes: {} }],
      startTime: start,
      kind: "server",
      root: remote === undefined,
      sampled: remote?.sampled ?? this.sampleRoot()
    })
    this.requestAttributes(span, method, target, request.params, facts.protocolVersion, facts.transport)
    span.attribute(S.JSONRPC_REQUEST_ID, String(request.id))
    if (facts.sessionId !== undefined) span.attribute(S.MCP_SESSION_ID, facts.sessionId)
    return span
  }

  /**
   * A request refused before any handler ran (its method's capability is not declared, or its era
   * removed it): a SERVER span that ends at once with the error (`error.type` and
   * `rpc.response.status_code` the JSON-RPC code), and `mcp.server.operation.duration`.
   */
  serverRefused(request: JsonRpcRequest, facts: StepFacts, error: RpcErrorObject): void {
    const start = nowNs()
    const method = request.method
    const target = S.targetOf(method, request.params)
    const outcome: Outcome = { errorType: String(error.code), statusCode: String(error.code), error: new Error(error.message) }
    const tracer = this.tracer
    if (tracer !== undefined) {
      endSpan(this.openServerSpan(tracer, request, target, readTraceContext(request.params?._meta), start, facts), outcome, nowNs())
    }
    this.operation("server", method, target, outcome, facts.protocolVersion, facts.transport, seconds(start, nowNs()))
  }

  /** The chart refused the request of the running {@link serverStep} with a JSON-RPC error. */
  serverStepFailed(id: RequestId, code: number, message: string): void {
    const step = this.stepping
    if (step !== undefined && step.id === id) step.outcome = { errorType: String(code), statusCode: String(code), error: new Error(message) }
  }

  // ------------------------------------------------------------ client

  /**
   * A request the client's chart sends itself (`initialize`, the keepalive's `ping`): a CLIENT span
   * whose context goes in the returned params; call `end` with the outcome when the answer comes, or
   * with the error when it will not (a keepalive ping that timed out, a session that closed first).
   * Only the first `end` counts: a late answer after a timeout does not end the span again.
   */
  clientStep(session: ClientFacts, id: RequestId, method: string, params: Params | undefined): { readonly params: Params | undefined; end(error?: unknown): void } {
    const start = nowNs()
    const info = session.info()
    const tracer = this.tracer
    let span: Tracer.Span | undefined
    let sendParams = params
    if (tracer !== undefined) {
      span = tracer.span({ name: method, parent: Option.none(), annotations: Context.empty(), links: [], startTime: start, kind: "client", root: true, sampled: this.sampleRoot() })
      sendParams = withTraceContext(params, formatTraceparent(span.traceId, span.spanId, span.sampled), undefined)
    }
    let ended = false
    return {
      params: sendParams,
      end: (error?: unknown) => {
        if (ended) return
        ended = true
        const outcome = error === undefined ? OK : errorOutcome(error)
        const after = session.info()
        const end = nowNs()
        if (span !== undefined) {
          this.requestAttributes(span, method, undefined, params, after.protocolVersion, after.transport)
          span.attribute(S.JSONRPC_REQUEST_ID, String(id))
          const sessionId = session.sessionId
          if (typeof sessionId === "string") span.attribute(S.MCP_SESSION_ID, sessionId)
          serverAttributes(span, session)
          endSpan(span, outcome, end)
        }
        this.operation("client", method, undefined, outcome, after.protocolVersion ?? info.protocolVersion, after.transport, seconds(start, end))
      }
    }
  }

  /** True while the client's own (untraced) `request` is being called back: the client's hook lets it through. */
  get passThrough(): boolean {
    return this.inside
  }

  /**
   * Send one request under a CLIENT span: its `traceparent` (and the parent's
   * `tracestate`) go in `params._meta`; `mcp.client.operation.duration` is recorded.
   * The parent is the span being handled in this async context (a gateway's server
   * span), if any.
   */
  clientRequest(session: ClientFacts, method: string, params: Params | undefined, send: (params: Params | undefined) => Promise<Result>): Promise<Result> {
    const start = nowNs()
    const target = S.targetOf(method, params)
    const info = session.info()
    const protocolVersion = info.protocolVersion
    let span: Tracer.Span | undefined
    let sendParams: Params | undefined = params
    const tracer = this.tracer
    if (tracer !== undefined) {
      const parent = this.frames.getStore()
      span = tracer.span({
        name: target === undefined ? method : `${method} ${target}`,
        parent: parent === undefined ? Option.none() : Option.some(parent.span),
        annotations: Context.empty(),
        links: [],
        startTime: start,
        kind: "client",
        root: parent === undefined,
        sampled: parent?.span.sampled ?? this.sampleRoot()
      })
      this.requestAttributes(span, method, target, params, protocolVersion, info.transport)
      const sessionId = session.sessionId
      if (typeof sessionId === "string") span.attribute(S.MCP_SESSION_ID, sessionId)
      serverAttributes(span, session)
      sendParams = withTraceContext(params, formatTraceparent(span.traceId, span.spanId, span.sampled), parent?.tracestate)
    }
    const finish = (outcome: Outcome) => {
      const end = nowNs()
      if (span !== undefined) endSpan(span, outcome, end)
      this.operation("client", method, target, outcome, protocolVersion, info.transport, seconds(start, end))
    }
    let sent: Promise<Result>
    const outer = this.sending
    this.inside = true
    this.sending = span
    try {
      sent = send(sendParams)
    } catch (e) {
      finish(errorOutcome(e))
      throw e
    } finally {
      this.inside = false
      this.sending = outer
    }
    return finishWhenSettled(sent, finish)
  }

  /**
   * The client minted `id` for the request {@link clientRequest} is sending (called by the client
   * right after minting it, only when it has a telemetry): the CLIENT span gets `jsonrpc.request.id`,
   * the id on the wire. Only the first id counts: a 2026-07-28 retry or input round, sent later under
   * a new id, is the same operation (its span keeps the first id).
   */
  requestSent(id: RequestId): void {
    const span = this.sending
    if (span === undefined) return
    this.sending = undefined
    span.attribute(S.JSONRPC_REQUEST_ID, String(id))
  }

  /**
   * A server→client request made while handling `frame`'s request (sampling,
   * elicitation, roots): a CLIENT span, child of the server span, whose context
   * travels in the request's `_meta`.
   */
  outgoingFromServer(frame: Frame, ctx: RequestContext, method: string, params: Params | undefined, send: (params: Params) => Promise<Result>): Promise<Result> {
    const start = nowNs()
    const span = this.tracer!.span({
      name: method,
      parent: Option.some(frame.span),
      annotations: Context.empty(),
      links: [],
      startTime: start,
      kind: "client",
      root: false,
      sampled: frame.span.sampled
    })
    this.requestAttributes(span, method, undefined, params, ctx.protocolVersion, ctx.transport)
    if (ctx.sessionId !== undefined) span.attribute(S.MCP_SESSION_ID, ctx.sessionId)
    const traced = withTraceContext(params, formatTraceparent(span.traceId, span.spanId, span.sampled), frame.tracestate)
    // The session mints the request's id inside `send` and reports it (`requestSent`).
    const outer = this.sending
    this.sending = span
    let sent: Promise<Result>
    try {
      sent = send(traced)
    } finally {
      this.sending = outer
    }
    return sent.then(
      (r) => {
        endSpan(span, OK, nowNs())
        return r
      },
      (e) => {
        endSpan(span, errorOutcome(e), nowNs())
        throw e
      }
    )
  }

  /** Head sampling of a new trace. */
  private sampleRoot(): boolean {
    return this.sampleRatio >= 1 || (this.sampleRatio > 0 && Math.random() < this.sampleRatio)
  }

  private requestAttributes(span: Tracer.Span, method: string, target: string | undefined, params: Params | undefined, version: string | undefined, transport: string): void {
    span.attribute(S.MCP_METHOD_NAME, method)
    if (version !== undefined) span.attribute(S.MCP_PROTOCOL_VERSION, version)
    const network = S.networkTransportOf(transport)
    if (network !== undefined) span.attribute(S.NETWORK_TRANSPORT, network)
    const protocol = S.networkProtocolOf(transport)
    if (protocol !== undefined) span.attribute(S.NETWORK_PROTOCOL_NAME, protocol)
    if (method === "tools/call" && target !== undefined) {
      span.attribute(S.GEN_AI_TOOL_NAME, target)
      span.attribute(S.GEN_AI_OPERATION_NAME, "execute_tool")
      if (this.recordArguments && params?.arguments !== undefined) span.attribute(S.GEN_AI_TOOL_CALL_ARGUMENTS, safeJson(params.arguments))
    } else if (method === "prompts/get" && target !== undefined) span.attribute(S.GEN_AI_PROMPT_NAME, target)
    else if ((method === "resources/read" || method === "resources/subscribe" || method === "resources/unsubscribe") && typeof params?.uri === "string") {
      span.attribute(S.MCP_RESOURCE_URI, params.uri)
    }
  }

  // ------------------------------------------------------------ sessions

  /**
   * Watch a session until it ends: the live gauge by state, a transition counter,
   * and (when tracing) a span from its start to its end with one event per
   * transition. A server session's span starts once it is known to be stateful
   * (legacy era): a 2026-07-28 request has no session.
   */
  observeSession(side: Side, session: SessionHandle): void {
    const first = session.info()
    const watched: WatchedSession = { key: this.nextKey = (this.nextKey + 1) & 0x3fffffff, side, state: first.state, chartStates: undefined, early: undefined, stateful: false, span: undefined, startNs: BigInt(first.startedAt) * 1_000_000n }
    // Its chart's transitions are span events; those before its span exists wait in `early`.
    if (this.tracer !== undefined) this.spansByActor.set(session.id, watched)
    if (side === "client" || first.era === "legacy") this.becameStateful(session, watched, first)
    // Only a stateful session is held here (`live`): a per-request 2026-07-28 exchange is never
    // released as a session, and is referenced only from its own listener set (collected with it).
    const unsubscribe = session.subscribe((info) => {
      if (!watched.stateful && info.era === "legacy") this.becameStateful(session, watched, info)
      if (info.state === watched.state) return
      const from = watched.state
      watched.state = info.state
      if (!watched.stateful) return
      this.seenStates.add(`${side}\u0000${info.state}`)
      this.counter(TRANSITIONS, "Chart transitions that changed a session's state.", { side, state: info.state }).updateUnsafe(1, this.metricsContext)
      // The span's transition events come from the chart itself (onMicrostep).
      void from
      const span = watched.span
      if (span === undefined) return
      if (info.protocolVersion !== undefined && !span.attributes.has(S.MCP_PROTOCOL_VERSION)) span.attribute(S.MCP_PROTOCOL_VERSION, info.protocolVersion)
    })
    void session.ended.then((end) => {
      unsubscribe()
      this.live.deleteIf(watched.key, watched)
      if (this.spansByActor.get(session.id) === watched) this.spansByActor.delete(session.id)
      if (watched.stateful) this.sessionEnded(session, watched, end)
    })
  }

  private becameStateful(session: SessionHandle, watched: WatchedSession, info: SessionInfo): void {
    watched.stateful = true
    this.live.set(watched.key, watched)
    this.seenStates.add(`${watched.side}\u0000${watched.state}`)
    const tracer = this.tracer
    if (tracer === undefined) return
    const span = watched.span = tracer.span({
      name: `mcp.${watched.side}.session`,
      parent: Option.none(),
      annotations: Context.empty(),
      links: [],
      startTime: watched.startNs,
      kind: watched.side,
      root: true,
      sampled: true
    })
    if (watched.side === "server") {
      span.attribute(S.MCP_SESSION_ID, session.id)
      this.sessionSpans.set(session.id, span)
    } else if (typeof (session as { sessionId?: unknown }).sessionId === "string") {
      span.attribute(S.MCP_SESSION_ID, (session as unknown as { sessionId: string }).sessionId)
    }
    span.attribute("mcp_actors.session.handle", session.id)
    if (info.protocolVersion !== undefined) span.attribute(S.MCP_PROTOCOL_VERSION, info.protocolVersion)
    const network = S.networkTransportOf(info.transport)
    if (network !== undefined) span.attribute(S.NETWORK_TRANSPORT, network)
    // The state it started in, then the transitions it took before it was known to be a session.
    span.event("mcp.session.transition", watched.startNs, { "mcp.session.state": watched.state })
    for (const [t, attributes] of watched.early ?? []) span.event("mcp.session.transition", t, attributes)
    watched.early = undefined
  }

  /**
   * A chart microstep: each transition between states it took (a self-transition included;
   * a handler with no target only runs actions) is an event on its session's span. The
   * keepalive runs as the client session's child chart: its transitions are the session's too.
   */
  private onMicrostep(e: InspectionEvent): void {
    if (this.spansByActor.size === 0) return
    const ref = e.actorRef as AnyActorRef & { readonly _parent?: AnyActorRef }
    let watched = this.spansByActor.get(ref.id)
    let chart: string | undefined
    if (watched === undefined) {
      if (ref.id !== "keepalive" || ref._parent === undefined) return
      watched = this.spansByActor.get(ref._parent.id)
      if (watched === undefined) return
      chart = "keepalive"
    }
    const span = watched.span
    if (span === undefined && (watched.stateful || (watched.early?.length ?? 0) >= 32)) return
    const step = e as unknown as {
      readonly event: { readonly type: string }
      readonly snapshot: { readonly value?: unknown }
      readonly _transitions?: ReadonlyArray<{ readonly target?: ReadonlyArray<{ readonly id: string }>; readonly source: { readonly id: string } }>
    }
    const transitions = step._transitions
    if (transitions === undefined) return
    const states = watched.chartStates ??= new Map()
    for (const t of transitions) {
      if (t.target === undefined || t.target.length === 0) continue
      const state = chart === undefined ? flattenValue(step.snapshot.value) : `${chart}.${flattenValue(step.snapshot.value)}`
      const previous = states.get(ref) ?? (chart === undefined ? watched.state : undefined)
      states.set(ref, state)
      const attributes: Record<string, unknown> = { "mcp.session.state": state, "mcp_actors.transition.event": step.event.type }
      if (previous !== undefined) attributes["mcp.session.state.previous"] = previous
      if (t.target.length === 1 && t.target[0]!.id === t.source.id) attributes["mcp_actors.transition.self"] = true
      if (span !== undefined) span.event("mcp.session.transition", nowNs(), attributes)
      else (watched.early ??= []).push([nowNs(), attributes])
    }
  }

  private sessionEnded(session: SessionHandle, watched: WatchedSession, end: SessionEnd): void {
    const endNs = nowNs()
    const errorType = end.expected ? undefined : "session_lost"
    if (errorType !== undefined) this.counter(ERRORS, "Operations and sessions that ended with an error.", { side: watched.side, "error.type": errorType }).updateUnsafe(1, this.metricsContext)
    const span = watched.span
    if (span !== undefined) {
      this.sessionSpans.delete(session.id)
      span.attribute("mcp_actors.session.end_reason", end.reason)
      endSpan(span, errorType === undefined ? OK : { errorType, statusCode: undefined, error: new Error(end.reason) }, endNs)
    }
    // Only stateful sessions get here (a per-request 2026-07-28 exchange is an operation).
    // The session histograms' attributes: the version it spoke, its transport, how it ended.
    const info = session.info()
    const attrs: Record<string, string> = { unit: SECONDS }
    if (info.protocolVersion !== undefined) attrs[S.MCP_PROTOCOL_VERSION] = info.protocolVersion
    this.networkAttributes(attrs, info.transport)
    if (errorType !== undefined) attrs[S.ERROR_TYPE] = errorType
    const name = watched.side === "server" ? S.MCP_SERVER_SESSION_DURATION : S.MCP_CLIENT_SESSION_DURATION
    this.histogram(name, attrs).updateUnsafe(seconds(watched.startNs, endNs), this.metricsContext)
  }

  // ------------------------------------------------------------ metrics

  private operation(side: Side, method: string, target: string | undefined, outcome: Outcome, version: string | undefined, transport: string, duration: number): void {
    const errorType = outcome.errorType
    // The series key is built from the values alone; the attribute object only for a new series.
    const key = `${side}\u0000${method}\u0000${target ?? ""}\u0000${version ?? ""}\u0000${transport}\u0000${errorType ?? ""}\u0000${outcome.statusCode ?? ""}`
    let metric = this.operations.get(key)
    if (metric === undefined && this.operations.size >= this.maxSeries && method !== OVERFLOW) {
      // Method and tool names come from the peer: past the cap, new combinations share one series.
      return this.operation(side, OVERFLOW, undefined, errorType === undefined ? OK : { ...outcome, errorType: OVERFLOW, statusCode: undefined }, undefined, "", duration)
    }
    if (metric === undefined) {
      // The attributes the conventions list for the operation histograms (docs/observability.md).
      const attrs: Record<string, string> = { [S.MCP_METHOD_NAME]: method, unit: SECONDS }
      if (target !== undefined) attrs[method === "tools/call" ? S.GEN_AI_TOOL_NAME : S.GEN_AI_PROMPT_NAME] = target
      if (method === "tools/call" && target !== undefined) attrs[S.GEN_AI_OPERATION_NAME] = "execute_tool"
      if (version !== undefined) attrs[S.MCP_PROTOCOL_VERSION] = version
      this.networkAttributes(attrs, transport)
      if (errorType !== undefined) attrs[S.ERROR_TYPE] = errorType
      if (outcome.statusCode !== undefined) attrs[S.RPC_RESPONSE_STATUS_CODE] = outcome.statusCode
      const name = side === "server" ? S.MCP_SERVER_OPERATION_DURATION : S.MCP_CLIENT_OPERATION_DURATION
      metric = Metric.withAttributes(Metric.histogram(name, { description: DURATION_HELP[name], boundaries: S.DURATION_BUCKETS }), attrs)
      this.operations.set(key, metric)
    }
    metric.updateUnsafe(duration, this.metricsContext)
    if (errorType !== undefined) {
      this.counter(ERRORS, "Operations and sessions that ended with an error.", { side, "error.type": errorType }).updateUnsafe(1, this.metricsContext)
    }
  }

  /** `network.transport` and `network.protocol.name` of a transport kind, when it has them. */
  private networkAttributes(attrs: Record<string, string>, transport: string): void {
    const network = S.networkTransportOf(transport)
    if (network !== undefined) attrs[S.NETWORK_TRANSPORT] = network
    const protocol = S.networkProtocolOf(transport)
    if (protocol !== undefined) attrs[S.NETWORK_PROTOCOL_NAME] = protocol
  }

  private histogram(name: DurationName, attrs: Record<string, string>): Metric.Metric<number, unknown> {
    return this.seriesOf(name, attrs, () => Metric.histogram(name, { description: DURATION_HELP[name], boundaries: S.DURATION_BUCKETS }))
  }

  private counter(name: string, description: string, attrs: Record<string, string>): Metric.Metric<number, unknown> {
    return this.seriesOf(name, attrs, () => Metric.counter(name, { description, incremental: true }))
  }

  /** One metric object per series, made once: Effect caches the series key on it. */
  private seriesOf(name: string, attrs: Record<string, string>, make: () => Metric.Metric<number, unknown>): Metric.Metric<number, unknown> {
    let key = name
    for (const k in attrs) key += `\u0000${k}\u0000${attrs[k]}`
    let metric = this.series.get(key)
    if (metric === undefined && this.series.size >= this.maxSeries) {
      // Error codes and states can come from the peer: past the cap, every label of a new series is "_OTHER".
      const other: Record<string, string> = {}
      for (const k in attrs) other[k] = OVERFLOW
      let overflowKey = name
      for (const k in other) overflowKey += `\u0000${k}\u0000${OVERFLOW}`
      metric = this.series.get(overflowKey)
      if (metric !== undefined) return metric
      key = overflowKey
      attrs = other
    }
    if (metric === undefined) {
      metric = Metric.withAttributes(make(), attrs)
      this.series.set(key, metric)
    }
    return metric
  }

  /** Live sessions per side and state, counted now (for the gauge). */
  liveSessions(): ReadonlyMap<string, number> {
    const counts = new Map<string, number>()
    for (const key of this.seenStates) counts.set(key, 0)
    for (const w of this.live.values()) {
      const key = `${w.side}\u0000${w.state}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return counts
  }

  /** The metrics in the Prometheus text exposition format (version 0.0.4), for `/metrics`. */
  prometheus(): string {
    for (const [key, n] of this.liveSessions()) {
      const [side, state] = key.split("\u0000") as [string, string]
      this.seriesOf(SESSIONS, { side, state }, () => Metric.gauge(SESSIONS, { description: "Live MCP sessions by side and chart state." }))
        .updateUnsafe(n, this.metricsContext)
    }
    return PrometheusMetrics.formatUnsafe(this.metricsContext, { metricNameMapper: prometheusName })
  }

  /** Export what is buffered now (OTLP); resolves when done. */
  flush(): Promise<void> {
    return this.options.onFlush?.() ?? Promise.resolve()
  }

  /** Flush and stop exporting (and stop listening to the charts). */
  close(): Promise<void> {
    this.hub?.()
    this.hub = undefined
    return this.options.onClose?.() ?? Promise.resolve()
  }
}

/** Prometheus `Content-Type` of `Telemetry.prometheus()`. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const safeJson = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? ""
  } catch {
    return "[unserializable]"
  }
}

/**
 * The handler's context under a server span: its server→client requests carry
 * the span's trace context (and get a CLIENT span each). Everything else is the
 * session's own context.
 */
class TracedContext extends ServerRequestShorthands implements RequestContext {
  readonly #ctx: RequestContext
  readonly #telemetry: Telemetry
  readonly #frame: Frame
  constructor(ctx: RequestContext, telemetry: Telemetry, frame: Frame) {
    super()
    this.#ctx = ctx
    this.#telemetry = telemetry
    this.#frame = frame
  }
  get requestId() { return this.#ctx.requestId }
  get method() { return this.#ctx.method }
  get era() { return this.#ctx.era }
  get protocolVersion() { return this.#ctx.protocolVersion }
  get sessionId() { return this.#ctx.sessionId }
  get identity() { return this.#ctx.identity }
  get transport() { return this.#ctx.transport }
  get clientCapabilities() { return this.#ctx.clientCapabilities }
  get clientInfo() { return this.#ctx.clientInfo }
  get signal() { return this.#ctx.signal }
  get meta() { return this.#ctx.meta }
  get inputResponses() { return this.#ctx.inputResponses }
  get requestState() { return this.#ctx.requestState }
  get logLevel() { return this.#ctx.logLevel }
  closeSSEStream(): boolean {
    return this.#ctx.closeSSEStream()
  }
  progress(progress: number, total?: number, message?: string): void {
    this.#ctx.progress(progress, total, message)
  }
  log(...args: Parameters<RequestContext["log"]>): void {
    this.#ctx.log(...args)
  }
  inputRequired(input: Parameters<RequestContext["inputRequired"]>[0]): never {
    return this.#ctx.inputRequired(input)
  }
  request(method: string, params?: Params, options?: ServerRequestOptions): Promise<Result> {
    // 2026-07-28 input requests are not JSON-RPC requests (MRTR): nothing goes on the wire to trace.
    if (this.#ctx.era === "modern") return this.#ctx.request(method, params, options)
    return this.#telemetry.outgoingFromServer(this.#frame, this.#ctx, method, params, (p) => this.#ctx.request(method, p, options))
  }
}
