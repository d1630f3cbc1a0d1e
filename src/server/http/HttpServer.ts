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
 * This module does not load Effect (CLI start-up); the scoped wrapper lives in
 * `./effect.ts`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { listenHttp } from "../../transports/http/listenHttp.ts"
import { ErrorCode, httpStatusErrorCode, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import {
  decodeBatchItem,
  decodeValue,
  encode,
  idInFlightReply,
  type JsonRpcErrorResponse,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type RequestId
} from "../../protocol/jsonrpc.ts"
import { checkParamHeaders, decodeHeaderValue, NAMED_PARAM } from "../../protocol/mcpHeaders.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION } from "../../protocol/modern.ts"
import {
  allowsBatch,
  FIRST_MODERN_VERSION,
  isLegacyVersion,
  isModernVersion,
  LEGACY_VERSIONS,
  MODERN_VERSIONS
} from "../../protocol/versions.ts"
import { defaultMcpRuntime, type McpRuntime } from "../../runtime/McpRuntime.ts"
import type { RegistryUnsafe } from "../../runtime/Registry.ts"
import type { Inspector, InspectorOptions } from "../../inspect/InspectorServer.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { SessionLimiter, type SessionLimits } from "../SessionLimiter.ts"
import { makeCoarseClock } from "../../runtime/CoarseClock.ts"
import { clockOf, every, sleepOn, unrefTimer } from "../../protocol/clock.ts"
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../transports/Transport.ts"
import { type EventStore, makeMemoryEventStore } from "../../transports/http/EventStore.ts"
import { Exchange } from "./Exchange.ts"
import { type HostGuardOptions, makeHostGuard } from "../../transports/http/HostGuard.ts"
import { HttpSession, type HttpSessionHost, type HttpSessionOptions, type PersistedHttpSession } from "./HttpSession.ts"
import { ModernRequest, type ModernRequestHost, type ModernRequestOptions } from "./ModernRequest.ts"
import { readBodyInto } from "../../transports/http/readBody.ts"
import { answerMetrics as serveMetrics } from "../../observability/metricsEndpoint.ts"
import { DEFAULT_MAX_BUFFERED_BYTES, SseHub } from "../../transports/http/SseStream.ts"
import {
  acceptsEventStream,
  acceptsPostResponses,
  header,
  HEADER_LAST_EVENT_ID,
  HEADER_METHOD,
  HEADER_NAME,
  HEADER_PROTOCOL_VERSION,
  HEADER_SESSION_ID,
  isJsonContentType,
  isWellFormedSessionId,
  writeEmpty,
  writeJson,
  writeRpcError
} from "../../transports/http/wire.ts"

// ---------------------------------------------------------------- options

/** A refusal from the auth hook, written as is (e.g. 401 with `WWW-Authenticate`). */
export interface HttpRejection {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** A string is sent as is; an object as JSON. */
  readonly body?: string | { readonly [key: string]: unknown }
}

/**
 * What the auth hook decides for one request: a principal, anonymous
 * (`undefined`), or a rejection (an {@link HttpRejection} or a fetch `Response`).
 */
export type AuthResult = { readonly principal: string; readonly identity?: Identity } | HttpRejection | Response | undefined

/**
 * Sees every request to the endpoint. A session is bound to the principal that
 * initialized it; a request for it from anyone else gets 404, exactly as if it
 * did not exist (sessions are never authentication: secbp/2025-11-25 L575-L590).
 */
export type Authenticate = (req: IncomingMessage) => AuthResult | PromiseLike<AuthResult>

export interface HttpHandlerOptions extends HostGuardOptions, HttpSessionOptions, SessionLimits {
  /** The MCP endpoint. Default "/mcp". */
  readonly path?: string
  /** Serve Prometheus text at `GET /metrics` (a `Telemetry`; see docs/observability.md). Default: none (404). */
  readonly metrics?: { prometheus(): string }
  /** Largest accepted body. Default 4 MiB. */
  readonly maxMessageBytes?: number
  /** `Retry-After` (seconds) on 503 and 429. Default 5. */
  readonly retryAfterSeconds?: number
  /** Resumable SSE storage; `false` turns resumability (event ids, priming) off. Default: in-memory, 1000 events / 1 MiB per session. */
  readonly eventStore?: EventStore | false
  /** `retry:` advertised on SSE streams (ms). Default 1000. */
  readonly retryMs?: number
  /** SSE keep-alive comment period (ms); 0 = none. Default 15 000. */
  readonly keepAliveMs?: number
  /**
   * Hibernate a session's chart after this long with nothing in flight (the
   * actor is stopped, its snapshot kept; see `ServerSession.hibernate`). An
   * idle session then costs a few hundred bytes of heap. 0 disables. Default 1000 ms.
   */
  readonly hibernateAfterMs?: number
  /** Close (without ending) legacy SSE connections after this long, for polling; 0 = never. Default 0. */
  readonly sseMaxDurationMs?: number
  /** Unsent bytes after which a stalled SSE client is disconnected. Default 4 MiB. */
  readonly maxBufferedBytes?: number
  /** Serve 2026-07-28 (stateless) requests. Default true. */
  readonly modern?: boolean
  /** How 2026-07-28 requests run their chart (`chart: "always"` skips the fast path; see ModernRequest.ts). */
  readonly modernRequests?: ModernRequestOptions
  /**
   * Refuse (400) a supported `MCP-Protocol-Version` that differs from the
   * session's negotiated version. Default false: the spec's server MUST is
   * only "invalid or unsupported → 400" (the client's header SHOULD be the
   * negotiated one, transports.mdx:L263-L280), the SDK server accepts any
   * supported version, and conformance 0.1.16 (server-sse-polling,
   * server-sse-multiple-streams) sends 2025-03-26 on 2025-11-25 sessions.
   * The session's negotiated version governs either way.
   */
  readonly versionHeaderMustMatch?: boolean
  readonly authenticate?: Authenticate
  /** Also list live sessions in this registry (inspector). */
  readonly registry?: RegistryUnsafe
  /**
   * The runtime that supervises the sessions (a scope each, its registry, its
   * actor tree: this endpoint is a listener under its root). Default: the process's.
   */
  readonly runtime?: McpRuntime
  /** Unexpected errors (a throwing auth hook, a bug); default `console.error`. */
  readonly onError?: (error: unknown) => void
}

/** Options of `makeHttpServer`: the handler's options plus where to listen. */
export interface HttpServerOptions extends HttpHandlerOptions {
  /** Default 0 (any free port). */
  readonly port?: number
  /** Default "127.0.0.1" (spec: bind to localhost when running locally). */
  readonly host?: string
  /** Serve the live inspector (docs/inspector.md) on 127.0.0.1 too; read `inspector.url`. */
  readonly inspect?: boolean | InspectorOptions
}

export interface HttpCloseOptions {
  /** How long in-flight requests may finish before they are cancelled. Default 5000 ms. */
  readonly drainMs?: number
}

/** Internal sizes; every one returns to 0 once no session or request is live (leak checks). */
export interface HttpServerStats {
  readonly sessions: number
  /** Sessions whose chart is hibernated (idle; actor stopped, snapshot kept). */
  readonly hibernated: number
  readonly openStreams: number
  readonly pendingExchanges: number
  readonly modernInFlight: number
  readonly storedSessions: number
  readonly keepAliveTimer: boolean
  /** Sessions still in the handshake (admission control's budget). */
  readonly handshaking: number
  /** Sessions evicted by admission control so far. */
  readonly evicted: number
}

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

// ---------------------------------------------------------------- errors

const badRequest = (message: string): RpcErrorObject => rpcError(ErrorCode.BadRequest, `Bad Request: ${message}`)
const SESSION_NOT_FOUND = rpcError(ErrorCode.SessionNotFound, "Session not found")
const ALL_VERSIONS = (modern: boolean): ReadonlyArray<string> => modern ? [...MODERN_VERSIONS, ...LEGACY_VERSIONS] : [...LEGACY_VERSIONS]

/** A version header we do not support: modern-looking ones get -32022 so a dual-era client can pick from `supported`. */
const unsupportedVersion = (requested: string, modern: boolean): RpcErrorObject => {
  const supported = ALL_VERSIONS(modern)
  return /^\d{4}-\d{2}-\d{2}$/.test(requested) && requested >= FIRST_MODERN_VERSION
    ? rpcError(ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${requested}`, { supported, requested })
    : rpcError(ErrorCode.BadRequest, `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(requested)}`, { supported, requested })
}

const headerMismatch = (message: string): RpcErrorObject => rpcError(ErrorCode.HeaderMismatch, `Header mismatch: ${message}`)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const looksModern = (v: unknown): boolean => {
  if (!isObject(v)) return false
  if (v.method === "server/discover") return true
  const params = v.params
  return isObject(params) && isObject(params._meta) && META_PROTOCOL_VERSION in params._meta
}

const isThenable = <A>(v: A | PromiseLike<A>): v is PromiseLike<A> =>
  typeof v === "object" && v !== null && typeof (v as PromiseLike<A>).then === "function"

const cancelledRequestId = (m: JsonRpcMessage): RequestId | undefined => {
  if (!("method" in m) || "id" in m || m.method !== "notifications/cancelled") return undefined
  const id = m.params?.requestId
  return typeof id === "string" || typeof id === "number" ? id : undefined
}

/** Default deadline for the whole handshake (initialize → notifications/initialized), HTTP and WebSocket. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** The client's address as the socket reports it; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as its IPv4 address. */
export const remoteAddress = (req: IncomingMessage): string | undefined => {
  const a = req.socket.remoteAddress
  return a !== undefined && a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a
}

// ---------------------------------------------------------------- handler

/** Build the request listener and the session table without listening (mount it on your own server). */
export const makeHttpHandler = (server: McpServer, options: HttpHandlerOptions = {}): HttpHandler => {
  const path = options.path ?? "/mcp"
  const metrics = options.metrics
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const limiter = new SessionLimiter<HttpSession>(options)
  const retryAfter = String(options.retryAfterSeconds ?? 5)
  const modernEnabled = options.modern !== false
  const versionHeaderMustMatch = options.versionHeaderMustMatch === true
  const authenticate = options.authenticate
  const onError = options.onError ?? ((error: unknown) => console.error("mcp-actors http:", error))
  const guard = makeHostGuard(options)
  const runtime = options.runtime ?? defaultMcpRuntime()
  // Every server-wide timer (SSE keep-alive, sweeps, shutdown deadline) runs on the session clock's time.
  const clock = clockOf(options.clock ?? runtime.clock)
  const hub = new SseHub(options.keepAliveMs ?? 15_000, clock)
  const eventStore = options.eventStore === false ? undefined : (options.eventStore ?? makeMemoryEventStore())
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  // This endpoint's node in the runtime's tree: each session's chart and scope are its children
  // (an HTTP session has no connection of its own: its requests arrive on any socket).
  const listener = runtime.openListener({ kind: "http" })
  const sessionOptions: HttpSessionOptions = {
    actorParent: listener.actor,
    idleTimeoutMs: options.idleTimeoutMs ?? 30 * 60_000,
    // A well-behaved client completes the handshake within a round trip or two: a short deadline keeps
    // abandoned (or hostile) handshakes from holding slots (see SessionLimiter).
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.earlyRequests === undefined ? {} : { earlyRequests: options.earlyRequests }),
    ...(options.supportedVersions === undefined ? {} : { supportedVersions: options.supportedVersions }),
    // Session deadlines (handshake, idle) share one bucketed timer of the runtime's clock unless a clock is given.
    clock: options.clock ?? makeCoarseClock({ base: runtime.clock }),
    // With the modern era off, a `_meta` protocol version inside a session is just another param.
    ...(modernEnabled ? {} : { modern: false })
  }
  const sessions = new Map<string, HttpSession>()
  // The auth hook's identity for a request (claims for the policy), beside its principal string.
  const identities = new WeakMap<IncomingMessage, Identity>()
  const unregister = new Map<string, () => void>()
  // One sweeper for all sessions (not a timer each), running only while there are sessions.
  const hibernateAfterMs = options.hibernateAfterMs ?? 1_000
  let sweeper: (() => void) | undefined
  const sweep = () => {
    if (sessions.size === 0 || closing !== undefined) {
      sweeper?.()
      sweeper = undefined
      return
    }
    for (const hs of sessions.values()) hs.hibernateIfIdleFor(hibernateAfterMs)
  }
  const startSweeper = () => {
    if (sweeper !== undefined || hibernateAfterMs <= 0) return
    sweeper = every(clock, Math.max(100, Math.floor(hibernateAfterMs / 2)), sweep, { unref: true })
  }
  let closing: Promise<void> | undefined
  let drained: (() => void) | undefined

  const host: HttpSessionHost & ModernRequestHost = {
    hub,
    eventStore,
    retryMs: options.retryMs ?? 1000,
    sseMaxDurationMs: options.sseMaxDurationMs ?? 0,
    maxBufferedBytes,
    live: new Set<ModernRequest>(),
    actorParent: listener.actor,
    clock,
    ...(options.modernRequests === undefined ? {} : { modernRequests: options.modernRequests }),
    released(hs, end) {
      runtime.ended(hs.id, end)
      limiter.remove(hs)
      if (sessions.get(hs.id) === hs) sessions.delete(hs.id)
      const u = unregister.get(hs.id)
      if (u !== undefined) {
        unregister.delete(hs.id)
        u()
      }
      checkDrained()
    },
    ready: (hs) => limiter.ready(hs),
    modernFinished: () => checkDrained()
  }

  function checkDrained(): void {
    if (drained !== undefined && sessions.size === 0 && host.live.size === 0) drained()
  }

  const supported = (v: string): boolean => isLegacyVersion(v) || (modernEnabled && isModernVersion(v))

  // ------------------------------------------------------------ entry

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      handle(req, res)
    } catch (error) {
      internalError(res, error)
    }
  }

  const internalError = (res: ServerResponse, error: unknown): void => {
    onError(error)
    if (!res.headersSent) writeRpcError(res, 500, rpcError(ErrorCode.InternalError, "Internal error"))
    else res.destroy()
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? ""
    const q = url.indexOf("?")
    if ((q === -1 ? url : url.slice(0, q)) !== path) {
      if (metrics !== undefined && (q === -1 ? url : url.slice(0, q)) === "/metrics") return serveMetrics(req, res, metrics, guard(req))
      res.writeHead(404, { "content-type": "text/plain", "content-length": 9 })
      return void res.end("Not Found")
    }
    const refused = guard(req)
    if (refused !== undefined) return writeRpcError(res, 403, rpcError(ErrorCode.Forbidden, `Forbidden: ${refused}`))
    const method = req.method
    if (method !== "POST" && method !== "GET" && method !== "DELETE") {
      return writeRpcError(res, 405, rpcError(ErrorCode.MethodNotAllowed, `Method Not Allowed: ${method}`), undefined, { allow: "GET, POST, DELETE" })
    }
    if (authenticate === undefined) return route(req, res, undefined)
    let outcome: AuthResult | PromiseLike<AuthResult>
    try {
      outcome = authenticate(req)
    } catch (error) {
      return internalError(res, error)
    }
    if (isThenable(outcome)) {
      outcome.then(
        (o) => {
          try {
            afterAuth(req, res, o)
          } catch (error) {
            internalError(res, error)
          }
        },
        (error) => internalError(res, error)
      )
    } else afterAuth(req, res, outcome)
  }

  const afterAuth = (req: IncomingMessage, res: ServerResponse, outcome: AuthResult): void => {
    if (outcome === undefined) return route(req, res, undefined)
    if (outcome instanceof Response) return void writeWebResponse(res, outcome).catch((e) => internalError(res, e))
    if ("principal" in outcome && typeof outcome.principal === "string") {
      if (outcome.identity !== undefined) identities.set(req, outcome.identity)
      return route(req, res, outcome.principal)
    }
    const rejection = outcome as HttpRejection
    const body = rejection.body === undefined ? "" : typeof rejection.body === "string" ? rejection.body : JSON.stringify(rejection.body)
    const headers: Record<string, string | number> = { ...rejection.headers, "content-length": Buffer.byteLength(body) }
    if (typeof rejection.body === "object") headers["content-type"] = "application/json"
    res.writeHead(rejection.status, headers)
    res.end(body)
  }

  const writeWebResponse = async (res: ServerResponse, r: Response): Promise<void> => {
    const body = Buffer.from(await r.arrayBuffer())
    const headers: Record<string, string | number> = {}
    r.headers.forEach((v, k) => (headers[k] = v))
    headers["content-length"] = body.length
    res.writeHead(r.status, headers)
    res.end(body)
  }

  const route = (req: IncomingMessage, res: ServerResponse, principal: string | undefined): void => {
    if (closing !== undefined) {
      return writeRpcError(res, 503, rpcError(ErrorCode.ServiceUnavailable, "Service Unavailable: server shutting down"), undefined, { "retry-after": retryAfter })
    }
    const pv = header(req, HEADER_PROTOCOL_VERSION)
    if (req.method === "POST") return post(req, res, principal, pv)
    // 2026-07-28 has no GET stream and no DELETE (streamable-http.mdx:L650-L737).
    if (pv !== undefined && modernEnabled && isModernVersion(pv)) {
      return writeRpcError(res, 405, rpcError(ErrorCode.MethodNotAllowed, `Method Not Allowed: ${req.method} is not part of protocol ${pv}`), undefined, { allow: "POST" })
    }
    if (pv !== undefined && !supported(pv)) return writeRpcError(res, 400, unsupportedVersion(pv, modernEnabled))
    if (req.method === "GET") return get(req, res, principal, pv)
    return del(req, res, principal, pv)
  }

  // ------------------------------------------------------------ sessions

  /** The session a request names, or undefined after answering 400/404. */
  const lookup = (req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): HttpSession | undefined => {
    const sid = header(req, HEADER_SESSION_ID)
    if (sid === undefined) return void writeRpcError(res, 400, badRequest("Mcp-Session-Id header is required"))
    const hs = sessions.get(sid)
    // Only well-formed ids are ever stored: a known one needs no check (a regex per request saved).
    if (hs === undefined && !isWellFormedSessionId(sid)) return void writeRpcError(res, 400, badRequest("malformed Mcp-Session-Id"))
    // Another principal's session is indistinguishable from a missing one.
    if (hs === undefined || hs.ended || hs.principal !== principal) return void writeRpcError(res, 404, SESSION_NOT_FOUND)
    if (pv !== undefined && versionHeaderMustMatch) {
      const negotiated = hs.session.protocolVersion
      if (negotiated !== undefined && pv !== negotiated) {
        return void writeRpcError(res, 400, badRequest(`MCP-Protocol-Version ${pv} does not match the negotiated version ${negotiated}`))
      }
    }
    return hs
  }

  const get = (req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
    if (!acceptsEventStream(req)) {
      return writeRpcError(res, 406, rpcError(ErrorCode.NotAcceptable, "Not Acceptable: Accept must list text/event-stream"))
    }
    const hs = lookup(req, res, principal, pv)
    if (hs === undefined) return
    const last = header(req, HEADER_LAST_EVENT_ID)
    if (last === undefined) {
      if (!hs.openStandalone(res)) {
        writeRpcError(res, 409, rpcError(ErrorCode.Conflict, "Conflict: only one standalone SSE stream is allowed per session"))
      }
      return
    }
    switch (hs.resume(res, last)) {
      case 200:
        return
      case 204:
        return writeEmpty(res, 204)
      case 409:
        return writeRpcError(res, 409, rpcError(ErrorCode.Conflict, "Conflict: that stream is already connected"))
      case 400:
        return writeRpcError(res, 400, badRequest(`unknown Last-Event-ID ${JSON.stringify(last)}`))
    }
  }

  const del = (req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
    const hs = lookup(req, res, principal, pv)
    if (hs === undefined) return
    // The client ends the session: in-flight work is cancelled, every stream ends; 200 once it has ended.
    hs.terminate(res)
  }

  // ------------------------------------------------------------ POST

  const post = (req: IncomingMessage, res: ServerResponse, principal: string | undefined, pv: string | undefined): void => {
    if (!acceptsPostResponses(req)) {
      return writeRpcError(res, 406, rpcError(ErrorCode.NotAcceptable, "Not Acceptable: Accept must list both application/json and text/event-stream"))
    }
    if (!isJsonContentType(req)) {
      return writeRpcError(res, 415, rpcError(ErrorCode.UnsupportedMediaType, "Unsupported Media Type: Content-Type must be application/json"))
    }
    if (pv !== undefined && !supported(pv)) return writeRpcError(res, 400, unsupportedVersion(pv, modernEnabled))
    readBodyInto(req, maxMessageBytes, (body) => {
      try {
        if (body._tag === "Aborted") return void res.destroy()
        if (body._tag === "TooLarge") return tooLarge(req, res, body.bytes)
        let value: unknown
        try {
          value = JSON.parse(body.text)
        } catch (e) {
          return writeRpcError(res, 400, rpcError(ErrorCode.ParseError, `Parse error: ${e instanceof Error ? e.message : "invalid JSON"}`))
        }
        if (modernEnabled && ((pv !== undefined && isModernVersion(pv)) || (!Array.isArray(value) && looksModern(value)))) {
          return postModern(req, res, value, pv, principal)
        }
        if (Array.isArray(value)) return postBatch(req, res, value, principal, pv)
        postLegacy(req, res, value, principal, pv)
      } catch (error) {
        internalError(res, error)
      }
    })
  }

  const tooLarge = (req: IncomingMessage, res: ServerResponse, bytes: number): void => {
    // Stop reading: answer now and close the connection rather than drain an oversized body.
    writeRpcError(
      res,
      413,
      rpcError(ErrorCode.InvalidRequest, `Invalid Request: body of ${bytes}+ bytes exceeds the limit of ${maxMessageBytes}`),
      undefined,
      { connection: "close" }
    )
    res.once("finish", () => {
      if (!req.complete) unrefTimer(clock.setTimeout(() => req.socket.destroy(), 200))
    })
  }

  const postLegacy = (req: IncomingMessage, res: ServerResponse, value: unknown, principal: string | undefined, pv: string | undefined): void => {
    const d = decodeValue(value, options.maxNestingDepth)
    if (d._tag !== "Message") {
      const error = d._tag === "Invalid" && d.reply !== undefined ? d.reply.error : rpcError(ErrorCode.InvalidRequest, "Invalid Request")
      return writeRpcError(res, 400, error, d._tag === "Invalid" ? d.reply?.id : undefined)
    }
    const m = d.message
    const isRequest = "method" in m && "id" in m
    if (isRequest && m.method === "initialize") return initialize(req, res, m, principal)
    const hs = lookup(req, res, principal, pv)
    if (hs === undefined) return
    // Same principal (lookup checked it); the latest token's claims are what policies see.
    const identity = identities.get(req)
    if (identity !== undefined) hs.session.identity = identity
    if (!isRequest) {
      receiveInto(hs, undefined, m)
      const cancelled = cancelledRequestId(m)
      if (cancelled !== undefined) hs.cancelled(cancelled)
      return writeEmpty(res, 202)
    }
    if (hs.exchanges.has(m.id)) {
      return writeRpcError(res, 400, idInFlightReply(m.id).error, m.id)
    }
    const ex = new Exchange(hs, hub, res, m.id, false)
    hs.track(ex)
    receiveInto(hs, ex, m)
    ex.watch()
  }

  /**
   * Hand `m` to the session. `ServerSession.receive` answers its own failures with
   * -32603; should anything still throw here, the exchange is answered and forgotten,
   * so that its ids do not stay "already in flight" until the session ends.
   */
  const receiveInto = (hs: HttpSession, ex: Exchange | undefined, m: JsonRpcMessage): void => {
    try {
      hs.session.receive(m)
    } catch (error) {
      onError(error)
      if (ex !== undefined) hs.abandon(ex, rpcError(ErrorCode.InternalError, "Internal error"))
    }
  }

  const initialize = (req: IncomingMessage, res: ServerResponse, m: JsonRpcRequest, principal: string | undefined): void => {
    const address = remoteAddress(req)
    const admission = limiter.admit(address, principal)
    if (!admission.ok) {
      return writeRpcError(res, admission.status, rpcError(httpStatusErrorCode(admission.status), admission.message), m.id, { "retry-after": retryAfter })
    }
    const identity = identities.get(req)
    const hs = new HttpSession(server, host, principal, identity === undefined ? sessionOptions : { ...sessionOptions, identity })
    // Its scope: released when the session ends; closed first by a runtime shutdown, it ends the session.
    runtime.adopt(hs.session, listener, releaseSession)
    limiter.add(hs, address, principal)
    sessions.set(hs.id, hs)
    startSweeper()
    if (options.registry !== undefined) unregister.set(hs.id, options.registry.register(hs.session))
    const ex = new Exchange(hs, hub, res, m.id, false)
    hs.initExchange = ex
    hs.track(ex)
    receiveInto(hs, ex, m)
    ex.watch()
  }

  /**
   * JSON-RPC batches: 2025-03-26 sessions only (spec-digest §6; other versions: 400 + -32600).
   * The answer is one JSON array (or one SSE stream) with every request's response and an
   * error for each invalid item — initialize (never batched), a malformed item, an id
   * already in flight — as JSON-RPC 2.0 §6 asks; notifications add nothing, and a batch of
   * notifications and responses only is 202.
   */
  const postBatch = (
    req: IncomingMessage,
    res: ServerResponse,
    items: ReadonlyArray<unknown>,
    principal: string | undefined,
    pv: string | undefined
  ): void => {
    if (items.length === 0) return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: empty batch"))
    const hs = lookup(req, res, principal, pv)
    if (hs === undefined) return
    const identity = identities.get(req)
    if (identity !== undefined) hs.session.identity = identity
    const version = hs.session.protocolVersion
    if (!allowsBatch(version)) {
      return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not part of protocol version ${version ?? "(not negotiated)"}`))
    }
    const messages: Array<JsonRpcMessage> = []
    const ids: Array<RequestId> = []
    const refused: Array<JsonRpcErrorResponse> = []
    const taken = (id: RequestId) => hs.exchanges.has(id) || ids.includes(id)
    for (const item of items) {
      const d = decodeBatchItem(item, options.maxNestingDepth, taken)
      if (d._tag === "Refused") {
        if (d.reply !== undefined) refused.push(d.reply)
        continue
      }
      const m = d.message
      if ("method" in m && "id" in m) ids.push(m.id)
      messages.push(m)
    }
    const ex = ids.length > 0 ? new Exchange(hs, hub, res, ids, true) : undefined
    if (ex !== undefined) {
      ex.preload(refused)
      hs.track(ex)
    }
    for (const m of messages) {
      receiveInto(hs, ex, m)
      const cancelled = cancelledRequestId(m)
      if (cancelled !== undefined) hs.cancelled(cancelled)
    }
    if (ex !== undefined) return ex.watch()
    if (refused.length > 0) return writeJson(res, 200, `[${refused.map(encode).join(",")}]`)
    writeEmpty(res, 202)
  }

  // ------------------------------------------------------------ modern

  const postModern = (req: IncomingMessage, res: ServerResponse, value: unknown, pv: string | undefined, principal: string | undefined): void => {
    if (!isObject(value)) {
      return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: the body must be a single JSON-RPC request or notification"))
    }
    const d = decodeValue(value, options.maxNestingDepth)
    if (d._tag !== "Message") {
      const error = d._tag === "Invalid" && d.reply !== undefined ? d.reply.error : rpcError(ErrorCode.InvalidRequest, "Invalid Request")
      return writeRpcError(res, 400, error, d._tag === "Invalid" ? d.reply?.id : undefined)
    }
    const m = d.message
    if (!("method" in m)) {
      return writeRpcError(res, 400, rpcError(ErrorCode.InvalidRequest, "Invalid Request: clients must not send JSON-RPC responses in protocol 2026-07-28"), m.id)
    }
    const id = "id" in m ? m.id : undefined
    const params = m.params
    const metaVersion = isObject(params?._meta) ? params._meta[META_PROTOCOL_VERSION] : undefined
    if (metaVersion !== undefined && metaVersion !== pv) {
      return writeRpcError(res, 400, headerMismatch(`MCP-Protocol-Version ${pv === undefined ? "is missing" : JSON.stringify(pv)} but _meta protocolVersion is ${JSON.stringify(metaVersion)}`), id)
    }
    const methodHeader = header(req, HEADER_METHOD)
    if (methodHeader === undefined) return writeRpcError(res, 400, headerMismatch("the Mcp-Method header is required"), id)
    if (methodHeader !== m.method) {
      return writeRpcError(res, 400, headerMismatch(`Mcp-Method ${JSON.stringify(methodHeader)} does not match the body method ${JSON.stringify(m.method)}`), id)
    }
    const named = NAMED_PARAM.get(m.method)
    if (named !== undefined) {
      const nameHeader = header(req, HEADER_NAME)
      const expected = params?.[named]
      if (nameHeader === undefined) return writeRpcError(res, 400, headerMismatch(`the Mcp-Name header is required for ${m.method}`), id)
      const decoded = decodeHeaderValue(nameHeader)
      if (decoded === undefined) return writeRpcError(res, 400, headerMismatch("Mcp-Name has invalid characters or a malformed =?base64?…?= value"), id)
      if (typeof expected !== "string" || decoded !== expected) {
        return writeRpcError(res, 400, headerMismatch(`Mcp-Name ${JSON.stringify(nameHeader)} does not match params.${named}`), id)
      }
    }
    // Mcp-Param-* mirror the tool's `x-mcp-header` arguments (streamable-http.mdx:L356-L607).
    if (m.method === "tools/call" && typeof params?.name === "string") {
      const annotations = server.tools.get(params.name)?.paramHeaders
      const mismatch = annotations === undefined || annotations.length === 0
        ? undefined
        : checkParamHeaders(annotations, params.arguments, (name) => header(req, name))
      if (mismatch !== undefined) return writeRpcError(res, 400, headerMismatch(mismatch), id)
    }
    // Core 2026-07-28 defines no client→server notification over HTTP (L95-L103): accepted, nothing to do.
    if (id === undefined) return writeEmpty(res, 202)
    const request = m as JsonRpcRequest
    const meta = isObject(params?._meta) ? params._meta : undefined
    if (typeof metaVersion !== "string") {
      return writeRpcError(res, 400, rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_PROTOCOL_VERSION}"] is required`), id)
    }
    if (!isModernVersion(metaVersion)) {
      const data = { supported: [...MODERN_VERSIONS], requested: metaVersion }
      return writeRpcError(res, 400, rpcError(ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${metaVersion}`, data), id)
    }
    if (!isObject(meta?.[META_CLIENT_CAPABILITIES])) {
      return writeRpcError(res, 400, rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_CLIENT_CAPABILITIES}"] is required`), id)
    }
    if (request.method === "initialize") {
      return writeRpcError(res, 404, rpcError(ErrorCode.MethodNotFound, `Method not found: initialize is not part of protocol ${metaVersion} (use server/discover)`, { supported: ALL_VERSIONS(true) }), id)
    }
    new ModernRequest(server, host, res, request, { principal, identity: identities.get(req) }).start()
  }

  // ------------------------------------------------------------ handle

  const close = (closeOptions?: HttpCloseOptions): Promise<void> => {
    if (closing !== undefined) return closing
    listener.beginClose("server shutting down")
    sweeper?.()
    sweeper = undefined
    const drainMs = closeOptions?.drainMs ?? 5_000
    closing = (async () => {
      const all = new Promise<void>((resolve) => {
        drained = resolve
        if (sessions.size === 0 && host.live.size === 0) resolve()
      })
      for (const hs of [...sessions.values()]) void hs.session.close({ drainMs, reason: "server shutting down" })
      // Modern listen streams would otherwise hold the drain open: they end with their `complete` result.
      for (const r of [...host.live]) r.completeSubscriptions()
      const stop = new AbortController()
      await Promise.race([all, sleepOn(clock, drainMs + 1_000, stop.signal)])
      stop.abort()
      const error = rpcError(ErrorCode.ConnectionClosed, "Server shutting down")
      for (const r of [...host.live]) r.fail(error)
      // Sessions whose close did not finish in time are released by force.
      for (const hs of [...sessions.values()]) releaseSession(hs.session)
      await new Promise<void>((resolve) => setImmediate(resolve))
      // Every session's scope is closed by now (or closed here): the listener's chart ends.
      await listener.release()
    })()
    return closing
  }
  // The runtime shutting down closes this endpoint (its sessions were drained by the supervisor first).
  let onShutdown = (): Promise<void> => close({ drainMs: 0 })
  listener.onRelease(() => onShutdown())

  const httpHandler: HttpHandler = {
    handler,
    get sessions() {
      return sessions.size
    },
    session: (id) => sessions.get(id)?.session,
    dropStream: (sessionId, requestId) => sessions.get(sessionId)?.dropStream(requestId) ?? false,
    dropStandaloneStream: (sessionId) => sessions.get(sessionId)?.dropStandalone() ?? false,
    persistSessions: () => [...sessions.values()].flatMap((hs) => hs.persist() ?? []),
    restoreSessions: (persisted) => {
      let taken = 0
      for (const p of persisted) {
        if (closing !== undefined || typeof p.id !== "string" || !isWellFormedSessionId(p.id) || sessions.has(p.id)) continue
        const hs = new HttpSession(server, host, p.principal, sessionOptions, p)
        // Supervised like a new session: its scope under the listener's, its registry entry.
        runtime.adopt(hs.session, listener, releaseSession)
        limiter.add(hs, undefined, p.principal)
        limiter.ready(hs) // restored in `operating`: past its handshake
        sessions.set(hs.id, hs)
        if (options.registry !== undefined) unregister.set(hs.id, options.registry.register(hs.session))
        taken++
      }
      if (taken > 0) startSweeper()
      return taken
    },
    stats: () => {
      let pendingExchanges = 0
      let hibernated = 0
      for (const hs of sessions.values()) {
        pendingExchanges += hs.exchanges.size
        if (hs.session.isHibernated) hibernated++
      }
      return {
        sessions: sessions.size,
        hibernated,
        openStreams: hub.size,
        pendingExchanges,
        modernInFlight: host.live.size,
        storedSessions: eventStore?.sessionCount ?? 0,
        keepAliveTimer: hub.ticking,
        handshaking: limiter.handshakes,
        evicted: limiter.evictions
      }
    },
    close
  }
  shutdownHooks.set(httpHandler, (hook) => (onShutdown = hook))
  return httpHandler
}

/** A session whose scope closed before it ended (runtime shutdown, or a close that ran out of time): released at once. */
const releaseSession = (session: ServerSession): void => session.transportClosed({ expected: true, reason: "server shut down" })

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
  // The live inspector first, so it sees every session; it describes them through a registry.
  const inspector = options.inspect
    ? await (await import("../../inspect/InspectorServer.ts")).startInspector({
      ...(options.inspect === true ? {} : options.inspect),
      ...(options.registry === undefined ? {} : { registry: options.registry })
    })
    : undefined
  const handlerOptions = inspector === undefined ? options : { ...options, registry: inspector.registry }
  const h = makeHttpHandler(server, allowedHosts === undefined ? handlerOptions : { ...handlerOptions, allowedHosts })
  const http = createServer(h.handler)
  const { port } = await listenHttp(http, options.port ?? 0, host)
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
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
        await h.close(closeOptions)
        http.closeAllConnections()
        await stopped
        await inspector?.close()
      })()
  }
  shutdownHooks.get(h)?.(() => handle.close({ drainMs: 0 }))
  return handle
}
