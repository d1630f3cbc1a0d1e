/**
 * The Streamable HTTP server transport, both eras on one endpoint
 * (spec-digest §3.A legacy 2025-03-26 … 2025-11-25, §3.B modern 2026-07-28).
 *
 * Written on `node:http` directly: a request is read, checked and handed to a
 * session in one synchronous pass once the body is in, with no framework layer
 * between the socket and the session.
 *
 * Checks, in order (each answers with the status the spec gives and a
 * JSON-RPC error body without `id`, except where the request id was read):
 * 1. path (404) → Host/Origin allow-list (403, DNS rebinding) → method (405 + Allow)
 * 2. `authenticate(req)` (its own rejection, e.g. 401) — it sees every request
 * 3. POST: Accept lists JSON and SSE (406) → Content-Type JSON (415) →
 *    `MCP-Protocol-Version` supported (400) → body size (413) → JSON (400/-32700)
 * 4. era: `MCP-Protocol-Version: 2026-07-28` or a `_meta` protocol version ⇒ modern
 *    (stateless, per request); anything else ⇒ legacy (sessions).
 * 5. legacy: `initialize` creates a session if admission control lets it
 *    (`SessionLimiter`: sessions still in the handshake are evicted first, then
 *    the longest-idle; 429 at a per-address/per-principal cap, 503 + Retry-After
 *    when every session is busy); anything else needs `Mcp-Session-Id` (400 missing/malformed,
 *    404 unknown, ended, or bound to another principal); with
 *    `versionHeaderMustMatch`, a version header other than the negotiated one is 400.
 *
 * Sessions end by DELETE, by the chart's idle or handshake timeout, or by
 * `close()`; each end frees the session's streams, stored events and timers
 * (see {@link HttpSession}).
 *
 * The endpoint is one {@link HttpEndpoint} (endpoint.ts) and a file per concept
 * working on it: entry.ts (path, allow-list, method), auth.ts, route.ts, get.ts,
 * delete.ts, post.ts → postLegacy.ts (initialize.ts) / postBatch.ts / postModern.ts,
 * sweeper.ts (hibernation), close.ts, restore.ts (persist/restore), stats.ts.
 *
 * This module does not load Effect (CLI start-up); the scoped wrapper lives in
 * `./effect.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { listenHttp } from "../../transports/http/listenHttp.ts"
import type { Socket } from "node:net"
import { type Clock, clockOf } from "../../protocol/clock.ts"
import { stallDeadline, type UnsentOutput, unsentOutput } from "../../transports/unsentOutput.ts"
import { ClearingMap } from "../../protocol/ClearingMap.ts"
import { defaultMcpRuntime } from "../../runtime/McpRuntime.ts"
import type { RequestId } from "../../protocol/jsonrpc.ts"
import type { Inspector } from "../../inspect/InspectorServer.ts"
import { startEndpointInspector } from "../endpointInspector.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { closeEndpoint } from "./close.ts"
import { makeEndpoint } from "./endpoint.ts"
import { makeEntry } from "./entry.ts"
import type { PersistedHttpSession } from "./HttpSession.ts"
import type { HttpCloseOptions, HttpHandlerOptions, HttpServerOptions } from "./options.ts"
import { persistSessions, restoreSessions } from "./restore.ts"
import { endpointStats, type HttpServerStats } from "./stats.ts"

export type { Authenticate, AuthResult, HttpCloseOptions, HttpHandlerOptions, HttpRejection, HttpServerOptions } from "./options.ts"
export type { HttpServerStats } from "./stats.ts"
export { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "./endpoint.ts"
export { remoteAddress } from "./initialize.ts"

export interface HttpHandler {
  /** The `node:http` request listener (mountable on any server). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void
  /** Live legacy sessions. */
  readonly sessions: number
  /** A live session by id (to log or notify on it). */
  session(id: string): ServerSession | undefined
  /**
   * Close the connection of the SSE stream answering `requestId` in session
   * `sessionId`, before its response (switching it to SSE first if needed);
   * the client resumes with GET + Last-Event-ID. False when no such exchange.
   */
  dropStream(sessionId: string, requestId: RequestId): boolean
  /** Close the connection of a session's standalone GET stream (resumable). */
  dropStandaloneStream(sessionId: string): boolean
  /**
   * Hibernate every idle session and return them as plain data (survives `JSON.stringify`)
   * for another server's `restoreSessions`; sessions with work or a stream open are left out.
   */
  persistSessions(): ReadonlyArray<PersistedHttpSession>
  /** Serve sessions another server persisted, on the same ids (hibernated until their next lifecycle event). Returns how many were taken. */
  restoreSessions(persisted: ReadonlyArray<PersistedHttpSession>): number
  stats(): HttpServerStats
  /** Refuse new requests (503), drain and close every session, end every stream. Idempotent. */
  close(options?: HttpCloseOptions): Promise<void>
}

