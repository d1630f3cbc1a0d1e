/**
 * The gateway: the host's catalog served as one MCP server (our `McpServer`,
 * so both eras and every transport), plus `/mcp/<server>` over HTTP serving
 * each upstream alone under its original names.
 *
 * A gateway request becomes a host call with the request's context passed
 * through: cancellation (the request's AbortSignal), progress (upstream
 * progress → `ctx.progress`, which also resets the upstream deadline), logs
 * of the call (`ctx.log`), and the upstream server's elicitation, sampling and
 * roots requests, forwarded to the gateway's client through `ctx.elicit` /
 * `ctx.createMessage` / `ctx.listRoots` and answered back upstream.
 *
 * Roots outside a call: an upstream asks for them whenever it likes (an SDK
 * server right after `initialized`), so the gateway is a roots source of the
 * host: a `roots/list` no call takes is answered with the union (by uri) of the
 * roots of the legacy clients attached that declared roots (the aggregate's for
 * every upstream, `/mcp/<server>`'s for that upstream only). When such a client
 * joins, says its roots changed, or leaves, the upstreams it reaches get
 * `notifications/roots/list_changed` (coalesced by the host).
 *
 * The registrations follow the host's `change` events (already coalesced and
 * health-gated), applied with `McpServer.update`: one `list_changed` per list
 * for the gateway's clients.
 *
 * Resource subscriptions: a legacy session's `resources/subscribe` (a modern
 * client's `subscriptions/listen` URIs) becomes a host subscription of its served
 * server (`followSubscriptions`), and each upstream update the sessions' own
 * `notifications/resources/updated`; `resources.subscribe` is advertised when an
 * upstream the endpoint reaches can be subscribed to.
 */
import type { Telemetry } from "../observability/Telemetry.ts"
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { listenHttp } from "../transports/http/listenHttp.ts"
import { type Clock, clockOf, unrefTimer } from "../protocol/clock.ts"
import { type ClientCapabilities, hasCapability, missingClientCapabilityFor } from "../protocol/capabilities.ts"
import { ErrorCode, McpError } from "../protocol/errors.ts"
import type { JsonRpcNotification, Params } from "../protocol/jsonrpc.ts"
import { META_SERVER_INFO } from "../protocol/modern.ts"
import { type InputRequest, inputRequestKey } from "../protocol/mrtr.ts"
import { type Authenticate, closesAfterFlush, type HttpHandler, makeHttpHandler } from "../server/http/HttpServer.ts"
import type { CallGuard, GuardedKind } from "../server/CallGuard.ts"
import { McpServer, type PromptHandler, type ResourceHandler, type ToolHandler } from "../server/McpServer.ts"
import type { RequestContext } from "../server/RequestContext.ts"
import { CapabilityError, ClientCapabilityNotDeclared } from "../server/ServerSession.ts"
import { isLoggingLevel, type CallToolResult, type GetPromptResult, type ReadResourceResult } from "../server/types.ts"
import { makeWsServer, type WsServerHandle } from "../server/ws/WsServer.ts"
import { serveTransport } from "../server/serveTransport.ts"
import { makeStdioServerTransport } from "../transports/stdioServer.ts"
import type { Result } from "../client/ClientSession.ts"
import { listingKnows, type ServerListing } from "./Catalog.ts"
import { hostFailure, protocolFailure, readFailure } from "./gatewayErrors.ts"
import { followSubscriptions } from "./gatewaySubscriptions.ts"
import type { CallOptions, McpHost } from "./McpHost.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import { ROOTS_SOURCE_TIMEOUT_MS, type Root, rootsOf, unionRoots } from "./roots.ts"
import type { ServerSession } from "../server/ServerSession.ts"

export { HOST_ERROR_META } from "./gatewayErrors.ts"
import { decodeSegment, requestUrl } from "../transports/http/requestTarget.ts"

/** Maps a name served by the aggregate to the upstream server and original name behind it. */
export type GatewayRoute = (kind: GuardedKind, name: string) => { readonly server: string; readonly name: string } | undefined

