/**
 * One modern-era (2026-07-28) request over Streamable HTTP: no session, the
 * context comes from the request's `_meta`, the response stream is the
 * request's whole life (2026-07-28/basic/transports/streamable-http.mdx).
 *
 * It runs on a short-lived {@link ServerSession}: modern requests never touch
 * that class's chart (its actor is created only for legacy traffic), so one
 * per POST costs a few small maps and no timer, and gives each request its own
 * id space (two clients may both use id 1 at the same time).
 *
 * Its lifecycle is the `modernRequest` chart (machines/modernRequest.ts), run
 * per POST: validating → dispatching (related notifications flow) → responded,
 * awaitingInput (MRTR `input_required`), failed, cancelled or timed out. The
 * chart decides; this class provides the effects (dispatch, abort, answers).
 *
 * Closing the response stream is cancellation (streamable-http.mdx:L235-L240):
 * the handler is aborted and nothing more is sent for it. There are no event
 * ids and no resumption in this era (L157).
 */
import type { ServerResponse } from "node:http"
import type { Actor } from "xstate"
import { modernRequestMachine } from "../../../machines/modernRequest.ts"
import { readModernContext } from "../../protocol/modern.ts"
import { createLeanActor } from "../../runtime/ActorScheduler.ts"
import { ErrorCode, type RpcErrorObject } from "../../protocol/errors.ts"
import { type JsonRpcMessage, type JsonRpcRequest, notification } from "../../protocol/jsonrpc.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { McpServer } from "../McpServer.ts"
import { ServerSession } from "../ServerSession.ts"
import { Exchange, type ExchangeOwner } from "./Exchange.ts"
import type { SseHub, SseStreamOptions } from "../../transports/http/SseStream.ts"

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
  /** Live modern requests (shutdown waits for, then fails, them). */
  readonly live: Set<ModernRequest>
  /** One left `live`. */
  modernFinished(): void
}

export class ModernRequest implements ExchangeOwner {
  readonly session: ServerSession
  readonly exchange: Exchange
  readonly request: JsonRpcRequest
  private readonly host: ModernRequestHost
  /** The request's chart (see the module comment). */
  readonly actor: Actor<typeof modernRequestMachine>
  /** The error a shutdown answers with (read by the chart's `answerShutdown`). */
  private shutdownError: RpcErrorObject | undefined

  constructor(
    server: McpServer,
    host: ModernRequestHost,
    res: ServerResponse,
    request: JsonRpcRequest,
    requestTimeoutMs: number | undefined,
    principal: string | undefined,
    identity?: Identity
  ) {
    this.host = host
    this.request = request
    this.exchange = new Exchange(this, host.hub, res, request.id, false)
    this.session = new ServerSession(server, {
      transport: "http",
      // Not a session id: modern requests have none, and it is never sent.
      id: "modern",
      send: (message, related) => {
        if (related !== request.id) return
        // The chart first: delivering the response may finish the exchange (and stop the chart).
        // A handler that answers after a cancel or a shutdown finds the chart done: nothing to record.
        if (this.actor.getSnapshot().status === "active") this.actor.send("method" in message ? MESSAGE : answered(message))
        this.exchange.deliver(message, "method" in message ? undefined : request.id)
      },
      ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
      ...(principal === undefined ? {} : { principal }),
      ...(identity === undefined ? {} : { identity })
    })
    this.actor = createLeanActor(runningModernRequest, { input: { id: request.id, method: request.method } })
    ;(this.actor as unknown as Owned)[OWNER] = this
  }

  /** The chart's `abortHandler`: the handler sees `ctx.signal` aborted; nothing more is sent for it. */
  abortHandler(reason: string): void {
    this.session.receive(notification("notifications/cancelled", { requestId: this.request.id, reason }))
  }

  /** The chart's `answerShutdown`. */
  answerShutdown(): void {
    if (this.shutdownError !== undefined) this.exchange.fail(this.shutdownError)
  }

