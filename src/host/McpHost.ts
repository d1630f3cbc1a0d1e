/**
 * The multi-server host (Promise API): one `host` actor whose children are
 * the `serverConnection` actors (machines/host.ts), the effects of each child
 * (`ServerConnection`), one live catalog, and routing.
 *
 * ```ts
 * const host = await startHost("mcp.json")
 * host.tools()                       // every advertised tool, namespaced
 * await host.callTool("memory__read_graph", {})
 * host.on("change", (c) => …)        // coalesced catalog changes
 * await host.close()
 * ```
 */
import type { Telemetry } from "../observability/Telemetry.ts"
import { randomInt } from "node:crypto"
import type { Actor } from "xstate"
import { makeMcpRuntime, type McpRuntime } from "../runtime/McpRuntime.ts"
import { startEndpointInspector } from "../server/endpointInspector.ts"
import type { Inspector, InspectorOptions } from "../inspect/InspectorServer.ts"
import { hostMachine, reportingServerConnection, type ServerStatus } from "../../machines/host.ts"
import type { ServerConnectionEvent, ServerConnectionInput } from "../../machines/serverConnection.ts"
import type { JsonRpcNotification, Params } from "../protocol/jsonrpc.ts"
import type { ClientCapabilities, ServerCapabilities } from "../protocol/capabilities.ts"
import type { Clock } from "../protocol/clock.ts"
import { ConnectionLost, RpcError, SessionClosed } from "../protocol/requestErrors.ts"
import type { InputHandler, Progress, Result, ServerRequestContext } from "../client/ClientSession.ts"
import type { PromptDefinition, ResourceDefinition, ResourceTemplateDefinition, ToolDefinition } from "../server/types.ts"
import { buildCatalog, type Catalog, type CatalogSource, diffListings, type ListingDiff, resourceOwner, type ServerListing } from "./Catalog.ts"
import { type ConfigIssue, type HostConfig, loadHostConfig, parseHostConfig, type ServerConfig } from "./config.ts"
import { HostClosed, ServerConnectionLost, ServerUnavailable, UnknownName } from "./errors.ts"
import { defaultStateFile, HostStateFile } from "./lifeline.ts"
import { type InFlight, type InputKind, ServerConnection } from "./ServerConnection.ts"
import { gatherRoots, type Root, type RootsSource } from "./roots.ts"
import { ResourceSubscriptions, type ResourceSubscriptionView, type SubscribeOptions } from "./ResourceSubscriptions.ts"

export type InputAnswerer = (server: string, params: Params | undefined, ctx: ServerRequestContext) => Result | PromiseLike<Result>

/** How `startHost` runs: where started process groups are recorded (so a crashed host's orphans are reaped), how catalog changes coalesce, and who answers upstream requests no call takes. */
export interface HostOptions {
  /** Where the started process groups are recorded (reaped by the next host after a crash); `false`: nowhere. Default: per config file under `$XDG_STATE_HOME/mcp-actors`. */
  readonly stateFile?: string | false
  readonly clientInfo?: { readonly name: string; readonly version: string }
  /** OpenTelemetry for the upstream client sessions (spans, `traceparent` in `_meta`, metrics). */
  readonly telemetry?: Telemetry
  /** Catalog changes within this window make one `change` event (one `list_changed` downstream). Default 25 ms. */
  readonly coalesceMs?: number
  /** Answers upstream elicitations that no call in flight takes. Default: decline. */
  readonly onElicitation?: InputAnswerer
  readonly onSampling?: InputAnswerer
  /** Answers every upstream `roots/list` no call takes, instead of `roots` and the roots sources (`addRootsSource`). */
  readonly onRoots?: InputAnswerer
  /**
   * The roots every upstream server is given (`roots/list` outside a call), united with those of
   * the roots sources (a gateway's clients). Change them with `setRoots`. Default: none.
   */
  readonly roots?: ReadonlyArray<Root>
  /** Each stderr line of a stdio server. */
  readonly onStderr?: (server: string, line: string) => void
  /** How long `startHost` waits for keep-alive servers to settle. Default: the largest connect timeout + 2 s. */
  readonly startTimeoutMs?: number
  /**
   * Gives up the start: aborted while `startHost` waits for its servers to settle, the host is
   * closed (its servers stopped, its state file cleared) and `startHost` rejects with the signal's
   * reason. Ctrl-C during `mcp-actors host`'s start uses it. (Not the host's lifetime: `close()` is.)
   */
  readonly signal?: AbortSignal
  /**
   * The host's one clock: the supervision charts (backoff, parking, probes, idle stop, connect timeouts),
   * catalog-change coalescing, `startHost`'s settle timeout, the wait for a server to become ready, and
   * the gateway's relay timers. Default: the runtime's (`runtime.clock`). Tests pass a simulated one.
   */
  readonly clock?: Clock
  /** The time the charts read. Default: `clock.now()`. */
  readonly now?: () => number
  /** Serve the live inspector (docs/inspector.md) on 127.0.0.1 while the host runs; read `host.inspector.url`. */
  readonly inspect?: boolean | InspectorOptions
  /**
   * The runtime whose tree the host joins (the host chart under its root, each server
   * connection the host's child, each upstream client that connection's child).
   * Default: a runtime of the host's own, shut down with it. Server names are the
   * children's system ids, so two hosts sharing a runtime need distinct names.
   */
  readonly runtime?: McpRuntime
}

