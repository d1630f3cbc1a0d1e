/**
 * One runtime: an Effect runtime (the {@link Registry} of live sessions and the
 * {@link Supervisor} that owns their scopes) and one xstate actor tree whose
 * root runs the `runtime` chart.
 *
 * The Promise API (`serveTransport`, `makeHttpServer`, `makeWsServer`) is a
 * facade over it: every connection it serves is spawned through the same
 * `Supervisor.spawn` as from Effect (run synchronously), so it lives in its own
 * `Scope`, is listed in the registry, and is released (actor, timers, socket,
 * streams) when that scope closes, whatever ended it. Its actors are nodes of
 * the runtime's tree: root → listeners / connections → sessions, so one
 * `inspect` observer on the root sees them all.
 *
 * Why actors join the tree with `parent` rather than `spawnChild`: a spawned
 * child is listed in its parent's snapshot `children`, a plain object copied on
 * every spawn and keyed by ever-new ids (the hidden-class churn the lean
 * scheduler exists to avoid), which a listener with thousands of sessions
 * cannot afford. A node made with `parent` joins the parent's system (shared
 * scheduler, inspection, `_parent` link) and is stopped by its own scope.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import type { Actor, ActorOptions, AnyActorLogic, AnyActorRef, EventObject } from "xstate"
import { type ConnectionMachine, connectionMachine } from "../../machines/connection.ts"
import { acceptsConnections, type ListenerInput, type ListenerMachine, listenerMachine } from "../../machines/listener.ts"
import { type RuntimeMachine, runtimeMachine } from "../../machines/runtime.ts"
import { createLeanActor, createRootActor } from "./ActorScheduler.ts"
import { ClearingMap } from "../protocol/ClearingMap.ts"
import { type Clock, systemClock } from "../protocol/clock.ts"
import { followRoot } from "./inspection.ts"
import { Registry, type RegistryUnsafe } from "./Registry.ts"
import type { SessionEnd, SessionHandle } from "./SessionHandle.ts"
import { Supervisor, type SupervisorOptions } from "./Supervisor.ts"

/**
 * Send `event` to a node of the tree unless its chart already ended: a
 * connection's end is reported by several paths (the transport, the session,
 * the scope), and only the first one counts.
 */
export const tell = <TEvent extends EventObject>(actor: { getSnapshot(): { readonly status: string }; send(event: TEvent): void }, event: TEvent): void => {
  if (actor.getSnapshot().status === "active") actor.send(event)
}

/** A listening endpoint's node: its chart's actor and the scope its connections' scopes are forked from. */
export interface ListenerNode {
  readonly actor: Actor<ListenerMachine>
  readonly scope: Scope.Closeable
  /** True while it accepts connections (its chart is `listening`). */
  readonly accepting: boolean
  /** Count `child` (a connection's actor) as the listener's until its chart ends: `release` waits for it. */
  attach(child: AnyActorRef): void
  /** Stop accepting (`CLOSE`); the owner then drains its connections. Idempotent. */
  beginClose(reason: string): void
  /** Close its scope (releasing whatever is left) and record `CLOSED`. Idempotent. */
  release(): Promise<void>
  /**
   * What closes the endpoint when its scope is closed by someone else (the
   * runtime shutting down). Not called when the owner's own `release` closes it.
   */
  onRelease(close: () => Promise<void>): void
}

