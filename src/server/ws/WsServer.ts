/**
 * Serve an `McpServer` over WebSocket (our custom transport: framing in
 * `src/transports/wsTransport.ts`). One socket = one server session, supervised
 * like a stdio connection: the chart, its timers and the socket end together.
 *
 * The upgrade request gets the Streamable HTTP endpoint's checks (spec-digest §5):
 * the path (404), `Host`/`Origin` against the allow-list (403: DNS rebinding),
 * the auth hook (its own rejection), and the connection limit (503 +
 * `Retry-After`). It binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import { WebSocketServer } from "ws"
import type { RegistryUnsafe } from "../../runtime/Registry.ts"
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../transports/Transport.ts"
import { type HostGuardOptions, makeHostGuard } from "../../transports/http/HostGuard.ts"
import { makeWsTransport, WS_HARD_LIMIT_FACTOR, WS_SUBPROTOCOL } from "../../transports/wsTransport.ts"
import type { Authenticate } from "../http/HttpServer.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { serveTransport, type ServeOptions } from "../serveTransport.ts"

/** Options of `makeWsServer`. The HTTP upgrade gets the same checks as the Streamable HTTP endpoint. */
export interface WsServerOptions extends HostGuardOptions {
  readonly port?: number
  /** Bind address. Default 127.0.0.1. */
  readonly host?: string
  /** The MCP endpoint. Default "/mcp". */
  readonly path?: string
  readonly maxMessageBytes?: number
  /** Live connections allowed; an upgrade beyond gets 503. Default 10 000. */
  readonly maxConnections?: number
  readonly retryAfterSeconds?: number
  /** WebSocket ping period (dead peers are terminated). Default 30 000 ms; 0 = off. */
  readonly heartbeatMs?: number
  readonly authenticate?: Authenticate
  /** Also list live sessions in this registry (inspector). */
  readonly registry?: RegistryUnsafe
  /** Per-session options (idle timeout, handshake deadline, …). */
  readonly session?: ServeOptions
}

/** A listening WebSocket server: its URL, live connection count, and `close()`. */
export interface WsServerHandle {
  /** `ws://HOST:PORT/mcp` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Live connections (each one a session). */
  readonly connections: number
  /** Close every session (drained for `drainMs`), then the listener. */
  close(options?: { readonly drainMs?: number }): Promise<void>
}

const refuse = (socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void => {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message } })
  const head = [`HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : status === 404 ? "Not Found" : status === 503 ? "Service Unavailable" : "Error"}`,
    "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`, "Connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`)
}

/**
 * Serve `server` over WebSocket, one session per socket, with the `mcp` subprotocol.
 *
 * WebSocket is not an MCP standard transport; it is offered for hosts that already hold
 * sockets. Each message is one JSON-RPC frame; the session, its timers and the socket end
 * together. Our `connectWs` is the matching client.
 *
 * @example
 * ```ts
 * import { McpServer, connectWs, makeWsServer } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const ws = await makeWsServer(server, { port: 0 })                  // any free port
 * const client = await connectWs(ws.url)                               // ws://127.0.0.1:PORT/mcp
 * console.log(client.serverInfo?.name)                                 // "notes"
 * await client.close()
 * await ws.close()
 * ```
 */
export const makeWsServer = async (server: McpServer, options: WsServerOptions = {}): Promise<WsServerHandle> => {
  const host = options.host ?? "127.0.0.1"
  const path = options.path ?? "/mcp"
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const maxConnections = options.maxConnections ?? 10_000
  const guard = makeHostGuard(options)
  const sessions = new Set<ServerSession>()
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxMessageBytes * WS_HARD_LIMIT_FACTOR,
    // Speak `mcp` when offered; a client offering only other subprotocols gets none (and may give up).
    handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false)
  })
  const http = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" }).end("MCP over WebSocket: upgrade required\n")
  })

  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, principal: string | undefined): void => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const transport = makeWsTransport(ws, { maxMessageBytes, ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}) })
      const session = serveTransport(server, transport, { ...options.session, ...(principal !== undefined ? { principal } : {}) })
      sessions.add(session)
      const unregister = options.registry?.register(session)
      void session.ended.then(() => {
        sessions.delete(session)
        unregister?.()
      })
    })
  }

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy())
    const url = new URL(req.url ?? "/", "http://x")
    if (url.pathname !== path) return refuse(socket, 404, `Not Found: the MCP endpoint is ${path}`)
    const denied = guard(req)
    if (denied !== undefined) return refuse(socket, 403, `Forbidden: ${denied}`)
    if (sessions.size >= maxConnections) {
      return refuse(socket, 503, "Service Unavailable: too many connections", { "Retry-After": String(options.retryAfterSeconds ?? 5) })
    }
    if (options.authenticate === undefined) return accept(req, socket, head, undefined)
    Promise.resolve(options.authenticate(req)).then((outcome) => {
      if (outcome === undefined) return accept(req, socket, head, undefined)
      if ("principal" in outcome && typeof outcome.principal === "string") return accept(req, socket, head, outcome.principal)
      const status = "status" in outcome && typeof outcome.status === "number" ? outcome.status : 401
      refuse(socket, status, "Unauthorized")
    }, () => refuse(socket, 500, "Internal error in the auth hook"))
  })

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject)
    http.listen(options.port ?? 0, host, () => {
      http.off("error", reject)
      resolve()
    })
  })
  const port = (http.address() as AddressInfo).port
  const urlHost = host.includes(":") ? `[${host}]` : host
  let closed: Promise<void> | undefined
  return {
    url: `ws://${urlHost}:${port}${path}`,
    port,
    server: http,
    get connections() {
      return sessions.size
    },
    close: (closeOptions) =>
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
        await Promise.all([...sessions].map((s) => s.close({ drainMs: closeOptions?.drainMs ?? 5_000, reason: "server shutting down" })))
        for (const ws of wss.clients) ws.terminate()
        wss.close()
        http.closeAllConnections()
        await stopped
      })()
  }
}
