/**
 * The effects of one `serverConnection` actor: spawn or connect, handshake
 * and list, health probes, close. The chart decides *when*; this class only
 * does, and reports back as events tagged with the connection generation.
 *
 * A connection holds the client of exactly one generation. A call takes the
 * client of the generation current when it starts, and is failed with
 * `ServerConnectionLost` when that generation is closed: it can never reach a
 * replaced connection.
 *
 * Each generation is an `UpstreamGeneration`: a supervised client connection
 * of the host's runtime (registry entry, `Scope`, a `connection` node under
 * this server's actor) that owns the child process or socket, the client and
 * its charts; closing it (whatever asked) releases them all.
 */
import type { AnyActorRef } from "xstate"
import type { ServerConnectionEvent } from "../../machines/serverConnection.ts"
import type { ServerStatus } from "../../machines/host.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { JsonRpcNotification, Params } from "../protocol/jsonrpc.ts"
import { errorMessage } from "../protocol/errors.ts"
import { RpcError } from "../protocol/requestErrors.ts"
import type { InputHandler, Result, ServerRequestContext } from "../client/ClientSession.ts"
import { ClientSession } from "../client/ClientSession.ts"
import { connectAuto, type McpClientLike } from "../client/connectAuto.ts"
import { connectAutoHttp } from "../client/connectAutoHttp.ts"
import type { Client } from "../client/Client.ts"
import { HttpClientSession } from "../client/HttpClientSession.ts"
import { ModernClient } from "../client/ModernClient.ts"
import { makeStdioClientTransport, type StdioClientTransport } from "../transports/stdioClient.ts"
import type { Transport, TransportClosed } from "../transports/Transport.ts"
import { makeWsClientTransport } from "../transports/wsClient.ts"
import { acceptListingEntries, emptyListing, listingHash, MAX_LISTING_ENTRIES, type ServerListing } from "./Catalog.ts"
import type { ServerConfig } from "./config.ts"
import { type Clock, systemClock } from "../protocol/clock.ts"
import type { Telemetry } from "../observability/Telemetry.ts"
import { ServerConnectionLost, ServerUnavailable } from "./errors.ts"
import { type HostStateFile, INSTANCE_ENV, withLifeline } from "./lifeline.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import { type UpstreamClient, UpstreamGeneration } from "./UpstreamGeneration.ts"
import { recordStart, relistDelay } from "./relistBudget.ts"

export type InputKind = "elicitation" | "sampling" | "roots"

/** What the connection needs from its host. */
export interface ConnectionHooks {
  /** Send an event to this server's actor (through the host chart). */
  readonly send: (event: ServerConnectionEvent) => void
  readonly now: () => number
  /** The host's clock: the wait for ready (`acquire`) runs on it. Default: the system clock. */
  readonly clock?: Clock
  readonly stateFile: HostStateFile | undefined
  readonly clientInfo: { readonly name: string; readonly version: string }
  /** A new listing arrived (handshake, list_changed, reconnect). `changed` is false when the hash is the same. */
  readonly onListing: (server: string, listing: ServerListing, changed: boolean, previous: ServerListing | undefined) => void
  /** A notification other than list_changed (logging, progress of unknown calls, resource updates). */
  readonly onNotification: (server: string, notification: JsonRpcNotification) => void
  /** Answer a server→client request (legacy) or MRTR input (modern) when no call in flight takes it. */
  readonly onInput: (server: string, kind: InputKind, params: Params | undefined, ctx: ServerRequestContext) => Promise<Result>
  readonly onStderr?: (server: string, line: string) => void
  readonly telemetry?: Telemetry
  /** This server's `serverConnection` actor: the parent of each generation's connection node (one tree under the host). */
  readonly actorParent?: () => AnyActorRef | undefined
  /** The runtime that supervises each generation (the host's). Default: the process's. */
  readonly runtime?: McpRuntime
}

