/**
 * One generation of a host's upstream server: what one try of its
 * `serverConnection` chart opened (the stdio child or the socket, the
 * handshake, the client), as a supervised client connection of the host's
 * runtime (`openClientConnection`, the same node the `connect*` helpers use).
 *
 * - **Tree.** Its `connection` node is a child of the server's
 *   `serverConnection` actor (root → host → server → connection → the
 *   client's charts), so one `inspect` observer on the runtime sees it.
 * - **Supervision.** It is listed in the runtime's registry (role `client`)
 *   from the moment the generation opens until it ends, in a `Scope` of its
 *   own. Whatever ends it — the chart's `closeConnection` (a stop, a restart,
 *   a failed try, a lazy server's idle stop, the host closing), the process or
 *   socket going away, the client ending, the runtime shutting down — that
 *   scope closes and releases the client, the transport (a stdio child's whole
 *   process group is reaped) and the node's chart.
 *
 * It never restarts anything: the chart is the restart policy.
 */
import type { AnyActorRef } from "xstate"
import { type ClientConnection, openClientConnection } from "../client/clientConnection.ts"
import type { McpRuntime } from "../runtime/McpRuntime.ts"
import { RelayedInfoListeners, type SessionEnd, type SessionHandle, type SessionInfo } from "../runtime/SessionHandle.ts"
import type { Transport, TransportClosed, TransportKind } from "../transports/Transport.ts"

/** The upstream client of a generation: any client the host opens is a session handle. */
export type UpstreamClient = Pick<SessionHandle, "info" | "subscribe" | "onInfoChange" | "ended" | "close">

/** What opens a generation. */
export interface UpstreamGenerationOptions {
  /** The configured server's name. */
  readonly server: string
  readonly generation: number
  readonly kind: TransportKind
  /** The runtime that supervises it. Default: the process's. */
  readonly runtime?: McpRuntime | undefined
  /** The actor its node is a child of (the server's `serverConnection`). Default: the runtime's root. */
  readonly parent?: AnyActorRef | undefined
  /**
   * Its scope was closed by someone other than its owner (the runtime shutting down) while
   * nothing had ended it: the owner should tell its chart.
   */
  readonly onLost?: (reason: string) => void
}

/** Where a generation is: spawning/opening, in its handshake, or serving (its client's state then). */
type Phase = "starting" | "initializing" | "closing" | "closed"

export class UpstreamGeneration implements SessionHandle {
  readonly id: string
  readonly generation: number
  readonly ended: Promise<SessionEnd>
  /** The supervised node: its actor is the parent of the client's charts. */
  readonly node: ClientConnection
  /** Settles once the node's chart has ended: its scope is closed and the registry no longer lists it. */
  readonly released: Promise<void>
  private readonly kind: TransportKind
  private readonly startedAt = Date.now()
  private phase: Phase = "starting"
  private transportRef: Transport | undefined
  private client: UpstreamClient | undefined
  private unwatch: () => void = () => {}
  /** The opening and the handshake still running for this generation. */
  private readonly pending = new Set<Promise<unknown>>()
  private readonly listeners = new RelayedInfoListeners(this)
  private closing: Promise<void> | undefined
  private endValue: SessionEnd | undefined
  private retired = false
  private onLost: ((reason: string) => void) | undefined
  private resolveEnded!: (end: SessionEnd) => void

  /**
   * Open the generation as a node under `parent` in `runtime`, supervised at once.
   * Throws `SupervisorShutDown` when the runtime is shutting down (the node is then released).
   */
  constructor(options: UpstreamGenerationOptions) {
    const { runtime, parent } = options
    this.id = `upstream:${options.server}#${options.generation}`
    this.generation = options.generation
    this.kind = options.kind
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    // The node is named after the generation (its registry id), so that an inspector shows the upstream's facts on it.
    this.node = openClientConnection(this.kind, { id: this.id, ...(runtime !== undefined ? { runtime } : {}), ...(parent !== undefined ? { parent } : {}) })
    const actor = this.node.actor
    this.released = new Promise((resolve) => {
      if (actor.getSnapshot().status !== "active") return resolve()
      actor.subscribe({ complete: () => resolve(), error: () => resolve() })
    })
    // Nothing to release beyond `close()`: it closes the client, then the transport.
    this.node.supervise(this, () => Promise.resolve())
    // Only once supervised: a refused one (the runtime shutting down) is reported by the throw.
    this.onLost = options.onLost
  }