/** A listening Streamable HTTP server: the handler, its URL, and the `node:http` server behind it. */
export interface HttpServerHandle extends HttpHandler {
  /** `http://HOST:PORT/mcp` */
  readonly url: string
  readonly port: number
  readonly server: Server
  /** The live inspector, when started with `inspect` (closed with the server). */
  readonly inspector?: Inspector
}

// ---------------------------------------------------------------- handler

/** Build the request listener and the session table without listening (mount it on your own server). */
export const makeHttpHandler = (server: McpServer, options: HttpHandlerOptions = {}): HttpHandler => {
  const ep = makeEndpoint(server, options)
  const close = (closeOptions?: HttpCloseOptions): Promise<void> => closeEndpoint(ep, closeOptions)
  // The runtime shutting down closes this endpoint (its sessions were drained by the supervisor first).
  ep.onShutdown = () => close({ drainMs: 0 })
  ep.listener.onRelease(() => ep.onShutdown())
  const { sessions } = ep
  const httpHandler: HttpHandler = {
    handler: makeEntry(ep),
    get sessions() {
      return sessions.size
    },
    session: (id) => sessions.get(id)?.session,
    dropStream: (sessionId, requestId) => sessions.get(sessionId)?.dropStream(requestId) ?? false,
    dropStandaloneStream: (sessionId) => sessions.get(sessionId)?.dropStandalone() ?? false,
    persistSessions: () => persistSessions(ep),
    restoreSessions: (persisted) => restoreSessions(ep, persisted),
    stats: () => endpointStats(ep),
    close
  }
  shutdownHooks.set(httpHandler, (hook) => (ep.onShutdown = hook))
  return httpHandler
}

/** How long `close()` waits for responses already ended to move on towards a client that reads none of them, before it cuts their connections. */
const RESPONSE_FLUSH_MS = 2_000

/**
 * How to close `http` once `drain` (its endpoints' close: sessions drained, new requests 503) is
 * done, without cutting the responses still on their way: they reach their clients (a period of
 * RESPONSE_FLUSH_MS on `clock` in which none of them moves gives up), then the listener and every
 * connection close. Node's own `close()` is called only then: it destroys every connection whose
 * response has ended, even while that response is still buffered for a client that reads slowly.
 * Call it before the server accepts connections (it tracks them).
 */
export const closesAfterFlush = (http: Server, clock: Clock): ((drain: () => Promise<void>) => Promise<void>) => {
  // By a number, in a ClearingMap: a long-lived Set of connections would keep closed ones reachable for the young GC.
  const sockets = new ClearingMap<number, Socket>()
  let nextSocket = 0
  http.on("connection", (socket: Socket) => {
    const key = nextSocket++
    sockets.set(key, socket)
    socket.once("close", () => sockets.delete(key))
  })
  return async (drain) => {
    await drain()
    await responsesFlushed(clock, sockets, RESPONSE_FLUSH_MS)
    const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
    http.closeAllConnections()
    await stopped
  }
}