/** Per-call deadline, cancellation, progress, and handlers for what the server asks while serving this call. */
export interface CallOptions {
  /** Deadline without an answer; progress resets it. Default: the server's `timeouts.call`. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: Progress) => void
  /** Answer elicitation / sampling / roots requests the server makes while serving this call. */
  readonly onElicitation?: InputHandler
  readonly onSampling?: InputHandler
  readonly onRoots?: InputHandler
  /** Log notifications the server sends while this call is the newest in flight. */
  readonly onLog?: (notification: JsonRpcNotification) => void
  /** A modern server's log level for this call (`_meta` logLevel: without it, it sends no logs). Legacy servers: the session's. */
  readonly logLevel?: string
  /**
   * The capabilities of whoever the call is for (a gateway's client): a modern server is told only the input
   * capabilities (elicitation, sampling, roots) they declared, so it never asks for input nobody can give.
   */
  readonly clientCapabilities?: ClientCapabilities
}

export type { ResourceSubscriptionView, ResourceUpdate, SubscribeOptions } from "./ResourceSubscriptions.ts"

const NO_CALL_OPTIONS: CallOptions = {}

/** One upstream server as the host sees it: state, transport, era, restarts, parking, catalog hash (for `status()`, status events and the CLI). */
export interface ServerView {
  readonly name: string
  readonly state: ServerStatus["state"] | "unknown"
  readonly transport: ServerConfig["transport"]
  readonly era: string | undefined
  readonly protocolVersion: string | undefined
  readonly tools: number
  readonly restarts: number
  readonly lastError: string | undefined
  readonly uptimeMs: number | undefined
  readonly generation: number
  readonly parked: { readonly reason: string; readonly nextProbeAt: number } | undefined
  readonly catalogHash: string | undefined
  /** A running stdio server's process group id. */
  readonly pid: number | undefined
}

/** What `McpHost.on` delivers: coalesced catalog changes, server status, listing diffs, upstream notifications. */
export type HostEvent =
  /** The advertised catalog changed (coalesced). */
  | { readonly type: "change"; readonly added: ReadonlyArray<string>; readonly removed: ReadonlyArray<string>; readonly catalog: Catalog }
  /** A server changed state. */
  | { readonly type: "status"; readonly server: ServerView }
  /** A server's listing differs from the one it had before (list_changed, or a reconnect: the hash said so). */
  | { readonly type: "listing"; readonly server: string; readonly diff: ListingDiff; readonly hash: string; readonly reconnect: boolean }
  | { readonly type: "notification"; readonly server: string; readonly notification: JsonRpcNotification }

type Listener = (event: HostEvent) => void

const ADVERTISED: ReadonlySet<string> = new Set(["ready", "degraded"])
/**
 * A lazy server's last known listing is served while it is stopped and while a call wakes it: its
 * start is not a failure, so its tools do not vanish (two `list_changed`) for the length of a spawn.
 */
const LAZY_ADVERTISED: ReadonlySet<string> = new Set(["idle", "starting", "initializing"])

const later = (f: () => void): void => queueMicrotask(f)

const mapCallError = (server: string, generation: number, e: unknown): unknown =>
  e instanceof ConnectionLost || e instanceof SessionClosed
    ? new ServerConnectionLost({ server, generation, reason: e.message, message: `${server}: ${e.message}` })
    : e

/** A host's own runtime (when none is given): shut down with it. */
const hostRuntime = (options: HostOptions): McpRuntime => makeMcpRuntime(options.clock === undefined ? {} : { clock: options.clock })
/** Runtimes `startHost` made for the host it starts (so that its inspector describes them): the host's own all the same. */
const madeForHost = new WeakSet<McpRuntime>()

/**
 * The multi-server host: starts and supervises every configured server (one
 * `serverConnection` actor each, under one `host` actor), keeps one
 * namespaced, health-gated catalog and routes calls to the owning server.
 * Start it with `startHost`; `close()` leaves no child process behind.
 */
export class McpHost {
  readonly config: HostConfig
  /** Entries the config left out (each names the server and the field). */
  readonly issues: ReadonlyArray<ConfigIssue>
  private readonly connections = new Map<string, ServerConnection>()
  private readonly actor: Actor<typeof hostMachine>
  /** The runtime whose tree the host is a node of. */
  readonly runtime: McpRuntime
  private readonly ownsRuntime: boolean
  /** The live inspector, when started with `inspect` (closed with the host). */
  inspector: Inspector | undefined
  private readonly listeners = new Set<Listener>()
  private readonly options: HostOptions
  private readonly now: () => number
  /** The host's one clock (HostOptions.clock): what its servers' and gateway's timers run on. */
  readonly clock: Clock
  private readonly stateFile: HostStateFile | undefined
  private advertised: Catalog
  private known: Catalog
  private changeTimer: unknown
  /** The `roots/list` answer being gathered for each server (by its configured name). */
  private readonly rootsGathering = new Map<string, Promise<Array<Root>>>()
  /** The host's own roots (`roots`, `setRoots`) and the sources added with `addRootsSource`. */
  private roots: ReadonlyArray<Root>
  private readonly rootsSources = new Set<RootsSource>()
  /** Upstreams to tell `notifications/roots/list_changed` at the end of the coalescing window ("*": all). */
  private rootsPending: Set<string> | "*" | undefined
  private rootsTimer: unknown
  private advertisedSignature = ""
  private pendingBefore: ReadonlySet<string> | undefined
  private closePromise: Promise<void> | undefined
  /** Set as `close` begins (before `closePromise` is assigned: its first steps run synchronously). */
  private closing = false
  /** Servers whose listing was known before their current generation came up (for "reconnect" diffs). */
  private readonly reconnecting = new Set<string>()
  /** The orphans a crashed earlier host left, killed at start. */
  readonly reaped: ReadonlyArray<number>
  /** Upstream resource subscriptions (`subscribeResource`): one per server and URI, shared by its subscribers. */
  private readonly subscriptions: ResourceSubscriptions

