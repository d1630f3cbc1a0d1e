/**
 * Serve an `McpServer` over WebSocket (our custom transport: framing in
 * `src/transports/wsTransport.ts`). One socket = one server session, supervised
 * like a stdio connection: the chart, its timers and the socket end together.
 *
 * The upgrade request gets the Streamable HTTP endpoint's checks (spec-digest §5):
 * the path (404), `Host`/`Origin` against the allow-list (403: DNS rebinding),
 * the auth hook (its own rejection), and the same admission control as HTTP
 * sessions (`SessionLimiter`: 429 at a per-address/per-principal cap, 503 +
 * `Retry-After` when full of busy sessions; an evicted connection is closed
 * with 1013 "Try Again Later"). It binds 127.0.0.1 unless told otherwise.
 *
 * Deadlines as on HTTP: a connection must complete the MCP handshake within
 * `handshakeTimeoutMs` of opening (default 10 s) and is closed after
 * `idleTimeoutMs` with nothing in flight (default 30 min); either closes the
 * socket with 4408.
 */
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http"
import { listenHttp, type Listening } from "../../transports/http/listenHttp.ts"
import type { Duplex } from "node:stream"
import { WebSocketServer } from "ws"
import { defaultMcpRuntime, type McpRuntime } from "../../runtime/McpRuntime.ts"
import type { RegistryUnsafe } from "../../runtime/Registry.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport } from "../../transports/Transport.ts"
import { type HostGuardOptions, makeHostGuard } from "../../transports/http/HostGuard.ts"
import { requestUrl } from "../../transports/http/requestTarget.ts"
import { makeWsTransport, WS_HARD_LIMIT_FACTOR, WS_SUBPROTOCOL } from "../../transports/wsTransport.ts"
import type { Identity } from "../../policy/Identity.ts"
import { makeCoarseClock } from "../../runtime/CoarseClock.ts"
import { ClearingMap } from "../../protocol/ClearingMap.ts"
import { clockOf } from "../../protocol/clock.ts"
import { httpStatusErrorCode } from "../../protocol/errors.ts"
import { type Authenticate, DEFAULT_HANDSHAKE_TIMEOUT_MS, remoteAddress } from "../http/HttpServer.ts"
import { SessionLimiter, type SessionLimits } from "../SessionLimiter.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { serveTransport, type ServeOptions } from "../serveTransport.ts"
import type { Inspector, InspectorOptions } from "../../inspect/InspectorServer.ts"
import { startEndpointInspector } from "../endpointInspector.ts"

/** Options of `makeWsServer`. The HTTP upgrade gets the same checks as the Streamable HTTP endpoint. */
export interface WsServerOptions extends HostGuardOptions, Omit<SessionLimits, "maxSessions"> {
  readonly port?: number
  /** Bind address. Default 127.0.0.1. */
  readonly host?: string
  /** The MCP endpoint. Default "/mcp". */
  readonly path?: string
  /** Further endpoints: the server behind another path (e.g. the host gateway's `/mcp/<server>`), or undefined (404). */
  readonly endpoints?: (pathname: string) => McpServer | undefined
  readonly maxMessageBytes?: number
  /** Live connections (sessions) allowed; beyond, admission control evicts or refuses (503). Default 10 000. */
  readonly maxConnections?: number
  readonly retryAfterSeconds?: number
  /** WebSocket ping period (dead peers are terminated). Default 30 000 ms; 0 = off. */
  readonly heartbeatMs?: number
  readonly authenticate?: Authenticate
  /** Also list live sessions in this registry (the runtime's lists them already). */
  readonly registry?: RegistryUnsafe
  /**
   * The runtime that supervises the connections (their scopes, its registry, its
   * actor tree: this server is a listener under its root). Default: the process's.
   */
  readonly runtime?: McpRuntime
  /**
   * Per-session options. Defaults differ from a bare session's: `handshakeTimeoutMs`
   * 10 000 and `idleTimeoutMs` 30 min (as on HTTP), deadlines on one shared coarse clock.
   */
  readonly session?: ServeOptions
  /** Serve the live inspector (docs/inspector.md) on 127.0.0.1 too; read `inspector.url`. */
  readonly inspect?: boolean | InspectorOptions
}

/** A listening WebSocket server: its URL, live connection count, and `close()`. */
export interface WsServerHandle {
  /** `ws://HOST:PORT/mcp` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** Live connections (each one a session). */
  readonly connections: number
  /** The live inspector, when started with `inspect` (closed with the server). */
  readonly inspector?: Inspector
  /** Close every session (drained for `drainMs`), then the listener. */
  close(options?: { readonly drainMs?: number }): Promise<void>
}

