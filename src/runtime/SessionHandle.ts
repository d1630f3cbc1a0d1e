/**
 * What the runtime (supervisor, registry, inspector) knows about any session,
 * server or client side, whatever its transport: a live summary and a way to
 * end it. Server and client sessions implement it; the runtime never looks
 * inside them.
 */
import type { AnyActorRef } from "xstate"
import type { Era } from "../protocol/era.ts"
import type { TransportCloseDetail, TransportKind } from "../transports/Transport.ts"

export type { PeerInfo } from "../protocol/implementation.ts"
import type { PeerInfo } from "../protocol/implementation.ts"

/** A live summary of one session, server or client side: what the registry and inspector show. */
export interface SessionInfo {
  readonly id: string
  readonly role: "server" | "client"
  readonly era: Era | "unknown"
  readonly protocolVersion: string | undefined
  /** The statechart's state value, flattened (`operating`, `operating.busy`, `{keepalive: alive, ...}` → `keepalive.alive|...`). */
  readonly state: string
  readonly transport: TransportKind
  readonly peer: PeerInfo | undefined
  readonly inFlight: number
  /**
   * The requests in flight (id, method, and when it was received: epoch ms on the session's clock, when
   * known), when the session lists them (server sessions do; absent when none).
   */
  readonly requests?: ReadonlyArray<{ readonly id: string | number; readonly method: string; readonly since?: number }>
  readonly startedAt: number
}

/** How a session ended; `expected` tells a supervisor whether to restart. */
export interface SessionEnd {
  /** False for a crash, a dead peer, a kill: the supervisor may restart. */
  readonly expected: boolean
  readonly reason: string
  /** Why the local side ended it, when it did (a deadline, an eviction, shutdown): what a transport tells its peer. */
  readonly cause?: TransportCloseDetail["cause"]
}

/**
 * What the runtime needs of any session (server or client, either era, any transport):
 * a summary, change notifications, its end, and a graceful close.
 */
export interface SessionHandle {
  readonly id: string
  /** Current summary (cheap: built on demand). */
  info(): SessionInfo
  /** Called on every state change (and in-flight edge); returns an unsubscribe function. */
  subscribe(listener: (info: SessionInfo) => void): () => void
  /**
   * The same changes as `subscribe`, told with nothing built: for a listener that reads `info()`
   * later, if at all (the inspector reads it once per feed flush). Optional: `subscribe` otherwise.
   */
  onInfoChange?(listener: () => void): () => void
  /**
   * Optional: counts the changes `subscribe` and `onInfoChange` are told of. A reader that compares it
   * with the value it last saw knows whether the session changed, with no listener on the session: the
   * inspector's page reads it once per feed flush instead of being told of every chart step (each such
   * call cost every session of a churning server a closure, a change object and two set operations).
   */
  readonly infoVersion?: number
  /** Settles once, when the session has ended for good. */
  readonly ended: Promise<SessionEnd>
  /**
   * Graceful close: refuse new requests, let in-flight ones finish up to
   * `drainMs`, then cancel the rest and close the transport. Idempotent.
   */
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>
}

/**
 * @internal Under this key a session's actor names, in its options (`createLeanActor(logic, { [ACTOR_SESSION]: handle })`;
 * xstate keeps its options on the actor), the session it runs. The inspector reads it when the actor starts.
 */
export const ACTOR_SESSION: unique symbol = Symbol("mcp-actors.actorSession")

/**
 * Whether the session's actors name it in their options ({@link ACTOR_SESSION}): a reader (the inspector)
 * then joins its registration to its actors through those objects, with no table by session id. A
 * session class says so with a `namedByItsActors` getter (kept off the public `SessionHandle`).
 */
export const isNamedByItsActors = (handle: SessionHandle): boolean =>
  (handle as { readonly namedByItsActors?: boolean }).namedByItsActors === true

/**
 * @internal The chart actor a session runs now (its class keeps it as `actor`: the server session, once its
 * first message came, and every client session), for an inspector started after the session was: it lists
 * the session from the state it is in.
 */
export const sessionActor = (handle: SessionHandle): AnyActorRef | undefined => {
  const actor = (handle as { readonly actor?: unknown }).actor
  return typeof actor === "object" && actor !== null && typeof (actor as { getSnapshot?: unknown }).getSnapshot === "function" ? actor as AnyActorRef : undefined
}