  constructor(config: HostConfig, options: HostOptions = {}) {
    this.config = config
    this.issues = config.issues
    this.options = options
    this.roots = options.roots ?? []
    this.ownsRuntime = options.runtime === undefined || madeForHost.delete(options.runtime)
    this.runtime = options.runtime ?? hostRuntime(options)
    const clock = options.clock ?? this.runtime.clock
    this.clock = clock
    this.now = options.now ?? (() => clock.now())
    const stateFilePath = options.stateFile === false
      ? undefined
      : options.stateFile ?? defaultStateFile(config.sources[0] ?? "default")
    this.stateFile = stateFilePath === undefined ? undefined : new HostStateFile(stateFilePath)
    this.reaped = this.stateFile?.reapOrphans() ?? []
    this.stateFile?.claim()
    this.advertised = buildCatalog([], config)
    this.known = this.advertised
    this.subscriptions = new ResourceSubscriptions({
      connection: (name) => this.connections.get(name),
      known: () => this.known,
      readyFor: (conn) => this.readyFor(conn),
      call: (conn, client, generation, method, params) => this.callOn(conn, client, generation, method, params, NO_CALL_OPTIONS),
      closing: () => this.closing,
      runtime: this.runtime,
      // Each (server, URI) subscription's actor is a node under the server's `serverConnection` actor.
      actorParent: (server) => this.actor.getSnapshot().children[server]
    })
    const now = this.now
    for (const server of config.servers) {
      this.connections.set(server.name, new ServerConnection(server, {
        send: (event) => this.toServer(server.name, event),
        // The server's `serverConnection` actor: each generation's connection node is its child,
        // supervised by the host's runtime.
        actorParent: () => this.actor.getSnapshot().children[server.name],
        runtime: this.runtime,
        now,
        clock,
        stateFile: this.stateFile,
        clientInfo: options.clientInfo ?? { name: "mcp-actors-host", version: "0.1.0" },
        onListing: (name, listing, changed, previous) => this.onListing(name, listing, changed, previous),
        onNotification: (name, n) => {
          if (n.method === "notifications/resources/updated") this.subscriptions.updated(name, n.params)
          this.emit({ type: "notification", server: name, notification: n })
        },
        onInput: (name, kind, params, ctx) => this.defaultInput(name, kind, params, ctx),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
        ...(options.telemetry ? { telemetry: options.telemetry } : {})
      }))
    }
    const conn = (name: string) => this.connections.get(name)
    const inputs: ReadonlyArray<ServerConnectionInput> = config.servers.map((s) => ({
      name: s.name,
      lifecycle: s.lifecycle,
      restart: s.restart,
      connectTimeoutMs: s.timeouts.connectMs,
      idleTimeoutMs: s.idleTimeoutMs,
      health: s.health,
      seed: randomInt(2 ** 31),
      now: now()
    }))
    this.actor = this.runtime.node(
      hostMachine.provide({
        actors: {
          serverConnection: reportingServerConnection.provide({
            actions: {
              // Effects run after the chart's step, never inside it.
              openConnection: ({ context }) => later(() => conn(context.name)?.open(context.generation)),
              startHandshake: ({ context }) => later(() => conn(context.name)?.handshake(context.generation)),
              sendHealthProbe: ({ context }) => later(() => conn(context.name)?.probe(context.generation)),
              closeConnection: ({ context }) => {
                // Marked closed at once (calls of that generation fail now); the I/O follows.
                const c = conn(context.name)
                const generation = context.generation
                const reason = context.lastError ?? "closed"
                if (c !== undefined) later(() => c.close(generation, reason))
              }
            }
          })
        }
      }),
      { input: { servers: inputs }, ...(options.clock === undefined ? {} : { clock: options.clock }) }
    )
    let lastStatuses: Readonly<Record<string, ServerStatus>> = {}
    this.actor.subscribe((snapshot) => {
      const statuses = snapshot.context.statuses
      if (statuses === lastStatuses) return
      for (const [name, status] of Object.entries(statuses)) {
        if (Object.hasOwn(lastStatuses, name) && lastStatuses[name] === status) continue
        const c = this.connections.get(name)
        if (c === undefined) continue
        const before = c.status?.state
        if (status.state === "initializing" && c.listing !== undefined) this.reconnecting.add(name)
        c.onStatus(status)
        // A new generation came up: the URIs still wanted are subscribed on it.
        if (status.state === "ready" && before !== "ready" && before !== "degraded") later(() => this.subscriptions.generationReady(c))
        if (before !== status.state) this.emit({ type: "status", server: this.view(c) })
      }
      const changedState = Object.entries(statuses).some(([name, st]) => !Object.hasOwn(lastStatuses, name) || lastStatuses[name]!.state !== st.state)
      lastStatuses = statuses
      // Gating depends on states only: a report of the same state (a restart count, a reentry) changes no catalog.
      if (changedState) this.rebuild()
    })
  }

