/**
 * A client connection as a node of a runtime's actor tree, supervised by that
 * runtime: the client-side twin of `serveTransport`'s connection.
 *
 * - **Tree.** A `connection` actor (the chart `machines/connection.ts`) under
 *   the runtime's root; the client's session charts (the legacy session, and
 *   over HTTP each re-initialized generation, the era probe, the modern client,
 *   the HTTP connection chart) are its children, so one `inspect` observer on
 *   the root sees a client and its requests.
 * - **Supervision.** The client is spawned by the runtime's `Supervisor` in a
 *   `Scope` of its own and listed in its `Registry` (role `client`) while it
 *   lives. Closing that scope (the client ended, whatever ended it; or the
 *   runtime shut down) closes the client and its transport: the socket, the
 *   stdio child and its pipes, the HTTP pool, and the node's chart ends
 *   `closed` with who ended it (`peer`, `session`, `local`).
 *
 * - **One path.** The `connect*` helpers open a node and hand it to the client
 *   they build; a client made by a direct call (`ClientSession.connect`,
 *   `ModernClient.create`, `HttpClientSession.connect`) with no place in a tree
 *   given (`actorParent`) opens its own node here. Either way it is supervised
 *   the same: no client chart is a root of its own.
 *
 * The runtime is the process's (`defaultMcpRuntime`) unless one is given
 * (`runtime` option). An idle runtime holds no timer, socket or handle: a
 * node's resources go when it closes.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { Actor, ActorOptions, AnyActorLogic, AnyActorRef } from "xstate"
import type { ConnectionMachine } from "../../machines/connection.ts"
import type { Clock } from "../protocol/clock.ts"
import { inspection } from "../runtime/inspection.ts"
import { defaultMcpRuntime, type McpRuntime, tell } from "../runtime/McpRuntime.ts"
import type { SessionHandle } from "../runtime/SessionHandle.ts"
import type { TransportClosed, TransportKind } from "../transports/Transport.ts"
import type { ClientSessionLifecycle } from "./ClientSession.ts"

/** The option every client constructor takes: which runtime owns the connection. */
export interface ClientRuntimeOptions {
  /** The runtime whose supervisor owns this client and whose tree it joins. Default: the process's (`defaultMcpRuntime()`). */
  readonly runtime?: McpRuntime
}

/** `options` with its `clock` defaulted to its runtime's (the process's when none): the one clock of a client. */
export const onRuntimeClock = <O extends ClientRuntimeOptions & { readonly clock?: Clock | undefined }>(options: O): O & { readonly clock: Clock } =>
  ({ ...options, clock: options.clock ?? (options.runtime ?? defaultMcpRuntime()).clock })

/** One client connection node: the actor its sessions are children of, and the way to hand it the client. */
export interface ClientConnection {
  /** The node's actor: the parent of the client's session charts. */
  readonly actor: Actor<ConnectionMachine>
  readonly runtime: McpRuntime
  /** The transport ended (the peer went away, or it was closed). */
  transportClosed(closed: TransportClosed): void
  /** The client's owner closes it (`close()`): the node records a local end. */
  closeRequested(reason: string): void
  /** What a session on this node is given (`ClientSession.open`'s lifecycle). */
  readonly lifecycle: ClientSessionLifecycle
  /**
   * Hand the client to the runtime's supervisor: it is registered, and when it
   * ends (or the runtime shuts down) its scope closes, which closes the client
   * (no drain), then `release` (the transport: reaps a stdio child, closes a
   * socket), then ends the node. Returns `handle`.
   */
  supervise<H extends SessionHandle>(handle: H, release: () => Promise<void>): H
  /** The client never came up (spawn or handshake failed): release `release` and end the node. */
  abandon(reason: string, release: () => Promise<void>): Promise<void>
}

/** An xstate inspection observer, as the `inspect` option takes it. */
export type InspectObserver = NonNullable<ActorOptions<AnyActorLogic>["inspect"]>

/** What opening a node takes: the runtime, and an observer of the node's subtree (a client's own `inspect` option). */
export interface ClientNodeOptions extends ClientRuntimeOptions {
  /**
   * Sees every inspection event of the node's descendants (the client's charts),
   * as xstate's `inspect` option on a root would: the client stays a node of the
   * runtime's tree (whose observers see it too) instead of becoming a root.
   */
  readonly inspect?: InspectObserver | undefined
  /** The node's parent (a host's server connection). Default: the runtime's root. */
  readonly parent?: AnyActorRef | undefined
  /** The node's actor id: the id its supervised handle is registered under, when no chart of the client has it (a host's upstream generation). */
  readonly id?: string | undefined
}

/**
 * Forward the inspection events of `node`'s strict descendants to `observer`, through the
 * runtime's inspection hub (which feeds every runtime's root from its first listener on:
 * xstate's own observer path is bypassed); returns the unsubscribe function.
 */
const observeSubtree = (node: AnyActorRef, observer: InspectObserver): (() => void) => {
  const forward = typeof observer === "function" ? observer : observer.next?.bind(observer)
  if (forward === undefined) return () => {}
  return inspection.subscribe((event) => {
    for (let a = (event.actorRef as { _parent?: AnyActorRef })._parent; a !== undefined; a = (a as { _parent?: AnyActorRef })._parent) {
      if (a === node) return forward(event)
    }
  })
}

/**
 * A new client connection node of `runtime` (default: the process's) for a `kind` transport,
 * under `parent` (default: the runtime's root).
 */
export const openClientConnection = (kind: TransportKind, options: ClientNodeOptions = {}): ClientConnection => {
  const runtime = options.runtime ?? defaultMcpRuntime()
  const actor = runtime.connectionActor(kind, options.parent, options.id)
  const unobserve = options.inspect === undefined ? undefined : observeSubtree(actor, options.inspect)
  const end = async (reason: string, release: () => Promise<void>) => {
    tell(actor, { type: "CLOSE", reason })
    try {
      await release()
    } finally {
      // A transport that reports no end of its own after a local close still completes the chart.
      tell(actor, { type: "TRANSPORT_CLOSED", reason: "transport closed", expected: true })
      tell(actor, { type: "SESSION_ENDED", reason })
      actor.stop()
      unobserve?.()
    }
  }
  const transportClosed = (closed: TransportClosed) =>
    tell(actor, { type: "TRANSPORT_CLOSED", reason: closed.reason, expected: closed.expected })
  const closeRequested = (reason: string) => tell(actor, { type: "CLOSE", reason })
  return {
    actor,
    runtime,
    transportClosed,
    closeRequested,
    lifecycle: { actorParent: actor, onTransportClosed: transportClosed, onCloseRequested: closeRequested },
    supervise: (handle, release) => {
      try {
        runtime.supervisor.spawnUnsafe((scope) => {
          Effect.runSync(Scope.addFinalizer(scope, Effect.promise(() =>
            end("client scope closed", async () => {
              await handle.close({ drainMs: 0, reason: "client scope closed" })
              await release()
            })
          )))
          return handle
        })
      } catch (error) {
        // The runtime is shutting down: this client does not outlive it.
        void end("runtime shut down", async () => {
          await handle.close({ drainMs: 0, reason: "runtime shut down" })
          await release()
        })
        throw error
      }
      void handle.ended.then((e) => tell(actor, { type: "SESSION_ENDED", reason: e.reason }), () => {})
      return handle
    },
    abandon: (reason, release) => end(reason, release)
  }
}