export interface GatewayOptions {
  readonly name?: string
  readonly version?: string
  /**
   * Middleware for every served McpServer (the policy gateway, see `policyGuard`):
   * called with the upstream's name for `/mcp/<server>`, and with undefined plus a
   * route to the owning upstream for the aggregate.
   */
  readonly guard?: (server: string | undefined, route: GatewayRoute | undefined) => CallGuard
  /** OpenTelemetry for the served sessions: a gateway call's span is the parent of its upstream call's. */
  readonly telemetry?: Telemetry
  /** What the MRTR relay timers (`RELAY_TTL_MS`) run on. Default: the host's clock. */
  readonly clock?: Clock
  /**
   * A modern request whose client declared none of elicitation, sampling and roots (and that is no
   * retry) can never be answered `input_required`, so it goes straight to the host, as a legacy one
   * does, without an MRTR relay (default true). False sends every modern request through the relay:
   * tests compare the two (`test/gateway.modern-fastpath.test.ts`).
   */
  readonly modernFastPath?: boolean
  /**
   * The most resource URIs one session of a served server may subscribe to (each may become an
   * upstream subscription of the host): `McpServerOptions.maxSubscriptionsPerSession`, default 1 000.
   */
  readonly maxSubscriptionsPerSession?: number
}

/** An upstream input the gateway's client did not declare: elicitation declined, no roots, sampling refused (both eras). */
const undeclaredInput = (method: string, capability: string): Promise<Result> =>
  method === "elicitation/create" ? Promise.resolve({ action: "decline" })
    : method === "roots/list" ? Promise.resolve({ roots: [] })
    : Promise.reject(ClientCapabilityNotDeclared.of(capability, method))

/** A legacy server→client request refused for an undeclared capability gets the same answer as a modern one. */
const ifUndeclared = (method: string) => (e: unknown): Promise<Result> =>
  e instanceof CapabilityError ? undeclaredInput(method, e.capability) : Promise.reject(e)

/** An upstream log notification, sent through the gateway request `ctx` (its logger defaults to the server's name). */
const logTo = (ctx: RequestContext, server: string | undefined, n: JsonRpcNotification): void => {
  const p = n.params as { level?: unknown; data?: unknown; logger?: unknown } | undefined
  if (p !== undefined && isLoggingLevel(p.level)) ctx.log(p.level, p.data, typeof p.logger === "string" ? p.logger : server)
}

/** Progress and logs of a host call, sent through the gateway request `ctx()` currently serving it. */
const notifications = (ctx: () => RequestContext, server: string | undefined): Pick<CallOptions, "onProgress" | "onLog"> => ({
  onProgress: (p) => ctx().progress(p.progress, p.total, p.message),
  onLog: (n) => logTo(ctx(), server, n)
})

/**
 * The inputs a modern upstream may ask this client for: what it declared, plus roots and elicitation,
 * which the gateway answers itself when undeclared (none, declined). Sampling has no such answer (an
 * MRTR input response is a result, not an error), so an upstream is told of it only when the client
 * declared it: otherwise its tool sees the capability error (-32021) and decides, as a legacy
 * upstream's tool does when the gateway refuses the request.
 */
const answerableInputs = (caps: ClientCapabilities): ClientCapabilities => {
  if (caps.roots !== undefined && caps.elicitation !== undefined) return caps
  // One object per capabilities object (a legacy session's is fixed): the upstream client caches by it.
  let out = answerable.get(caps)
  if (out === undefined) answerable.set(caps, out = { ...caps, roots: caps.roots ?? {}, elicitation: caps.elicitation ?? { form: {}, url: {} } })
  return out
}
const answerable = new WeakMap<ClientCapabilities, ClientCapabilities>()

/** The level asked of the upstream: a modern client's own (none: no logs); a legacy session's, every level when it set none. */
const upstreamLogLevel = (ctx: RequestContext): string | undefined => (ctx.era === "modern" ? ctx.logLevel : ctx.logLevel ?? "debug")

/**
 * What the upstream is told of the gateway's client: its log level (a modern upstream sends no logs
 * without one; a legacy client that set none gets every level, as from our own server) and the inputs
 * it may be asked for.
 */
const onBehalfOf = (ctx: RequestContext): Pick<CallOptions, "logLevel" | "clientCapabilities"> => {
  const logLevel = upstreamLogLevel(ctx)
  const clientCapabilities = answerableInputs(ctx.clientCapabilities)
  return logLevel === undefined ? { clientCapabilities } : { logLevel, clientCapabilities }
}

/**
 * An upstream result as the gateway's answer: a modern upstream's `resultType` and server info are its
 * own, not the gateway's (a legacy client must not see them; a modern one gets the gateway's).
 */