  /** Start the actor tree; lazy servers with no known listing are started once to learn it (they idle out again). */
  start(): this {
    this.actor.start()
    for (const c of this.connections.values()) {
      if (c.config.lifecycle === "lazy" && c.listing === undefined) this.toServer(c.name, { type: "START", now: this.now() })
    }
    return this
  }

  private toServer(name: string, event: ServerConnectionEvent): void {
    // Late answers of connections closed with the host have nowhere to go.
    if (this.actor.getSnapshot().status !== "active") return
    this.actor.send({ type: "TO_SERVER", name, event })
  }

  // ------------------------------------------------------------ events

  on(type: "change", listener: (event: Extract<HostEvent, { type: "change" }>) => void): () => void
  on(type: "status", listener: (event: Extract<HostEvent, { type: "status" }>) => void): () => void
  on(type: "listing", listener: (event: Extract<HostEvent, { type: "listing" }>) => void): () => void
  on(type: "notification", listener: (event: Extract<HostEvent, { type: "notification" }>) => void): () => void
  on(type: HostEvent["type"], listener: (event: HostEvent) => void): () => void
  on(type: HostEvent["type"], listener: (event: never) => void): () => void {
    const wrapped: Listener = (event) => {
      if (event.type === type) (listener as (e: HostEvent) => void)(event)
    }
    this.listeners.add(wrapped)
    return () => this.listeners.delete(wrapped)
  }

