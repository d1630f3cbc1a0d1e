/**
 * Owns the lifetime of every session: each runs in its own child `Scope`,
 * registered in the {@link Registry} while it lives, released as soon as it ends.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { DuplicateSessionId, Registry, RegistryEntry } from "./Registry.ts"
import { addFinalizerUnsafe } from "./scopeFinalizer.ts"
import { type GroupChild, ScopeGroup } from "./ScopeGroup.ts"
import type { SessionEnd, SessionHandle } from "./SessionHandle.ts"

/** `spawn` after `shutdown` started. */
export class SupervisorShutDown extends Schema.TaggedError<SupervisorShutDown>()("SupervisorShutDown", {}) {}

export interface ShutdownOptions {
  /** How long in-flight requests may run before they are cancelled (passed to `handle.close`). */
  readonly drainMs?: number
  readonly reason?: string
}

/** Internal sizes, for leak checks and the inspector. All return to 0 when no session is live. */
export interface SupervisorStats {
  /** Live sessions owned by the supervisor. */
  readonly sessions: number
  /** Fibers waiting on `handle.ended`. */
  readonly watchers: number
  /** Child scopes (and other finalizers) attached to the supervisor's scope. */
  readonly scopeEntries: number
}

export interface SupervisorOptions {
  /** Drain deadline used by the layer finalizer's shutdown. Default 5 000 ms. */
  readonly drainMs?: number
  /**
   * Extra time after `drainMs` that `shutdown` waits for `handle.close` before
   * closing the session's scope regardless. Default 1 000 ms.
   */
  readonly closeGraceMs?: number
}

export interface SpawnOptions {
  /** The scope the session's scope is forked from (its listener's). Default: the supervisor's own. */
  readonly parent?: Scope.Scope
}

export interface SpawnUnsafeOptions extends SpawnOptions {
  /** Run when the session's scope closes, after it left the registry (one finalizer for both: the cheapest). */
  readonly release?: (handle: SessionHandle) => void
  /**
   * The owner calls `endUnsafe(id, end)` when the session ends (from its release hook),
   * instead of the supervisor awaiting `handle.ended`: one promise reaction fewer per
   * session (about 200 bytes for as long as it lives).
   */
  readonly ownerEnds?: boolean
}

/**
 * A supervised session: its registry entry, extended with its scope. One object
 * per session serves both tables (the registry's map is the supervisor's too),
 * so supervision adds no entry, map slot or closure of its own beyond the
 * scope and its one finalizer.
 */
class Supervised extends RegistryEntry {
  readonly scope: Scope.Closeable
  /** The supervisor that owns it (a registry may be shared). */
  readonly owner: object
  readonly release: ((handle: SessionHandle) => void) | undefined
  /** The group its scope belongs to (`spawnUnsafe`), which it leaves with the registry. */
  readonly group: ScopeGroup | undefined
  readonly child: GroupChild | undefined
  /** Its scope's finalizer ran (it left the registry and the supervisor). */
  left = false
  constructor(handle: SessionHandle, scope: Scope.Closeable, owner: object, release: ((handle: SessionHandle) => void) | undefined, group?: ScopeGroup, child?: GroupChild) {
    super(handle)
    this.scope = scope
    this.owner = owner
    this.release = release
    this.group = group
    this.child = child
  }
}

const scopeEntryCount = (scope: Scope.Scope): number => {
  const state = scope.state
  if (state._tag !== "Open") return 0
  return state.finalizers?.size ?? 1
}

/** Close `scope` without a fiber unless a finalizer needs one (an async release). */
const closeUnsafe = (scope: Scope.Closeable, exit: Exit.Exit<unknown, unknown>): void => {
  const finalize = Scope.closeUnsafe(scope, exit)
  if (finalize !== undefined && finalize !== Effect.void) Effect.runFork(finalize)
}

/** Await `handle.ended`; a rejected promise counts as an unexpected end. */
export const awaitEnded = (handle: SessionHandle): Effect.Effect<SessionEnd> =>
  Effect.callback<SessionEnd>((resume) => {
    handle.ended.then(
      (end) => resume(Effect.succeed(end)),
      (error) => resume(Effect.succeed({ expected: false, reason: `ended rejected: ${String(error)}` }))
    )
  })

/**
 * The session supervisor.
 *
 * Why a child scope per session: whatever ends a session (its peer, an idle
 * expiry, a DELETE, shutdown), closing that one scope releases everything it
 * acquired (actor, timers, transport, child process) in LIFO order, and the
 * scope removes itself from the supervisor's scope, so thousands of sessions
 * coming and going leave nothing behind.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { McpServer, makeMemoryTransportPair } from "mcp-actors"
 * import { Registry, Supervisor, serveTransportScoped } from "mcp-actors/effect"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const main = Effect.gen(function*() {
 *   const supervisor = yield* Supervisor
 *   const [serverSide] = makeMemoryTransportPair()
 *   const session = yield* supervisor.spawn(serveTransportScoped(server, serverSide))
 *   console.log(supervisor.get(session.id) === session)        // true while it lives
 *   yield* supervisor.shutdown({ drainMs: 1_000 })              // drain, then close every session
 *   console.log(yield* supervisor.size)                         // 0
 * }).pipe(Effect.provide(Supervisor.layer.pipe(Layer.provideMerge(Registry.layer))))
 * await Effect.runPromise(main)
 * ```
 */
