/**
 * What the live inspector knows: every actor seen through the runtime's
 * inspection hub (keyed by xstate's `sessionId`, linked by `rootId` and
 * `parentId`), each with its current state, a bounded record, the requests it
 * is serving and, when the actor's id is a registered session's id, that
 * session's summary (side, transport, era, version, peer) and end reason.
 *
 * Why keyed by xstate's session id: the same code then serves today's
 * separate root actors and one actor tree per runtime, where sessions and
 * requests are descendants of one root.
 *
 * Nothing is serialized here: feed messages hold references, and the server
 * serializes each once for all its clients, only while a client listens.
 */
import type { AnyActorRef, AnyEventObject, EventObject, InspectionEvent, StateValue } from "xstate"
import type { RegistryChange, RegistryUnsafe } from "../runtime/Registry.ts"
import { actorSession, isNamedByItsActors, type SessionEnd, type SessionHandle, type SessionInfo, sessionActor } from "../runtime/SessionHandle.ts"
import { INIT_EVENT, type InspectionHub, type InspectionKind, type InspectionSubscription, inspection } from "../runtime/inspection.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import { withoutSecrets } from "./redact.ts"
import { RecordBuffer, type RecordEnd, type RecordFile, toRecordFile } from "./SessionRecord.ts"

export interface InspectorModelOptions {
  /** Sessions to describe (side, transport, era, peer, end reason), matched by actor id. */
  readonly registry?: RegistryUnsafe
  /** Entries kept per actor. Default 500. */
  readonly recordCapacity?: number
  /** How long an ended actor stays listed. Default 10 minutes. */
  readonly retainEndedMs?: number
  /**
   * At most this many ended actors are kept (oldest forgotten first). Default 64: a page's worth. Why not
   * more: under session churn each one kept outlives the young generation (its record, its events), and
   * 200 of them made the collector's work most of an unwatched inspector's cost; a host with few sessions
   * keeps each for `retainEndedMs` all the same.
   */
  readonly maxEnded?: number
  /** Live actors tracked at most (a runtime that drops actors without stopping them cannot grow this without bound). Default 10 000. */
  readonly maxActors?: number
  /**
   * The clock records and ages are stamped with, read per event. Default: `Date.now`. Why not a cache
   * read once per turn of the event loop (which it was): the cache's expiry, a `setImmediate` armed in
   * every turn that stamped something, cost ≈ 2 µs per turn on a real socket, against ≈ 50 ns per
   * `Date.now` where the clock has a vDSO path (kvm-clock does); under churn every request is a turn.
   */
  readonly now?: () => number
  /**
   * Keep secret values (tool arguments and results, tokens: what `toJsonSafe` redacts) in the
   * records. Default true. The inspector server passes its `showSecrets`: a record it never shows
   * them from keeps the event without them (see `withoutSecrets`), so it does not hold every
   * result of the last `recordCapacity` calls alive.
   */
  readonly keepSecrets?: boolean
  /** Default: the runtime's hub. */
  readonly hub?: InspectionHub
  /**
   * When the model follows the actors: `"always"` (the default here), or `"watched"`: only while a feed
   * listens (a page, `inspect --json`), as a browser's network panel records only while it is open.
   * Watched, a first listener (or a read) finds the sessions live then from the state they are in, and
   * the live actors it followed before from where they are now (a record that missed steps restarts
   * from there, its earlier entries counted as dropped); sessions that began and ended unwatched are
   * not listed. Why: following every actor's every step for nobody cost ≈ 4–6 % of session churn
   * (`docs/performance.md`, s33); unfollowed, the model is off the hub and the registry.
   */
  readonly record?: "always" | "watched"
}

/** A request the actor dispatched and has not answered yet, as far as the inspector can tell. */
export interface InFlightRequest {
  readonly id: string
  readonly method: string
  readonly since: number
}

export interface ActorView {
  readonly sessionId: string
  readonly rootId: string
  readonly parentId: string | undefined
  /** The actor's id: the MCP session id for session actors. */
  readonly id: string
  readonly machine: string | undefined
  /**
   * The live actor (a session woken from hibernation gets a new one; the view, its key and record stay);
   * undefined once it ended: an ended view, kept for a while, must not keep the whole actor alive.
   */
  ref: AnyActorRef | undefined
  /** The actor's logic (its machine, for the definition Stately's inspector wants): shared, kept after the end. */
  readonly logic: unknown
  /** xstate session ids of the actors that continued this one after hibernation (made when there is one). */
  aliases: Array<string> | undefined
  readonly startedAt: number
  value: StateValue | undefined
  context: unknown
  /** xstate's status, or `hibernated`: stopped while its session lives on (woken by a new actor). */
  status: string
  readonly record: RecordBuffer
  /** Made when the actor dispatches its first request. */
  requests: Map<string, InFlightRequest> | undefined
  end: RecordEnd | undefined
  /** What the model keeps under the actor's id (the session's registration, summary and end): no lookup per step. */
  readonly idEntry: IdEntry
}

/**
 * What the model keeps under one actor id (a session's id): the views with that id, and the registered
 * session's summary and end. Why one object: a churned session's steps and its registry changes used
 * to look its id up in three maps (views by id, summaries, ends) about two dozen times; the view now
 * holds its entry, and a registry change finds it with one lookup.
 */
export interface IdEntry {
  /**
   * Kept on the session's handle (a session whose actors name it, `ACTOR_SESSION`), not in the model's
   * table by id: joined to its actors and its registry changes through objects, with no lookup.
   */
  readonly onHandle: boolean
  /** One view, or a set of them: child ids such as `keepalive` or `request.2` repeat in every session. */
  views: ActorView | Set<ActorView> | undefined
  /** A registered session's id (registered now, or before with its last summary kept for its views). */
  session: boolean
  /** The session's latest summary read (undefined until one is: a session is registered without building it). */
  info: SessionInfo | undefined
  /** The session's own end, once told. */
  end: SessionEnd | undefined
  /** The session while registered: its `endedWith` is read here, not looked up in the registry. */
  handle: SessionHandle | undefined
  /** The handle's `infoVersion` when `info` was read (-1: not read, or the session has none). */
  infoVersion: number
  /** The handle's `infoVersion` last seen by `poll` (-1: not yet). */
  polledVersion: number
}