export const asGatewayResult = (r: Result): Result => {
  const meta = r._meta as Record<string, unknown> | undefined
  const info = meta !== undefined && typeof meta === "object" && meta !== null && Object.hasOwn(meta, META_SERVER_INFO)
  if (!info && !Object.hasOwn(r, "resultType")) return r
  // One copy, key by key (every gateway call of a modern upstream: no rest-destructuring copies).
  const out: Record<string, unknown> = {}
  for (const k in r) {
    if (!Object.hasOwn(r, k) || k === "resultType") continue
    if (k === "_meta" && info) {
      let others: Record<string, unknown> | undefined
      for (const m in meta) {
        if (m !== META_SERVER_INFO && Object.hasOwn(meta, m)) own(others ??= {}, m, meta[m])
      }
      if (others !== undefined) out._meta = others
      continue
    }
    own(out, k, r[k])
  }
  return out as Result
}

/** An own data property, as a spread makes it (a `__proto__` key from the wire stays a key, not a prototype). */
const own = (o: Record<string, unknown>, k: string, v: unknown): void => {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}

/**
 * The request context of a gateway request, as options of the host call it becomes: what
 * `onBehalfOf` and `notifications` give, written out as one object (the hot path of every legacy
 * gateway call: no getter closure, no intermediate objects spread into it).
 */
const forward = (ctx: RequestContext, server: string | undefined): CallOptions => {
  return {
    signal: ctx.signal,
    logLevel: upstreamLogLevel(ctx),
    clientCapabilities: answerableInputs(ctx.clientCapabilities),
    onProgress: (p) => ctx.progress(p.progress, p.total, p.message),
    onLog: (n) => logTo(ctx, server, n),
    // A client that did not declare elicitation/sampling/roots gets no request: the upstream is told no.
    onElicitation: (params) => ctx.elicit(params ?? {}).catch(ifUndeclared("elicitation/create")),
    onSampling: (params) => ctx.createMessage(params ?? {}).catch(ifUndeclared("sampling/createMessage")),
    onRoots: () => ctx.listRoots().catch(ifUndeclared("roots/list"))
  }
}

/**
 * A host call relayed to a *modern* gateway client (MRTR): the client cannot be
 * sent a request, so an upstream elicitation/sampling/roots request ends the
 * gateway request with `input_required` (its `requestState` names this relay),
 * while the upstream call stays open. The client's retry carries the answers:
 * they are handed to the waiting upstream request, and the relay waits for the
 * next step (the result, or more input). Unclaimed relays are dropped (and the
 * upstream call cancelled) after `RELAY_TTL_MS`.
 */
const RELAY_TTL_MS = 10 * 60_000

type Step =
  | { readonly type: "result"; readonly result: Result }
  | { readonly type: "error"; readonly error: unknown }
  | { readonly type: "input"; readonly key: string; readonly request: InputRequest; readonly answer: (r: Result) => void; readonly fail: (e: unknown) => void }

/**
 * What an upstream input gets when the gateway's modern client did not declare it (its request's
 * `_meta` capabilities): the legacy path's answers; undefined when the client may be asked.
 */
const refusedInput = (ctx: RequestContext, method: string, params: Params | undefined): Promise<Result> | undefined => {
  const missing = missingClientCapabilityFor(ctx.clientCapabilities, method, params)
  return missing === undefined ? undefined : undeclaredInput(method, missing)
}

/** Whether a modern client can be asked for any upstream input at all: it declared elicitation, sampling or roots. */
const mayBeAsked = (ctx: RequestContext): boolean => {
  const caps = ctx.clientCapabilities
  return hasCapability(caps, "elicitation") || hasCapability(caps, "sampling") || hasCapability(caps, "roots")
}

/**
 * The fast path of a modern request that can never need input (see `mayBeAsked`): one round, so the
 * request's own signal cancels the upstream call, and every upstream input gets `refusedInput`'s answer,
 * exactly what the relay would give it. No relay, no AbortController of its own, no step queue.
 */
const modernDirect = (ctx: RequestContext, server: string | undefined): CallOptions => {
  // Only reached when nothing was declared: `refusedInput` always answers.
  const refuse = (method: string, params: Params | undefined) => refusedInput(ctx, method, params)!
  return {
    signal: ctx.signal,
    ...onBehalfOf(ctx),
    ...notifications(() => ctx, server),
    onElicitation: (params) => refuse("elicitation/create", params),
    onSampling: (params) => refuse("sampling/createMessage", params),
    onRoots: () => refuse("roots/list", undefined)
  }
}

