/**
 * The modern era (2026-07-28) on a message transport's session (stdio, WebSocket, memory):
 * each request runs its own chart (`ModernRequestRun`, machines/modernRequest.ts), as over
 * HTTP, with the session as its writer. The session keeps the request's entry in its
 * in-flight table (a duplicate id, `notifications/cancelled`, a drain and the session's end
 * find it there), holds its response for a batch, and counts its end as activity.
 */
import type { AnyActorRef } from "xstate"
import type { Clock } from "../../protocol/clock.ts"
import type { RpcErrorObject } from "../../protocol/errors.ts"
import { errorResponse, type JsonRpcMessage, type JsonRpcRequest } from "../../protocol/jsonrpc.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { TransportKind } from "../../transports/Transport.ts"
import type { McpServer } from "../McpServer.ts"
import type { ServerSession } from "../ServerSession.ts"
import { unbatch } from "./batches.ts"
import { ready } from "./chartActions.ts"
import { notifyListeners } from "./handle.ts"
import type { InFlight } from "./InFlight.ts"
import { afterSettle, track } from "./legacyRequests.ts"
import { type ModernRequestOptions, ModernRequestRun, type ModernRunHost } from "./ModernRequestRun.ts"

/** A modern request on the session's connection: the first one tells the chart and ends the handshake's budget. */
export const serveModern = (s: ServerSession, req: JsonRpcRequest): void => {
  if (s.era === "unknown") s.era = "modern"
  if (!s.servedModern) {
    s.servedModern = true
    s.actor?.send({ type: "MODERN_SERVED" })
    ready(s)
  }
  // The request's lifecycle is its own chart (machines/modernRequest.ts), as over HTTP.
  new ModernRequestRun((s.modernHost ??= new SessionModernHost(s, s.options)), req).start()
}

/** The session's settings a modern request runs with. */
export interface ModernEraSettings {
  readonly principal?: string | undefined
  readonly transport: TransportKind
  readonly actorParent?: AnyActorRef | undefined
  readonly modernRequests?: ModernRequestOptions | undefined
  readonly progressIntervalMs?: number | undefined
}

/** The writer of one session's modern requests: made on its first one, shared by the rest. */
export class SessionModernHost implements ModernRunHost {
  readonly server: McpServer
  readonly principal: string | undefined
  readonly transportKind: TransportKind
  readonly actorParent: AnyActorRef | undefined
  readonly modernRequests: ModernRequestOptions | undefined
  readonly progressIntervalMs: number
  /** `server/discover` is the request's whole span on a message transport. */
  readonly discoverSpan = true
  readonly #session: ServerSession

  constructor(session: ServerSession, settings: ModernEraSettings) {
    this.#session = session
    this.server = session.server
    this.principal = settings.principal
    this.transportKind = settings.transport
    this.actorParent = settings.actorParent
    this.modernRequests = settings.modernRequests
    this.progressIntervalMs = settings.progressIntervalMs ?? 0
  }

  get identity(): Identity | undefined {
    return this.#session.identity
  }
  get clock(): Clock {
    return this.#session.clock
  }
  now(): number {
    return this.#session.now()
  }
  reportError(e: unknown): void {
    this.#session.reportError(e)
  }
  track(_run: ModernRequestRun, entry: InFlight): void {
    const session = this.#session
    track(session, entry)
    notifyListeners(session) // an in-flight edge (the inspector lists requests)
  }
  deliver(run: ModernRequestRun, message: JsonRpcMessage): void {
    this.#session.send(message, run.request.id)
  }
  respond(run: ModernRequestRun, message: JsonRpcMessage): void {
    const session = this.#session
    const settled = untrack(session, run)
    session.send(message, run.request.id)
    if (settled) afterSettle(session)
    run.ended()
  }
  failWith(run: ModernRequestRun, error: RpcErrorObject): void {
    this.respond(run, errorResponse(run.request.id, error))
  }
  cancelled(run: ModernRequestRun): void {
    const session = this.#session
    if (untrack(session, run)) {
      if (session.batches !== undefined) unbatch(session.batches, run.request.id)
      afterSettle(session)
    }
    run.ended()
  }
}

/** The entry of `run` leaves the session's in-flight table; true when it was there (not cancelled or replaced). */
const untrack = (s: ServerSession, run: ModernRequestRun): boolean => {
  const id = run.request.id
  const entry = s.inFlight.get(id)
  if (entry === undefined || entry.run !== run) return false
  s.inFlight.delete(id)
  return true
}