/** A view as the model holds it: live in a slot of `#live`, or ended in `#ended`. */
interface ViewNode extends ActorView {
  /** Its slot in `#live` while it lives; -1 once ended. */
  slot: number
  /** When it was first seen, among the model's views (their order: `actors()`). */
  readonly seq: number
}

/** Drop `queue`'s first `from` items, the rest moved down in place. */
const moveDown = <A>(queue: Array<A>, from: number): void => {
  const kept = queue.length - from
  for (let i = 0; i < kept; i++) queue[i] = queue[i + from]!
  queue.length = kept
}

/** The hibernated view among an id's views, if one is. */
const hibernatedIn = (entry: IdEntry | undefined): ActorView | undefined => {
  const views = entry?.views
  if (views === undefined) return undefined
  if (!(views instanceof Set)) return views.status === "hibernated" ? views : undefined
  for (const view of views) if (view.status === "hibernated") return view
  return undefined
}

const newIdEntry = (onHandle: boolean): IdEntry => ({ onHandle, views: undefined, session: false, info: undefined, end: undefined, handle: undefined, infoVersion: -1, polledVersion: -1 })

/** An actor's state as one snapshot left it. */
export interface SnapshotView {
  readonly value: StateValue | undefined
  readonly status: string
  readonly context: unknown
}

/** A message of the feed (Stately's `@xstate.*` events plus the session summaries of mcp-actors). */
export type FeedMessage =
  | { readonly type: "@xstate.actor"; readonly actor: ActorView; readonly createdAt: number }
  | {
    readonly type: "@xstate.snapshot"
    readonly actor: ActorView
    readonly event: EventObject
    readonly createdAt: number
    /** The state it led to (the view moves on). */
    readonly snapshot: SnapshotView
    /** The actor's record count before this snapshot: its entry, if it made one, is this sequence number. */
    readonly seq: number
  }
  | { readonly type: "@xstate.event"; readonly actor: ActorView; readonly event: EventObject; readonly sourceId: string | undefined; readonly createdAt: number }
  | { readonly type: "@mcp-actors.session"; readonly actor: ActorView; readonly createdAt: number; /** Also send its last transitions (a new client). */ readonly recent?: boolean }
  | { readonly type: "@mcp-actors.forget"; readonly sessionId: string; readonly createdAt: number }

/**
 * A listener that takes snapshots as calls instead of messages (the page's lean feed): no object is
 * made per event for it. It reads the state from the view, and what happened from the view's record,
 * from `seq` (the record's count before this snapshot) on.
 */
export type SnapshotTouch = (actor: ActorView, event: EventObject, t: number, seq: number) => void

/** How a feed listener takes its messages. */
export interface FeedSubscription {
  /** Also `@xstate.event` (every event every actor receives). Default true. */
  readonly events?: boolean
  /** Take `@xstate.snapshot`s through this call instead of as messages. */
  readonly snapshots?: SnapshotTouch
}

/** What the model reads from the hub: actors and snapshots always, events only for a listener that wants them. */
const QUIET: ReadonlyArray<InspectionKind> = ["@xstate.actor", "@xstate.snapshot"]
const WITH_EVENTS: ReadonlyArray<InspectionKind> = ["@xstate.actor", "@xstate.snapshot", "@xstate.event"]

/**
 * A session that tells its end without a promise (a server session's `endedWith`, set when it is
 * released, before its actor stops and before it leaves the registry): the model reads it when the
 * session's actor stops and when the session leaves the registry, instead of awaiting `ended` (a
 * promise and a reaction per session, most of which nobody else awaits).
 */
const tellsItsEnd = (handle: SessionHandle): boolean => "endedWith" in handle
const endedWithOf = (handle: SessionHandle | undefined): SessionEnd | undefined =>
  (handle as { readonly endedWith?: SessionEnd } | undefined)?.endedWith

/** The actor's parent in its tree (xstate keeps it as `_parent`, not in its public type). */
const parentOf = (ref: AnyActorRef): AnyActorRef | undefined => (ref as { _parent?: AnyActorRef })._parent

const errorText = (e: unknown): string => (e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e) ?? String(e))

/** Why a finished snapshot ended: its output's `reason`, the context's `closeReason`, the error. */
const endOf = (t: number, snapshot: { status: string; output?: unknown; error?: unknown; context?: unknown }): RecordEnd => {
  if (snapshot.status === "error") return { t, status: "error", reason: `error: ${errorText(snapshot.error)}`, error: true }
  const fromOutput = typeof snapshot.output === "object" && snapshot.output !== null ? (snapshot.output as { reason?: unknown }).reason : undefined
  const fromContext = typeof snapshot.context === "object" && snapshot.context !== null ? (snapshot.context as { closeReason?: unknown }).closeReason : undefined
  const reason = typeof fromOutput === "string" ? fromOutput : typeof fromContext === "string" ? fromContext : snapshot.status
  return { t, status: snapshot.status, reason, error: false }
}

/** A request the chart dispatched (`initialize` and `ping` are answered within the step: never in flight). */
const requestOf = (event: AnyEventObject): { id: string; method: string } | undefined => {
  if (event.type === "REQUEST" && typeof event.method === "string" && (typeof event.id === "number" || typeof event.id === "string")) {
    return { id: String(event.id), method: event.method }
  }
  return undefined
}

/**
 * The property keys models put their views (on actors) and entries (on sessions) under, free for the next
 * model: a closed model leaves nothing under its key (`close`), so it goes back here. Why not a new key per
 * model: each new key gave sessions and actors one more hidden-class transition, so a process that starts and
 * closes inspectors over its life slowed every site reading them, for good (in `bench/inspectToggle.ts`, which
 * starts 124 of them, a key per model read +9.2 % of churn against +5.5 % with one key).
 */
const spareKeys: Array<symbol> = []