  private emit(event: HostEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  // ------------------------------------------------------------ catalog

  private onListing(name: string, listing: ServerListing, changed: boolean, previous: ServerListing | undefined): void {
    const reconnect = this.reconnecting.delete(name)
    if (changed && previous !== undefined) {
      const c = this.connections.get(name)!
      this.emit({ type: "listing", server: name, diff: diffListings(previous, listing), hash: c.hash!, reconnect })
    }
    this.rebuild()
  }

  private sources(gated: boolean): ReadonlyArray<CatalogSource> {
    const out: Array<CatalogSource> = []
    for (const c of this.connections.values()) {
      if (c.listing === undefined) continue
      const state = c.status?.state
      const lazyKnown = c.config.lifecycle === "lazy" && LAZY_ADVERTISED.has(state ?? "")
      if (gated && !(ADVERTISED.has(state ?? "") || lazyKnown)) continue
      out.push({ server: c.name, toolPrefix: c.config.toolPrefix, allowedTools: c.config.allowedTools, blockedTools: c.config.blockedTools, listing: c.listing })
    }
    return out
  }

  private rebuild(): void {
    this.known = buildCatalog(this.sources(false), this.config)
    const next = buildCatalog(this.sources(true), this.config)
    const signature = [
      ...[...next.tools.keys()].map((k) => `t:${k}:${next.tools.get(k)!.server}:${this.connections.get(next.tools.get(k)!.server)?.hash}`),
      ...[...next.prompts.keys()].map((k) => `p:${k}`),
      ...[...next.resources.keys()].map((k) => `r:${k}`),
      ...next.resourceTemplates.map((t) => `T:${t.server}:${t.original}`)
    ].sort().join("\n")
    const before = this.advertised
    this.advertised = next
    if (signature === this.advertisedSignature) return
    this.advertisedSignature = signature
    // Coalesce: one change event (one list_changed downstream) per burst. Closing withdraws every
    // server's entries: nobody is told, and no timer outlives the host.
    if (this.closing) return
    this.pendingBefore ??= new Set(before.tools.keys())
    if (this.changeTimer !== undefined) return
    this.changeTimer = this.clock.setTimeout(() => {
      this.changeTimer = undefined
      const was = this.pendingBefore ?? new Set<string>()
      this.pendingBefore = undefined
      const now = new Set(this.advertised.tools.keys())
      this.emit({
        type: "change",
        added: [...now].filter((n) => !was.has(n)),
        removed: [...was].filter((n) => !now.has(n)),
        catalog: this.advertised
      })
    }, this.options.coalesceMs ?? 25)
  }

  /** The advertised catalog (entries of servers that are not ready are withdrawn). */
  get catalog(): Catalog {
    return this.advertised
  }
  tools(): ReadonlyArray<ToolDefinition> {
    return [...this.advertised.tools.values()].map((e) => e.definition)
  }
  prompts(): ReadonlyArray<PromptDefinition> {
    return [...this.advertised.prompts.values()].map((e) => e.definition)
  }
  resources(): ReadonlyArray<ResourceDefinition> {
    return [...this.advertised.resources.values()].map((e) => e.definition)
  }
  resourceTemplates(): ReadonlyArray<ResourceTemplateDefinition> {
    return this.advertised.resourceTemplates.map((e) => e.definition)
  }

  /** One server's listing with its original names, if it is advertised now (ready, degraded, or lazy and stopped or waking). */
  serverListing(name: string): ServerListing | undefined {
    const c = this.connections.get(name)
    if (c === undefined || c.listing === undefined) return undefined
    const state = c.status?.state ?? ""
    return ADVERTISED.has(state) || (c.config.lifecycle === "lazy" && LAZY_ADVERTISED.has(state)) ? c.listing : undefined
  }

  // ------------------------------------------------------------ status

  private view(c: ServerConnection): ServerView {
    const s = c.status
    return {
      name: c.name,
      state: s?.state ?? "unknown",
      transport: c.config.transport,
      era: c.era,
      protocolVersion: s?.protocolVersion ?? c.protocolVersion,
      tools: c.listing?.tools.length ?? 0,
      restarts: s?.restarts ?? 0,
      lastError: s?.lastError,
      uptimeMs: s?.readySince !== undefined && (s.state === "ready" || s.state === "degraded") ? this.now() - s.readySince : undefined,
      generation: s?.generation ?? 0,
      parked: s?.parked,
      catalogHash: c.hash,
      pid: c.pid
    }
  }

  /** One row per server: state, era/version, tools, restarts, last error, uptime. */
  status(): ReadonlyArray<ServerView> {
    return [...this.connections.values()].map((c) => this.view(c))
  }

  /** The host's own state, derived from its children. */
  get state(): "starting" | "ready" | "degraded" | "stopping" | "stopped" {
    return this.actor.getSnapshot().value as never
  }

  /** The server's names, as configured (in order). */
  get serverNames(): ReadonlyArray<string> {
    return [...this.connections.keys()]
  }

  /** The stdio server's pid (= its process group), for diagnostics and tests. */
  connection(name: string): ServerConnection | undefined {
    return this.connections.get(name)
  }

  restart(name: string): void {
    this.toServer(name, { type: "RESTART", now: this.now() })
  }

  stop(name: string): void {
    this.toServer(name, { type: "STOP", now: this.now() })
  }

  /** Resolves once no keep-alive server is starting or initializing (or after `timeoutMs`, or once `signal` aborts). */
  settled(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const done = () =>
      [...this.connections.values()].every((c) => c.status !== undefined && c.status.state !== "starting" && c.status.state !== "initializing")
    // No wait asked for: do not leave a timer on a clock nobody may advance.
    if (done() || timeoutMs <= 0 || signal?.aborted === true) return Promise.resolve()
    const clock = this.clock
    return new Promise((resolve) => {
      const timer = clock.setTimeout(finish, timeoutMs)
      const sub = this.actor.subscribe(() => done() && finish())
      signal?.addEventListener("abort", finish)
      function finish() {
        clock.clearTimeout(timer)
        sub.unsubscribe()
        signal?.removeEventListener("abort", finish)
        resolve()
      }
    })
  }

  // ------------------------------------------------------------ routing

  private assertOpen(): void {
    if (this.closePromise !== undefined) throw new HostClosed({ message: "the host is closed" })
  }

  /** A name under `<toolPrefix><separator>` of a server whose listing is not known yet (lazy, never started). */
  private byPrefix(name: string): { readonly conn: ServerConnection; readonly original: string } | undefined {
    for (const c of this.connections.values()) {
      if (c.config.toolPrefix === "") continue // unprefixed: nothing to route by until its listing is known
      const prefix = `${c.config.toolPrefix}${this.config.separator}`
      if (c.listing === undefined && name.startsWith(prefix)) return { conn: c, original: name.slice(prefix.length) }
    }
    return undefined
  }

  private route(kind: "tool" | "prompt", name: string): { readonly conn: ServerConnection; readonly original: string; readonly definition: ToolDefinition | PromptDefinition | undefined } {
    const entry = kind === "tool" ? this.known.tools.get(name) : this.known.prompts.get(name)
    if (entry !== undefined) return { conn: this.connections.get(entry.server)!, original: entry.original, definition: entry.definition }
    const prefixed = this.config.collisions === "prefix" ? this.byPrefix(name) : undefined
    if (prefixed !== undefined) return { ...prefixed, definition: undefined }
    throw new UnknownName({ kind, name, message: `no server has the ${kind} ${JSON.stringify(name)}` })
  }

  /** The server and original name behind a served tool/prompt name or resource URI (what the gateway's policies decide on), or undefined. */
  owner(kind: "tool" | "prompt" | "resource", name: string): { readonly server: string; readonly name: string } | undefined {
    if (kind === "resource") {
      const server = resourceOwner(this.known, name)
      return server === undefined ? undefined : { server, name }
    }
    const entry = kind === "tool" ? this.known.tools.get(name) : this.known.prompts.get(name)
    if (entry !== undefined) return { server: entry.server, name: entry.original }
    const prefixed = this.config.collisions === "prefix" ? this.byPrefix(name) : undefined
    return prefixed === undefined ? undefined : { server: prefixed.conn.name, name: prefixed.original }
  }

  /** Call a namespaced tool (`server__tool`) on the server that owns it. */
  callTool(name: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<Result> {
    // Not `async` (the gateway's hot path): a refusal is a rejected promise, as from an async method.
    try {
      this.assertOpen()
      const { conn, original, definition } = this.route("tool", name)
      const hints = (definition as ToolDefinition | undefined)?.annotations
      const retryable = hints?.readOnlyHint === true || hints?.idempotentHint === true
      return this.invoke(conn, "tools/call", { name: original, arguments: args }, options, retryable)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Call a tool of one server by its original name (the gateway's `/mcp/<server>`). */
  callServerTool(server: string, name: string, args: Record<string, unknown> = {}, options: CallOptions = {}): Promise<Result> {
    try {
      this.assertOpen()
      const conn = this.connections.get(server)
      if (conn === undefined) throw new UnknownName({ kind: "server", name: server, message: `no server ${JSON.stringify(server)}` })
      const hints = conn.listing?.tools.find((t) => t.name === name)?.annotations
      return this.invoke(conn, "tools/call", { name, arguments: args }, options, hints?.readOnlyHint === true || hints?.idempotentHint === true)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  async getPrompt(name: string, args: Record<string, string> = {}, options: CallOptions = {}): Promise<Result> {
    this.assertOpen()
    const { conn, original } = this.route("prompt", name)
    return this.invoke(conn, "prompts/get", { name: original, arguments: args }, options, true)
  }

  async readResource(uri: string, options: CallOptions = {}): Promise<Result> {
    this.assertOpen()
    const server = resourceOwner(this.known, uri)
    if (server === undefined) throw new UnknownName({ kind: "resource", name: uri, message: `no server serves ${JSON.stringify(uri)}` })
    return this.invoke(this.connections.get(server)!, "resources/read", { uri }, options, true)
  }

  /** Any request to one server (the gateway's per-server endpoint), with the same routing guarantees. */
  async requestServer(server: string, method: string, params: Params | undefined, options: CallOptions = {}): Promise<Result> {
    this.assertOpen()
    const conn = this.connections.get(server)
    if (conn === undefined) throw new UnknownName({ kind: "server", name: server, message: `no server ${JSON.stringify(server)}` })
    return this.invoke(conn, method, params, options, method !== "tools/call")
  }

  /**
   * A call on `conn`. The chart only needs to hear about calls that matter to it: a lazy server's
   * in-flight count (idle timer), and a degraded server's recovery. A ready keep-alive server's call
   * costs no chart step; a degraded one's chart hears how it went, and a lost connection is tried once
   * more through `invokeTracked`, as its loop would.
   */
  private invoke(conn: ServerConnection, method: string, params: Params | undefined, options: CallOptions, retryable: boolean): Promise<Result> {
    const ready = conn.readyClient()
    if (ready === undefined || conn.config.lifecycle === "lazy") return this.invokeTracked(conn, method, params, options, retryable, 0, ready)
    // One promise for the call and its end (no second `then` after `callOn`'s: one microtask hop fewer on the way back).
    return new Promise<Result>((resolve, reject) => {
      this.callWith(conn, ready.client, ready.generation, method, params, options, (result) => {
        this.untrackedCallEnded(conn, true)
        resolve(result)
      }, (e) => {
        this.untrackedCallEnded(conn, e instanceof RpcError)
        if (this.retries(e, retryable, options)) resolve(this.invokeTracked(conn, method, params, options, retryable, 1, undefined))
        else reject(e)
      })
    })
  }

  /** Whether a failed call is tried once more (after a reconnect): a lost connection, a retryable call not cancelled, the host open. */
  private retries(e: unknown, retryable: boolean, options: CallOptions): boolean {
    return e instanceof ServerConnectionLost && retryable && options.signal?.aborted !== true && this.closePromise === undefined
  }

  /** After a call: a degraded server's chart hears how it went (its recovery). */
  private untrackedCallEnded(conn: ServerConnection, answered: boolean): void {
    if (conn.status?.state === "degraded") this.toServer(conn.name, { type: "CALL_ENDED", ok: answered, now: this.now() })
  }

  private async invokeTracked(
    conn: ServerConnection,
    method: string,
    params: Params | undefined,
    options: CallOptions,
    retryable: boolean,
    first: number,
    firstReady: { readonly client: AnyCallClient; readonly generation: number } | undefined
  ): Promise<Result> {
    const c = conn.config
    for (let attempt = first; ; attempt++) {
      const ready = attempt === first ? firstReady : undefined
      const tracked = ready === undefined || c.lifecycle === "lazy"
      if (tracked) this.toServer(conn.name, { type: "CALL_STARTED", now: this.now() })
      let answered = false
      try {
        const { client, generation } = ready ?? await conn.acquire(
          attempt === 0 ? 2 * c.timeouts.connectMs + 1_000 : c.restart.maxDelayMs + 2 * c.timeouts.connectMs,
          attempt > 0
        )
        const result = await this.callOn(conn, client, generation, method, params, options)
        answered = true
        return result
      } catch (e) {
        if (e instanceof RpcError) answered = true
        if (attempt === 0 && this.retries(e, retryable, options)) continue
        throw e
      } finally {
        if (tracked || conn.status?.state === "degraded") this.toServer(conn.name, { type: "CALL_ENDED", ok: answered, now: this.now() })
      }
    }
  }

  private callOn(
    conn: ServerConnection,
    client: AnyCallClient,
    generation: number,
    method: string,
    params: Params | undefined,
    options: CallOptions
  ): Promise<Result> {
    return new Promise<Result>((resolve, reject) => this.callWith(conn, client, generation, method, params, options, resolve, reject))
  }

  /**
   * A call on `client`, ended once: `ok` with its result, or `fail` with its error, or with the lost
   * connection's as soon as the connection is lost (whichever comes first: the in-flight entry is
   * taken out of `conn.inFlight` by whoever ends the call, so the other finds it gone).
   */
  private callWith(
    conn: ServerConnection,
    client: AnyCallClient,
    generation: number,
    method: string,
    params: Params | undefined,
    options: CallOptions,
    ok: (result: Result) => void,
    fail: (e: unknown) => void
  ): void {
    // The call's own options answer its inputs (`onElicitation`, `onSampling`, `onRoots`): no copy per call.
    // `lost`: the connection already took the entry out.
    const entry: InFlight = { key: conn.nextCallKey++, generation, lost: fail, inputs: options, onNotification: options.onLog }
    conn.inFlight.insert(entry.key, entry)
    // One object, no spreads: an absent option is an undefined field, which every client reads as absent.
    client.request(method, params, {
      timeoutMs: options.timeoutMs ?? conn.config.timeouts.callMs,
      // A progress callback makes the client inject a progress token; each progress resets the deadline.
      onProgress: options.onProgress ?? ignoreProgress,
      resetTimeoutOnProgress: true,
      signal: options.signal,
      // Read by a modern upstream's client only (per-request `_meta`); a legacy session ignores them.
      logLevel: options.logLevel,
      inputCapabilities: options.clientCapabilities
    }).then(
      (result) => {
        if (conn.inFlight.deleteIf(entry.key, entry)) ok(result)
      },
      (e) => {
        if (conn.inFlight.deleteIf(entry.key, entry)) fail(mapCallError(conn.name, generation, e))
      }
    )
  }

  // ------------------------------------------------------------ resource subscriptions (ResourceSubscriptions.ts)

  /**
   * Subscribe to a resource on the server that serves it (`options.server`, or the one the catalog
   * routes `uri` to, by its resource entry or template). The upstream is subscribed once per URI,
   * whoever subscribes (counted by subscriber), and each of its `notifications/resources/updated`
   * for `uri` reaches every subscriber's `onUpdated`. After a reconnect (a new generation), the URIs
   * still wanted are subscribed again. Fails with `UnknownName` (no server serves `uri`),
   * `SubscriptionUnsupported` (the server does not declare `resources.subscribe`),
   * `ServerUnavailable` at once while it restarts or is parked, or the upstream's error.
   */
  async subscribeResource(uri: string, options: SubscribeOptions = {}): Promise<void> {
    this.assertOpen()
    return this.subscriptions.subscribe(uri, options)
  }

  /**
   * End `options.subscriber`'s subscription to `uri` (on `options.server` only, if given). The last
   * subscriber's going unsubscribes upstream; resolves once that is answered (its failure is not the
   * caller's: the subscription is gone from the host either way). Unsubscribing what was not subscribed
   * does nothing.
   */
  unsubscribeResource(uri: string, options: Pick<SubscribeOptions, "subscriber" | "server"> = {}): Promise<void> {
    return this.subscriptions.unsubscribe(uri, options)
  }

  /** The upstream subscriptions the host holds (server, URI, how many subscribers, the generation it is on). */
  resourceSubscriptions(): ReadonlyArray<ResourceSubscriptionView> {
    return this.subscriptions.view()
  }

  /**
   * Whether a server can be subscribed to, by the capabilities of its last connection (kept while it
   * restarts): it declared `resources.subscribe` (either era). Undefined: never connected.
   */
  canSubscribe(server: string): boolean | undefined {
    return this.subscriptions.canSubscribe(server)
  }

  /** The client of a ready server, waiting for one that is starting (a lazy one is started); restarting, parked, stopped: refused at once. */
  private async readyFor(conn: ServerConnection): Promise<{ readonly client: AnyCallClient & { readonly serverCapabilities?: ServerCapabilities | undefined }; readonly generation: number }> {
    const ready = conn.readyClient()
    if (ready !== undefined) return ready
    const c = conn.config
    const lazy = c.lifecycle === "lazy"
    if (lazy) this.toServer(conn.name, { type: "CALL_STARTED", now: this.now() })
    try {
      return await conn.acquire(2 * c.timeouts.connectMs + 1_000)
    } finally {
      if (lazy) this.toServer(conn.name, { type: "CALL_ENDED", ok: true, now: this.now() })
    }
  }

  // ------------------------------------------------------------ roots

  /** Replace the host's own roots and tell every ready legacy upstream (`notifications/roots/list_changed`). */
  setRoots(roots: ReadonlyArray<Root>): void {
    this.roots = roots
    this.rootsChanged()
  }

  /**
   * Add roots to what upstream servers are given (a gateway adds its clients'); the returned function
   * removes them. Adding or removing tells no one: call `rootsChanged` when what a source gives changes.
   */
  addRootsSource(source: RootsSource): () => void {
    this.rootsSources.add(source)
    return () => void this.rootsSources.delete(source)
  }

  /**
   * The roots changed for `server` (default: every server): each ready legacy upstream among them gets
   * `notifications/roots/list_changed` once per coalescing window (`coalesceMs`), and lists them again.
   * A modern upstream is told the roots with each request instead.
   */
  rootsChanged(server?: string): void {
    // A gathering under way may predate the change: the next `roots/list` starts a fresh one.
    if (server === undefined) this.rootsGathering.clear()
    else this.rootsGathering.delete(server)
    if (this.closing) return
    if (server === undefined) this.rootsPending = "*"
    else if (this.rootsPending !== "*") {
      const pending = this.rootsPending ?? new Set<string>()
      pending.add(server)
      this.rootsPending = pending
    }
    if (this.rootsTimer !== undefined) return
    this.rootsTimer = this.clock.setTimeout(() => {
      this.rootsTimer = undefined
      const pending = this.rootsPending
      this.rootsPending = undefined
      for (const conn of this.connections.values()) {
        if (pending === "*" || pending?.has(conn.name)) conn.rootsChanged()
      }
    }, this.options.coalesceMs ?? 25)
  }

  /** What `server` is given for a `roots/list` no call takes: the host's roots united with its sources'. */
  rootsFor(server: string): Promise<Array<Root>> {
    // One gathering per server at a time: each asks every roots source (a gateway asks each of
    // its clients), so a server flooding `roots/list` must not multiply that by its flood.
    const running = this.rootsGathering.get(server)
    if (running !== undefined) return running
    const gathering = gatherRoots([() => this.roots, ...this.rootsSources], server, this.clock).finally(() => {
      if (this.rootsGathering.get(server) === gathering) this.rootsGathering.delete(server)
    })
    this.rootsGathering.set(server, gathering)
    return gathering
  }

  private async defaultInput(server: string, kind: InputKind, params: Params | undefined, ctx: ServerRequestContext): Promise<Result> {
    const o = this.options
    const answer = kind === "elicitation" ? o.onElicitation : kind === "sampling" ? o.onSampling : o.onRoots
    if (answer !== undefined) return answer(server, params, ctx)
    if (kind === "elicitation") return { action: "decline" }
    if (kind === "roots") return { roots: await this.rootsFor(server) }
    throw new RpcError({ method: "sampling/createMessage", code: -32601, message: "sampling is not available on this host" })
  }

  // ------------------------------------------------------------ shutdown

  /** Stop every server (stdin close → SIGTERM → SIGKILL of each group) and wait until all are gone. */
  close(): Promise<void> {
    return this.closePromise ??= (async () => {
      this.closing = true
      this.subscriptions.close()
      if (this.changeTimer !== undefined) this.clock.clearTimeout(this.changeTimer)
      this.changeTimer = undefined
      if (this.rootsTimer !== undefined) this.clock.clearTimeout(this.rootsTimer)
      this.rootsTimer = undefined
      this.rootsSources.clear()
      if (this.actor.getSnapshot().status === "active") this.actor.send({ type: "STOP", now: this.now(), reason: "host closing" })
      // The charts' closeConnection effects run on the next microtasks.
      await new Promise<void>((resolve) => setImmediate(resolve))
      await Promise.all([...this.connections.values()].map((c) => c.closed))
      // Closing may have queued more closes (a generation that was starting).
      await Promise.all([...this.connections.values()].map((c) => c.closed))
      this.actor.stop()
      if (this.ownsRuntime) await this.runtime.shutdown({ drainMs: 0, reason: "host closed" })
      await this.inspector?.close()
      this.stateFile?.clear()
      this.listeners.clear()
    })()
  }
}

const ignoreProgress = (): void => {}

/** What a call is made on: a connection's client, either era. */
type AnyCallClient = { request(method: string, params?: Params, options?: object): Promise<Result> }

/** Build the host from a config file path, a parsed config, or a raw `{ mcpServers }` object, start it and wait for it to settle. */
export const startHost = async (config: HostConfig | string | { readonly [key: string]: unknown }, options: HostOptions = {}): Promise<McpHost> => {
  options.signal?.throwIfAborted()
  const resolved: HostConfig = typeof config === "string"
    ? loadHostConfig(config)
    : "servers" in config && "issues" in config && Array.isArray(config.servers)
    ? config as HostConfig
    : parseHostConfig(config)
  // With an inspector, the host's own runtime is made here: the inspector describes its registry (the upstream
  // sessions, the gateway's), and starts first, so it sees every actor from the start.
  const runtime = options.inspect && options.runtime === undefined ? hostRuntime(options) : options.runtime
  if (runtime !== undefined && runtime !== options.runtime) madeForHost.add(runtime)
  // The host's inspector follows from the start (`record: "always"`, unless told otherwise): its actors are a
  // handful of long-lived servers and their charts, which a page opened later finds only if followed.
  const inspect = options.inspect && { record: "always" as const, ...(options.inspect === true ? {} : options.inspect) }
  const inspector = await startEndpointInspector({ inspect, runtime }).catch(async (e: unknown) => {
    // Its port taken: the runtime made for the host has nothing to run.
    if (runtime !== options.runtime) await runtime?.shutdown({ drainMs: 0 })
    throw e
  })
  const host = new McpHost(resolved, runtime === undefined ? options : { ...options, runtime }).start()
  host.inspector = inspector
  const connectMax = Math.max(0, ...resolved.servers.map((s) => s.timeouts.connectMs))
  await host.settled(options.startTimeoutMs ?? connectMax + 2_000, options.signal)
  if (options.signal?.aborted === true) {
    await host.close()
    throw options.signal.reason
  }
  return host
}

export { ServerUnavailable }