class RelayedCall {
  /** The gateway request currently serving this relay (progress and logs go there). */
  ctx: RequestContext
  readonly abort = new AbortController()
  private readonly queue: Array<Step> = []
  private waiter: ((step: Step) => void) | undefined
  private inputs = 0
  /** Inputs sent to the client in the last `input_required`, by key. */
  awaiting = new Map<string, Extract<Step, { type: "input" }>>()
  timer: unknown

  constructor(ctx: RequestContext, server: string | undefined, start: (options: CallOptions) => Promise<Result>) {
    this.ctx = ctx
    const ask = (method: string, params: Params | undefined): Promise<Result> =>
      // Never ask a client for what it did not declare (its request's `_meta` capabilities): the same answers as the legacy path.
      refusedInput(this.ctx, method, params) ?? new Promise<Result>((answer, fail) => {
        const key = inputRequestKey(method, ++this.inputs)
        this.push({ type: "input", key, request: params === undefined ? { method } : { method, params }, answer, fail })
      })
    start({
      signal: this.abort.signal,
      ...onBehalfOf(ctx),
      ...notifications(() => this.ctx, server),
      onElicitation: (params) => ask("elicitation/create", params),
      onSampling: (params) => ask("sampling/createMessage", params),
      onRoots: () => ask("roots/list", undefined)
    }).then((result) => this.push({ type: "result", result }), (error) => this.push({ type: "error", error }))
  }

  private push(step: Step): void {
    const w = this.waiter
    this.waiter = undefined
    if (w !== undefined) w(step)
    else this.queue.push(step)
  }

  next(): Promise<Step> {
    const queued = this.queue.shift()
    return queued !== undefined ? Promise.resolve(queued) : new Promise((resolve) => (this.waiter = resolve))
  }

  /** Input steps already queued behind the first (asked at the same time): sent in the same round. */
  drainInputs(): Array<Extract<Step, { type: "input" }>> {
    const out: Array<Extract<Step, { type: "input" }>> = []
    while (this.queue[0]?.type === "input") out.push(this.queue.shift() as Extract<Step, { type: "input" }>)
    return out
  }
}

type Relays = Map<string, RelayedCall>

/** Run `start` for a modern gateway request, relaying upstream inputs as MRTR rounds. */
const relayModern = async (relays: Relays, clock: Clock, ctx: RequestContext, server: string | undefined, start: (options: CallOptions) => Promise<Result>): Promise<Result> => {
  let call: RelayedCall | undefined
  const state = ctx.requestState
  if (state !== undefined) {
    call = relays.get(state)
    if (call !== undefined) {
      relays.delete(state)
      clock.clearTimeout(call.timer)
      call.ctx = ctx
      for (const [key, input] of call.awaiting) {
        const response = ctx.inputResponses?.[key]
        if (response !== undefined) input.answer(response)
        else input.fail(new McpError(-32602, `no input response for ${key}`))
      }
      call.awaiting = new Map()
    }
  }
  if (call === undefined) call = new RelayedCall(ctx, server, start)
  // The client giving up on this round cancels the upstream call only if it is the last one.
  const onAbort = () => call!.abort.abort(ctx.signal.reason)
  ctx.signal.addEventListener("abort", onAbort, { once: true })
  let step: Step
  try {
    step = await call.next()
  } finally {
    ctx.signal.removeEventListener("abort", onAbort)
  }
  if (step.type === "result") return step.result
  if (step.type === "error") throw step.error
  const inputs = [step, ...call.drainInputs()]
  const id = randomUUID()
  call.awaiting = new Map(inputs.map((i) => [i.key, i]))
  const relay = call
  // Unref'd: an abandoned relay must not keep the process alive.
  call.timer = unrefTimer(clock.setTimeout(() => {
    relays.delete(id)
    relay.abort.abort("the client did not come back with the input")
  }, RELAY_TTL_MS))
  relays.set(id, call)
  return ctx.inputRequired({ inputRequests: Object.fromEntries(inputs.map((i) => [i.key, i.request])), requestState: id })
}

/**
 * Legacy clients get server→client requests on the spot; modern ones get MRTR rounds, except a first
 * round that can never need input (the fast path, `modernDirect`).
 */
const viaHostWith = (relays: Relays, clock: Clock, fastPath: boolean, counts: ModernCounts) => (ctx: RequestContext, server: string | undefined, start: (options: CallOptions) => Promise<Result>): Promise<Result> => {
  if (ctx.era !== "modern") return start(forward(ctx, server))
  if (fastPath && ctx.requestState === undefined && !mayBeAsked(ctx)) {
    counts.direct++
    return start(modernDirect(ctx, server))
  }
  counts.relayed++
  return relayModern(relays, clock, ctx, server, start)
}