/** A call in flight on one generation. */
export interface InFlight {
  /** Its key in `ServerConnection.inFlight` (`nextCallKey`). */
  readonly key: number
  readonly generation: number
  readonly lost: (error: ServerConnectionLost) => void
  /** What answers the server's inputs during this call (the call's options: `onElicitation`, `onSampling`, `onRoots`). */
  readonly inputs: InputHandlers
  readonly onNotification: ((n: JsonRpcNotification) => void) | undefined
}

/** The handlers of a call that answer a server's inputs, by kind. */
export interface InputHandlers {
  readonly onElicitation?: InputHandler | undefined
  readonly onSampling?: InputHandler | undefined
  readonly onRoots?: InputHandler | undefined
}
const INPUT_HANDLER = { elicitation: "onElicitation", sampling: "onSampling", roots: "onRoots" } as const satisfies Record<InputKind, keyof InputHandlers>

/** The last stderr lines kept per server, each cut to so many characters. */
export const STDERR_TAIL_LINES = 20
export const STDERR_TAIL_LINE_CHARS = 2_000

/** At most this many pages of one list method per listing. */
const MAX_LIST_PAGES = 100

/** Problems as `text (×n)`, each once, at most 20 (a listing of 10 000 bad entries makes one line). */
const summarize = (problems: ReadonlyArray<string>): ReadonlyArray<string> => {
  const counts = new Map<string, number>()
  for (const p of problems) counts.set(p, (counts.get(p) ?? 0) + 1)
  return [...counts].slice(0, 20).map(([p, n]) => (n === 1 ? p : `${p} (×${n})`))
}

type AnyClient = McpClientLike & UpstreamClient & { readonly era?: string }

const LIST_METHODS = [
  ["tools/list", "tools"],
  ["resources/list", "resources"],
  ["resources/templates/list", "resourceTemplates"],
  ["prompts/list", "prompts"]
] as const

/** Pass a transport through, but also tell `onClose` when it ends. */
const observeClose = (transport: Transport, onClose: (closed: TransportClosed) => void): Transport => ({
  ...transport,
  kind: transport.kind,
  authoritativeLiveness: transport.authoritativeLiveness,
  start: (handlers) =>
    transport.start({
      ...handlers,
      onClose: (closed) => {
        onClose(closed)
        handlers.onClose(closed)
      }
    }),
  send: (m) => transport.send(m),
  ...(transport.sendText === undefined ? {} : { sendText: (text: string) => transport.sendText!(text) }),
  close: () => transport.close()
})

export class ServerConnection {
  readonly config: ServerConfig
  private readonly hooks: ConnectionHooks
  /** The generation the chart is on, and the resources opened for it. */
  generation = 0
  /** The current generation's resources (undefined once the chart closed it). */
  private currentGeneration: UpstreamGeneration | undefined
  private client: AnyClient | undefined
  private clientGeneration = -1
  /** The last listing and its hash (kept across restarts: diffed on reconnect, served while lazy-idle). */
  listing: ServerListing | undefined
  hash: string | undefined
  /**
   * The capabilities and era of the last client that came up (kept across restarts, as the listing):
   * what the gateway advertises from (`resources.subscribe`) while the server is down.
   */
  lastCapabilities: { readonly capabilities: ServerCapabilities | undefined; readonly era: string | undefined } | undefined
  status: ServerStatus | undefined
  /**
   * Calls in flight by a number of their own (`key`), in a ClearingMap: one add and delete per call on a
   * connection that lives for hours, and a `Set`'s dropped hash tables kept every call reachable for the young
   * GC once a full GC had moved the set to old space (docs/performance.md, "The gateway's per-call path and the young GC").
   */
  readonly inFlight = new ClearingMap<number, InFlight>()
  /** The next call's key in `inFlight`. */
  nextCallKey = 0
  private readonly waiters = new Set<() => void>()
  private refreshing: Promise<void> | undefined
  /** A list_changed came while a listing was under way or deferred: list once more after it. */
  private relistDue = false
  /** The deferred listing's timer (the relist budget was spent), on the host's clock. */
  private relistTimer: unknown
  /** When the latest listings started (`relistBudget.ts`). */
  private listStarts: ReadonlyArray<number> = []
  readonly stderrTail: Array<string> = []
  /** What the last listing left out of the server's list results, and why (malformed entries, a cursor loop, caps). */
  listingProblems: ReadonlyArray<string> = []
  private closing: Promise<void> = Promise.resolve()