export class InspectorModel {
  /**
   * The live views, each in a slot (emptied in place when it ends, and reused), and below the ended
   * ones in the order they ended: every view known. Why not a table by xstate session id, which it
   * was: under churn each session's view was one insert and one delete in it, two hash operations on
   * a cold table, for lookups only a page or a download makes (`get`, a scan: rare, and bounded by
   * `maxActors`); nor a list through the views, which it was next: forgetting one touched its two
   * neighbours, cold by then. The hot path finds a view through its actor (`#viewOf`), never by id.
   */
  readonly #live: Array<ViewNode | undefined> = []
  readonly #freeSlots: Array<number> = []
  #liveCount = 0
  #seq = 0
  /**
   * Per actor id (a session's id): its views (a session restored from hibernation gets a new actor with
   * the same id), and the registered session's summary and end; kept after the session's removal, with
   * its last summary, for its ended views.
   */
  readonly #ids = new ClearingMap<string, IdEntry>()
  /** Hibernated views by actor id (of actors that do not name their session: the others are found through it): the session a new actor with that id continues. */
  readonly #asleep = new ClearingMap<string, ActorView>()
  /**
   * Ended actors, oldest first, from `#endedHead` on. Why a head index and not `shift`: under churn one
   * is forgotten per session, and `shift` (a builtin call that moves the array) was most of the prune
   * in the model's own profile (`bench/inspectModelSynthetic.ts`); the forgotten head is cut off (the
   * rest moved down in place) once it is as long as what is kept.
   */
  readonly #ended: Array<ViewNode | undefined> = []
  /**
   * When each of `#ended` ended (its `end.t`), and its id entry: forgetting the oldest reads these and
   * its entry, not the view (cold by then: a view is a few cache lines, its entry one).
   */
  readonly #endedAt: Array<number> = []
  readonly #endedEntries: Array<IdEntry | undefined> = []
  #endedHead = 0
  /** Feed listeners, each with how it takes its messages. */
  readonly #listeners = new Map<(message: FeedMessage) => void, { readonly events: boolean; readonly touch: SnapshotTouch | undefined }>()
  #eventListeners = 0
  /** Listeners that take snapshots as messages. */
  #snapshotMessageListeners = 0
  /** Listeners that take snapshots as calls. */
  #touches: ReadonlyArray<SnapshotTouch> = []
  readonly #hub: InspectionHub
  /** Its subscription to the hub while it follows (none while it sleeps: the hub then counts no listener of it). */
  #hubSubscription: InspectionSubscription | undefined
  readonly #capacity: number
  readonly #retainMs: number
  readonly #maxEnded: number
  readonly #maxActors: number
  readonly #now: () => number
  readonly #keepSecrets: boolean
  readonly #registry: RegistryUnsafe | undefined
  readonly #stops: Array<() => void> = []

  constructor(options: InspectorModelOptions = {}) {
    this.#capacity = options.recordCapacity ?? 500
    this.#retainMs = options.retainEndedMs ?? 10 * 60_000
    this.#maxEnded = options.maxEnded ?? 64
    this.#maxActors = options.maxActors ?? 10_000
    this.#now = options.now ?? Date.now
    this.#keepSecrets = options.keepSecrets !== false
    this.#registry = options.registry
    this.#always = options.record !== "watched"
    this.#hub = options.hub ?? inspection
    this.#stops.push(() => this.#unfollowHub())
    this.#stops.push(() => this.#unfollowRegistry())
    if (options.registry !== undefined) this.#stops.push(() => this.#followUpdates(false))
    if (this.#always) this.#wake()
  }

  /** Follows the actors and the registry: always, or (`record: "watched"`) while a feed listens. */
  readonly #always: boolean
  #awake = false
  #registryStop: (() => void) | undefined

  /** Follow the hub and the registry again, and catch up with what happened meanwhile. */
  #wake(): void {
    this.#awake = true
    this.#hubSubscription = this.#hub.subscribe((e) => this.#onInspection(e), { kinds: this.#eventListeners > 0 ? WITH_EVENTS : QUIET })
    const registry = this.#registry
    if (registry !== undefined) {
      // Sessions coming and going only: their updates are followed while a feed listens (`#followUpdates`),
      // and read when asked for (`infoOf`), so nobody watching costs no summary per chart step.
      this.#registryStop = registry.subscribe((change) => this.#onChange(change), { updates: false })
    }
    this.#catchUp()
  }

