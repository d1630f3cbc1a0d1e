/**
 * Run a server session over a message transport (stdio, WebSocket, memory):
 * frames in, chart-driven session, frames out. Closing the session closes the
 * transport; the transport ending closes the session (at once; when only the
 * peer's input ended, as on stdin EOF, gracefully: in-flight requests are
 * answered within the drain deadline first).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Transport } from "../transports/Transport.ts"
import type { McpServer } from "./McpServer.ts"
import { ServerSession, type ServerSessionOptions } from "./ServerSession.ts"

export type ServeOptions = Omit<ServerSessionOptions, "transport" | "send" | "sendBatch" | "onRelease">

/**
 * Plain API: start serving `transport`; the returned session ends when either side closes.
 *
 * For message transports (stdio, WebSocket, memory); Streamable HTTP makes its sessions
 * itself (`makeHttpServer`). The session closes the transport when it is released, so
 * nothing needs closing twice.
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
  const session = new ServerSession(server, {
    ...options,
    transport: transport.kind,
    send: (message) => transport.send(message),
    sendBatch: (responses) => transport.send(responses),
    // The transport tells the peer why when it can (WebSocket close code): a deadline, an eviction, shutdown.
    onRelease: (end) => void transport.close(end.cause === undefined ? { reason: end.reason } : { reason: end.reason, cause: end.cause })
  })
  transport.start({
    onFrame: (text) => session.receiveFrame(text),
    onOversized: (bytes) => session.receiveOversized(bytes),
    onClose: (closed) => session.transportClosed(closed),
    // The peer stopped sending (stdin EOF) but still reads: finish what is in flight within the
    // drain deadline, write the replies, then release (which closes the transport).
    onInputEnded: () => void session.close({ reason: "stdin ended" })
  })
  return session
}

/** Effect API: the session lives in the current Scope; closing the scope closes session and transport. */
export const serveTransportScoped = (
  server: McpServer,
  transport: Transport,
  options: ServeOptions & { readonly drainMs?: number } = {}
): Effect.Effect<ServerSession, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => serveTransport(server, transport, options)),
    (session) =>
      Effect.promise(() => session.close({ drainMs: options.drainMs ?? 0, reason: "scope closed" })).pipe(
        Effect.andThen(Effect.promise(() => transport.close()))
      )
  )
