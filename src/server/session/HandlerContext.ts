/**
 * What a request handler sees of its request and session (`RequestContext`), for
 * both eras; in the modern era the input methods go through MRTR.
 */
import type { ClientCapabilities } from "../../protocol/capabilities.ts"
import { capabilityObject, missingClientCapabilityFor } from "../../protocol/capabilities.ts"
import type { Era } from "../../protocol/era.ts"
import { ErrorCode, McpError } from "../../protocol/errors.ts"
import type { Params, RequestId } from "../../protocol/jsonrpc.ts"
import type { ModernRequestContext } from "../../protocol/modern.ts"
import { INPUT_REQUEST_METHODS, type InputRequest, type InputRequests, inputRequestKey, type InputResponses, MRTR_METHODS } from "../../protocol/mrtr.ts"
import type { Identity } from "../../policy/Identity.ts"
import type { TransportKind } from "../../transports/Transport.ts"
import type { Result } from "../dispatch.ts"
import { InputRequiredSignal } from "../InputRequiredSignal.ts"
import type { RequestContext, ServerRequestOptions } from "../RequestContext.ts"
import { type Implementation, isLoggingLevel, type LoggingLevel } from "../types.ts"
import type { InFlight } from "./InFlight.ts"
import { ServerRequestShorthands } from "./ServerRequestShorthands.ts"

/** What the legacy era negotiated (a modern request reads its `_meta` instead). */
export interface Negotiated {
  readonly protocolVersion: string
  readonly clientCapabilities: ClientCapabilities
  readonly clientInfo: Implementation | undefined
}

/**
 * What a handler context needs of whoever runs its request: a legacy session
 * (`ServerSession`), or one modern request on its own (`ModernRequest`, no session).
 */
export interface HandlerHost {
  /** The session id (legacy only: a modern context reports none). */
  readonly id: string
  readonly identity: Identity | undefined
  readonly transportKind: TransportKind
  /** Legacy only: a modern context reads its `_meta`. */
  negotiated(): Negotiated
  /** Legacy only: the session's `logging/setLevel` threshold. */
  readonly sessionLogLevel: LoggingLevel | undefined
  _closeStream(id: RequestId): boolean
  _progress(entry: InFlight, progress: number, total?: number, message?: string): void
  _log(level: LoggingLevel, data: unknown, logger: string | undefined, entry: InFlight, modern: ModernRequestContext | undefined): void
  _request(entry: InFlight, modern: ModernRequestContext | undefined, method: string, params: Params | undefined, options?: ServerRequestOptions): Promise<Result>
}

/**
 * Why a modern handler may not ask for this input, or undefined: only the MRTR
 * methods may answer input_required, and "Servers MUST NOT send an inputRequests
 * that the client has not declared support for in its capabilities" (mrtr.mdx).
 */
export const inputRefusal = (requestMethod: string, modern: ModernRequestContext, method: string, params: Params | undefined): McpError | undefined => {
  if (!MRTR_METHODS.has(requestMethod)) {
    return new McpError(ErrorCode.InternalError, `${requestMethod} cannot ask the client for input: MRTR is only for tools/call, resources/read and prompts/get`)
  }
  const missing = missingClientCapabilityFor(modern.clientCapabilities, method, params)
  if (missing === undefined) return undefined
  return new McpError(ErrorCode.MissingRequiredClientCapability, `Missing required client capability: ${missing}`, { requiredCapabilities: capabilityObject([missing]) })
}

/**
 * The handler's view of one request. A class rather than a closure bag: one
 * small allocation per request on the hot path; everything else is lazy.
 */
