/**
 * What a handler sees of the request it serves: cancellation (an AbortSignal),
 * progress, logging, and server→client requests when the client negotiated
 * them. The same shape serves both eras. In the modern era there is no session
 * and no server→client request: `elicit`/`createMessage`/`listRoots` become MRTR
 * input requests (mrtr.mdx) — the first run of the handler ends with an
 * `input_required` result, and on the client's retry the same calls resolve
 * with the client's answers (`inputResponses`), matched by call order.
 */
import type { ClientCapabilities } from "../protocol/capabilities.ts"
import type { Era } from "../protocol/era.ts"
import type { Params, RequestId } from "../protocol/jsonrpc.ts"
import type { InputRequests, InputResponses } from "../protocol/mrtr.ts"
import type { Identity } from "../policy/Identity.ts"
import type { TransportKind } from "../transports/Transport.ts"
import type { Implementation, LoggingLevel } from "./types.ts"

export interface ServerRequestOptions {
  /** Deadline for the client's answer (default 60 s). */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

/**
 * What a tool, resource or prompt handler gets besides its arguments: the request's
 * cancellation signal, progress and logging, and (when the client supports them)
 * elicitation, sampling and roots. The same shape in both eras, so a handler need not know
 * which one its caller speaks.
 */
export interface RequestContext {
  readonly requestId: RequestId
  readonly method: string
  readonly era: Era
  readonly protocolVersion: string
  readonly sessionId: string | undefined
  /** The authenticated caller (undefined when the transport has no authentication). */
  readonly identity: Identity | undefined
  readonly transport: TransportKind
  readonly clientCapabilities: ClientCapabilities
  readonly clientInfo: Implementation | undefined
  /** Aborted when the client cancels, the session closes, or the drain deadline passes. */
  readonly signal: AbortSignal
  /** The request's `_meta` (progressToken, trace context, …). */
  readonly meta: { readonly [key: string]: unknown } | undefined
  /**
   * Streamable HTTP (2025-11-25, SEP-1699 polling): close this request's SSE
   * connection now without ending the request; the client resumes with GET +
   * Last-Event-ID and gets the response there. False on transports without streams.
   */
  closeSSEStream(): boolean
  /** Report progress (no-op when the request has no progressToken); values must increase. */
  progress(progress: number, total?: number, message?: string): void
  /**
   * The lowest log level the client wants for this request: modern, its `_meta` log level (undefined:
   * it wants none); legacy, the session's `logging/setLevel` (undefined: not set, every level passes).
   */
  readonly logLevel: LoggingLevel | undefined
  /** Send `notifications/message` if `level` passes the client's `logging/setLevel` threshold. */
  log(level: LoggingLevel, data: unknown, logger?: string): void
  /** A server→client request, related to this request; fails with a CapabilityError when not negotiated. */
  request(method: string, params?: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  /**
   * Modern era (MRTR) only: answer this request with `input_required` now —
   * input requests for the client to fulfil and/or a state to get back on the
   * retry (sealed by the server: tamper-proof, bound to this request, expiring).
   */
  inputRequired(input: { readonly inputRequests?: InputRequests; readonly requestState?: string }): never
  /** Modern era: the client's answers on a retry (`params.inputResponses`), if any. */
  readonly inputResponses: InputResponses | undefined
  /** Modern era: the state this handler put in its `input_required` result, verified, on the retry. */
  readonly requestState: string | undefined
  elicit(params: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  createMessage(params: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  listRoots(options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
}