  /** Count `work` (the opening, the handshake) as this generation's: `close()` waits for it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work)
    const done = () => void this.pending.delete(work)
    work.then(done, done)
    return work
  }

  /** True once closing started: whatever is opened now is closed at once. */
  get isClosing(): boolean {
    return this.closing !== undefined || this.endValue !== undefined
  }

  /** This generation's stdio child or socket (none over HTTP: the client holds its pool). */
  get transport(): Transport | undefined {
    return this.transportRef
  }

  /** The stdio child or socket of this generation (closed with it). */
  attachTransport(transport: Transport): void {
    this.transportRef = transport
    if (this.isClosing) this.track(transport.close())
  }

  /** The transport ended (the child exited, the socket dropped): the node records it; the generation ends. */
  transportEnded(closed: TransportClosed): void {
    this.node.transportClosed(closed)
    this.finish({ expected: closed.expected, reason: closed.reason })
  }

  /** The handshake began. */
  initializing(): void {
    if (this.phase !== "starting") return
    this.phase = "initializing"
    this.listeners.notify(this)
  }

  /** The client that came up on this generation; `onEnd` hears when it ends by itself. */
  attachClient(client: UpstreamClient, onEnd: (end: SessionEnd) => void): void {
    this.client = client
    if (this.isClosing) {
      this.track(client.close({ drainMs: 0, reason: "generation closed" }))
      return
    }
    // The client's changes are this generation's (relayed only while someone listens to it).
    this.listeners.relayFrom(client)
    this.unwatch = () => this.listeners.relayFrom(undefined)
    this.listeners.notify(this)
    void client.ended.then((end) => {
      if (this.isClosing) return
      onEnd(end)
      this.finish(end)
    })
  }


  info(): SessionInfo {
    const client = this.client
    if (client !== undefined && this.phase !== "closed") return { ...client.info(), id: this.id }
    return {
      id: this.id,
      role: "client",
      era: "unknown",
      protocolVersion: undefined,
      state: this.phase,
      transport: this.kind,
      peer: undefined,
      inFlight: 0,
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

  /**
   * Close the generation: its client (no drain: the host fails its calls), then
   * its transport (a stdio child's group is reaped), after whatever was still
   * opening. Idempotent; the scope's finalizer calls it too.
   */
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void> {
    return this.closing ??= this.doClose(options?.reason ?? "generation closed")
  }

  /** The owner closes it (its chart's `closeConnection`): not a loss to report. */
  retire(reason: string): Promise<void> {
    this.retired = true
    return this.close({ drainMs: 0, reason })
  }

  private async doClose(reason: string): Promise<void> {
    if (!this.retired && this.endValue === undefined) this.onLost?.(reason)
    if (this.phase !== "closed") this.phase = "closing"
    this.node.closeRequested(reason)
    // A stdio/ws handshake fails at once when its transport is closed (an HTTP one is not tracked).
    await this.release(reason)
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending])
      await this.release(reason)
    }
    this.finish({ expected: true, reason })
  }

  private async release(reason: string): Promise<void> {
    const client = this.client
    const transport = this.transportRef
    try {
      await client?.close({ drainMs: 0, reason })
    } catch {
      // already gone
    }
    await transport?.close()
  }

  /** The generation has ended: its scope closes (the supervisor is watching `ended`). */
  private finish(end: SessionEnd): void {
    if (this.endValue !== undefined) return
    this.endValue = end
    this.phase = "closed"
    this.unwatch()
    this.listeners.notify(this)
    this.listeners.clear()
    this.resolveEnded(end)
  }
}