/** The session an actor runs, when its options name it ({@link ACTOR_SESSION}). */
export const actorSession = (ref: object): SessionHandle | undefined =>
  (ref as { readonly options?: { readonly [ACTOR_SESSION]?: SessionHandle } }).options?.[ACTOR_SESSION]

/** The `subscribe` side of a SessionHandle: listeners, and an info snapshot built only when someone listens. */
export class InfoListeners {
  // Made on the first listener: most sessions never get one (one Set fewer per session).
  #listeners: Set<(info: SessionInfo) => void> | undefined
  /**
   * The first `onInfoChange` listener (told of a change, nothing built for it), in a slot of its own;
   * any more in `#signals`. Why a slot: a watched runtime's registry follows every session with one
   * such listener, and a Set per session (made, then iterated on every chart step) was for one entry.
   */
  #signal: (() => void) | undefined
  #signals: Set<() => void> | undefined
  get size(): number {
    return (this.#listeners?.size ?? 0) + (this.#signal === undefined ? 0 : 1) + (this.#signals?.size ?? 0)
  }
  add(listener: (info: SessionInfo) => void): () => void {
    const listeners = (this.#listeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }
  addSignal(listener: () => void): () => void {
    const signals = this.#signals
    // (A listener added twice is told once, as in a Set.)
    if (this.#signal === listener || signals?.has(listener) === true) return () => this.#removeSignal(listener)
    if (this.#signal === undefined) this.#signal = listener
    else (this.#signals ??= new Set()).add(listener)
    return () => this.#removeSignal(listener)
  }
  #removeSignal(listener: () => void): void {
    if (this.#signal === listener) this.#signal = undefined
    else this.#signals?.delete(listener)
  }
  /** Tell every listener; `source.info()` is built once, and only if a listener takes summaries (no closure per call). */
  notify(source: { info(): SessionInfo }): void {
    const signal = this.#signal
    if (signal !== undefined) signal()
    if (this.#signals !== undefined) for (const s of this.#signals) s()
    if (this.#listeners === undefined || this.#listeners.size === 0) return
    const snapshot = source.info()
    for (const l of this.#listeners) l(snapshot)
  }
  clear(): void {
    this.#listeners?.clear()
    this.#signal = undefined
    this.#signals?.clear()
  }
}

/** What a relay listens to: another handle's change notifications. */
export type InfoSource = Pick<SessionHandle, "subscribe" | "onInfoChange">

/**
 * The listeners of a wrapper (a client over the session of its era, a host's generation over its
 * client) who also hear the wrapped handle's changes, told as the wrapper's. The relay runs only while
 * someone listens (one nobody hears costs a notification chain per request: a host's upstream
 * client's usual case) and is a signal, so the wrapped handle's info is never built for it.
 */
export class RelayedInfoListeners extends InfoListeners {
  readonly #owner: { info(): SessionInfo }
  #source: InfoSource | undefined
  #off: (() => void) | undefined
  constructor(owner: { info(): SessionInfo }) {
    super()
    this.#owner = owner
  }
  /** Relay `source`'s changes from now on (`undefined`: relay nothing). */
  relayFrom(source: InfoSource | undefined): void {
    this.#stop()
    this.#source = source
    if (this.size > 0) this.#start()
  }
  override add(listener: (info: SessionInfo) => void): () => void {
    return this.#listening(super.add(listener))
  }
  override addSignal(listener: () => void): () => void {
    return this.#listening(super.addSignal(listener))
  }
  /** A listener was added: relay (if not yet); the last one's removal stops the relay. */
  #listening(off: () => void): () => void {
    this.#start()
    return () => {
      off()
      if (this.size === 0) this.#stop()
    }
  }
  #start(): void {
    const source = this.#source
    if (source === undefined || this.#off !== undefined) return
    const relay = () => this.notify(this.#owner)
    this.#off = source.onInfoChange !== undefined ? source.onInfoChange(relay) : source.subscribe(relay)
  }
  #stop(): void {
    const off = this.#off
    this.#off = undefined
    off?.()
  }
}
