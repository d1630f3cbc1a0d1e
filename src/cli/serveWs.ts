/**
 * `mcp-actors serve --ws PORT`: serve a server over WebSocket until
 * SIGINT/SIGTERM, then close every session (drained) and exit by itself.
 */
import type { McpServer } from "../server/McpServer.ts"
import type { ServeHttpOptions } from "./serveHttp.ts"
import { makeWsServer } from "../server/ws/WsServer.ts"
import { announceInspector } from "./inspectCommands.ts"
import { stopOnSignals } from "./stopOnSignals.ts"

/** The same options as `serve --http`. */
export type ServeWsOptions = ServeHttpOptions

/** Start serving; prints the endpoint URL on stdout. Resolves -1: the process exits on its own after shutdown. */
export const serveWsCommand = async (server: McpServer, options: ServeWsOptions): Promise<number> => {
  const ws = await makeWsServer(server, {
    port: options.port,
    host: options.host,
    maxMessageBytes: options.maxMessageBytes,
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.limits.maxSessions === undefined ? {} : { maxConnections: options.limits.maxSessions }),
    ...(options.limits.maxHandshakeSessions === undefined ? {} : { maxHandshakeSessions: options.limits.maxHandshakeSessions }),
    ...(options.limits.maxSessionsPerAddress === undefined ? {} : { maxSessionsPerAddress: options.limits.maxSessionsPerAddress }),
    ...(options.limits.maxSessionsPerPrincipal === undefined ? {} : { maxSessionsPerPrincipal: options.limits.maxSessionsPerPrincipal }),
    session: {
      idleTimeoutMs: options.idleTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      ...(options.drainMs === undefined ? {} : { drainTimeoutMs: options.drainMs })
    },
    ...(options.inspect === undefined ? {} : { inspect: options.inspect })
  })
  if (ws.inspector !== undefined) announceInspector(ws.inspector)
  process.stdout.write(`${ws.url}\n`)
  process.stderr.write(`mcp-actors: serving WebSocket on ${ws.url}\n`)
  stopOnSignals(() => `${ws.connections} live connections`, () => ws.close({ drainMs: options.drainMs ?? 5_000 }).then(() => options.onClosed?.()))
  return -1
}