/** How many modern gateway requests took the fast path and how many the MRTR relay (tests read it). */
export interface ModernCounts {
  direct: number
  relayed: number
}

type ToolRoute = (name: string, args: Record<string, unknown>, ctx: RequestContext) => Promise<Result>
type PromptRoute = (name: string, args: Record<string, string>, ctx: RequestContext) => Promise<Result>
type ReadRoute = (uri: string, ctx: RequestContext) => Promise<Result>
/** How a served server's entries reach the host. */
interface Routes {
  readonly tool: ToolRoute
  readonly prompt: PromptRoute
  readonly read: ReadRoute
}

/** A routed tool as a served server's handler: the host's refusals become tool errors carrying their typed form. */
const servedTool = (route: ToolRoute, name: string): ToolHandler => (args, ctx) =>
  route(name, args, ctx).then((r) => asGatewayResult(r) as CallToolResult, hostFailure)
/** A routed prompt as a served server's handler: the host's refusals become JSON-RPC errors carrying their typed form. */
const servedPrompt = (route: PromptRoute, name: string): PromptHandler => (args, ctx) =>
  route(name, args, ctx).then((r) => asGatewayResult(r) as GetPromptResult, protocolFailure)
/** A routed resource (or template) read, likewise; a URI the host no longer routes is the era's resource not found. */
const servedRead = (route: ReadRoute): ResourceHandler => (uri, ctx) =>
  route(uri, ctx).then((r) => asGatewayResult(r) as ReadResourceResult, readFailure(uri, ctx.era))

type Knows = (kind: "tool" | "prompt" | "resource", name: string) => boolean

/**
 * Entries the host still knows but does not advertise (withdrawn while their server restarts or is
 * parked, or behind a lazy server's prefix) stay callable: the caller gets the host's fast, typed
 * refusal ("restarting", retry later) or the answer, not -32602 "unknown tool/prompt" or "resource
 * not found". Names the host never knew keep those answers.
 */
const routeUnlisted = (server: McpServer, knows: Knows, routes: Routes): void => {
  server.unlisted = {
    tool: (name) => (knows("tool", name) ? servedTool(routes.tool, name) : undefined),
    prompt: (name) => (knows("prompt", name) ? servedPrompt(routes.prompt, name) : undefined),
    resource: (uri) => (knows("resource", uri) ? servedRead(routes.read) : undefined)
  }
}

/** Re-register `server`'s lists from `listing`; `routes` routes each entry. */
const sync = (
  server: McpServer,
  listing: ServerListing,
  routes: Routes
): void => {
  server.update((s) => {
    const tools = new Map(listing.tools.map((t) => [t.name, t]))
    for (const name of [...s.tools.keys()]) {
      const next = tools.get(name)
      if (next === undefined || JSON.stringify(next) !== JSON.stringify(s.tools.get(name)!.definition)) s.removeTool(name)
    }
    for (const [name, def] of tools) {
      if (s.tools.has(name)) continue
      try {
        // The upstream validates arguments and results: checking them here too would only add latency.
        s.tool(def, servedTool(routes.tool, name), { validate: false })
      } catch {
        // A tool whose x-mcp-header annotations break the rules could never be called by a modern HTTP client.
      }
    }
    const prompts = new Map(listing.prompts.map((p) => [p.name, p]))
    for (const name of [...s.prompts.keys()]) if (!prompts.has(name)) s.removePrompt(name)
    for (const [name, def] of prompts) {
      if (!s.prompts.has(name)) s.prompt(def, servedPrompt(routes.prompt, name))
    }
    const resources = new Map(listing.resources.map((r) => [r.uri, r]))
    for (const uri of [...s.resources.keys()]) if (!resources.has(uri)) s.removeResource(uri)
    for (const [uri, def] of resources) {
      if (!s.resources.has(uri)) s.resource(def, servedRead(routes.read))
    }
    const templates = new Set(listing.resourceTemplates.map((t) => t.uriTemplate))
    for (const t of [...s.resourceTemplates]) if (!templates.has(t.definition.uriTemplate)) s.removeResourceTemplate(t.definition.uriTemplate)
    for (const def of listing.resourceTemplates) {
      if (s.resourceTemplates.some((t) => t.definition.uriTemplate === def.uriTemplate)) continue
      const read = servedRead(routes.read)
      try {
        s.resourceTemplate(def, (u, _vars, ctx) => read(u, ctx))
      } catch {
        // a template we cannot parse is not served
      }
    }
  })
}

