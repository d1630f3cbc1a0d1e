/**
 * One Streamable HTTP endpoint's state: its settings (read once from the options),
 * its session table, admission control, SSE hub and event store, its node in the
 * runtime's tree, and whether it is closing. The request routes (`entry.ts`,
 * `get.ts`, `delete.ts`, `post*.ts`), the sweeper, `close` and `restore` all work
 * on this one object; `makeHttpHandler` (HttpServer.ts) builds it and hands out
 * the public {@link HttpHandler} over it.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { ErrorCode, rpcError } from "../../protocol/errors.ts"
import { type Clock, clockOf } from "../../protocol/clock.ts"
import { isLegacyVersion, isModernVersion } from "../../protocol/versions.ts"
import { ClearingMap } from "../../protocol/ClearingMap.ts"
import { makeCoarseClock } from "../../runtime/CoarseClock.ts"
import { defaultMcpRuntime, type ListenerNode, type McpRuntime } from "../../runtime/McpRuntime.ts"
import type { Identity } from "../../policy/Identity.ts"
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../transports/Transport.ts"
import { type EventStore, makeMemoryEventStore } from "../../transports/http/EventStore.ts"
import { makeHostGuard } from "../../transports/http/HostGuard.ts"
import { DEFAULT_MAX_BUFFERED_BYTES, SseHub } from "../../transports/http/SseStream.ts"
import { writeRpcError } from "../../transports/http/wire.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { SessionLimiter } from "../SessionLimiter.ts"
import type { HttpSession, HttpSessionHost, HttpSessionOptions } from "./HttpSession.ts"
import type { ModernRequest, ModernRequestHost } from "./ModernRequest.ts"
import type { HttpCloseOptions, HttpHandlerOptions } from "./options.ts"

/** Default deadline for the whole handshake (initialize → notifications/initialized), HTTP and WebSocket. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

export interface HttpEndpoint {
  readonly server: McpServer
  readonly options: HttpHandlerOptions
  readonly path: string
  readonly metrics: { prometheus(): string } | undefined
  readonly maxMessageBytes: number
  readonly limiter: SessionLimiter<HttpSession>
  /** `Retry-After` on 503 and 429, as its header value. */
  readonly retryAfter: string
  readonly modernEnabled: boolean
  readonly versionHeaderMustMatch: boolean
  readonly onError: (error: unknown) => void
  readonly guard: (req: IncomingMessage) => string | undefined
  readonly runtime: McpRuntime
  /** Every server-wide timer (SSE keep-alive, sweeps, shutdown deadline) runs on the session clock's time. */
  readonly clock: Clock
  readonly hub: SseHub
  readonly eventStore: EventStore | undefined
  /**
   * This endpoint's node in the runtime's tree: each session's chart and scope are its children
   * (an HTTP session has no connection of its own: its requests arrive on any socket).
   */
  readonly listener: ListenerNode
  readonly sessionOptions: HttpSessionOptions
  /** A `ClearingMap`: an ended session is not kept reachable by the table's dropped storage (see ClearingMap.ts). */
  readonly sessions: ClearingMap<string, HttpSession>
  /** The auth hook's identity for a request (claims for the policy), beside its principal string. */
  readonly identities: WeakMap<IncomingMessage, Identity>
  /** What sessions and modern requests need from the endpoint. */
  readonly host: HttpSessionHost & ModernRequestHost
  readonly hibernateAfterMs: number
  /** Stops the hibernation sweeper while it runs (see sweeper.ts). */
  sweeper: (() => void) | undefined
  /** Set once `close` started: new requests get 503. */
  closing: Promise<void> | undefined
  /** Resolves `close`'s wait once no session or modern request is left. */
  drained: (() => void) | undefined
  /** What a runtime shutdown closes: this handler, or the whole server once `makeHttpServer` wraps it. */
  onShutdown: (options?: HttpCloseOptions) => Promise<void>
}

/** A session whose scope closed before it ended (runtime shutdown, or a close that ran out of time): released at once. */
export const releaseSession = (session: ServerSession): void => session.transportClosed({ expected: true, reason: "server shut down" })

/**
 * List a new or restored session in the server's `registry` option; its release removes it (`host.released`).
 * In the runtime's own registry, which lists every session it supervises already (`adopt`), this changes nothing.
 */
export const register = (ep: HttpEndpoint, hs: HttpSession): void => {
  const registry = ep.options.registry
  if (registry !== undefined) hs.unregister = registry.register(hs.session)
}

/** A supported `MCP-Protocol-Version` for this endpoint (modern ones only while the modern era is on). */
export const supportedVersion = (ep: HttpEndpoint, v: string): boolean => isLegacyVersion(v) || (ep.modernEnabled && isModernVersion(v))

/** An unexpected error while serving `res`: reported, then 500 (or the connection is cut if the answer started). */
export const internalError = (ep: HttpEndpoint, res: ServerResponse, error: unknown): void => {
  ep.onError(error)
  if (!res.headersSent) writeRpcError(res, 500, rpcError(ErrorCode.InternalError, "Internal error"))
  else res.destroy()
}

/** `close` waits for this: no session and no modern request left. */
export const checkDrained = (ep: HttpEndpoint): void => {
  if (ep.drained !== undefined && ep.sessions.size === 0 && ep.host.live.size === 0) ep.drained()
}

/** Read the options once and open the endpoint's listener node. */
export const makeEndpoint = (server: McpServer, options: HttpHandlerOptions): HttpEndpoint => {
  const modernEnabled = options.modern !== false
  const runtime = options.runtime ?? defaultMcpRuntime()
  const clock = clockOf(options.clock ?? runtime.clock)
  const hub = new SseHub(options.keepAliveMs ?? 15_000, clock)
  const eventStore = options.eventStore === false ? undefined : (options.eventStore ?? makeMemoryEventStore())
  const limiter = new SessionLimiter<HttpSession>(options)
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
  const sessions = new ClearingMap<string, HttpSession>()
  const host: HttpSessionHost & ModernRequestHost = {
    hub,
    eventStore,
    retryMs: options.retryMs ?? 1000,
    sseMaxDurationMs: options.sseMaxDurationMs ?? 0,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    live: new ClearingMap<number, ModernRequest>(),
    actorParent: listener.actor,
    clock,
    ...(options.modernRequests === undefined ? {} : { modernRequests: options.modernRequests }),
    released(hs, end) {
      runtime.ended(hs.id, end)
      limiter.remove(hs)
      sessions.deleteIf(hs.id, hs)
      hs.unregister?.()
      checkDrained(ep)
    },
    ready: (hs) => limiter.ready(hs),
    modernFinished: () => checkDrained(ep)
  }
  const ep: HttpEndpoint = {
    server,
    options,
    path: options.path ?? "/mcp",
    metrics: options.metrics,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    limiter,
    retryAfter: String(options.retryAfterSeconds ?? 5),
    modernEnabled,
    versionHeaderMustMatch: options.versionHeaderMustMatch === true,
    onError: options.onError ?? ((error: unknown) => console.error("mcp-actors http:", error)),
    guard: makeHostGuard(options),
    runtime,
    clock,
    hub,
    eventStore,
    listener,
    sessionOptions,
    sessions,
    identities: new WeakMap<IncomingMessage, Identity>(),
    host,
    hibernateAfterMs: options.hibernateAfterMs ?? 1_000,
    sweeper: undefined,
    closing: undefined,
    drained: undefined,
    onShutdown: () => Promise.resolve()
  }
  return ep
}
