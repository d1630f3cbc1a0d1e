/**
 * `mcp-actors serve --http PORT`: serve a server over Streamable HTTP until
 * SIGINT/SIGTERM, then drain and exit by itself (nothing is left holding the
 * event loop once the server is closed). A second signal exits at once.
 */
import type { McpServer } from "../server/McpServer.ts"
import { type Authenticate, makeHttpServer } from "../server/http/HttpServer.ts"
import type { SessionLimits } from "../server/SessionLimiter.ts"
import type { InspectorOptions } from "../inspect/InspectorServer.ts"
import { announceInspector } from "./inspectCommands.ts"
import { stopOnSignals } from "./stopOnSignals.ts"

export interface ServeHttpOptions {
  readonly port: number
  readonly host: string
  readonly idleTimeoutMs: number
  readonly handshakeTimeoutMs: number
  readonly maxMessageBytes: number
  /** Admission control (WebSocket: `maxSessions` is its `maxConnections`). */
  readonly limits: SessionLimits
  /** How long in-flight requests may finish on shutdown. Default 5000 ms. */
  readonly drainMs?: number
  /** Bearer authentication (the policy gateway's identities). */
  readonly authenticate?: Authenticate
  /** After the listener closed (flush the audit trail and the telemetry, stop watchers). */
  readonly onClosed?: () => void | Promise<void>
  /** Serve Prometheus text at /metrics (`--metrics`). */
  readonly metrics?: { prometheus(): string }
  /** Serve the live inspector too (`--inspect`). */
  readonly inspect?: InspectorOptions
}

/** Start serving; prints the endpoint URL on stdout. Resolves -1: the process exits on its own after shutdown. */
export const serveHttpCommand = async (server: McpServer, options: ServeHttpOptions): Promise<number> => {
  const http = await makeHttpServer(server, {
    port: options.port,
    host: options.host,
    // The CLI's "0 = never" is the chart's meaning of 0 as well.
    idleTimeoutMs: options.idleTimeoutMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    ...(options.drainMs === undefined ? {} : { drainTimeoutMs: options.drainMs }),
    maxMessageBytes: options.maxMessageBytes,
    ...options.limits,
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics })
  })
  process.stdout.write(`${http.url}\n`)
  if (http.inspector !== undefined) announceInspector(http.inspector)
  process.stderr.write(`mcp-actors: serving Streamable HTTP on ${http.url}\n`)
  stopOnSignals(() => `${http.sessions} live sessions`, () => http.close({ drainMs: options.drainMs ?? 5_000 }).then(() => options.onClosed?.()))
  return -1
}