/** The host served as MCP: one aggregated server plus one per upstream, following the host's catalog changes until `close()`. */
export interface Gateway {
  /** The aggregated server (`server__tool` names). */
  readonly server: McpServer
  /** The server for one upstream, original names (created on first use). */
  serverFor(name: string): McpServer | undefined
  /** Modern requests served so far: straight to the host (`modernFastPath`) or through the MRTR relay. */
  readonly modernCounts: Readonly<ModernCounts>
  /** The host's runtime: the sessions served (`serveGatewayHttp`, `serveGatewayWs`, `serveGatewayStdio`) are its, as the upstreams are. */
  readonly runtime: McpRuntime
  /** Resource subscriptions held by the served servers' sessions and modern listens (aggregate and `/mcp/<server>`), one per URI and subscriber (leak checks). */
  subscriptionCount(): number
  /** Stop following the host (its resource subscriptions leave the host). */
  close(): void
}

/**
 * What every served McpServer (the aggregate and each `/mcp/<server>`) declares, even while a list is
 * empty: clients listen for list_changed from the start, and a client's prompts/get or resources/read
 * of an entry withdrawn while its upstream restarts reaches the refusal (not -32601 for a capability
 * that came and went with the registrations). `subscribe` is true when an upstream it reaches can be
 * subscribed to (`McpHost.canSubscribe`: declared by its last connection, legacy era): the aggregate
 * when any can, `/mcp/<server>` when its own can. When none can, false: a client that sees true
 * subscribes and waits for updates instead of reading again, and every subscribe would be refused.
 */
const servedCapabilities = (subscribe: boolean) => ({ tools: { listChanged: true }, resources: { listChanged: true, subscribe }, prompts: { listChanged: true } }) as const