  constructor(config: ServerConfig, hooks: ConnectionHooks) {
    this.config = config
    this.hooks = hooks
  }

  /** The stdio server's process group id (its lifeline wrapper's pid), while running. */
  get pid(): number | undefined {
    const t = this.currentGeneration?.transport
    return t !== undefined && t.kind === "stdio" ? (t as StdioClientTransport).pid : undefined
  }

  get name(): string {
    return this.config.name
  }
  /** The era/version the current client speaks. */
  get protocolVersion(): string | undefined {
    return this.client?.protocolVersion
  }
  get era(): string | undefined {
    const c = this.client
    if (c === undefined) return undefined
    if (c instanceof ModernClient) return "modern"
    if (c instanceof ClientSession || c instanceof HttpClientSession) return "legacy"
    return c.era
  }

  private current(generation: number): boolean {
    return generation === this.generation
  }

  private send(event: ServerConnectionEvent): void {
    this.hooks.send(event)
  }

  // ------------------------------------------------------------ chart effects

  /** `openConnection`: a supervised generation, then spawn the process / open the socket for it. */
  open(generation: number): void {
    this.generation = generation
    let gen: UpstreamGeneration
    try {
      gen = new UpstreamGeneration({
        server: this.name,
        generation,
        kind: this.config.transport,
        runtime: this.hooks.runtime,
        parent: this.hooks.actorParent?.(),
        // Closed under us (the runtime shut down): the chart decides what follows.
        onLost: (reason) => {
          if (this.current(generation)) this.send({ type: "FAILED", generation, now: this.hooks.now(), reason })
        }
      })
    } catch (e) {
      // The runtime is shutting down: nothing was opened.
      this.send({ type: "FAILED", generation, now: this.hooks.now(), reason: `start failed: ${errorMessage(e)}` })
      return
    }
    this.currentGeneration = gen
    void gen.track(this.doOpen(gen))
  }

  private async doOpen(gen: UpstreamGeneration): Promise<void> {
    // A previous generation may still be closing (its group being reaped): let it finish first.
    await this.closing
    const c = this.config
    const generation = gen.generation
    if (gen.isClosing) return
    try {
      if (c.transport === "stdio") {
        const wrapped = withLifeline(c.command, c.args)
        const stateFile = this.hooks.stateFile
        const transport: StdioClientTransport = makeStdioClientTransport({
          command: wrapped.command,
          args: wrapped.args,
          env: { ...process.env, ...c.env, ...(stateFile ? { [INSTANCE_ENV]: stateFile.instance } : {}) },
          ...(c.cwd !== undefined ? { cwd: c.cwd } : {}),
          stderr: (line) => this.stderrLine(line),
          lifeline: process.platform !== "win32",
          closeGraceMs: 1_000,
          termGraceMs: 1_000
        })
        gen.attachTransport(transport)
        await transport.spawned
        const pid = transport.pid
        if (pid !== undefined && stateFile) {
          stateFile.add(pid, c.name)
          void transport.exited.then(() => stateFile.remove(pid))
        }
      } else if (c.transport === "ws") {
        const transport = makeWsClientTransport({ url: c.url, headers: c.headers, connectTimeoutMs: c.timeouts.connectMs })
        gen.attachTransport(transport)
        await transport.opened
      }
      if (this.current(generation) && !gen.isClosing) this.send({ type: "SPAWNED", generation, now: this.hooks.now() })
    } catch (e) {
      if (this.current(generation)) this.send({ type: "FAILED", generation, now: this.hooks.now(), reason: `start failed: ${errorMessage(e)}` })
    }
  }