const refuse = (socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void => {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code: httpStatusErrorCode(status), message } })
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
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
  const guard = makeHostGuard(options)
  // By id, in a ClearingMap: a Set of the sessions kept ended ones reachable for the young GC (see ClearingMap.ts).
  const sessions = new ClearingMap<string, ServerSession>()
  const runtime = options.runtime ?? defaultMcpRuntime()
  // The live inspector first, so it sees every session.
  const inspector = await startEndpointInspector({ ...options, runtime })
  // This server's node in the runtime's tree: connections are its children (actors and scopes).
  const listener = runtime.openListener({ kind: "ws" })
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxMessageBytes * WS_HARD_LIMIT_FACTOR,
    // Speak `mcp` when offered; a client offering only other subprotocols gets none (and may give up).
    handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false)
  })
  const limiter = new SessionLimiter<ServerSession>({ ...options, maxSessions: options.maxConnections ?? 10_000 })
  const sessionOptions: ServeOptions = {
    handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
    idleTimeoutMs: 30 * 60_000,
    ...options.session,
    // Handshake and idle deadlines of every connection share one bucketed timer of the runtime's clock unless a clock is given.
    clock: options.session?.clock ?? makeCoarseClock({ base: runtime.clock })
  }
  // Heartbeats and close deadlines run on the sessions' time too.
  const wsClock = clockOf(options.session?.clock ?? runtime.clock)
  const http = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" }).end("MCP over WebSocket: upgrade required\n")
  })

  /**
   * Every connection's transport until its socket has closed: shutting down awaits their closing handshakes.
   * By a number, in a ClearingMap: a long-lived Set would keep closed ones reachable for the young GC.
   */
  const transports = new ClearingMap<number, Transport>()
  let nextTransport = 0
  const accept = (target: McpServer, req: IncomingMessage, socket: Duplex, head: Buffer, principal: string | undefined, identity?: Identity): void => {
    const address = remoteAddress(req)
    if (!listener.accepting) return refuse(socket, 503, "Service Unavailable: the server is shutting down")
    const admission = limiter.admit(address, principal)
    if (!admission.ok) {
      return refuse(socket, admission.status, admission.message, { "Retry-After": String(options.retryAfterSeconds ?? 5) })
    }
    // `ws` completes the upgrade synchronously here (no verifyClient), so nothing is admitted in between.
    wss.handleUpgrade(req, socket, head, (ws) => {
      const transport = makeWsTransport(ws, { maxMessageBytes, clock: wsClock, ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}) })
      const key = nextTransport++
      transports.set(key, transport)
      ws.once("close", () => transports.delete(key))
      let session: ServerSession | undefined
      let readyEarly = false // frames buffered before start() may make it ready inside serveTransport
      session = serveTransport(target, transport, {
        ...sessionOptions,
        runtime,
        listener,
        ...(principal !== undefined ? { principal } : {}),
        ...(identity !== undefined ? { identity } : {}),
        onReady: () => (session === undefined ? (readyEarly = true) : limiter.ready(session))
      })
      const s = session
      limiter.add(s, address, principal)
      if (readyEarly) limiter.ready(s)
      sessions.set(s.id, s)
      // A no-op in the runtime's own registry, which lists the session already (`serveTransport`).
      const unregister = options.registry?.register(s)
      void s.ended.then(() => {
        limiter.remove(s)
        sessions.deleteIf(s.id, s)
        unregister?.()
      })
    })
  }

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy())
    const url = requestUrl(req.url, "http://x")
    if (url === undefined) return refuse(socket, 400, "Bad Request: the request target is not a URL")
    const target = url.pathname === path ? server : options.endpoints?.(url.pathname)
    if (target === undefined) return refuse(socket, 404, `Not Found: the MCP endpoint is ${path}`)
    const denied = guard(req)
    if (denied !== undefined) return refuse(socket, 403, `Forbidden: ${denied}`)
    if (options.authenticate === undefined) return accept(target, req, socket, head, undefined)
    Promise.resolve(options.authenticate(req)).then((outcome) => {
      if (outcome === undefined) return accept(target, req, socket, head, undefined)
      if ("principal" in outcome && typeof outcome.principal === "string") return accept(target, req, socket, head, outcome.principal, outcome.identity)
      const status = "status" in outcome && typeof outcome.status === "number" ? outcome.status : 401
      // Keep the hook's own headers (WWW-Authenticate) and its JSON-RPC error message (e.g. bearerAuth's reason).
      const rejection = outcome as { headers?: Record<string, string>; body?: unknown }
      const error = (rejection.body as { error?: { message?: unknown } } | undefined)?.error?.message
      const headers = outcome instanceof Response ? {} : { ...rejection.headers }
      refuse(socket, status, typeof error === "string" ? error : status === 403 ? "Forbidden" : "Unauthorized", headers)
    }, () => refuse(socket, 500, "Internal error in the auth hook"))
  })

  let listening: Listening
  try {
    listening = await listenHttp(http, options.port ?? 0, host)
  } catch (error) {
    listener.beginClose("listen failed")
    await listener.release()
    // The port is taken: let go of the inspector started for it (its listener and its hub subscription).
    await inspector?.close()
    throw error
  }
  const { port, urlHost } = listening
  let closed: Promise<void> | undefined
  const handle: WsServerHandle = {
    url: `ws://${urlHost}:${port}${path}`,
    port,
    server: http,
    get connections() {
      return sessions.size
    },
    ...(inspector === undefined ? {} : { inspector }),
    close: (closeOptions) => close(closeOptions?.drainMs ?? 5_000)
  }
  function close(drainMs: number): Promise<void> {
    return closed ??= (async () => {
      listener.beginClose("server shutting down")
      const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
      await Promise.all([...sessions.values()].map((s) => s.close({ drainMs, reason: "server shutting down", cause: "shutdown" })))
      // A session's end starts its socket's close (1001 after its last replies); the replies still
      // buffered go out before the peer's close frame comes back (or the transport's close deadline).
      await Promise.all([...transports.values()].map((t) => t.close({ reason: "server shutting down", cause: "shutdown" })))
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      http.closeAllConnections()
      await stopped
      // Every connection's scope is closed by now (or closed here): the listener's chart ends.
      await listener.release()
      await inspector?.close()
    })()
  }
  // The runtime shutting down closes this server too (its sessions were drained by the supervisor first).
  listener.onRelease(() => close(0))
  return handle
}
