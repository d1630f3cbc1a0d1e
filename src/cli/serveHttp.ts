/**
 * `mcp-actors serve --http PORT`: serve a server over Streamable HTTP until
 * SIGINT/SIGTERM, then drain and exit by itself (nothing is left holding the
 * event loop once the server is closed). A second signal exits at once.
 */
import type { McpServer } from "../server/McpServer.ts"
import { makeHttpServer } from "../server/http/HttpServer.ts"

export interface ServeHttpOptions {
  readonly port: number
  readonly host: string
  readonly idleTimeoutMs: number
  readonly maxMessageBytes: number
  /** How long in-flight requests may finish on shutdown. Default 5000 ms. */
  readonly drainMs?: number
}

/** Start serving; prints the endpoint URL on stdout. Resolves -1: the process exits on its own after shutdown. */
export const serveHttpCommand = async (server: McpServer, options: ServeHttpOptions): Promise<number> => {
  const http = await makeHttpServer(server, {
    port: options.port,
    host: options.host,
    // The CLI's "0 = never" is the chart's meaning of 0 as well.
    idleTimeoutMs: options.idleTimeoutMs,
    maxMessageBytes: options.maxMessageBytes
  })
  process.stdout.write(`${http.url}\n`)
  process.stderr.write(`mcp-actors: serving Streamable HTTP on ${http.url}\n`)
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`mcp-actors: ${signal} again, exiting now\n`)
      process.exit(130)
    }
    stopping = true
    process.stderr.write(`mcp-actors: ${signal}, shutting down (${http.sessions} live sessions)\n`)
    void http.close({ drainMs: options.drainMs ?? 5_000 }).then(
      () => {
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
        process.stderr.write("mcp-actors: stopped\n")
      },
      (error: unknown) => {
        process.stderr.write(`mcp-actors: shutdown failed: ${String(error)}\n`)
        process.exit(1)
      }
    )
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  return -1
}