  private stderrLine(line: string): void {
    // The tail is kept for status and crash reports: a server's long lines (up to maxMessageBytes
    // each) must not pin megabytes per server for the host's lifetime. A copy, not a slice of `line`.
    this.stderrTail.push(line.length <= STDERR_TAIL_LINE_CHARS ? line : `${Buffer.from(line.slice(0, STDERR_TAIL_LINE_CHARS)).toString()}…`)
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift()
    this.hooks.onStderr?.(this.name, line)
  }

  /** `startHandshake`: era probe + initialize/discover, then the first listing. */
  handshake(generation: number): void {
    const gen = this.currentGeneration
    if (gen === undefined || gen.generation !== generation || gen.isClosing) return
    gen.initializing()
    const work = this.doHandshake(gen)
    // Closing a stdio/ws transport cuts its handshake short; an HTTP one cannot be, so closing does
    // not wait for it (up to the connect timeout): its client is closed as it arrives.
    if (this.config.transport !== "http") void gen.track(work)
  }

  private clientOptions(parent: AnyActorRef) {
    const c = this.config
    const input = (kind: InputKind): InputHandler => (params, ctx) => this.input(kind, params, ctx)
    return {
      clientInfo: this.hooks.clientInfo,
      requestTimeoutMs: c.timeouts.callMs,
      initializeTimeoutMs: c.timeouts.connectMs,
      probeTimeoutMs: c.timeouts.connectMs,
      // Health is the host chart's job (ping / server/discover on its own schedule).
      keepalive: false,
      onElicitation: input("elicitation"),
      onSampling: input("sampling"),
      onRoots: input("roots"),
      onNotification: (n: JsonRpcNotification) => this.notification(n),
      ...(this.hooks.telemetry === undefined ? {} : { telemetry: this.hooks.telemetry }),
      // The host's one clock: the clients' deadlines (the era probe's among them) run on it. Without it they took the
      // process's runtime's, made for them (a second runtime in every host process, its timers on the wall clock).
      ...(this.hooks.clock === undefined ? {} : { clock: this.hooks.clock }),
      // The generation's node: the client's charts are its children, and the caller (the generation) owns the client.
      actorParent: parent
    }
  }

  private async doHandshake(gen: UpstreamGeneration): Promise<void> {
    const c = this.config
    const generation = gen.generation
    const node = gen.node
    let client: AnyClient | undefined
    let attached = false
    try {
      const options = this.clientOptions(node.actor)
      if (c.transport === "http") {
        client = c.protocol === "legacy"
          ? await HttpClientSession.connect(c.url, { ...options, headers: c.headers }, node)
          : await connectAutoHttp(c.url, { ...options, headers: c.headers, ...(c.protocol === "2026-07-28" ? { era: "modern" as const } : {}) })
        // A modern client sends nothing at connect: discover now (as over stdio/ws), so the listing knows the
        // server's capabilities. `2026-07-28`: a server that is not modern then fails the handshake instead of
        // coming up empty. `auto`: the era came from the cache (per origin) when this server was reached before,
        // a restart included, and without a discover the capabilities are unknown and every list is skipped:
        // the server came back ready with no tools.
        const connected = client as Client
        if (connected.client instanceof ModernClient && (c.protocol === "2026-07-28" || connected.client.discovered === undefined)) {
          await connected.client.discover()
        }
      } else {
        const raw = gen.transport
        if (raw === undefined) throw new Error("no transport")
        const transport = observeClose(raw, (closed) => {
          // Closed by us (the chart asked): nothing to report back.
          const closedByUs = gen.isClosing
          gen.transportEnded(closed)
          if (this.current(generation) && !closedByUs) {
            this.send({ type: "FAILED", generation, now: this.hooks.now(), reason: closed.reason })
          }
        })
        if (c.protocol === "legacy") client = await ClientSession.connect(transport, options, node.lifecycle)
        else if (c.protocol === "2026-07-28") {
          const modern = ModernClient.create(transport, options)
          client = modern
          await modern.discover()
        } else client = await connectAuto(transport, options)
      }
      // From here the generation owns the client (a generation closing meanwhile closes it).
      attached = true
      gen.attachClient(client, (end) => {
        if (this.current(generation)) this.send({ type: "FAILED", generation, now: this.hooks.now(), reason: `client ended: ${end.reason}` })
      })
      if (!this.current(generation) || gen.isClosing) return
      this.client = client
      this.clientGeneration = generation
      this.lastCapabilities = { capabilities: client.serverCapabilities, era: this.era }
      await this.refreshListing(generation)
      if (this.current(generation)) this.send({ type: "READY", generation, now: this.hooks.now(), protocolVersion: client.protocolVersion })
    } catch (e) {
      if (this.current(generation) && !gen.isClosing) {
        this.send({ type: "FAILED", generation, now: this.hooks.now(), reason: `handshake failed: ${errorMessage(e)}` })
      }
      // A client made before the failure (a modern client whose discover failed) goes with the generation.
      if (client !== undefined && !attached) gen.attachClient(client, () => {})
    }
  }

