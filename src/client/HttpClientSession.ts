/**
 * A client session over Streamable HTTP that survives the server losing the
 * session (legacy era, 2025-11-25/basic/transports.mdx:L192-L220: on a 404 to
 * a request carrying `Mcp-Session-Id` the client "MUST start a new session by
 * sending a new InitializeRequest without a session ID attached").
 *
 * **Where this lives, and why.** A `ClientSession` is one pass through the
 * legacy client chart: once `operating` it cannot go back to `initializing`,
 * and its request ids, capabilities and keepalive belong to that one
 * handshake. So re-initializing means a *new* `ClientSession` on a *new*
 * transport. The `httpClientSession` chart (machines/httpClientSession.ts)
 * owns the generations: when one is lost, whether to re-initialize (once in a
 * row), when to give up, and closing; this class runs it, opens and closes the
 * generations it asks for, and has the same method surface, so callers hold one
 * object for the whole life of the connection. The transport only detects the
 * loss (`HttpClientTransport`: every in-flight request fails with `SessionLost`,
 * `sessionLost` is set, the transport ends). In a runtime's tree the chart is
 * the child of the client's connection node, and each generation's session and
 * HTTP connection charts are its children. The policy:
 *
 * - **Single flight.** One re-initialization per lost generation, however many
 *   calls failed with it: they all await the same promise. It starts as soon
 *   as the loss is seen (also when no call is in flight, e.g. the standalone
 *   stream got the 404), so the next call finds a live session.
 * - **Replay only what is safe.** A call that failed with `SessionLost` is sent
 *   again on the new session only when repeating it cannot do harm: the
 *   list/get/read methods ({@link REPLAY_SAFE_METHODS}) and `tools/call` of a
 *   tool the server annotated `readOnlyHint` or `idempotentHint` (learned from
 *   `tools/list` results seen by this session). Everything else fails with
 *   `SessionLost`: the server may have acted on it before forgetting the
 *   session, and a new session does not carry the old one's state anyway.
 *   A replayed call is replayed once: if it fails again it fails.
 * - **Never a loop.** After a re-initialization, another one is allowed only
 *   once a call has succeeded on the new session
 *   (`maxConsecutiveReinitializations`, default 1). A server that loses every
 *   session right away (a second 404 right after re-init) therefore ends this
 *   session (`ended` → `expected: false`) instead of re-initializing forever;
 *   a supervisor may then restart it with its own backoff.
 * - **Never stuck.** Every path settles: a failed re-initialization fails the
 *   waiting calls with `SessionLost` and ends the session; calls made while it
 *   runs wait for it; `close()` waits for it and then closes.
 *
 * Not restored on the new session: resource subscriptions and the logging
 * level (the caller sees the swap through `onReinitialize` and the state events
 * of the new generation, from `connecting` on).
 */