/**
 * Resolves once no socket has output left to send, or once a period of `ms` on `clock` passed
 * in which none of it was taken (a client that stopped reading is not waited for).
 */
const responsesFlushed = (clock: Clock, sockets: ClearingMap<number, Socket>, ms: number): Promise<void> =>
  new Promise((resolve) => {
    const busy = (): Map<Socket, UnsentOutput> => {
      const out = new Map<Socket, UnsentOutput>()
      for (const s of sockets.values()) if (!s.destroyed && s.writableLength > 0) out.set(s, unsentOutput(s))
      return out
    }
    const watched = [...busy().keys()]
    if (watched.length === 0) return resolve()
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      cancel()
      for (const s of watched) {
        s.off("drain", look)
        s.off("close", look)
      }
      resolve()
    }
    const look = (): void => {
      if (busy().size === 0) finish()
    }
    for (const s of watched) {
      s.on("drain", look)
      s.on("close", look)
    }
    const cancel = stallDeadline(clock, ms, busy, finish)
  })

/** `makeHttpServer` replaces what a runtime shutdown closes: the whole server, not only its handler. */
const shutdownHooks = new WeakMap<HttpHandler, (hook: () => Promise<void>) => void>()

// ---------------------------------------------------------------- server

/** The URL host for a bind address: wildcard binds are reached on loopback. */
const urlHost = (host: string): string => {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1"
  if (host === "::") return "[::1]"
  return host.includes(":") ? `[${host}]` : host
}

/**
 * Listen on `host:port` (default 127.0.0.1, any free port) and serve the MCP endpoint.
 *
 * Binds to loopback by default and checks `Host`/`Origin`, as the spec asks of local
 * servers (DNS rebinding). Each legacy session and each modern request runs under its own
 * chart; `close()` drains in-flight requests before closing sessions and streams.
 *
 * @example
 * ```ts
 * import { McpServer, makeHttpServer } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const http = await makeHttpServer(server, { port: 3000 })
 * console.log(`MCP endpoint: ${http.url}`)    // http://127.0.0.1:3000/mcp
 * process.once("SIGTERM", () => void http.close({ drainMs: 2_000 }))
 * ```
 */
export const makeHttpServer = async (server: McpServer, options: HttpServerOptions = {}): Promise<HttpServerHandle> => {
  const host = options.host ?? "127.0.0.1"
  const bound = urlHost(host)
  // A specific non-loopback bind address is a name clients will use: allow it too.
  const allowedHosts = options.allowedHosts ?? (
    ["localhost", "127.0.0.1", "[::1]"].includes(bound) || host === "0.0.0.0" || host === "::"
      ? undefined
      : ["localhost", "127.0.0.1", "[::1]", bound.toLowerCase()]
  )
  // The live inspector first, so it sees every session; it describes them through the runtime's registry
  // (or `options.registry`, where the endpoint lists them too).
  const inspector = await startEndpointInspector(options)
  const h = makeHttpHandler(server, allowedHosts === undefined ? options : { ...options, allowedHosts })
  const http = createServer(h.handler)
  const { port } = await listenHttp(http, options.port ?? 0, host).catch(async (e: unknown) => {
    // The port is taken: let go of what was started for it (the inspector's listener and its hub subscription).
    await h.close({ drainMs: 0 })
    await inspector?.close()
    throw e
  })
  const closeServer = closesAfterFlush(http, clockOf(options.clock ?? (options.runtime ?? defaultMcpRuntime()).clock))
  let closed: Promise<void> | undefined
  const handle: HttpServerHandle = {
    ...h,
    get sessions() {
      return h.sessions
    },
    url: `http://${bound}:${port}${options.path ?? "/mcp"}`,
    port,
    server: http,
    ...(inspector === undefined ? {} : { inspector }),
    close: (closeOptions) =>
      closed ??= (async () => {
        await closeServer(() => h.close(closeOptions))
        await inspector?.close()
      })()
  }
  shutdownHooks.get(h)?.(() => handle.close({ drainMs: 0 }))
  return handle
}
