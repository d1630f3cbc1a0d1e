/**
 * The live sessions of a process, keyed by session id, with a change feed for
 * the inspector.
 *
 * The core is a plain object ({@link makeRegistryUnsafe}) so the Promise facade
 * can use it without Effect; the {@link Registry} service wraps it and ties
 * registration to a `Scope` (the session's scope unregisters it).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { SessionHandle, SessionInfo } from "./SessionHandle.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"

/** A session with this id is already registered. */
export class DuplicateSessionId extends Schema.TaggedError<DuplicateSessionId>()("DuplicateSessionId", {
  id: Schema.String
}) {}

/** One change of the live-session set, for the inspector. */
export interface RegistryChange {
  readonly type: "added" | "updated" | "removed"
  /** The session's id. */
  readonly id: string
  /**
   * The session's summary, built on first read (for `added` and `removed`, and for `updated` when the
   * session has `onInfoChange`): read it in the listener (for `removed`, the last summary the session
   * gave). A session whose `info()` throws makes the read throw (the listener's error, reported as such).
   */
  readonly info: SessionInfo
  /** The session itself (the registry's entry: it is no longer in the registry after `removed`). */
  readonly handle?: SessionHandle
}

/**
 * A change whose summary is built only if a listener reads it: `updated` of a session with
 * `onInfoChange`, and every `added` and `removed`. Why lazy for these too: a runtime under session
 * churn registers and removes a session per connection, and a listener that only counts them, or (the
 * inspector, nobody watching) reads the summary of the ones it keeps, builds no summary for the others.
 * Read `info` in the listener: a `removed` change read later gives the session's summary then.
 */
