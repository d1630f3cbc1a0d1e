/**
 * One modern-era (2026-07-28) request over Streamable HTTP: no session, the
 * context comes from the request's `_meta`, the response stream is the
 * request's whole life (2026-07-28/basic/transports/streamable-http.mdx).
 *
 * Its lifecycle is the `modernRequest` chart (machines/modernRequest.ts), run by the
 * transport-neutral driver `ModernRequestRun` (src/server/session/ModernRequestRun.ts:
 * dispatch, MRTR rounds, deadline, cancel, progress, the fast path); stdio, WebSocket
 * and memory sessions run the same driver. This class is its HTTP writer: the
 * request's messages go out on one `Exchange` (JSON, or SSE once something else than
 * the response is sent), and the exchange's end ends the run. When the chart runs as
 * an actor, that actor is a child of the HTTP listener's actor (one inspector on the
 * runtime's root sees it). No `ServerSession` per POST: no session object, keepalive,
 * registry entry or id space.
 *
 * Closing the response stream is cancellation (streamable-http.mdx:L235-L240):
 * the handler is aborted and nothing more is sent for it. There are no event
 * ids and no resumption in this era (L157).
 */
import type { ServerResponse } from "node:http"
import type { AnyActorRef } from "xstate"
import type { ClearingMap } from "../../protocol/ClearingMap.ts"
import type { Clock } from "../../protocol/clock.ts"
import { ErrorCode, type RpcErrorObject } from "../../protocol/errors.ts"
import type { JsonRpcMessage, JsonRpcRequest } from "../../protocol/jsonrpc.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { McpServer } from "../McpServer.ts"
import type { InFlight } from "../session/InFlight.ts"
import { ModernRequestRun, type ModernRequestOptions, type ModernRunHost } from "../session/ModernRequestRun.ts"
import type { SseHub, SseStreamOptions } from "../../transports/http/SseStream.ts"
import type { TransportKind } from "../../transports/Transport.ts"
import { Exchange, type ExchangeOwner } from "./Exchange.ts"

// The driver's types and chart, where they were always exported from.
export { type ModernRequestOptions, type ModernRequestSettled, runningModernRequest } from "../session/ModernRequestRun.ts"

/** HTTP status of a modern JSON-RPC error answered as JSON (streamable-http.mdx:L250-L293, basic/index.mdx:L373-L392). */
export const modernErrorStatus = (code: number): number => {
  switch (code) {
    case ErrorCode.MethodNotFound:
      return 404
    case ErrorCode.HeaderMismatch:
    case ErrorCode.MissingRequiredClientCapability:
    case ErrorCode.UnsupportedProtocolVersion:
      return 400
    default:
      return 200
  }
}

export interface ModernRequestHost {
  readonly hub: SseHub
  readonly maxBufferedBytes: number
  /**
   * Live modern requests by a number of their own (shutdown waits for, then fails, them). A `ClearingMap`,
   * not a `Set` of them: one added and one removed per stateless POST, and a long-lived `Set`'s dropped
   * hash tables kept ended requests reachable for the young GC (`src/protocol/ClearingMap.ts`).
   */
  readonly live: ClearingMap<number, ModernRequest>
  /** The listener's actor: each request's chart is its child (the runtime's tree). Without it the chart is a root. */
  readonly actorParent?: AnyActorRef
  /** The endpoint's clock: `requestState` deadlines read its time (the one clock). */
  readonly clock: Clock
  /** How modern requests run their chart (the HTTP server's `modernRequests` option). */
  readonly modernRequests?: ModernRequestOptions
  /** One left `live`. */
  modernFinished(): void
}

/** Who sent the request and how (the auth hook's principal binds MRTR state to it). */
export interface ModernRequestCaller {
  readonly principal: string | undefined
  readonly identity: Identity | undefined
}

/** The last key a request took in its host's `live` table (a small integer: wraps long before it would be a boxed number). */
let nextKey = 0

const defaultOnError = (error: unknown): void => console.error("mcp-actors: internal error while serving a message:", error)

/** One modern POST: the HTTP writer of its {@link ModernRequestRun}. */
export class ModernRequest implements ExchangeOwner, ModernRunHost {
  readonly server: McpServer
  readonly exchange: Exchange
  readonly request: JsonRpcRequest
  readonly run: ModernRequestRun
  private readonly host: ModernRequestHost
  private readonly caller: ModernRequestCaller
  /** Its key in `host.live`. */
  private readonly key = nextKey = (nextKey + 1) & 0x3fffffff

  constructor(server: McpServer, host: ModernRequestHost, res: ServerResponse, request: JsonRpcRequest, caller: ModernRequestCaller) {
    this.server = server
    this.host = host
    this.caller = caller
    this.request = request
    this.exchange = new Exchange(this, host.hub, res, request.id, false)
    this.run = new ModernRequestRun(this, request)
  }

  /** Run the request; the response goes out on `res` as JSON, or as SSE if the handler streams first. */
  start(): void {
    this.host.live.set(this.key, this)
    // HttpServer checked the headers against `_meta`; the chart's validation reads `_meta` itself.
    this.run.start()
    this.exchange.watch()
  }

  // ------------------------------------------------------------ from HttpServer

  /** Abort the handler (the client closed the stream) and end the exchange without a response. */
  cancel(reason: string): void {
    this.run.cancel(reason)
  }

  /** Shutdown: abort the handler and answer the client with this error. */
  fail(error: RpcErrorObject): void {
    this.run.fail(error)
  }

  /** A graceful shutdown ends an open `subscriptions/listen` with its `complete` result. */
  completeSubscriptions(): void {
    this.run.completeSubscriptions()
  }

  // ------------------------------------------------------------ ModernRunHost: the run's writer and facts

  get principal(): string | undefined {
    return this.caller.principal
  }
  get identity(): Identity | undefined {
    return this.caller.identity
  }
  get transportKind(): TransportKind {
    return "http"
  }
  get actorParent(): AnyActorRef | undefined {
    return this.host.actorParent
  }
  get modernRequests(): ModernRequestOptions | undefined {
    return this.host.modernRequests
  }
  get clock(): Clock {
    return this.host.clock
  }
  now(): number {
    return this.host.clock.now()
  }
  /** No rate limit for modern requests over HTTP. */
  readonly progressIntervalMs = 0
  /** The POST is the span (HttpServer's). */
  readonly discoverSpan = false
  reportError(e: unknown): void {
    defaultOnError(e)
  }
  track(_run: ModernRequestRun, _entry: InFlight): void {
    // The exchange is the request's only table.
  }
  deliver(_run: ModernRequestRun, message: JsonRpcMessage): void {
    this.exchange.deliver(message, undefined)
  }
  respond(_run: ModernRequestRun, message: JsonRpcMessage): void {
    this.exchange.deliver(message, this.request.id)
  }
  failWith(_run: ModernRequestRun, error: RpcErrorObject): void {
    this.exchange.fail(error)
  }
  cancelled(): void {
    this.exchange.cancel(this.request.id)
  }

  // ------------------------------------------------------------ ExchangeOwner

  streamOptions(): SseStreamOptions {
    return { maxBufferedBytes: this.host.maxBufferedBytes }
  }

  record(): undefined {
    return undefined
  }

  jsonStatus(message: JsonRpcMessage): number {
    return "error" in message ? modernErrorStatus(message.error.code) : 200
  }

  finished(): void {
    this.run.ended()
    this.host.live.deleteIf(this.key, this)
    this.host.modernFinished()
  }

  detached(): void {
    this.cancel("client closed the response stream")
  }
}