export class Supervisor extends Context.Service<Supervisor, {
  /**
   * Run `acquire` in a new child scope, register the handle, and release the
   * scope (and unregister) once `handle.ended` settles. If `acquire` fails,
   * whatever it acquired is released and the error is returned.
   */
  readonly spawn: <E>(
    acquire: Effect.Effect<SessionHandle, E, Scope.Scope>,
    options?: SpawnOptions
  ) => Effect.Effect<SessionHandle, E | DuplicateSessionId | SupervisorShutDown>
  /**
   * `spawn` without a fiber, for the Promise API: `acquire` builds the session
   * synchronously in its new scope (adding finalizers to it), and the session
   * is registered, owned and released exactly like a spawned one (same entries,
   * same registry, same shutdown), at a few µs instead of a watcher fiber's
   * tens. Throws what `spawn` would fail with.
   */
  readonly spawnUnsafe: (acquire: (scope: Scope.Scope) => SessionHandle, options?: SpawnUnsafeOptions) => SessionHandle
  /** The session `id` ended: close its scope (see `SpawnUnsafeOptions.ownerEnds`). Idempotent. */
  readonly endUnsafe: (id: string, end: SessionEnd) => void
  /**
   * A new scope owned by the supervisor (a listener's: the parent of the
   * scopes of the connections it accepts), closed at shutdown after every
   * session was drained.
   */
  readonly forkScopeUnsafe: () => Scope.Closeable
  /**
   * Close every live session gracefully (`handle.close({ drainMs })`, in
   * parallel), then close their scopes. Terminal: later spawns fail with
   * {@link SupervisorShutDown}. Idempotent; the layer's finalizer calls it.
   */
  readonly shutdown: (options?: ShutdownOptions) => Effect.Effect<void>
  readonly get: (id: string) => SessionHandle | undefined
  readonly size: Effect.Effect<number>
  readonly stats: Effect.Effect<SupervisorStats>
}>()("mcp-actors/Supervisor") {
  /** Build a supervisor owned by the current scope (the layer's). */
  static readonly make = (options: SupervisorOptions = {}) =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const outer = yield* Effect.scope
      const defaultDrainMs = options.drainMs ?? 5_000
      const closeGraceMs = options.closeGraceMs ?? 1_000
      // Finalizers of `outer` run LIFO: the watcher set is closed after the
      // shutdown finalizer added last, and `root` (every session's parent)
      // after that, so sessions are drained gracefully before anything is torn down.
      const root = yield* Scope.fork(outer, "parallel")
      const watchers = yield* FiberSet.make<void, never>()
      const table = registry.unsafe
      /** This supervisor's token in its entries (`Supervised.owner`). */
      const self = {}
      let owned = 0
      const ownEntry = (entry: RegistryEntry | undefined): Supervised | undefined =>
        entry instanceof Supervised && entry.owner === self && !entry.left ? entry : undefined
      const ownEntries = (): Array<Supervised> => {
        const out: Array<Supervised> = []
        for (const entry of table.entries()) if (ownEntry(entry) !== undefined) out.push(entry as Supervised)
        return out
      }
      /** Leave the registry (and this supervisor), then the owner's release hook. */
      const leave = (entry: Supervised): void => {
        if (entry.left) return
        entry.left = true
        owned--
        table.remove(entry)
        if (entry.group !== undefined) entry.group.leave(entry.child!)
        if (entry.release !== undefined) entry.release(entry.handle)
      }
      /**
       * Register `handle` as owned, in `scope`: its finalizer, added last so it runs first,
       * takes the session out of the registry before its resources go. Runs synchronously
       * inside `Scope.closeUnsafe`; added without a fiber and keyed by the entry (see scopeFinalizer.ts).
       * Throws {@link DuplicateSessionId}.
       */
      const enter = (handle: SessionHandle, scope: Scope.Closeable, release: ((handle: SessionHandle) => void) | undefined, group?: ScopeGroup, child?: GroupChild): Supervised => {
        const entry = new Supervised(handle, scope, self, release, group, child)
        table.add(entry)
        owned++
        addFinalizerUnsafe(scope, entry, () => {
          leave(entry)
          return Effect.void
        })
        return entry
      }
      /** The session scopes under each parent scope (`spawnUnsafe`): the root's, and each listener's. */
      const groups = new WeakMap<Scope.Scope, ScopeGroup>()
      const groupOf = (parent: Scope.Scope): ScopeGroup => {
        let group = groups.get(parent)
        if (group === undefined) groups.set(parent, (group = new ScopeGroup(parent)))
        return group
      }
      /** Set when shutdown starts; completed when it has finished. */
      let shuttingDown: Deferred.Deferred<void> | undefined
      let shutdownRequest = { drainMs: defaultDrainMs, reason: "supervisor shutdown" }

      const release = (entry: Supervised, exit: Exit.Exit<unknown, unknown>) => Scope.close(entry.scope, exit)

      const spawn = <E>(acquire: Effect.Effect<SessionHandle, E, Scope.Scope>, spawnOptions?: SpawnOptions) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            if (shuttingDown !== undefined) return yield* new SupervisorShutDown()
            const scope = yield* Scope.fork(spawnOptions?.parent ?? root, "sequential")
            const acquired = yield* Effect.exit(restore(Scope.provide(acquire, scope)).pipe(
              Effect.flatMap((handle) =>
                Effect.try({
                  try: () => enter(handle, scope, undefined),
                  catch: (error) => error instanceof DuplicateSessionId ? error : new DuplicateSessionId({ id: handle.id })
                })
              )
            ))
            if (Exit.isFailure(acquired)) {
              yield* Scope.close(scope, acquired)
              return yield* Effect.failCause(acquired.cause)
            }
            const entry = acquired.value
            const handle = entry.handle
            if (shuttingDown !== undefined) {
              // Shutdown began while we were acquiring: do not leave this one behind.
              yield* closeGracefully(handle, shutdownRequest)
              yield* Scope.close(scope, Exit.void)
              return yield* new SupervisorShutDown()
            }
            yield* FiberSet.run(
              watchers,
              awaitEnded(handle).pipe(Effect.flatMap((end) => release(entry, Exit.succeed(end))))
            )
            return handle
          })
        )

      /** `handle.close`, bounded: a close that hangs past drain + grace is abandoned (the scope is closed anyway). */
      const closeGracefully = (handle: SessionHandle, opts: { readonly drainMs: number; readonly reason: string }) =>
        Effect.tryPromise(() => handle.close({ drainMs: opts.drainMs, reason: opts.reason })).pipe(
          Effect.timeoutOption(opts.drainMs + closeGraceMs),
          Effect.ignore
        )

      const shutdown = (opts: ShutdownOptions = {}): Effect.Effect<void> =>
        Effect.uninterruptible(Effect.suspend(() => {
          if (shuttingDown !== undefined) return Deferred.await(shuttingDown)
          const done = Deferred.makeUnsafe<void>()
          shuttingDown = done
          shutdownRequest = { drainMs: opts.drainMs ?? defaultDrainMs, reason: opts.reason ?? "supervisor shutdown" }
          const { drainMs, reason } = shutdownRequest
          return Effect.gen(function*() {
            const live = ownEntries()
            yield* Effect.forEach(live, (entry) => closeGracefully(entry.handle, { drainMs, reason }), {
              concurrency: "unbounded",
              discard: true
            })
            yield* Effect.forEach(live, (entry) => release(entry, Exit.void), {
              concurrency: "unbounded",
              discard: true
            })
            yield* FiberSet.clear(watchers)
          }).pipe(Effect.ensuring(Deferred.succeed(done, undefined)))
        }))

      yield* Effect.addFinalizer(() => shutdown({ drainMs: defaultDrainMs }))

      return Supervisor.of({
        spawn,
        spawnUnsafe: (acquire, spawnOptions) => {
          if (shuttingDown !== undefined) throw new SupervisorShutDown()
          // In its parent's group, not among the parent's own finalizers (see ScopeGroup.ts).
          const group = groupOf(spawnOptions?.parent ?? root)
          const child = group.fork()
          const scope = child.scope
          let handle: SessionHandle
          try {
            handle = acquire(scope)
            enter(handle, scope, spawnOptions?.release, group, child)
          } catch (error) {
            group.leave(child)
            closeUnsafe(scope, Exit.die(error))
            throw error
          }
          if (spawnOptions?.ownerEnds !== true) {
            handle.ended.then(
              (end) => closeUnsafe(scope, Exit.succeed(end)),
              () => closeUnsafe(scope, Exit.void)
            )
          }
          return handle
        },
        endUnsafe: (id, end) => {
          const entry = ownEntry(table.entry(id))
          if (entry !== undefined) closeUnsafe(entry.scope, Exit.succeed(end))
        },
        forkScopeUnsafe: () => Scope.forkUnsafe(root, "sequential"),
        shutdown,
        get: (id) => ownEntry(table.entry(id))?.handle,
        size: Effect.sync(() => owned),
        stats: Effect.gen(function*() {
          const rootGroup = groups.get(root)
          return {
            sessions: owned,
            watchers: yield* FiberSet.size(watchers),
            // The root's group counts as its sessions, not as one finalizer.
            scopeEntries: scopeEntryCount(root) - (rootGroup?.holdsFinalizer === true ? 1 : 0) + (rootGroup?.size ?? 0)
          }
        })
      })
    })

  /** A supervisor with the default drain deadline; needs {@link Registry}. */
  static readonly layer: Layer.Layer<Supervisor, never, Registry> = Layer.effect(Supervisor, Supervisor.make())

  /** A supervisor with custom options; needs {@link Registry}. */
  static readonly layerWith = (options: SupervisorOptions): Layer.Layer<Supervisor, never, Registry> =>
    Layer.effect(Supervisor, Supervisor.make(options))
}
