/**
 * Run a server session over a message transport (stdio, WebSocket, memory):
 * frames in, chart-driven session, frames out. Closing the session closes the
 * transport; the transport ending closes the session.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Transport } from "../transports/Transport.ts"
import type { McpServer } from "./McpServer.ts"
import { ServerSession, type ServerSessionOptions } from "./ServerSession.ts"

export type ServeOptions = Omit<ServerSessionOptions, "transport" | "send" | "onRelease">

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
    onRelease: () => void transport.close()
  })
  transport.start({
    onFrame: (text) => session.receiveFrame(text),
    onOversized: (bytes) => session.receiveOversized(bytes),
    onClose: (closed) => session.transportClosed(closed)
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