class LazyChange implements RegistryChange {
  readonly type: RegistryChange["type"]
  #info: SessionInfo | undefined
  readonly handle: SessionHandle
  constructor(type: RegistryChange["type"], handle: SessionHandle) {
    this.type = type
    this.handle = handle
  }
  get id(): string {
    return this.handle.id
  }
  get info(): SessionInfo {
    return (this.#info ??= this.handle.info())
  }
}

/** The registry without Effect: every method is synchronous. */
export interface RegistryUnsafe {
  /**
   * Add a live session and forward its `subscribe` notifications as `updated`
   * changes. Returns the unregister function (idempotent). The same session
   * registered again is left as it is (its unregister function does nothing).
   * Throws {@link DuplicateSessionId} when the id is another session's.
   */
  register(handle: SessionHandle): () => void
  get(id: string): SessionHandle | undefined
  list(): ReadonlyArray<SessionInfo>
  handles(): ReadonlyArray<SessionHandle>
  readonly size: number
  /**
   * Listen to changes; returns the unsubscribe function. A throwing listener does not stop the others.
   * `updates: false` takes only `added` and `removed`: while no listener wants updates, the registry
   * does not follow its sessions, so their state changes build no summary for nobody. `updates:
   * "unversioned"`: updates only of sessions without `infoVersion` (whose changes the listener cannot
   * see by comparing it): while no listener wants them all, the sessions that have one are not followed.
   */
  subscribe(listener: (change: RegistryChange) => void, options?: { readonly updates?: boolean | "unversioned" }): () => void
  /** Number of change listeners (leak checks, diagnostics). */
  readonly listenerCount: number
  /**
   * `register` without the unregister closure, for an owner that keeps `entry`
   * anyway (the {@link Supervisor}: its entry *is* the registry's, one object per
   * session). Throws {@link DuplicateSessionId} when the id is taken.
   */
  add(entry: RegistryEntry): void
  /** Undo `add`: what `register`'s unregister function does. Idempotent. */
  remove(entry: RegistryEntry): void
  /** The entry registered under `id`. */
  entry(id: string): RegistryEntry | undefined
  /** Every entry (live view: copy before removing while iterating). */
  entries(): IterableIterator<RegistryEntry>
}

/** What the registry keeps per session; an owner may extend it with its own fields (see `add`). */
export class RegistryEntry {
  readonly handle: SessionHandle
  /** Set while someone listens to the registry: the handle's `subscribe` forwarded as `updated`. */
  unsubscribe: (() => void) | undefined = undefined
  /** Registered and not removed yet. */
  live = false
  constructor(handle: SessionHandle) {
    this.handle = handle
  }
}

type Entry = RegistryEntry
/** What registering a session listed already returns: the first registration's owner removes it. */
const noUnregister = (): void => {}

/** The `updated` changes a listener takes (see `RegistryUnsafe.subscribe`). */
type Updates = boolean | "unversioned"

/**
 * Create a registry. `onListenerError` receives what a change listener threw
 * (default: `console.error`), so one broken inspector cannot break
 * registration for everyone else.
 *
 * Every session of a runtime is registered, so a registry nobody listens to
 * must cost a `Map` entry and nothing more: sessions are subscribed to (and
 * their summaries built) only while the registry has a change listener.
 */
export const makeRegistryUnsafe = (options?: {
  readonly onListenerError?: (error: unknown) => void
}): RegistryUnsafe => {
  // A ClearingMap: a removed entry (and its session) is not kept reachable by the table's dropped storage.
  const entries = new ClearingMap<string, Entry>()
  /** Each listener, with the `updated` changes it takes. */
  const listeners = new Map<(change: RegistryChange) => void, Updates>()
  /** The listeners as an array, made again only when one comes or goes: `emit` runs on every chart step of a followed session. */
  let current: ReadonlyArray<readonly [(change: RegistryChange) => void, Updates]> = []
  /** Listeners that take every `updated` change, and those that take the unversioned sessions' only. */
  let allUpdates = 0
  let unversionedUpdates = 0
  /** Whether a session is followed: some listener takes its updates. */
  const wanted = (handle: SessionHandle): boolean => allUpdates > 0 || (unversionedUpdates > 0 && handle.infoVersion === undefined)
  const onListenerError = options?.onListenerError ?? ((error: unknown) => console.error("registry listener failed", error))

  const emit = (change: RegistryChange): void => {
    if (listeners.size === 0) return
    const update = change.type === "updated"
    // A listener that subscribes or leaves while this runs changes `current`, not the array iterated.
    for (const [listener, updates] of current) {
      if (update && (updates === false || (updates === "unversioned" && change.handle?.infoVersion !== undefined))) continue
      try {
        listener(change)
      } catch (error) {
        onListenerError(error)
      }
    }
  }

  const follow = (entry: Entry): void => {
    const handle = entry.handle
    entry.unsubscribe = handle.onInfoChange !== undefined
      ? handle.onInfoChange(() => {
        if (entry.live) emit(new LazyChange("updated", handle))
      })
      : handle.subscribe((info) => {
        if (entry.live) emit({ type: "updated", id: handle.id, info, handle })
      })
  }
  const unfollow = (entry: Entry): void => {
    const unsubscribe = entry.unsubscribe
    entry.unsubscribe = undefined
    if (unsubscribe === undefined) return
    try {
      unsubscribe()
    } catch (error) {
      onListenerError(error)
    }
  }

  /** Follow the sessions some listener now wants the updates of, and only those. */
  const refollow = (): void => {
    for (const entry of entries.values()) {
      const want = wanted(entry.handle)
      if (want && entry.unsubscribe === undefined) follow(entry)
      else if (!want && entry.unsubscribe !== undefined) unfollow(entry)
    }
  }

  /** List `entry`; false when its id is taken (nothing done). */
  const listed = (entry: Entry): boolean => {
    const handle = entry.handle
    if (entry.live || !entries.add(handle.id, entry)) return false
    entry.live = true
    if (wanted(handle)) follow(entry)
    if (listeners.size > 0) emit(new LazyChange("added", handle))
    return true
  }
  const add = (entry: Entry): void => {
    if (!listed(entry)) throw new DuplicateSessionId({ id: entry.handle.id })
  }
  const remove = (entry: Entry): void => {
    if (!entry.live) return
    entry.live = false
    const handle = entry.handle
    entries.deleteIf(handle.id, entry)
    unfollow(entry)
    if (listeners.size > 0) emit(new LazyChange("removed", handle))
  }

  return {
    register(handle) {
      const entry = new RegistryEntry(handle)
      if (listed(entry)) return () => remove(entry)
      // The same session listed already (a runtime's registry lists every session it supervises, and an
      // inspector describes that registry): nothing to add, and nothing for this caller to undo. Looked at
      // only when the id is taken: a registration costs no lookup more, and no error is made to be caught.
      if (entries.get(handle.id)?.handle === handle) return noUnregister
      throw new DuplicateSessionId({ id: handle.id })
    },
    add,
    remove,
    entry: (id) => entries.get(id),
    entries: () => entries.values(),
    get: (id) => entries.get(id)?.handle,
    list: () => Array.from(entries.values(), (entry) => entry.handle.info()),
    handles: () => Array.from(entries.values(), (entry) => entry.handle),
    get size() {
      return entries.size
    },
    subscribe(listener, options) {
      // Wrap so the same function can be subscribed twice and removed independently.
      const wrapped = (change: RegistryChange) => listener(change)
      const updates: Updates = options?.updates === undefined ? true : options.updates
      const count = (by: number) => {
        if (updates === true) allUpdates += by
        else if (updates === "unversioned") unversionedUpdates += by
      }
      count(1)
      if (updates !== false) refollow()
      listeners.set(wrapped, updates)
      current = Array.from(listeners)
      return () => {
        if (!listeners.delete(wrapped)) return
        current = Array.from(listeners)
        count(-1)
        if (updates !== false) refollow()
      }
    },
    get listenerCount() {
      return listeners.size
    }
  }
}

/**
 * The registry of live sessions, as an Effect service.
 *
 * `register` is scoped: the session is unregistered when the scope it was
 * registered in closes, so a session's own scope is the only bookkeeping needed.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Registry } from "mcp-actors/effect"
 *
 * // Print every session that starts or ends, and how many are live.
 * const watch = Effect.gen(function*() {
 *   const registry = yield* Registry
 *   yield* registry.changes.pipe(
 *     Stream.runForEach((change) =>
 *       Effect.flatMap(registry.size, (n) => Effect.sync(() => console.log(change.type, change.info.id, `${n} live`))))
 *   )
 * })
 * ```
 */
export class Registry extends Context.Service<Registry, {
  /** Register in the current scope; unregistered by the scope's finalizer. */
  readonly register: (handle: SessionHandle) => Effect.Effect<void, DuplicateSessionId, Scope.Scope>
  readonly get: (id: string) => Effect.Effect<Option.Option<SessionHandle>>
  readonly list: Effect.Effect<ReadonlyArray<SessionInfo>>
  readonly size: Effect.Effect<number>
  /** Every change from subscription on (no replay: read `list` first for a snapshot). */
  readonly changes: Stream.Stream<RegistryChange>
  /** Listen for the lifetime of the current scope. */
  readonly subscribe: (listener: (change: RegistryChange) => void) => Effect.Effect<void, never, Scope.Scope>
  /** The underlying synchronous registry (Promise facade, inspector). */
  readonly unsafe: RegistryUnsafe
}>()("mcp-actors/Registry") {
  /** Wrap an existing plain registry (shared with the Promise facade). */
  static readonly fromUnsafe = (unsafe: RegistryUnsafe): Registry["Service"] =>
    Registry.of({
      register: Effect.fn("Registry.register")(function*(handle: SessionHandle) {
        yield* Effect.acquireRelease(
          Effect.try({
            try: () => unsafe.register(handle),
            catch: (error) => error instanceof DuplicateSessionId ? error : new DuplicateSessionId({ id: handle.id })
          }),
          (unregister) => Effect.sync(unregister)
        )
      }),
      get: (id) => Effect.sync(() => Option.fromNullishOr(unsafe.get(id))),
      list: Effect.sync(() => unsafe.list()),
      size: Effect.sync(() => unsafe.size),
      changes: Stream.callback<RegistryChange>((queue) =>
        Effect.acquireRelease(
          // Read now: the stream's reader takes it later, and a `removed` change's summary is the session's last.
          Effect.sync(() => unsafe.subscribe((change) => Queue.offerUnsafe(queue, { type: change.type, id: change.id, info: change.info }))),
          (unsubscribe) => Effect.sync(unsubscribe)
        )
      ),
      subscribe: (listener) =>
        Effect.asVoid(Effect.acquireRelease(
          Effect.sync(() => unsafe.subscribe(listener)),
          (unsubscribe) => Effect.sync(unsubscribe)
        )),
      unsafe
    })

  /** A fresh, empty registry. */
  static readonly layer: Layer.Layer<Registry> = Layer.sync(Registry, () => Registry.fromUnsafe(makeRegistryUnsafe()))
}