  /** List everything the server advertises (paginated, each list bounded by `timeouts.list`). */
  private async list(client: AnyClient): Promise<ServerListing> {
    const caps = (client.serverCapabilities ?? {}) as Record<string, unknown>
    const out: Record<string, Array<unknown>> = { tools: [], resources: [], resourceTemplates: [], prompts: [] }
    const problems: Array<string> = []
    for (const [method, key] of LIST_METHODS) {
      const capability = method.split("/")[0]!
      if (typeof caps !== "object" || caps === null || !Object.hasOwn(caps, capability) || caps[capability] === undefined) continue
      let cursor: string | undefined
      // A cursor the server gave before would list the same pages again (a pagination loop).
      const seen = new Set<string>()
      // The names (URIs) kept so far: one listed again, on any page, is left out.
      const names = new Set<string>()
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const result = await client.request(method, cursor === undefined ? undefined : { cursor }, { timeoutMs: this.config.timeouts.listMs })
        const items = result[key]
        if (Array.isArray(items)) {
          const accepted = acceptListingEntries(key, items, names)
          const room = MAX_LISTING_ENTRIES - out[key]!.length
          out[key]!.push(...accepted.kept.slice(0, room))
          problems.push(...accepted.problems)
          if (accepted.kept.length > room) problems.push(`${key}: more than ${MAX_LISTING_ENTRIES} entries, the rest left out`)
        } else problems.push(`${method}: ${key} is not an array, that page left out`)
        cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined
        if (cursor === undefined) break
        if (seen.has(cursor) || out[key]!.length >= MAX_LISTING_ENTRIES) {
          problems.push(`${method}: ${seen.has(cursor) ? "the server repeated a cursor" : "too many entries"}, listing stopped`)
          break
        }
        seen.add(cursor)
        if (page === MAX_LIST_PAGES - 1) problems.push(`${method}: more than ${MAX_LIST_PAGES} pages, listing stopped`)
      }
    }
    this.listingProblems = summarize(problems)
    return out as unknown as ServerListing
  }

  /** Fetch the listing again and tell the host (hash compared with the last one, across reconnects). */
  refreshListing(generation: number = this.generation): Promise<void> {
    const client = this.client
    if (client === undefined || this.clientGeneration !== generation) return Promise.resolve()
    if (this.refreshing !== undefined) return this.refreshing
    this.listStarts = recordStart(this.listStarts, this.hooks.now())
    return this.refreshing = this.list(client).then(
      (listing) => {
        this.refreshing = undefined
        if (!this.current(generation)) return
        const hash = listingHash(listing)
        const previous = this.listing
        const changed = hash !== this.hash
        this.listing = listing
        this.hash = hash
        this.hooks.onListing(this.name, listing, changed, previous)
        this.relistIfDue()
      },
      (e) => {
        this.refreshing = undefined
        this.relistIfDue()
        throw e
      }
    )
  }

  /**
   * A `*\/list_changed` from the server: list again. One that arrives while a listing is
   * under way is not lost (that listing may predate the change): it is listed once more
   * after it. A flood is bounded by the relist budget (`relistBudget.ts`): beyond it the
   * listing waits on the host's clock, and the notifications meanwhile fold into it.
   */
  private listChanged(): void {
    if (this.refreshing !== undefined || this.relistTimer !== undefined) {
      this.relistDue = true
      return
    }
    const wait = relistDelay(this.listStarts, this.hooks.now())
    if (wait === 0) {
      this.refreshListing().catch(() => {})
      return
    }
    const clock = this.hooks.clock ?? systemClock
    const generation = this.generation
    this.relistTimer = clock.setTimeout(() => {
      this.relistTimer = undefined
      this.relistDue = false
      if (this.current(generation)) this.refreshListing(generation).catch(() => {})
    }, wait)
  }

  private relistIfDue(): void {
    if (!this.relistDue) return
    this.relistDue = false
    this.listChanged()
  }

  private cancelRelist(): void {
    this.relistDue = false
    if (this.relistTimer === undefined) return
    ;(this.hooks.clock ?? systemClock).clearTimeout(this.relistTimer)
    this.relistTimer = undefined
  }

  /** `sendHealthProbe`: `ping` (legacy) or `server/discover` (modern); an answer, even an error, proves life. */
  probe(generation: number): void {
    const client = this.client
    if (client === undefined || this.clientGeneration !== generation) return
    const timeoutMs = this.config.health === false ? 10_000 : this.config.health.timeoutMs
    const method = this.era === "modern" ? "server/discover" : "ping"
    client.request(method, undefined, { timeoutMs }).then(
      () => this.current(generation) && this.send({ type: "HEALTH_OK", generation, now: this.hooks.now() }),
      (e) => {
        if (!this.current(generation)) return
        // A JSON-RPC error answer is still an answer from a live server.
        if (e instanceof RpcError) this.send({ type: "HEALTH_OK", generation, now: this.hooks.now() })
        else this.send({ type: "HEALTH_FAILED", generation, now: this.hooks.now(), reason: errorMessage(e) })
      }
    )
  }

  /**
   * `closeConnection`: fail the generation's calls in flight, then close it: its
   * client, its transport (a stdio group reaped), its scope and node.
   */
  close(generation: number, reason = "connection closed"): void {
    const gen = this.currentGeneration !== undefined && this.currentGeneration.generation === generation ? this.currentGeneration : undefined
    if (generation === this.generation) {
      this.currentGeneration = undefined
      this.client = undefined
      this.clientGeneration = -1
      // A deferred listing belongs to the generation that asked for it (the next one lists at its handshake).
      this.cancelRelist()
    }
    for (const call of [...this.inFlight.values()]) {
      if (call.generation !== generation) continue
      this.inFlight.delete(call.key)
      call.lost(new ServerConnectionLost({
        server: this.name,
        generation,
        reason,
        message: `${this.name}: connection lost while the call was in flight (${reason})`
      }))
    }
    if (gen === undefined) return
    const previous = this.closing
    this.closing = (async () => {
      await previous
      await gen.retire(reason)
      // Its scope has closed (the registry no longer lists it) and its node's chart has ended.
      await gen.released
    })()
  }

  /** Resolves when every connection this object opened is closed. */
  get closed(): Promise<void> {
    return this.closing
  }

  // ------------------------------------------------------------ host side

  onStatus(status: ServerStatus): void {
    this.status = status
    for (const w of [...this.waiters]) w()
  }

  private unavailable(status: ServerStatus): ServerUnavailable {
    const retryAt = status.state === "parked"
      ? status.parked?.nextProbeAt
      : status.state === "restarting"
      ? this.hooks.now() + status.delayMs
      : undefined
    return new ServerUnavailable({
      server: this.name,
      state: status.state,
      ...(status.lastError !== undefined ? { reason: status.lastError } : {}),
      ...(retryAt !== undefined ? { retryAt } : {}),
      message: `${this.name} is ${status.state}${status.state === "parked" && status.parked ? ` (${status.parked.reason})` : status.lastError ? ` (${status.lastError})` : ""}`
    })
  }

  /** The client at once when the server is ready (the hot path: no promise, no timer). */
  readyClient(): { readonly client: AnyClient; readonly generation: number } | undefined {
    const s = this.status
    if (s === undefined || (s.state !== "ready" && s.state !== "degraded")) return undefined
    if (this.client === undefined || this.clientGeneration !== this.generation) return undefined
    return { client: this.client, generation: this.clientGeneration }
  }

  /**
   * The client to call on, with its generation. Ready/degraded: at once.
   * Starting/initializing (or idle, which the caller's CALL_STARTED starts):
   * waits up to `waitMs` for ready. Restarting/parked/stopped: fails fast,
   * unless `throughRestart` (a retry after a reconnect) lets it wait too.
   */
  acquire(waitMs: number, throughRestart = false): Promise<{ readonly client: AnyClient; readonly generation: number }> {
    return new Promise((resolve, reject) => {
      const clock = this.hooks.clock ?? systemClock
      let timer: unknown
      const check = (): boolean => {
        const s = this.status
        if (s === undefined) return false
        if ((s.state === "ready" || s.state === "degraded") && this.client !== undefined && this.clientGeneration === this.generation) {
          resolve({ client: this.client, generation: this.clientGeneration })
          return true
        }
        if (s.state === "stopped" || (!throughRestart && (s.state === "restarting" || s.state === "parked"))) {
          reject(this.unavailable(s))
          return true
        }
        return false
      }
      if (check()) return
      const waiter = () => {
        if (!check()) return
        this.waiters.delete(waiter)
        clock.clearTimeout(timer)
      }
      this.waiters.add(waiter)
      timer = clock.setTimeout(() => {
        this.waiters.delete(waiter)
        const s = this.status
        reject(s === undefined ? new ServerUnavailable({ server: this.name, state: "unknown", message: `${this.name} did not start` }) : this.unavailable({ ...s, lastError: s.lastError ?? `not ready within ${waitMs} ms` }))
      }, waitMs)
    })
  }

  /**
   * Tell a ready legacy upstream its roots changed (`notifications/roots/list_changed`: it lists them
   * again). A modern upstream has no such notification (its requests carry the roots), nor has one
   * that is not up: it asks for roots after its next `initialized`.
   */
  rootsChanged(): void {
    const client = this.client
    const state = this.status?.state
    if (client === undefined || this.clientGeneration !== this.generation || (state !== "ready" && state !== "degraded")) return
    const notify = (client as { notify?: (method: string) => void }).notify
    if (client.era === "modern" || notify === undefined) return
    try {
      notify.call(client, "notifications/roots/list_changed")
    } catch {
      // A transport closing under us: the restart re-initializes, and the server asks again.
    }
  }

  // ------------------------------------------------------------ upstream → host

  private notification(n: JsonRpcNotification): void {
    const m = n.method
    if (m === "notifications/tools/list_changed" || m === "notifications/resources/list_changed" || m === "notifications/prompts/list_changed") {
      this.listChanged()
      return
    }
    // Logging and other notifications: to the newest call in flight that listens, and to the host.
    const calls = [...this.inFlight.values()].filter((c) => c.generation === this.generation && c.onNotification !== undefined)
    if (m === "notifications/message" && calls.length > 0) calls.at(-1)!.onNotification!(n)
    this.hooks.onNotification(this.name, n)
  }

  /**
   * An elicitation, sampling or roots request from the server (legacy
   * server→client request, or a modern `input_required` input). It goes to
   * the newest call in flight on this generation that can answer it (the
   * gateway's client, through that call's request context), else to the host.
   */
  private input(kind: InputKind, params: Params | undefined, ctx: ServerRequestContext): Promise<Result> {
    const field = INPUT_HANDLER[kind]
    const calls = [...this.inFlight.values()].filter((c) => c.generation === this.generation && c.inputs[field] !== undefined)
    const handler = calls.at(-1)?.inputs[field]
    if (handler !== undefined) return Promise.resolve(handler(params, ctx))
    return this.hooks.onInput(this.name, kind, params, ctx)
  }
}

export { emptyListing }