/** Build the aggregated gateway server and the per-server ones, kept in step with the host. */
export const makeGateway = (host: McpHost, options: GatewayOptions = {}): Gateway => {
  const info = { name: options.name ?? "mcp-actors-host", version: options.version ?? "0.1.0" }
  const aggregate = new McpServer({
    ...info,
    capabilities: servedCapabilities(host.serverNames.some((n) => host.canSubscribe(n) === true)),
    ...(options.guard === undefined ? {} : { guard: options.guard(undefined, (kind, name) => host.owner(kind, name)) }),
    ...(options.maxSubscriptionsPerSession === undefined ? {} : { maxSubscriptionsPerSession: options.maxSubscriptionsPerSession }),
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry })
  })
  const perServer = new Map<string, McpServer>()
  // MRTR relays waiting for a modern client's retry: dropped (upstream calls cancelled) with the gateway.
  const relays: Relays = new Map()
  const clock = options.clock ?? host.clock
  const modernCounts: ModernCounts = { direct: 0, relayed: 0 }
  const viaHost = viaHostWith(relays, clock, options.modernFastPath !== false, modernCounts)
  const aggregateRoutes: Routes = {
    tool: (name, args, ctx) => viaHost(ctx, host.catalog.tools.get(name)?.server ?? host.owner("tool", name)?.server, (o) => host.callTool(name, args, o)),
    prompt: (name, args, ctx) => viaHost(ctx, undefined, (o) => host.getPrompt(name, args, o)),
    read: (uri, ctx) => viaHost(ctx, undefined, (o) => host.readResource(uri, o))
  }
  // The host's whole catalog, withdrawn entries included (`owner`), and names behind a lazy server's prefix.
  routeUnlisted(aggregate, (kind, name) => host.owner(kind, name) !== undefined, aggregateRoutes)
  const syncAggregate = () => {
    const c = host.catalog
    sync(aggregate, {
      tools: [...c.tools.values()].map((e) => e.definition),
      prompts: [...c.prompts.values()].map((e) => e.definition),
      resources: [...c.resources.values()].map((e) => e.definition),
      resourceTemplates: c.resourceTemplates.map((e) => e.definition)
    }, aggregateRoutes)
  }
  const serverRoutes = (name: string): Routes => ({
    tool: (tool, args, ctx) => viaHost(ctx, name, (o) => host.callServerTool(name, tool, args, o)),
    prompt: (prompt, args, ctx) => viaHost(ctx, name, (o) => host.requestServer(name, "prompts/get", { name: prompt, arguments: args } as Params, o)),
    read: (uri, ctx) => viaHost(ctx, name, (o) => host.requestServer(name, "resources/read", { uri }, o))
  })
  const syncServer = (name: string, server: McpServer) => {
    sync(server, host.serverListing(name) ?? { tools: [], prompts: [], resources: [], resourceTemplates: [] }, serverRoutes(name))
  }
  // Legacy sessions that declared roots, per served McpServer (the aggregate, or one `/mcp/<server>`).
  const rootsClients = new Map<McpServer, Set<ServerSession>>()
  // Resource subscriptions per served McpServer.
  const subscriptions = new Map<McpServer, ReturnType<typeof followSubscriptions>>()
  /**
   * Follow `served`'s sessions: a roots client joining, changing its roots or leaving tells the upstreams
   * it reaches (`scope`: one, or all); a session leaving leaves its resource subscriptions.
   */
  const followSessions = (served: McpServer, scope: string | undefined) => {
    const subs = followSubscriptions(host, served, scope)
    subscriptions.set(served, subs)
    served.sessionEvents = (event, session) => {
      if (event === "left") subs.left(session.state)
      let clients = rootsClients.get(served)
      if (event === "joined") {
        if (!hasCapability(session.negotiated().clientCapabilities, "roots")) return
        if (clients === undefined) rootsClients.set(served, clients = new Set())
        clients.add(session)
      } else if (clients === undefined || !clients.has(session)) return
      else if (event === "left") clients.delete(session)
      host.rootsChanged(scope)
    }
  }
  const askRoots = (session: ServerSession): Promise<ReadonlyArray<Root>> =>
    session.request("roots/list", undefined, { timeoutMs: ROOTS_SOURCE_TIMEOUT_MS }).then(rootsOf, () => [])
  const removeRootsSource = host.addRootsSource(async (upstream) => {
    const sessions = [...rootsClients.get(aggregate) ?? []]
    const own = perServer.get(upstream)
    if (own !== undefined) sessions.push(...rootsClients.get(own) ?? [])
    return sessions.length === 0 ? [] : unionRoots(await Promise.all(sessions.map(askRoots)))
  })
  followSessions(aggregate, undefined)
  syncAggregate()
  const off = host.on("change", () => {
    syncAggregate()
    for (const [name, server] of perServer) syncServer(name, server)
  })
  // `resources.subscribe` follows what the upstreams' connections declared (for sessions that start from then on).
  const subscribeFlags = new Map<McpServer, boolean>()
  const advertise = (served: McpServer, subscribe: boolean) => {
    if (subscribeFlags.get(served) === subscribe) return
    subscribeFlags.set(served, subscribe)
    served.setCapabilities(servedCapabilities(subscribe))
  }
  const offStatus = host.on("status", ({ server: view }) => {
    advertise(aggregate, host.serverNames.some((n) => host.canSubscribe(n) === true))
    for (const [name, server] of perServer) advertise(server, host.canSubscribe(name) === true)
    if (view.state === "ready") for (const subs of subscriptions.values()) subs.retry()
  })
  return {
    server: aggregate,
    modernCounts,
    runtime: host.runtime,
    serverFor: (name) => {
      if (!host.serverNames.includes(name)) return undefined
      let server = perServer.get(name)
      if (server === undefined) {
        server = new McpServer({
          ...info,
          name: `${info.name}/${name}`,
          capabilities: servedCapabilities(host.canSubscribe(name) === true),
          ...(options.guard === undefined ? {} : { guard: options.guard(name, undefined) }),
          ...(options.maxSubscriptionsPerSession === undefined ? {} : { maxSubscriptionsPerSession: options.maxSubscriptionsPerSession }),
          ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry })
        })
        // The upstream's last listing, kept while it restarts.
        routeUnlisted(server, (kind, entry) => listingKnows(host.connection(name)?.listing, kind, entry), serverRoutes(name))
        perServer.set(name, server)
        followSessions(server, name)
        syncServer(name, server)
      }
      return server
    },
    subscriptionCount: () => [...subscriptions.values()].reduce((n, subs) => n + subs.size, 0),
    close: () => {
      off()
      offStatus()
      for (const subs of subscriptions.values()) subs.close()
      subscriptions.clear()
      removeRootsSource()
      for (const served of [aggregate, ...perServer.values()]) served.sessionEvents = undefined
      rootsClients.clear()
      for (const relay of relays.values()) {
        clock.clearTimeout(relay.timer)
        relay.abort.abort("gateway closed")
      }
      relays.clear()
    }
  }
}