import type { Actor, AnyActorRef } from "xstate"
import { httpClientSessionMachine } from "../../machines/httpClientSession.ts"
import { LegacyMcpMethods } from "./McpMethods.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { LegacyVersion } from "../protocol/versions.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import { InfoListeners, type PeerInfo, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import { HttpClientTransport, type HttpClientTransportOptions } from "../transports/http/client/HttpClientTransport.ts"
import { ClientSession, type ClientSessionEvent, type ClientSessionOptions, type RequestOptions, type Result } from "./ClientSession.ts"
import { type ClientConnection, openClientConnection } from "./clientNode.ts"

/** Where the session's chart sits: a client connection node, or any parent actor (a host's server connection). */
export type HttpClientSessionParent =
  | Pick<ClientConnection, "actor" | "transportClosed" | "closeRequested"> & Partial<Pick<ClientConnection, "runtime">>
  | { readonly actor: AnyActorRef; readonly transportClosed?: undefined; readonly closeRequested?: undefined }
import { RequestCancelled, SessionClosed, SessionLost } from "../protocol/requestErrors.ts"

/** Methods that only read: repeating them on a new session cannot change anything. */
export const REPLAY_SAFE_METHODS: ReadonlySet<string> = new Set([
  "tools/list",
  "resources/list",
  "resources/read",
  "resources/templates/list",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "ping"
])

export interface HttpClientSessionOptions extends ClientSessionOptions, Omit<HttpClientTransportOptions, "url" | "createActor"> {
  /** Start a new session when the server loses ours (404). Default true; false: the session ends with it. */
  readonly reinitialize?: boolean
  /** Re-initializations in a row with no successful call in between before giving up. Default 1. */
  readonly maxConsecutiveReinitializations?: number
  /** Called after each successful re-initialization. */
  readonly onReinitialize?: (event: { readonly generation: number; readonly reason: string; readonly sessionId: string | undefined }) => void
}

interface Generation {
  readonly n: number
  readonly session: ClientSession
  readonly transport: HttpClientTransport
}

let counter = 0

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * A legacy client session over Streamable HTTP, made by `connectHttp`. Unlike
 * `ClientSession` it survives the server losing the session: on 404 it re-initializes and
 * replays the calls that are safe to replay (`REPLAY_SAFE_METHODS`); others fail with
 * `SessionLost`. Dropped SSE streams are resumed with `Last-Event-ID`.
 */
export class HttpClientSession extends LegacyMcpMethods<RequestOptions> implements SessionHandle {
  readonly id: string
  readonly startedAt = Date.now()
  readonly url: URL
  readonly ended: Promise<SessionEnd>
  private readonly options: HttpClientSessionOptions
  /** The generations' chart: opening, live, reinitializing, closing, ended. */
  private readonly actor: Actor<typeof httpClientSessionMachine>
  /** The generation serving calls (undefined until the first is up). */
  private current: Generation | undefined
  /** Settles when the generation being opened is up (or failed). */
  private opening: Promise<Generation> | undefined
  private closeOptions: { readonly drainMs?: number; readonly reason?: string } | undefined
  private closing: Promise<void> | undefined
  private endedValue: SessionEnd | undefined = undefined
  private resolveEnded!: (end: SessionEnd) => void
  /** `tools/call` replay safety per tool name, from `tools/list` annotations. */
  private readonly toolReplaySafe = new Map<string, boolean>()
  private readonly listeners = new InfoListeners()
  private readonly eventListeners = new Set<(e: ClientSessionEvent) => void>()
  private readonly node: HttpClientSessionParent | undefined

  private constructor(url: URL, options: HttpClientSessionOptions, node: HttpClientSessionParent | undefined) {
    super()
    this.id = `http-client-${++counter}`
    this.url = url
    this.options = options
    this.node = node
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    const machine = httpClientSessionMachine.provide({
      actions: {
        openGeneration: ({ context }) => this.openGeneration(context.generation, context.lostReason),
        closeGeneration: () => void this.closeGeneration()
      }
    })
    this.actor = createLeanActor(machine, {
      id: this.id,
      input: {
        ...(options.reinitialize !== undefined ? { reinitialize: options.reinitialize } : {}),
        ...(options.maxConsecutiveReinitializations !== undefined ? { maxConsecutive: options.maxConsecutiveReinitializations } : {})
      },
      ...(node !== undefined ? { parent: node.actor } : {})
    })
    this.actor.subscribe((snapshot) => {
      if (snapshot.status === "done") this.finish(snapshot.output!)
    })
  }

  /**
   * Connect (initialize) to the MCP endpoint at `url`; rejects with `InitializeFailed` / `UnsupportedProtocolVersion`.
   * Without a `parent` the session is a supervised connection node of its own in the runtime
   * (`options.runtime`, default the process's), released (every socket) when it ends.
   */
  static connect(url: string | URL, options: HttpClientSessionOptions = {}, parent?: HttpClientSessionParent): Promise<HttpClientSession> {
    return HttpClientSession.open(url, options, parent).ready
  }

  /**
   * Start connecting and return the session at once, with `ready` settling as
   * `connect` does; `node` (a client connection of a runtime's tree, or a
   * host's actor) is the parent of its chart. Without one the session opens a
   * node of its own and is supervised there, as `connectHttp`'s is.
   */
  static open(
    url: string | URL,
    options: HttpClientSessionOptions = {},
    node?: HttpClientSessionParent
  ): { readonly session: HttpClientSession; readonly ready: Promise<HttpClientSession> } {
    const own = node === undefined ? openClientConnection("http", options) : undefined
    // The transport's timers (connect and DELETE deadlines, reconnection backoff) and the sessions' run on
    // the runtime's clock (its node's, or the process's) unless given one.
    const runtime = own?.runtime ?? (node !== undefined && "runtime" in node ? node.runtime : undefined)
    const clock = options.clock ?? runtime?.clock
    const session = new HttpClientSession(new URL(url), clock === undefined ? options : { ...options, clock }, node ?? own)
    session.actor.start() // `opening`: the first generation
    const first = session.opening!
    const ready = first.then(() => session)
    if (own === undefined) return { session, ready }
    try {
      // Its scope closes when it ends (a failed first handshake too): the last generation's sockets go with it.
      own.supervise(session, () => Promise.resolve())
    } catch (e) {
      return { session, ready: ready.then(() => Promise.reject(e), () => Promise.reject(e)) }
    }
    return { session, ready }
  }

  // ---------------------------------------------------------------- state

  /** The current `ClientSession` (replaced on re-initialization). */
  get session(): ClientSession {
    return this.current!.session
  }
  /** The current transport (replaced on re-initialization). */
  get transport(): HttpClientTransport {
    return this.current!.transport
  }
  /** 1 for the first session, +1 per re-initialization. */
  get generation(): number {
    return this.current?.n ?? 1
  }
  /** The generations' chart (read-only use: inspection, tests). */
  get chart(): Actor<typeof httpClientSessionMachine> {
    return this.actor
  }
  get sessionId(): string | undefined {
    return this.current?.transport.sessionId
  }
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.current?.session.serverCapabilities
  }
  get serverInfo(): PeerInfo | undefined {
    return this.current?.session.serverInfo
  }
  get protocolVersion(): LegacyVersion | undefined {
    return this.current?.session.protocolVersion
  }
  get instructions(): string | undefined {
    return this.current?.session.instructions
  }
  get state(): string {
    return this.current?.session.state ?? "connecting"
  }

  info(): SessionInfo {
    const base: SessionInfo = this.current?.session.info() ?? {
      id: this.id,
      role: "client",
      era: "legacy",
      protocolVersion: undefined,
      state: "connecting",
      transport: "http",
      peer: undefined,
      inFlight: 0,
      startedAt: this.startedAt
    }
    return { ...base, id: this.id, startedAt: this.startedAt }
  }

  subscribe(listener: (info: SessionInfo) => void): () => void {
    return this.listeners.add(listener)
  }
  /** Told of every change with nothing built for it (a relay that builds its own info only when someone listens). */
  onInfoChange(listener: () => void): () => void {
    return this.listeners.addSignal(listener)
  }

  /** State changes and notifications of whichever generation is current. */
  on(listener: (event: ClientSessionEvent) => void): () => void {
    this.eventListeners.add(listener)
    return () => this.eventListeners.delete(listener)
  }

  // ---------------------------------------------------------------- requests

  /** Send a request on the current session; see the class comment for what happens when the server lost it. */
  async request(method: string, params?: Params, options: RequestOptions = {}): Promise<Result> {
    const gen = await this.generationFor(method)
    try {
      return this.succeeded(method, await gen.session.request(method, params, options))
    } catch (e) {
      if (!(e instanceof SessionLost) || !gen.transport.sessionLost || this.options.reinitialize === false) throw e
      if (!this.isReplaySafe(method, params)) {
        void this.reinitializeFrom(gen).catch(() => {})
        throw new SessionLost({ method, message: `${e.message}; not replayed: ${method} is not known to be safe to repeat` })
      }
      let next: Generation
      try {
        next = await this.reinitializeFrom(gen)
      } catch (reason) {
        throw new SessionLost({ method, message: `${e.message}; re-initializing failed: ${describe(reason)}` })
      }
      if (options.signal?.aborted) throw new RequestCancelled({ method, message: `${method} cancelled while the session was re-initialized` })
      // Replayed once: a second SessionLost is final.
      return this.succeeded(method, await next.session.request(method, params, options))
    }
  }

  /** Whether `method` may be sent again on a new session after the server lost the one it was sent on. */
  isReplaySafe(method: string, params?: Params): boolean {
    if (REPLAY_SAFE_METHODS.has(method)) return true
    if (method !== "tools/call") return false
    const name = params?.name
    return typeof name === "string" && this.toolReplaySafe.get(name) === true
  }

  notify(method: string, params?: Params): void {
    this.current?.session.notify(method, params)
  }

  /** Graceful close of the current session (waits for a re-initialization in progress first). */
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closeOptions = options
    if (this.actor.getSnapshot().status !== "active") {
      // Ended already: what is left of the last generation still goes.
      this.closing = this.releaseCurrent()
      return this.closing
    }
    this.node?.closeRequested?.(options?.reason ?? "client closed")
    this.closing = this.ended.then(() => this.releaseCurrent())
    this.actor.send({ type: "CLOSE" })
    return this.closing
  }

  // ---------------------------------------------------------------- generations

  private async generationFor(method: string): Promise<Generation> {
    if (this.endedValue !== undefined || this.closing !== undefined) {
      throw new SessionClosed({ method, message: `${method}: session is ${this.endedValue === undefined ? "closing" : "closed"}` })
    }
    const gen = this.current!
    const pending = this.opening ?? (gen.transport.sessionLost ? this.reinitializeFrom(gen) : undefined)
    if (pending === undefined) return gen
    try {
      return await pending
    } catch (e) {
      throw new SessionClosed({ method, message: `${method}: the server lost the session and re-initializing failed (${describe(e)})` })
    }
  }

  private succeeded(method: string, result: Result): Result {
    this.toChart({ type: "CALL_SUCCEEDED" })
    if (method === "tools/list" && Array.isArray(result.tools)) {
      for (const tool of result.tools as ReadonlyArray<{ readonly name?: unknown; readonly annotations?: { readonly readOnlyHint?: unknown; readonly idempotentHint?: unknown } }>) {
        if (typeof tool?.name !== "string") continue
        const a = tool.annotations
        this.toolReplaySafe.set(tool.name, a?.readOnlyHint === true || a?.idempotentHint === true)
      }
    }
    return result
  }

  /**
   * Report `gen` lost (the chart ignores reports about a generation already
   * replaced) and wait for the chart's answer: the generation it opens (single
   * flight: every caller joins the same one), or why it gave up.
   */
  private reinitializeFrom(gen: Generation): Promise<Generation> {
    this.toChart({ type: "SESSION_LOST", generation: gen.n, reason: "the server lost the session (HTTP 404)" })
    if (this.opening !== undefined) return this.opening
    if (this.endedValue !== undefined) return Promise.reject(new Error(this.endedValue.reason))
    return Promise.resolve(this.current!)
  }

  /** The chart's `openGeneration`: a new session on a new transport, children of the chart. */
  private openGeneration(n: number, reason: string | undefined): void {
    const flight = (async () => {
      // Not inside the chart's own step: the new charts start after it.
      await null
      const transport = new HttpClientTransport({ ...this.options, url: this.url, actorParent: this.actor, createActor: createLeanActor })
      let session: ClientSession
      try {
        session = await ClientSession.connect(transport, this.options, { actorParent: this.actor })
      } catch (e) {
        await transport.close()
        throw e
      }
      return { n, session, transport }
    })()
    this.opening = flight
    flight.then(
      (next) => {
        this.opening = undefined
        this.current = next
        this.watch(next)
        this.toChart({ type: "GENERATION_OPENED" })
        if (n > 1 && this.endedValue === undefined) this.options.onReinitialize?.({ generation: n, reason: reason ?? "session lost", sessionId: next.transport.sessionId })
      },
      (e: unknown) => {
        this.opening = undefined
        this.toChart({ type: "GENERATION_FAILED", reason: describe(e) })
      }
    )
  }

  /** The chart's `closeGeneration`: close the current one, report its end. */
  private async closeGeneration(): Promise<void> {
    const gen = this.current!
    await gen.session.close(this.closeOptions)
    await gen.transport.close()
    const end = await gen.session.ended
    this.toChart({ type: "CLOSED", expected: end.expected, reason: end.reason })
  }

  private releaseCurrent(): Promise<void> {
    const gen = this.current
    if (gen === undefined) return Promise.resolve()
    return gen.session.close().then(() => gen.transport.close())
  }

  private watch(gen: Generation): void {
    gen.session.on((event) => {
      if (gen !== this.current) return
      for (const l of this.eventListeners) l(event)
    })
    gen.session.subscribe(() => {
      if (gen !== this.current) return
      this.listeners.notify(this)
    })
    void gen.session.ended.then((end) => {
      if (gen !== this.current) return
      if (gen.transport.sessionLost) this.toChart({ type: "SESSION_LOST", generation: gen.n, reason: "the server lost the session (HTTP 404)" })
      else {
        // Not a loss: the server went away (or the session failed) — the connection's end.
        if (!end.expected) this.node?.transportClosed?.({ expected: false, reason: end.reason })
        this.toChart({ type: "GENERATION_ENDED", generation: gen.n, expected: end.expected, reason: end.reason })
      }
    })
  }

  private toChart(event: Parameters<Actor<typeof httpClientSessionMachine>["send"]>[0]): void {
    if (this.actor.getSnapshot().status === "active") this.actor.send(event)
  }

  private finish(end: SessionEnd): void {
    if (this.endedValue !== undefined) return
    this.endedValue = end
    void this.releaseCurrent()
    this.resolveEnded(end)
    queueMicrotask(() => {
      this.actor.stop()
      this.listeners.clear()
      this.eventListeners.clear()
    })
  }
}
