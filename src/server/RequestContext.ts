/**
 * What a handler sees of the request it serves: cancellation (an AbortSignal),
 * progress, logging, and server→client requests when the client negotiated
 * them. The same shape serves both eras; in the modern era there is no session
 * and server→client requests are refused (MRTR is not implemented here).
 */
import type { ClientCapabilities } from "../protocol/capabilities.ts"
import type { Era } from "../protocol/era.ts"
import type { Params, RequestId } from "../protocol/jsonrpc.ts"
import type { Implementation, LoggingLevel } from "./types.ts"

export interface ServerRequestOptions {
  /** Deadline for the client's answer (default 60 s). */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export interface RequestContext {
  readonly requestId: RequestId
  readonly method: string
  readonly era: Era
  readonly protocolVersion: string
  readonly sessionId: string | undefined
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
  /** Send `notifications/message` if `level` passes the client's `logging/setLevel` threshold. */
  log(level: LoggingLevel, data: unknown, logger?: string): void
  /** A server→client request, related to this request; fails with a CapabilityError when not negotiated. */
  request(method: string, params?: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  elicit(params: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  createMessage(params: Params, options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
  listRoots(options?: ServerRequestOptions): Promise<{ readonly [key: string]: unknown }>
}