  /** The chart's `answerTimeout`. */
  answerTimeout(): void {
    this.exchange.fail({ code: ErrorCode.InternalError, message: `Internal error: ${this.request.method} timed out` })
  }

  /** Run the request; the response goes out on `res` as JSON, or as SSE if the handler streams first. */
  start(): void {
    this.host.live.add(this)
    this.actor.start()
    // HttpServer checked the headers against `_meta`; the chart's validation reads `_meta` itself.
    const read = readModernContext(this.request)
    if (read.ok) this.actor.send({ type: "VALIDATED", round: hasRequestState(this.request) ? 1 : 0 })
    else {
      this.actor.send({ type: "INVALID", code: read.error.code })
      this.exchange.fail(read.error)
    }
    this.exchange.watch()
  }

  /** The chart's `dispatch`: the method runs on the request's short-lived session. */
  dispatch(): void {
    try {
      this.session.receive(this.request)
    } catch {
      // `receive` answers its own failures; this only keeps the request from staying live if that net fails.
      this.exchange.fail({ code: ErrorCode.InternalError, message: "Internal error" })
    }
  }

  /** Abort the handler (the client closed the stream) and end the exchange without a response. */
  cancel(reason: string): void {
    if (this.exchange.done) return
    this.actor.send({ type: "DISCONNECTED", reason })
    this.exchange.cancel(this.request.id)
  }

  /** Shutdown: abort the handler and answer the client with this error. */
  fail(error: RpcErrorObject): void {
    if (this.exchange.done) return
    this.shutdownError = error
    this.actor.send({ type: "SHUTDOWN", code: error.code, message: error.message })
    // Not dispatching (still validating, or already answered): the exchange still ends.
    if (!this.exchange.done) this.exchange.fail(error)
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
    // The chart normally ended first (ANSWERED, DISCONNECTED, SHUTDOWN reach a final state, which
    // stops it). Otherwise end it too, but not from inside its own step (the response may be
    // delivered from the `dispatch` action): a microtask later.
    if (this.actor.getSnapshot().status === "active") queueMicrotask(() => this.actor.stop())
    this.host.live.delete(this)
    this.host.modernFinished()
  }

  detached(): void {
    this.cancel("client closed the response stream")
  }
}

const MESSAGE = { type: "MESSAGE" } as const

/** The request that runs an actor: a property under a private symbol (a WeakMap entry per request costs GC). */
const OWNER = Symbol("ModernRequest")
interface Owned {
  [OWNER]: ModernRequest
}
const ownerOf = (self: unknown): ModernRequest => (self as Owned)[OWNER]

/**
 * The chart with this module's effects, provided once (`provide` builds a new machine:
 * per request it would cost more than the request). Each action finds its request on `self`.
 */
const runningModernRequest = modernRequestMachine.provide({
  actions: {
    dispatch: ({ self }) => ownerOf(self).dispatch(),
    abortHandler: ({ self, context }) => ownerOf(self).abortHandler(context.reason ?? "cancelled"),
    answerShutdown: ({ self }) => ownerOf(self).answerShutdown(),
    answerTimeout: ({ self }) => ownerOf(self).answerTimeout()
  }
})

/** What a response says about how the request ended (an MRTR `input_required` result is not a final answer). */
const answered = (message: JsonRpcMessage): { readonly type: "ANSWERED"; readonly outcome: "result" | "inputRequired" | "error"; readonly code?: number } => {
  if ("error" in message) return { type: "ANSWERED", outcome: "error", code: message.error.code }
  const result = "result" in message ? (message.result as { readonly resultType?: unknown } | undefined) : undefined
  return { type: "ANSWERED", outcome: result?.resultType === "input_required" ? "inputRequired" : "result" }
}

/** An MRTR retry carries the sealed `requestState` of the previous round. */
const hasRequestState = (request: JsonRpcRequest): boolean => typeof request.params?.requestState === "string"
