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
 * The Promise `connect*` helpers use the process's runtime (`defaultMcpRuntime`)
 * unless given one (`runtime` option).
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { Actor } from "xstate"
import type { ConnectionMachine } from "../../machines/connection.ts"
import type { Clock } from "../protocol/clock.ts"
import { defaultMcpRuntime, type McpRuntime, tell } from "../runtime/McpRuntime.ts"
import type { SessionHandle } from "../runtime/SessionHandle.ts"
import type { Transport, TransportClosed, TransportKind } from "../transports/Transport.ts"
import { Client } from "./Client.ts"
import { ClientSession, type ClientSessionLifecycle, type ClientSessionOptions } from "./ClientSession.ts"

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

/** A new client connection node of `runtime` (default: the process's) for a `kind` transport. */
export const openClientConnection = (kind: TransportKind, options: ClientRuntimeOptions = {}): ClientConnection => {
  const runtime = options.runtime ?? defaultMcpRuntime()
  const actor = runtime.connectionActor(kind)
  const end = async (reason: string, release: () => Promise<void>) => {
    tell(actor, { type: "CLOSE", reason })
    try {
      await release()
    } finally {
      // A transport that reports no end of its own after a local close still completes the chart.
      tell(actor, { type: "TRANSPORT_CLOSED", reason: "transport closed", expected: true })
      tell(actor, { type: "SESSION_ENDED", reason })
      actor.stop()
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

/**
 * The one `Client` over a legacy session on `transport` (already created, not
 * started), as a supervised node of the runtime's tree: `opened` (a spawn, a
 * socket upgrade) first, then the handshake. Whatever fails, the transport is
 * closed. What `connectStdio` and `connectWs` are made of.
 */
export const connectLegacyClient = async (
  transport: Transport,
  opened: Promise<unknown>,
  options: ClientSessionOptions & ClientRuntimeOptions
): Promise<Client> => {
  const node = openClientConnection(transport.kind, options)
  const release = () => transport.close()
  try {
    await opened
  } catch (e) {
    await node.abandon("transport failed to open", release)
    throw e
  }
  const { session, ready } = ClientSession.open(transport, options, node.lifecycle)
  const client = Client.legacy(session, release)
  try {
    node.supervise(client, release)
  } catch (e) {
    await ready.catch(() => {})
    throw e
  }
  // A failed handshake ends the session: its scope closes and releases the transport.
  return ready.then(() => client, async (e) => {
    await session.ended
    await release()
    throw e
  })
}
