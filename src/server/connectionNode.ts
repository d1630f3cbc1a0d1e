/**
 * A server session's connection in a runtime: its `connection` actor (under its
 * listener's actor, or the runtime's root), whose child is the session's chart, and
 * what closing the connection's scope does. `serveTransport` opens one per transport
 * it serves; a `ServerSession` made directly (no `actorParent`) opens one for itself
 * (`joinRuntime`), its `send` and `onRelease` being its transport, so no session chart
 * is a root outside every runtime's tree, registry and supervisor.
 */
import type { Actor } from "xstate"
import type { ConnectionMachine } from "../../machines/connection.ts"
import { defaultMcpRuntime, type ListenerNode, type McpRuntime, tell } from "../runtime/McpRuntime.ts"
import type { SessionEnd } from "../runtime/SessionHandle.ts"
import type { ServerSession, ServerSessionOptions, ServerSessionOwner } from "./ServerSession.ts"

/** A new connection actor under `listener`'s actor (which counts it until its chart ends) or the runtime's root. */
export const openConnection = (runtime: McpRuntime, transport: string, listener: ListenerNode | undefined): Actor<ConnectionMachine> => {
  const connection = runtime.connectionActor(transport, listener?.actor)
  listener?.attach(connection)
  return connection
}

/**
 * The connection's scope closing, whatever ended it (the peer, the session's deadline,
 * shutdown): the session released at once, the transport closed, the connection's chart
 * left in `closed` and stopped.
 */
export const releaseConnection = async (
  connection: Actor<ConnectionMachine>,
  session: ServerSession,
  closeTransport: () => Promise<void> | void
): Promise<void> => {
  tell(connection, { type: "CLOSE", reason: "connection scope closed" })
  // A session that ended already is not asked again (nor made to build its `ended` promise).
  if (!session.released) await session.close({ drainMs: 0, reason: "connection scope closed" })
  await closeTransport()
  // A transport that reports no end of its own after a local close still completes the chart.
  tell(connection, { type: "TRANSPORT_CLOSED", reason: "transport closed", expected: true })
  connection.stop()
}

/** What a directly made session runs with in its runtime, and how it is registered there. */
export interface JoinedRuntime {
  /** The session's options: its chart the connection's child, the runtime's clock unless given one, its end reported. */
  readonly options: ServerSessionOptions
  /** The owner, its `sessionReleased` reporting the end too (undefined when none was given). */
  readonly owner: ServerSessionOwner | undefined
  /** Register the session, constructed, with the runtime's supervisor (throws what `spawnUnsafe` does). */
  supervise(session: ServerSession): void
  /** The session could not be constructed: the connection's chart ends. */
  abandon(reason: string): void
}

/**
 * A session made directly joins `options.runtime` (default the process's) as
 * `serveTransport`'s do: a `connection` node under the root whose child is the
 * session's chart, a scope of its own from the runtime's supervisor (listed in its
 * registry; closed by shutdown, which releases the session), reported ended from the
 * session's release hook as an HTTP session's is (`McpRuntime.adopt`, `ended`).
 */
export const joinRuntime = (options: ServerSessionOptions, owner: ServerSessionOwner | undefined): JoinedRuntime => {
  const runtime = options.runtime ?? defaultMcpRuntime()
  const connection = openConnection(runtime, options.transport, undefined)
  let supervised: ServerSession | undefined
  const ended = (end: SessionEnd) => {
    tell(connection, { type: "SESSION_ENDED", reason: end.reason })
    // Before it is registered nothing is owned yet: `supervise` reports an end that came first.
    if (supervised !== undefined) runtime.ended(supervised.id, end)
  }
  const userRelease = options.onRelease
  const joined: ServerSessionOptions = {
    ...options,
    clock: options.clock ?? runtime.clock,
    actorParent: connection,
    onRelease: (end) => {
      userRelease?.(end)
      ended(end)
    }
  }
  return {
    options: joined,
    owner: owner === undefined ? undefined : {
      deliver: (message, related) => owner.deliver(message, related),
      dropStream: (requestId) => owner.dropStream(requestId),
      sessionReady: () => owner.sessionReady(),
      sessionReleased: (end) => {
        owner.sessionReleased(end)
        ended(end)
      }
    },
    supervise: (session) => {
      try {
        // The user's `send`/`onRelease` are its transport: nothing else to close.
        runtime.adopt(session, undefined, (s) => void releaseConnection(connection, s, () => {}))
      } catch (error) {
        // The runtime is shutting down, or the id is live in it already: nothing of this session stays.
        void releaseConnection(connection, session, () => {})
        throw error
      }
      supervised = session
      if (session.endedWith !== undefined) runtime.ended(session.id, session.endedWith)
    },
    abandon: (reason) => {
      tell(connection, { type: "CLOSE", reason })
      connection.stop()
    }
  }
}