/** A runtime: its Effect services, its actor tree, and the nodes servers open in it. */
export interface McpRuntime {
  /** The root of the actor tree. */
  readonly root: Actor<RuntimeMachine>
  /**
   * The runtime's one clock (`McpRuntimeOptions.clock`): what every server, client and host
   * of this runtime runs its timers and reads its time on unless given a clock of its own,
   * and what the tree's actors' delays run on. Default: the system clock.
   */
  readonly clock: Clock
  readonly registry: RegistryUnsafe
  readonly supervisor: Supervisor["Service"]
  /** The Effect runtime providing {@link Registry} and {@link Supervisor}. */
  readonly managed: ManagedRuntime.ManagedRuntime<Registry | Supervisor, never>
  /** A new listener node under the root. */
  openListener(input: ListenerInput): ListenerNode
  /**
   * Supervise a session that exists already (a Streamable HTTP session: no
   * connection of its own; a server session made directly) in a scope forked
   * from its listener's (none: the supervisor's own); `release` runs when that
   * scope closes (a no-op for a session that ended already).
   * The owner reports the end with {@link McpRuntime.ended} from its release hook.
   */
  adopt<H extends SessionHandle>(handle: H, listener: ListenerNode | undefined, release: (handle: H) => void): H
  /** The session `id` (adopted) ended: its scope closes. */
  ended(id: string, end: SessionEnd): void
  /**
   * A new connection actor under `parent` (a listener's actor) or the root; `id`: its actor id (the id of
   * the session it supervises, when that is not one of its charts', so that an inspector joins the two).
   */
  connectionActor(transport: string, parent?: AnyActorRef, id?: string): Actor<ConnectionMachine>
  /**
   * A node of another chart under the root (a host, an approval), or under `parent`
   * (a node of this tree: a host's subscription under its server connection), not
   * started: its owner starts and stops it.
   */
  node<TLogic extends AnyActorLogic>(logic: TLogic, options?: ActorOptions<TLogic>): Actor<TLogic>
  /** Drain every session, close every scope, stop the tree. */
  shutdown(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>
}

/** What a runtime is made with: its supervisor's deadlines and its clock. */
export interface McpRuntimeOptions extends SupervisorOptions {
  /**
   * The one clock of the runtime (src/protocol/clock.ts): the default of every owner's
   * `clock` option (HTTP and WebSocket servers, `serveTransport`, the `connect*` clients,
   * the host) and of the tree's actors' delays. Default: the system clock. Tests pass a
   * simulated one and drive every timer of the runtime with it.
   */
  readonly clock?: Clock
}

/**
 * Make a runtime. Its timers run on `options.clock` (default the system clock); an owner given a clock of its own keeps it.
 * Servers given it (`runtime` option) are listeners of its tree and their sessions are
 * supervised by it; `shutdown()` drains and closes them all.
 *
 * @example
 * ```ts
 * import { McpServer, makeHttpServer, makeMcpRuntime } from "mcp-actors"
 *
 * const runtime = makeMcpRuntime()
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const http = await makeHttpServer(server, { runtime })
 * console.log(runtime.registry.size)                 // live sessions of every server of this runtime
 * await runtime.shutdown({ drainMs: 2_000 })          // drains the sessions, closes the server
 * console.log(http.sessions)                          // 0
 * ```
 */
export const makeMcpRuntime = (options: McpRuntimeOptions = {}): McpRuntime => {
  const { clock = systemClock, ...supervisorOptions } = options
  const managed = ManagedRuntime.make(Supervisor.layerWith(supervisorOptions).pipe(Layer.provideMerge(Registry.layer)))
  const [supervisor, registry] = managed.runSync(Effect.all([Supervisor, Registry] as const))
  // The tree's actors inherit the root's clock (their system's) unless given their own.
  const root = createRootActor(runtimeMachine, options.clock === undefined ? undefined : { clock }).start()
  // Fed to the inspection hub from its first listener on, whenever that comes (every actor of the tree reports through the root's system).
  followRoot(root)
  let stopping: Promise<void> | undefined

  const openListener = (input: ListenerInput): ListenerNode => {
    const actor = createLeanActor(listenerMachine, { input, parent: root }).start()
    const scope = supervisor.forkScopeUnsafe()
    let released: Promise<void> | undefined
    let ownerReleases = false
    // By session id, in a ClearingMap: a Set of the connections' actors kept ended ones reachable for the young GC (see ClearingMap.ts).
    const children = new ClearingMap<string, AnyActorRef>()
    let allEnded: (() => void) | undefined
    const childEnded = (child: AnyActorRef) => {
      children.deleteIf(child.sessionId, child)
      if (children.size === 0) allEnded?.()
    }
    return {
      actor,
      scope,
      get accepting() {
        return acceptsConnections(actor.getSnapshot())
      },
      attach: (child) => {
        if (child.getSnapshot().status !== "active") return
        children.set(child.sessionId, child)
        child.subscribe({ complete: () => childEnded(child), error: () => childEnded(child) })
      },
      beginClose: (reason) => tell(actor, { type: "CLOSE", reason }),
      release: () => {
        ownerReleases = true
        // Not `managed`: this also runs while the runtime is being disposed (its shutdown closes listeners).
        return released ??= Effect.runPromise(Scope.close(scope, Exit.void)).then(async () => {
          // A connection's scope may still be finishing (closed by its own end, not by ours): its chart ends first.
          if (children.size > 0) await new Promise<void>((resolve) => (allEnded = resolve))
          tell(actor, { type: "CLOSED" })
          actor.stop()
        })
      },
      onRelease: (close) =>
        Effect.runSync(Scope.addFinalizer(scope, Effect.promise(() => ownerReleases ? Promise.resolve() : close())))
    }
  }

  return {
    root,
    clock,
    registry: registry.unsafe,
    supervisor,
    managed,
    openListener,
    adopt: (handle, listener, release) => {
      const spawnRelease = release as (handle: SessionHandle) => void
      supervisor.spawnUnsafe(() => handle, listener === undefined ? { release: spawnRelease, ownerEnds: true } : { parent: listener.scope, release: spawnRelease, ownerEnds: true })
      return handle
    },
    ended: (id, end) => supervisor.endUnsafe(id, end),
    connectionActor: (transport, parent, id) => createLeanActor(connectionMachine, { input: { transport }, parent: parent ?? root, ...(id === undefined ? {} : { id }) }).start(),
    node: (logic, options) => createLeanActor(logic, { ...options, parent: options?.parent ?? root } as ActorOptions<typeof logic>),
    shutdown: (shutdownOptions = {}) =>
      stopping ??= (async () => {
        tell(root, { type: "SHUTDOWN", reason: shutdownOptions.reason ?? "runtime shutdown" })
        await managed.runPromise(supervisor.shutdown(shutdownOptions))
        await managed.dispose()
        tell(root, { type: "STOPPED" })
      })()
  }
}

let shared: McpRuntime | undefined

/** The process's runtime: what the Promise API serves on unless given another (`runtime` option). */
export const defaultMcpRuntime = (): McpRuntime => (shared ??= makeMcpRuntime())