/** Where and how a gateway listens; `authenticate` sees every request (the endpoint is in `req.url`, see `serverOfPath`). */
export interface GatewayServeOptions {
  readonly port?: number
  readonly host?: string
  readonly authenticate?: Authenticate
  /** The served sessions' clock (deadlines, keep-alives): the runtime's one clock; tests pass a simulated one. Default: the host runtime's. */
  readonly clock?: Clock
  /**
   * Close a gateway session idle this long with nothing in flight (0 = never). Default: 30 min, as
   * `serve`'s. Clients that leave without closing (the official SDK's `close()` sends no DELETE) are
   * kept until then, with what their streams stored for a resume.
   */
  readonly idleTimeoutMs?: number
}

/** The upstream a gateway path serves alone (`/mcp/<server>`), "" for the aggregate (`/mcp`), undefined for anything else. */
export const serverOfPath = (pathname: string): string | undefined => {
  if (pathname === "/mcp") return ""
  if (!pathname.startsWith("/mcp/")) return undefined
  return decodeSegment(pathname.slice(5))
}

export interface GatewayHttpHandle {
  readonly url: string
  readonly port: number
  readonly server: Server
  close(options?: { readonly drainMs?: number }): Promise<void>
}

/** Streamable HTTP: `/mcp` is the aggregate, `/mcp/<server>` one upstream under its original names. */
export const serveGatewayHttp = async (
  gateway: Gateway,
  options: GatewayServeOptions = {}
): Promise<GatewayHttpHandle> => {
  const bind = options.host ?? "127.0.0.1"
  const auth = {
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs })
  }
  // The host's runtime supervises the served sessions too: one runtime (registry, tree, shutdown) for the host's process.
  const aggregate = makeHttpHandler(gateway.server, { path: "/mcp", runtime: gateway.runtime, ...auth })
  const handlers = new Map<string, HttpHandler>()
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = requestUrl(req.url, "http://gateway")?.pathname
    if (path === "/mcp") return aggregate.handler(req, res)
    const name = path?.startsWith("/mcp/") === true ? decodeSegment(path.slice(5)) : undefined
    if (path !== undefined && name !== undefined) {
      let h = handlers.get(name)
      if (h === undefined) {
        const server = gateway.serverFor(name)
        if (server !== undefined) {
          h = makeHttpHandler(server, { path, runtime: gateway.runtime, ...auth })
          handlers.set(name, h)
        }
      }
      if (h !== undefined) return h.handler(req, res)
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", error: { code: ErrorCode.NotFound, message: "Not Found" } }))
  })
  // Responses already ended reach their clients before the connections close (as makeHttpServer's).
  const closeServer = closesAfterFlush(http, clockOf(options.clock ?? gateway.runtime.clock))
  const { port, urlHost } = await listenHttp(http, options.port ?? 0, bind)
  let closed: Promise<void> | undefined
  return {
    url: `http://${urlHost}:${port}/mcp`,
    port,
    server: http,
    close: (o = {}) =>
      closed ??= closeServer(async () => {
        await Promise.all([aggregate, ...handlers.values()].map((h) => h.close({ drainMs: o.drainMs ?? 2_000 })))
      })
  }
}

/** WebSocket (our transport, subprotocol `mcp`): the aggregate at `/mcp`, `/mcp/<server>` one upstream under its original names. */
export const serveGatewayWs = (gateway: Gateway, options: GatewayServeOptions = {}): Promise<WsServerHandle> =>
  makeWsServer(gateway.server, {
    runtime: gateway.runtime,
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.clock === undefined && options.idleTimeoutMs === undefined ? {} : {
      session: {
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs })
      }
    }),
    endpoints: (pathname) => {
      const name = serverOfPath(pathname)
      return name === undefined || name === "" ? undefined : gateway.serverFor(name)
    }
  })

/**
 * stdio: the aggregate on this process's stdin/stdout; resolves when the client closed stdin
 * and the session's replies are out (stdout flushed: the CLI exits then).
 */
export const serveGatewayStdio = (gateway: Gateway): Promise<void> => {
  const transport = makeStdioServerTransport()
  const session = serveTransport(gateway.server, transport, { runtime: gateway.runtime })
  // The session's end starts the transport's close; its flush (a slow reader is waited for) is what the exit must await.
  return session.ended.then(() => transport.close())
}