export class HandlerContext extends ServerRequestShorthands implements RequestContext {
  readonly #session: HandlerHost
  readonly #entry: InFlight
  readonly #modern: ModernRequestContext | undefined
  #negotiated: Negotiated | undefined
  /** MRTR: input requests made so far in this run of the handler (their keys follow call order). */
  #inputs = 0
  #asked: Record<string, InputRequest> | undefined
  constructor(session: HandlerHost, entry: InFlight, modern: ModernRequestContext | undefined) {
    super()
    this.#session = session
    this.#entry = entry
    this.#modern = modern
  }
  get requestId(): RequestId {
    return this.#entry.request.id
  }
  get method(): string {
    return this.#entry.request.method
  }
  get era(): Era {
    return this.#modern ? "modern" : "legacy"
  }
  private get legacy() {
    return this.#negotiated ??= this.#session.negotiated()
  }
  get protocolVersion(): string {
    return this.#modern ? this.#modern.protocolVersion : this.legacy.protocolVersion
  }
  get sessionId(): string | undefined {
    return this.#modern ? undefined : this.#session.id
  }
  get identity(): Identity | undefined {
    return this.#session.identity
  }
  get transport(): TransportKind {
    return this.#session.transportKind
  }
  get clientCapabilities(): ClientCapabilities {
    return this.#modern ? this.#modern.clientCapabilities : this.legacy.clientCapabilities
  }
  get clientInfo(): Implementation | undefined {
    return this.#modern ? this.#modern.clientInfo as Implementation | undefined : this.legacy.clientInfo
  }
  get meta() {
    return this.#entry.request.params?._meta as { readonly [key: string]: unknown } | undefined
  }
  get signal(): AbortSignal {
    return (this.#entry.controller ??= new AbortController()).signal
  }
  closeSSEStream(): boolean {
    return this.#modern ? false : this.#session._closeStream(this.#entry.request.id)
  }
  progress(progress: number, total?: number, message?: string): void {
    this.#session._progress(this.#entry, progress, total, message)
  }
  get logLevel(): LoggingLevel | undefined {
    if (this.#modern === undefined) return this.#session.sessionLogLevel
    return isLoggingLevel(this.#modern.logLevel) ? this.#modern.logLevel : undefined
  }
  log(level: LoggingLevel, data: unknown, logger?: string): void {
    this.#session._log(level, data, logger, this.#entry, this.#modern)
  }
  request(method: string, params?: Params, options?: ServerRequestOptions): Promise<Result> {
    if (this.#modern !== undefined && INPUT_REQUEST_METHODS.has(method)) return this.#input(this.#modern, method, params)
    return this.#session._request(this.#entry, this.#modern, method, params, options)
  }
  get inputResponses(): InputResponses | undefined {
    return this.#entry.inputResponses
  }
  get requestState(): string | undefined {
    return this.#entry.requestState
  }
  inputRequired(input: { readonly inputRequests?: InputRequests; readonly requestState?: string }): never {
    if (this.#modern === undefined) {
      throw new McpError(ErrorCode.InternalError, "inputRequired is for 2026-07-28 requests (MRTR); a legacy session asks with ctx.elicit/createMessage/listRoots")
    }
    throw new InputRequiredSignal({ ...this.#asked, ...input.inputRequests }, input.requestState)
  }
  /** MRTR: the client's answer to this call if the retry carries one, else ask for it (the request ends with input_required). */
  #input(modern: ModernRequestContext, method: string, params: Params | undefined): Promise<Result> {
    const refused = inputRefusal(this.#entry.request.method, modern, method, params)
    if (refused !== undefined) return Promise.reject(refused)
    const key = inputRequestKey(method, ++this.#inputs)
    const responses = this.inputResponses
    // The retry's answers are the client's object: only its own keys count.
    const answer = responses !== undefined && Object.hasOwn(responses, key) ? responses[key] : undefined
    if (answer !== undefined) return Promise.resolve(answer)
    const asked = (this.#asked ??= {})
    asked[key] = params === undefined ? { method } : { method, params }
    // Every pending ask shares `asked`: whichever rejection the handler lets through carries them all.
    return Promise.reject(new InputRequiredSignal(asked, undefined))
  }
}