  /** Nobody listens (`record: "watched"`): follow nothing; the views stay as they are until the next look. */
  #sleep(): void {
    this.#awake = false
    this.#unfollowHub()
    this.#unfollowRegistry()
  }

  /**
   * Off the hub altogether, not subscribed wanting nothing: with no listener the hub passes xstate no observer
   * and the runtime takes its fast paths (a modern request runs as a chart while anyone inspects).
   */
  #unfollowHub(): void {
    this.#hubSubscription?.()
    this.#hubSubscription = undefined
  }

  #unfollowRegistry(): void {
    this.#registryStop?.()
    this.#registryStop = undefined
  }

  /** A read while nothing is followed: the views caught up first (what a listener would find). */
  #look(): void {
    if (!this.#awake && !this.#closed) this.#catchUp()
  }

  /**
   * Bring the views up to what the runtime holds now: the live actors followed before (moved on, given
   * children, ended), the sessions that left the registry meanwhile, and the registered sessions not seen
   * (listed from the state they are in, with their ancestors and live descendants). At a model's start
   * this lists the sessions live before it (an inspector started while serving).
   */
  #catchUp(): void {
    const t = this.#now()
    const live = this.#live
    for (let i = 0; i < live.length; i++) {
      const view = live[i]
      if (view !== undefined) this.#catchUpView(view, t)
    }
    // Hibernated views: a session woken meanwhile continues one (its new actor adopted below), whose steps were not seen.
    const sleepers: Array<ViewNode> = []
    for (let i = 0; i < live.length; i++) {
      const view = live[i]
      if (view !== undefined && view.status === "hibernated") sleepers.push(view)
    }
    const registry = this.#registry
    if (registry !== undefined) {
      // Sessions that left the registry while it was not followed.
      const left = new Map<IdEntry, string>()
      for (const view of this.#all()) {
        const ids = view.idEntry
        if (ids.handle !== undefined && !left.has(ids) && registry.get(view.id) !== ids.handle) left.set(ids, view.id)
      }
      for (const [ids, id] of left) {
        const handle = ids.handle!
        this.#onRemoved({ type: "removed", id, handle, get info() { return handle.info() } })
      }
      for (const handle of registry.handles()) {
        const ids = this.#entryOf(handle.id, handle)
        if (ids === undefined || ids.handle !== handle) this.#onAdded(handle.id, handle)
        this.#adopt(sessionActor(handle))
      }
    }
    // Woken while unwatched: its record restarts at the state it is in (what it did since it woke was not seen).
    for (const view of sleepers) if (view.status === "active") view.record.rebase(t, view.value, view.context, view.status)
    if (this.#ended.length > this.#endedHead) this.#prune(t)
  }

  /** A live view followed before: its actor's state now (its record restarts there if it moved), or its end. */
  #catchUpView(view: ViewNode, t: number): void {
    const ref = view.ref
    // (A hibernated view waits for its session's end or its next actor: the registry's catch-up finds either.)
    if (ref === undefined || view.status === "hibernated") return
    const snapshot = ref.getSnapshot() as { status: string; value?: StateValue; context?: unknown; output?: unknown; error?: unknown }
    if (snapshot.status !== "active") return this.#settle(view, snapshot, t)
    if (snapshot.value !== view.value || snapshot.context !== view.context) {
      view.value = snapshot.value
      view.context = snapshot.context
      view.record.rebase(t, snapshot.value, snapshot.context, snapshot.status)
      // (Its requests in flight are its session's summary's, read when asked for; a chart's own start again.)
      view.requests = undefined
    }
    this.#adoptChildren(ref, view.rootId)
  }

  /** The registry's `updated` changes, taken while a feed listens: they push each session's new summary. */
  #updates: (() => void) | undefined
  /** Sessions changed since their summary was last read (while followed): `infoOf` reads them again. */
  readonly #stale = new Set<string>()

  /** Sessions announced to the listeners as changed and not read since: their next changes need no message. */
  readonly #announced = new Set<string>()

  /**
   * A followed session changed: its summary is read when the feed serializes it (once per flush), not now.
   * Why the announced set: a session changes twice per call (a request in, its answer out), and until its
   * summary is read again one announcement stands for them all.
   */
  #sessionTouched(id: string, handle: SessionHandle | undefined): void {
    this.#stale.add(id)
    this.#announce(id, this.#entryOf(id, handle))
  }
  /** A session changed while a feed listens: one message per view, until its summary is read again. */
  #announce(id: string, entry: IdEntry | undefined): void {
    if (this.#listeners.size === 0 || this.#announced.has(id)) return
    this.#announced.add(id)
    const same = entry?.views
    if (same === undefined) return
    const t = this.#now()
    if (same instanceof Set) for (const actor of same) this.#emit({ type: "@mcp-actors.session", actor, createdAt: t })
    else this.#emit({ type: "@mcp-actors.session", actor: same, createdAt: t })
  }
  #followUpdates(on: boolean): void {
    if (on === (this.#updates !== undefined) || this.#registry === undefined) return
    if (on) {
      // Sessions with an `infoVersion` are not followed (no listener on them, nothing per chart step):
      // `poll` compares their versions once per feed flush. The others tell each change.
      this.#updates = this.#registry.subscribe((change) => change.type === "updated" && this.#sessionTouched(change.id, change.handle), { updates: "unversioned" })
      // What changed while nobody listened is read on the next `infoOf` (a session no longer registered gives its last summary).
      for (const { handle } of this.#registry.entries()) {
        const entry = this.#entryOf(handle.id, handle)
        if (entry === undefined || !entry.session) continue
        this.#stale.add(handle.id)
        const version = handle.infoVersion
        if (version !== undefined) entry.polledVersion = version
      }
      this.#announced.clear()
    } else {
      this.#updates!()
      this.#updates = undefined
      // Unfollowed, a read takes the live summary: nothing is stale or announced (and the sets stay empty).
      this.#stale.clear()
      this.#announced.clear()
    }
  }

  /**
   * While a feed listens: announce the registered sessions whose `infoVersion` moved since the last
   * poll (what their `onInfoChange` would have told, once per poll instead of once per change). The
   * inspector server calls it at each feed flush and every `flushMs` while a client is connected.
   */
  poll(): void {
    if (this.#updates === undefined || this.#registry === undefined) return
    for (const { handle } of this.#registry.entries()) {
      const version = handle.infoVersion
      if (version === undefined) continue
      const entry = this.#entryOf(handle.id, handle)
      if (entry === undefined || version === entry.polledVersion) continue
      entry.polledVersion = version
      this.#announce(handle.id, entry)
    }
  }

  /** Every actor known, live and ended, in the order first seen. */
  actors(): IterableIterator<ActorView> {
    this.#look()
    return this.#all().values()
  }
  /** Every view, first seen first (sorted when asked: a page's or a new client's request, not a hot path). */
  #all(): Array<ViewNode> {
    const all: Array<ViewNode> = []
    for (const view of this.#live) if (view !== undefined) all.push(view)
    for (let i = this.#endedHead; i < this.#ended.length; i++) all.push(this.#ended[i]!)
    return all.sort((a, b) => a.seq - b.seq)
  }
  /** The view of the actor with this xstate session id (a scan: for a page's or a download's request, not a hot path). */
  get(sessionId: string): ActorView | undefined {
    this.#look()
    return this.#find(sessionId)
  }
  #find(sessionId: string): ActorView | undefined {
    for (const view of this.#live) if (view !== undefined && view.sessionId === sessionId) return view
    for (let i = this.#endedHead; i < this.#ended.length; i++) if (this.#ended[i]!.sessionId === sessionId) return this.#ended[i]
    return undefined
  }
  get size(): number {
    this.#look()
    return this.#sizeNow()
  }
  #sizeNow(): number {
    return this.#liveCount + this.#ended.length - this.#endedHead
  }
  /**
   * The registered session's summary, when the actor is a session's: read from the live session when
   * it is registered (its requests in flight reconciled into the actor's, with their ages), else the
   * last one it gave.
   */
  infoOf(actor: ActorView): SessionInfo | undefined {
    const entry = actor.idEntry
    const last = entry.info
    // Read: the session's next change is announced again.
    this.#announced.delete(actor.id)
    if (last === undefined) {
      // Registered, its summary never read yet (or not a session's actor).
      if (!entry.session) return undefined
    } else if (actor.end !== undefined) return last
    else {
      const version = entry.handle?.infoVersion
      // A session with a version: read again only if it moved since the last read (followed or not).
      if (version !== undefined) {
        if (version === entry.infoVersion) return last
      } else if (this.#updates !== undefined && !this.#stale.delete(actor.id)) return last
    }
    const handle = entry.handle ?? this.#registry?.get(actor.id)
    if (handle === undefined) return last
    const info = handle.info()
    entry.info = info
    entry.infoVersion = handle.infoVersion ?? -1
    this.#reconcileRequests(actor, info)
    return info
  }
  /** The session's own end (reason, expected), when the registry reported it. */
  sessionEndOf(actor: ActorView): SessionEnd | undefined {
    return actor.idEntry.end
  }

  /**
   * Listen to feed messages; returns the unsubscribe function. `events: false` leaves out
   * `@xstate.event` (every event every actor receives): the hub then does not even hand them over.
   */
  subscribe(listener: (message: FeedMessage) => void, options: FeedSubscription = {}): () => void {
    if (this.#listeners.has(listener)) return () => this.#unsubscribe(listener)
    // Followed from now on, caught up first (the listener is told only of what follows).
    if (!this.#awake && !this.#closed) this.#wake()
    const events = options.events !== false
    const touch = options.snapshots
    this.#listeners.set(listener, { events, touch })
    this.#followUpdates(true)
    if (touch === undefined) this.#snapshotMessageListeners++
    else this.#touches = [...this.#touches, touch]
    if (events && this.#eventListeners++ === 0) this.#hubSubscription?.want(WITH_EVENTS)
    return () => this.#unsubscribe(listener)
  }
  #unsubscribe(listener: (message: FeedMessage) => void): void {
    const how = this.#listeners.get(listener)
    if (how === undefined) return
    this.#listeners.delete(listener)
    if (this.#listeners.size === 0) this.#followUpdates(false)
    if (how.touch === undefined) this.#snapshotMessageListeners--
    else this.#touches = this.#touches.filter((t) => t !== how.touch)
    if (how.events && --this.#eventListeners === 0) this.#hubSubscription?.want(QUIET)
    if (this.#listeners.size === 0 && !this.#always && this.#awake) this.#sleep()
  }
  get listenerCount(): number {
    return this.#listeners.size
  }

  /** The messages that bring a new client up to date: each actor as `@xstate.actor` (current snapshot) and its session summary. */
  snapshotMessages(): ReadonlyArray<FeedMessage> {
    this.#look()
    const now = this.#now()
    this.#prune(now)
    const out: Array<FeedMessage> = []
    for (const actor of this.#all()) {
      out.push({ type: "@xstate.actor", actor, createdAt: now }, { type: "@mcp-actors.session", actor, createdAt: now, recent: true })
    }
    return out
  }

  /** The record of one actor, live or ended (secrets redacted unless `showSecrets`). */
  record(sessionId: string, showSecrets = false): RecordFile | undefined {
    this.#look()
    const actor = this.#find(sessionId)
    return actor === undefined ? undefined : toRecordFile(actor, showSecrets)
  }

  /** Stop listening to the hub and the registry; forget everything. */
  close(): void {
    for (const stop of this.#stops.splice(0)) stop()
    this.#awake = false
    this.#listeners.clear()
    this.#eventListeners = 0
    this.#snapshotMessageListeners = 0
    this.#touches = []
    // Live actors must not keep the forgotten views (and their records) reachable.
    for (const view of this.#all()) this.#unlink(view)
    if (this.#registry !== undefined) for (const { handle } of this.#registry.entries()) this.#setEntryOnHandle(handle, undefined)
    this.#live.length = 0
    this.#freeSlots.length = 0
    this.#liveCount = 0
    this.#ids.clear()
    this.#asleep.clear()
    this.#ended.length = 0
    this.#endedAt.length = 0
    this.#endedEntries.length = 0
    this.#endedHead = 0
    this.#stale.clear()
    this.#announced.clear()
    // Nothing is left under the key (views unlinked from their actors, entries taken off the handles): the next model may use it.
    if (!this.#closed) spareKeys.push(this.#key)
    this.#closed = true
  }

  /**
   * The entry of session `id`: on its handle when the handle is named by its actors (`namedByItsActors`),
   * else in `#ids`. Why on the handle: a churned server session's registration, its actor's start, its
   * removal and its view's forgetting each looked its id up in that table (five hash operations on a
   * cold table per session, for a join the objects at hand already make).
   */
  #entryOf(id: string, handle: SessionHandle | undefined): IdEntry | undefined {
    return handle !== undefined && isNamedByItsActors(handle) ? (handle as unknown as Record<symbol, IdEntry | undefined>)[this.#key] : this.#ids.get(id)
  }
  /** {@link #entryOf}, made when there is none. */
  #entryMade(id: string, handle: SessionHandle | undefined): IdEntry {
    if (handle !== undefined && isNamedByItsActors(handle)) {
      const on = handle as unknown as Record<symbol, IdEntry | undefined>
      return on[this.#key] ??= newIdEntry(true)
    }
    let entry = this.#ids.get(id)
    if (entry === undefined) this.#ids.insert(id, entry = newIdEntry(false))
    return entry
  }
  /** Set, not deleted (as on actors, `#unlink`): a delete would slow every later property access on the session. */
  #setEntryOnHandle(handle: SessionHandle, entry: IdEntry | undefined): void {
    if (!isNamedByItsActors(handle)) return
    const on = handle as unknown as Record<symbol, IdEntry | undefined>
    if (on[this.#key] !== undefined) on[this.#key] = entry
  }

  #emit(message: FeedMessage): void {
    for (const l of this.#listeners.keys()) l(message)
  }

  #onInspection(e: InspectionEvent): void {
    switch (e.type) {
      case "@xstate.actor":
        return this.#onActor(e.actorRef as AnyActorRef, e.rootId)
      case "@xstate.snapshot":
        return this.#onSnapshot(e.actorRef as AnyActorRef, e.event, e.snapshot as never)
      case "@xstate.event": {
        if (this.#eventListeners === 0) return
        const actor = this.#viewOf(e.actorRef as AnyActorRef)
        if (actor === undefined) return
        const message: FeedMessage = { type: "@xstate.event", actor, event: e.event, sourceId: (e.sourceRef as AnyActorRef | undefined)?.sessionId, createdAt: this.#now() }
        for (const [l, how] of this.#listeners) if (how.events) l(message)
      }
    }
  }

  /**
   * Each actor's view, also kept on the actor under this model's own key (its session's entry, on the session):
   * the hot path's lookup is one property read. No other open model has it; a closed one's is reused.
   */
  readonly #key: symbol = spareKeys.pop() ?? Symbol("inspector view")
  #closed = false

  /** Drop the view's link from its actor (set, not deleted: a delete would slow every later property access on the actor). */
  #unlink(view: ActorView): void {
    const ref = view.ref as unknown as Record<symbol, ActorView | undefined> | undefined
    if (ref !== undefined && ref[this.#key] === view) ref[this.#key] = undefined
  }

  /** The actor ended: let go of it (the view keeps its state, record and end). */
  #release(view: ActorView): void {
    this.#unlink(view)
    view.ref = undefined
  }

  /**
   * The actor's view: every view is put on its actor when made (or woken), and taken off only when it
   * ends, after which its actor sends nothing the model would take. An actor without one is untracked
   * (started before the model, or beyond `maxActors`).
   */
  #viewOf(ref: AnyActorRef): ViewNode | undefined {
    return (ref as unknown as Record<symbol, ViewNode | undefined>)[this.#key]
  }

  #onActor(ref: AnyActorRef, rootId: string): void {
    const id = ref.id
    const owner = actorSession(ref)
    const onHandle = owner !== undefined && owner.id === id && isNamedByItsActors(owner)
    // A hibernated session woken: its new actor continues the same view and record (found through the
    // session when the actor names it: a server with a hibernated session looked every new session up).
    const asleep = onHandle
      ? hibernatedIn((owner as unknown as Record<symbol, IdEntry | undefined>)[this.#key])
      : this.#asleep.size === 0 || id === ref.sessionId ? undefined : this.#asleep.get(id)
    if (asleep !== undefined && asleep.status === "hibernated") {
      if (!onHandle) this.#asleep.delete(id)
      // (The stopped actor lets go of it: nothing may stay under the key once the view moves on, see `close`.)
      this.#unlink(asleep)
      asleep.ref = ref
      ;(ref as unknown as Record<symbol, ActorView>)[this.#key] = asleep
      ;(asleep.aliases ??= []).push(ref.sessionId)
      return
    }
    const now = this.#now()
    if (this.#sizeNow() >= this.#maxActors) {
      this.#prune(now, true)
      if (this.#sizeNow() >= this.#maxActors) return
    }
    const logic = (ref as { logic?: { id?: unknown } }).logic
    const ids = this.#entryMade(id, onHandle ? owner : undefined)
    const free = this.#freeSlots.pop()
    const slot = free === undefined ? this.#live.length : free
    const actor: ViewNode = {
      sessionId: ref.sessionId,
      rootId,
      parentId: parentOf(ref)?.sessionId,
      id,
      machine: typeof logic?.id === "string" ? logic.id : undefined,
      ref,
      logic,
      aliases: undefined,
      startedAt: now,
      value: undefined,
      context: undefined,
      status: "active",
      record: new RecordBuffer(this.#capacity),
      requests: undefined,
      end: undefined,
      idEntry: ids,
      slot,
      seq: this.#seq++
    }
    this.#live[slot] = actor
    this.#liveCount++
    ;(ref as unknown as Record<symbol, ActorView>)[this.#key] = actor
    const same = ids.views
    if (same === undefined) ids.views = actor
    else if (same instanceof Set) same.add(actor)
    else ids.views = new Set([same, actor])
    if (this.#ended.length > this.#endedHead) this.#prune(now)
  }

  /**
   * An actor live before this model, its ancestors up to the first one with a view (or not live), and its
   * live descendants (its requests, keepalive, transport charts): a view each, parents before their children,
   * each record starting from the state the actor is in (its earlier steps were never seen).
   */
  #adopt(ref: AnyActorRef | undefined): void {
    const unseen: Array<AnyActorRef> = []
    let a = ref
    while (a !== undefined && this.#viewOf(a) === undefined && a.getSnapshot().status === "active") {
      unseen.push(a)
      a = parentOf(a)
    }
    if (unseen.length === 0) return
    let root = unseen[unseen.length - 1]!
    for (let p = parentOf(root); p !== undefined; p = parentOf(p)) root = p
    for (let i = unseen.length - 1; i > 0; i--) this.#adoptOne(unseen[i]!, root.sessionId)
    this.#adoptTree(unseen[0]!, root.sessionId)
  }

  #adoptOne(ref: AnyActorRef, rootId: string): void {
    this.#onActor(ref, rootId)
    this.#onSnapshot(ref, INIT_EVENT, ref.getSnapshot())
  }

  /** `ref` and its live descendants without a view, parents first. */
  #adoptTree(ref: AnyActorRef, rootId: string): void {
    this.#adoptOne(ref, rootId)
    this.#adoptChildren(ref, rootId)
  }

  /** `ref`'s live children without a view, and theirs. */
  #adoptChildren(ref: AnyActorRef, rootId: string): void {
    const children = (ref.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> }).children
    if (children === undefined) return
    for (const child of Object.values(children)) {
      if (child !== undefined && this.#viewOf(child) === undefined && child.getSnapshot().status === "active") this.#adoptTree(child, rootId)
    }
  }

  #onSnapshot(ref: AnyActorRef, event: EventObject, snapshot: { status: string; value?: StateValue; context?: unknown; output?: unknown; error?: unknown }): void {
    const actor = this.#viewOf(ref)
    if (actor === undefined || actor.end !== undefined) return
    // Each field read once: snapshots and events come in many shapes (every logic's, every event's),
    // so each read is a megamorphic lookup.
    const type = event.type
    const t = this.#now()
    const listening = this.#listeners.size > 0
    const status = snapshot.status
    const value = snapshot.value
    const context = snapshot.context
    const ids = actor.idEntry
    if (status === "stopped" && this.#hibernates(actor, t)) return
    const woken = actor.status === "hibernated"
    actor.value = value
    actor.context = context
    actor.status = status
    const record = actor.record
    const seq = record.total
    const init = type === "xstate.init"
    // The first snapshot is the record's start (its base, in the record's slots: no object of its own).
    // (A woken actor starts from the hibernated snapshot: nothing happened, nothing to record.)
    if (!(init && (record.size === 0 && record.begin(t, value, context, status) || woken))) {
      record.add(t, this.#keepSecrets ? event : withoutSecrets(event), value, context, status)
    }
    // A registered session's requests in flight are its summary's (`#reconcileRequests`): while nobody
    // listens, they are not tracked from the chart (a map per session under churn, for nobody); a read
    // finds what the summary does not say (when a request was seen, those of a count-only summary) in the record.
    if (type === "REQUEST" && (listening || actor.requests !== undefined || !ids.session)) {
      const request = requestOf(event as AnyEventObject)
      if (request !== undefined) (actor.requests ??= new Map()).set(request.id, { id: request.id, method: request.method, since: t })
    }
    if (listening) {
      if (init && record.size === 0) this.#emit({ type: "@xstate.actor", actor, createdAt: t })
      if (this.#snapshotMessageListeners > 0) {
        const message: FeedMessage = { type: "@xstate.snapshot", actor, event, createdAt: t, snapshot: { value, status, context }, seq }
        for (const [l, how] of this.#listeners) if (how.touch === undefined) l(message)
      }
      // The page's lean feed: no message object per event.
      const touches = this.#touches
      for (let i = 0; i < touches.length; i++) touches[i]!(actor, event, t, seq)
    }
    if (status === "done" || status === "error" || status === "stopped") this.#finish(actor, snapshot, t)
  }

  /** Stopped while its session lives on: hibernated (or about to end: the session's end will say). Returns whether it was. */
  #hibernates(actor: ViewNode, t: number): boolean {
    const ids = actor.idEntry
    if (!ids.session || ids.end !== undefined || this.#endOnHandle(ids)) return false
    actor.status = "hibernated"
    if (!ids.onHandle) this.#asleep.set(actor.id, actor)
    if (this.#listeners.size > 0) this.#emit({ type: "@mcp-actors.session", actor, createdAt: t })
    return true
  }

  /** The actor finished (`done`, `error`, `stopped`): its end, from its session's own when it told one. */
  #finish(actor: ViewNode, snapshot: { status: string; output?: unknown; error?: unknown; context?: unknown }, t: number): void {
    const ids = actor.idEntry
    const status = snapshot.status
    const ownEnd = ids.end
    actor.end = ownEnd === undefined || !ids.session
      ? endOf(t, snapshot)
      : { t, status, reason: ownEnd.reason, error: !ownEnd.expected || status === "error" }
    actor.requests = undefined
    actor.record.seal()
    this.#retire(actor, t)
    this.#release(actor)
    if (this.#listeners.size > 0) this.#emit({ type: "@mcp-actors.session", actor, createdAt: t })
  }

  /**
   * A view's actor found ended on a catch-up: its state and end as its last snapshot gives them (its record
   * keeps what was seen: the steps to the end were not).
   */
  #settle(actor: ViewNode, snapshot: { status: string; value?: StateValue; context?: unknown; output?: unknown; error?: unknown }, t: number): void {
    if (snapshot.status === "stopped" && this.#hibernates(actor, t)) return
    actor.value = snapshot.value
    actor.context = snapshot.context
    actor.status = snapshot.status
    this.#finish(actor, snapshot, t)
  }



  /** Not stale, not announced: two empty sets while nobody listens, so no lookup then. */
  #unmark(id: string): void {
    if (this.#stale.size > 0) this.#stale.delete(id)
    if (this.#announced.size > 0) this.#announced.delete(id)
  }

  #onChange(change: RegistryChange): void {
    if (change.type === "added") this.#onAdded(change.id, change.handle ?? this.#registry?.get(change.id))
    else if (change.type === "removed") this.#onRemoved(change)
    else this.#onUpdated(change.info, change.handle)
  }

  /** A summary pushed (a registry that hands its updates to every listener): its requests in flight, and the feed's line. */
  #onUpdated(info: SessionInfo, handle: SessionHandle | undefined): void {
    const ids = this.#entryMade(info.id, handle)
    ids.session = true
    ids.info = info
    this.#unmark(info.id)
    const same = ids.views
    if (same === undefined) return
    for (const actor of same instanceof Set ? same : [same]) {
      this.#reconcileRequests(actor, info)
      if (this.#listeners.size > 0) this.#emit({ type: "@mcp-actors.session", actor, createdAt: this.#now() })
    }
  }

  /**
   * A session registered: known as one, its summary not built (read when a page or a feed asks, or when
   * it leaves the registry). A session that tells its end at its release needs nothing more; another is
   * awaited.
   */
  #onAdded(id: string, handle: SessionHandle | undefined): void {
    const ids = this.#entryMade(id, handle)
    ids.session = true
    ids.info = undefined
    ids.handle = handle
    this.#unmark(id)
    if (handle !== undefined && !tellsItsEnd(handle)) this.#awaitEnd(id, handle, ids)
    if (this.#listeners.size === 0) return
    const same = ids.views
    if (same instanceof Set) for (const actor of same) this.#emit({ type: "@mcp-actors.session", actor, createdAt: this.#now() })
    else if (same !== undefined) this.#emit({ type: "@mcp-actors.session", actor: same, createdAt: this.#now() })
  }

  /** A session left the registry: its last summary is kept for its actors' views, and its end taken when it tells it. */
  #onRemoved(change: RegistryChange): void {
    const id = change.id
    this.#unmark(id)
    const handle = change.handle
    const ids = this.#entryOf(id, handle)
    if (ids === undefined) return
    ids.handle = undefined
    // (Its views keep the entry: the handle, gone from the registry, must not keep them.)
    if (ids.onHandle) this.#setEntryOnHandle(handle!, undefined)
    const same = ids.views
    const end = endedWithOf(handle)
    if (same === undefined) {
      // No actor of it to describe.
      if (ids.end === undefined && !ids.onHandle) this.#ids.delete(id)
      return
    }
    const info = change.info
    ids.session = true
    ids.info = info
    if (same instanceof Set) for (const actor of same) this.#reconcileRequests(actor, info)
    else this.#reconcileRequests(same, info)
    if (end !== undefined && ids.end !== end) return this.#onSessionEnd(id, end, ids)
    if (end === undefined && handle !== undefined && tellsItsEnd(handle)) {
      // Left the registry before its end (a supervisor's shutdown): its end is awaited from here.
      this.#awaitEnd(id, handle, ids)
    }
    if (this.#listeners.size === 0) return
    if (same instanceof Set) for (const actor of same) this.#emit({ type: "@mcp-actors.session", actor, createdAt: this.#now() })
    else this.#emit({ type: "@mcp-actors.session", actor: same, createdAt: this.#now() })
  }

  /**
   * Take the session's end when it comes. Why a method of its own: a closure in `#onAdded` or
   * `#onRemoved` made each of their calls allocate the context it captures (≈ 48 bytes, until the
   * optimizing compiler took them), on every session although the closure is rarely made.
   */
  #awaitEnd(id: string, handle: SessionHandle, ids: IdEntry): void {
    handle.ended.then((end) => this.#onSessionEnd(id, end, ids), () => undefined)
  }

  /** The registered session has told its end (it was released): taken now. */
  #endOnHandle(ids: IdEntry): boolean {
    const end = endedWithOf(ids.handle)
    if (end === undefined) return false
    ids.end = end
    return true
  }

  /** The actor's requests in flight from the session's summary: theirs is the truth. */
  #reconcileRequests(actor: ActorView, info: SessionInfo): void {
    const listed = info.requests
    if (info.inFlight === 0) actor.requests = undefined
    else if (listed !== undefined) {
      const requests = actor.requests ??= new Map()
      // A request's age counts from when the session received it, else from when it was first seen here.
      for (let i = 0; i < listed.length; i++) {
        const r = listed[i]!
        const id = String(r.id)
        if (!requests.has(id)) requests.set(id, { id, method: r.method, since: r.since ?? this.#seenAt(actor, id) ?? this.#now() })
      }
      // Every listed one is in the map: when the sizes agree, nothing else is (ids in flight are unique;
      // two listed ids that print alike, 1 and "1", take the full pass below on the next change).
      if (requests.size !== listed.length) {
        const live = new Set<string>()
        for (const r of listed) live.add(String(r.id))
        for (const id of requests.keys()) if (!live.has(id)) requests.delete(id)
      }
    } else {
      // Only a count: the chart saw the requests start; the oldest are dropped first.
      const requests = actor.requests ?? this.#requestsInRecord(actor)
      if (requests === undefined) return
      actor.requests = requests
      for (const key of requests.keys()) {
        if (requests.size <= info.inFlight) break
        requests.delete(key)
      }
    }
  }

  /** When the actor's record last saw request `id` start (a request its session lists without its time). */
  #seenAt(actor: ActorView, id: string): number | undefined {
    let seen: number | undefined
    actor.record.eachSince(0, actor.record.capacity, (t, event) => {
      if (event.type === "REQUEST" && requestOf(event as AnyEventObject)?.id === id) seen = t
    })
    return seen
  }

  /** The requests the actor's record saw start, oldest first (what the chart-side tracking would hold). */
  #requestsInRecord(actor: ActorView): Map<string, InFlightRequest> | undefined {
    let found: Map<string, InFlightRequest> | undefined
    actor.record.eachSince(0, actor.record.capacity, (t, event) => {
      const request = event.type === "REQUEST" ? requestOf(event as AnyEventObject) : undefined
      if (request !== undefined) (found ??= new Map()).set(request.id, { id: request.id, method: request.method, since: t })
    })
    return found
  }

  #onSessionEnd(id: string, end: SessionEnd, ids: IdEntry | undefined): void {
    if (ids === undefined || !ids.session) return
    ids.end = end
    const same = ids.views
    if (same === undefined) return
    // (A set of views is copied: an end below may change it.) One view, the common case, is taken as it
    // is: a session's end came to every churned session's view in an array of one, with an iterator.
    if (same instanceof Set) for (const actor of [...same]) this.#endView(actor, end)
    else this.#endView(same, end)
  }

  /** The session's end, told to one of its views. */
  #endView(actor: ActorView, end: SessionEnd): void {
    const ended = actor.end
    if (ended === undefined) {
      // The session ended without its actor finishing (hibernated, stopped, dropped): it ends here.
      if (actor.status === "hibernated") {
        actor.status = "stopped"
        if (!actor.idEntry.onHandle && this.#asleep.get(actor.id) === actor) this.#asleep.delete(actor.id)
      }
      const t = this.#now()
      actor.end = { t, status: actor.status === "active" ? "gone" : actor.status, reason: end.reason, error: !end.expected }
      actor.requests = undefined
      actor.record.seal()
      this.#retire(actor as ViewNode, t)
      this.#release(actor)
    } else if (ended.reason !== end.reason || (!ended.error && !end.expected)) {
      actor.end = { ...ended, reason: end.reason, error: ended.error || !end.expected }
    }
    // (The clock is read only for what it stamps: nothing, when the end changed nothing and nobody listens.)
    if (this.#listeners.size > 0) this.#emit({ type: "@mcp-actors.session", actor, createdAt: this.#now() })
  }

  /** The view ended at `t`: from its live slot (emptied in place, reused) to the ended ones. */
  #retire(view: ViewNode, t: number): void {
    if (view.slot < 0) return
    this.#live[view.slot] = undefined
    this.#freeSlots.push(view.slot)
    view.slot = -1
    this.#liveCount--
    this.#ended.push(view)
    this.#endedAt.push(t)
    this.#endedEntries.push(view.idEntry)
  }

  /** Forget ended actors past their retention, or beyond `maxEnded` (all ended ones beyond half when `pressed`). */
  #prune(now: number, pressed = false): void {
    const limit = pressed ? Math.floor(this.#maxEnded / 2) : this.#maxEnded
    const ended = this.#ended
    while (ended.length > this.#endedHead) {
      if (ended.length - this.#endedHead <= limit && this.#endedAt[this.#endedHead]! + this.#retainMs > now) break
      const head = this.#endedHead
      const oldest = ended[head]!
      const ids = this.#endedEntries[head]!
      ended[head] = undefined
      this.#endedEntries[head] = undefined
      this.#endedHead = head + 1
      if (this.#endedHead >= 32 && this.#endedHead * 2 >= ended.length) {
        // Moved down in place, by hand: a `splice` returns what it cut (an array made for nothing), and
        // `copyWithin` has no fast path for these arrays (it was a fifth of the unwatched model's time).
        moveDown(ended, this.#endedHead)
        moveDown(this.#endedAt, this.#endedHead)
        moveDown(this.#endedEntries, this.#endedHead)
        this.#endedHead = 0
      }
      // (Its actor let go of it when it ended, `#release`.)
      const same = ids.views
      if (same instanceof Set) {
        same.delete(oldest)
        if (same.size === 1) ids.views = same.values().next().value!
      } else if (same !== undefined && same !== oldest) {
        // Another view holds the id: keep it.
      } else {
        ids.views = undefined
        // Its entry is the id's in the map, no lookup needed: an entry with a view is never dropped
        // (only here, once its last view goes, or in `#onRemoved` when it has none), and an id's entry
        // is made only when it has none. (An entry on a handle is in no table.)
        if (!ids.onHandle) this.#ids.delete(oldest.id)
      }
      if (this.#listeners.size > 0) this.#emit({ type: "@mcp-actors.forget", sessionId: oldest.sessionId, createdAt: now })
    }
  }
}
