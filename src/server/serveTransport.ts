/**
 * Run a server session over a message transport (stdio, WebSocket, memory):
 * frames in, chart-driven session, frames out. Closing the session closes the
 * transport; the transport ending closes the session (at once; when only the
 * peer's input ended, as on stdin EOF, gracefully: in-flight requests are
 * answered within the drain deadline first).
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { defaultMcpRuntime, type ListenerNode, type McpRuntime, tell } from "../runtime/McpRuntime.ts"
import type { SessionEnd } from "../runtime/SessionHandle.ts"
import type { Transport } from "../transports/Transport.ts"
import { openConnection, releaseConnection } from "./connectionNode.ts"
import type { McpServer } from "./McpServer.ts"
import { ServerSession, type ServerSessionOptions } from "./ServerSession.ts"

export type ServeOptions = Omit<ServerSessionOptions, "transport" | "send" | "sendBatch" | "onRelease" | "actorParent" | "runtime"> & {
  /** The runtime that owns the connection (its supervisor, registry and actor tree). Default: the process's. */
  readonly runtime?: McpRuntime
  /** The listener that accepted it (a WebSocket server): its scope and actor are the connection's parents. */
  readonly listener?: ListenerNode
}

/**
 * One connection, acquired in its own scope (the supervisor's child, or its
 * listener's): a `connection` actor, the session as its child, the transport.
 * The scope's finalizer releases the session and closes the transport, whatever
 * ended the connection (the peer, the session's deadline, shutdown), and leaves
 * the connection's chart in `closed`.
 */
const connect = (
  runtime: McpRuntime,
  server: McpServer,
  transport: Transport,
  options: Omit<ServeOptions, "runtime" | "listener">,
  listener: ListenerNode | undefined,
  onEnded: (end: SessionEnd) => void
): Effect.Effect<ServerSession, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connection = openConnection(runtime, transport.kind, listener)
    const session = new ServerSession(server, {
      ...options,
      clock: options.clock ?? runtime.clock,
      actorParent: connection,
      transport: transport.kind,
      send: (message) => transport.send(message),
      sendBatch: (responses) => transport.send(responses),
      // The transport tells the peer why when it can (WebSocket close code): a deadline, an eviction, shutdown.
      onRelease: (end) => {
        tell(connection, { type: "SESSION_ENDED", reason: end.reason })
        void transport.close(end.cause === undefined ? { reason: end.reason } : { reason: end.reason, cause: end.cause })
        onEnded(end)
      }
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => releaseConnection(connection, session, () => transport.close())))
    transport.start({
      onFrame: (text) => session.receiveFrame(text),
      onOversized: (bytes) => session.receiveOversized(bytes),
      onClose: (closed) => {
        tell(connection, { type: "TRANSPORT_CLOSED", reason: closed.reason, expected: closed.expected })
        session.transportClosed(closed)
      },
      // The peer stopped sending (stdin EOF) but still reads: finish what is in flight within the
      // drain deadline, write the replies, then release (which closes the transport).
      onInputEnded: () => {
        tell(connection, { type: "INPUT_ENDED" })
        void session.close({ reason: "stdin ended" })
      }
    })
    return session
  })

/**
 * Plain API: start serving `transport`; the returned session ends when either side closes.
 *
 * For message transports (stdio, WebSocket, memory); Streamable HTTP makes its sessions
 * itself (`makeHttpServer`). The connection is spawned by the runtime's supervisor
 * (`options.runtime`, default the process's), exactly as from Effect: it is listed in
 * the runtime's registry while it lives, its actors are nodes of the runtime's tree, and
 * its scope is closed (session, transport, timers released) as soon as it ends.
 *
 * @example
 * ```ts
 * import { McpServer, makeStdioServerTransport, serveTransport } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const session = serveTransport(server, makeStdioServerTransport(), { idleTimeoutMs: 60_000 })
 * session.subscribe((info) => console.error("session:", info.state))    // logs on stderr: stdout is the wire
 * const end = await session.ended                                        // stdin closed, or idle for a minute
 * console.error("ended:", end.reason)
 * ```
 */
export const serveTransport = (server: McpServer, transport: Transport, options: ServeOptions = {}): ServerSession => {
  const { runtime = defaultMcpRuntime(), listener, ...sessionOptions } = options
  // The session's release hook closes its scope; one that ends while it is still being
  // acquired (its transport was closed already) is closed as soon as it is registered.
  let spawned = false
  let endedEarly: SessionEnd | undefined
  const onEnded = (end: SessionEnd) => {
    if (spawned) runtime.supervisor.endUnsafe(session.id, end)
    else endedEarly = end
  }
  const session = runtime.supervisor.spawnUnsafe(
    (scope) => Effect.runSync(Scope.provide(connect(runtime, server, transport, sessionOptions, listener, onEnded), scope)),
    listener === undefined ? { ownerEnds: true } : { parent: listener.scope, ownerEnds: true }
  ) as ServerSession
  spawned = true
  if (endedEarly !== undefined) runtime.supervisor.endUnsafe(session.id, endedEarly)
  return session
}

/**
 * Effect API: the connection lives in the current Scope (a `Supervisor.spawn`'s, say);
 * closing the scope closes the session (draining for `drainMs`, default 0) and the
 * transport. Its actors join `options.runtime`'s tree (default the process's); the
 * caller's supervisor, not the runtime's, owns it.
 */
export const serveTransportScoped = (
  server: McpServer,
  transport: Transport,
  options: ServeOptions & { readonly drainMs?: number } = {}
): Effect.Effect<ServerSession, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { runtime = defaultMcpRuntime(), listener, drainMs, ...sessionOptions } = options
    const session = yield* connect(runtime, server, transport, sessionOptions, listener, () => {})
    // Runs before `connect`'s own finalizer (LIFO): a graceful close first.
    yield* Effect.addFinalizer(() => Effect.promise(() => session.close({ drainMs: drainMs ?? 0, reason: "scope closed" })))
    return session
  })
