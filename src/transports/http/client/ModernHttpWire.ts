/**
 * The modern-era (2026-07-28) Streamable HTTP wire of a `ModernClient`
 * (spec-digest §3.B, 2026-07-28/basic/transports/streamable-http.mdx): one
 * POST per request, its response read as JSON or as an SSE stream, and nothing
 * else — no session id, no GET stream, no DELETE, no resumption.
 *
 * - **Headers** (L250-L293). Every POST carries `MCP-Protocol-Version` (taken
 *   from the request's own `_meta` protocol version, so header and body can
 *   never disagree, not even on a -32022 retry with another version),
 *   `Mcp-Method`, and for `tools/call` / `prompts/get` / `resources/read`
 *   `Mcp-Name` (= `params.name` / `params.uri`), with `Accept` listing both
 *   response types (L72-L91). A value that is not plain header-safe ASCII, or
 *   that looks like the sentinel itself, is sent as `=?base64?…?=` (Value
 *   Encoding, L356-L568).
 * - **`x-mcp-header`** (L356-L568: "clients MUST support this feature"). The
 *   wire reads every `tools/list` result it carries: tools whose
 *   `x-mcp-header` annotations break the constraints are removed from the
 *   result (the client "MUST exclude the invalid tool", with a diagnostic), and
 *   the valid annotations are remembered, so a later `tools/call` mirrors the
 *   designated arguments into `Mcp-Param-{Name}` headers (absent or `null`
 *   values are omitted).
 * - **Responses** (L109-L125). A JSON body, or every event of the SSE stream:
 *   notifications (progress, request-scoped logs) reach `onMessage` as they
 *   arrive, before the response; the response ends the exchange (the stream is
 *   closed then — the server SHOULD have ended it anyway). Keep-alive comments
 *   and empty events are skipped by the parser.
 * - **Cancellation** = aborting the POST, which closes the response stream;
 *   the server MUST treat that as cancellation (L235-L240). No
 *   `notifications/cancelled` is ever sent over HTTP (it is stdio-only, L95-L103).
 * - **Errors.** An HTTP error status whose body is a JSON-RPC error answers the
 *   request with that error. Recognised modern errors (-32020, -32021, -32022)
 *   are delivered as the error *response*, so the client's own handling applies
 *   (retry with a supported version, `MissingClientCapability`); any other
 *   JSON-RPC error on an error status (-32602 on 400, -32601 on 404, a legacy
 *   server's -32000 …) fails the request with an `RpcError` carrying the
 *   server's code, and `httpStatusOf(error)` tells the status — a 4xx means the
 *   server refused the request without running it, which a dual-era client
 *   needs to know. A status without a JSON-RPC body fails it with `HttpError`;
 *   a connection lost on the way back, or a stream that ended before the
 *   response, with `ConnectionLost` (2026-07-28: "A broken response stream
 *   loses the in-flight request"; re-issuing it, with a new id, is the
 *   caller's decision: it may have run). A failure to connect fails it with
 *   the `HttpNetworkError` (`reachedServer: false`: nothing was sent).
 *
 * `exchangeModern` (one POST, read to its answer) is exported for the dual-era
 * probe, which needs the raw HTTP status (`connectAutoHttp`).
 */
import type { Agent } from "node:http"
import { ConnectionLost } from "../../../protocol/requestErrors.ts"
import type { ModernWire, WireHandlers } from "../../modernWire.ts"
import { MODERN_ERROR_CODES, rpcErrorOf, type RpcErrorObject } from "../../../protocol/errors.ts"
import { decodeText, invalidResponseError, isObject, isResponseHead, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type RequestId } from "../../../protocol/jsonrpc.ts"
import {
  encodeHeaderValue,
  HEADER_PARAM_PREFIX,
  NAMED_PARAM,
  type ParamHeader,
  paramHeadersOf,
  paramHeaderValue
} from "../../../protocol/mcpHeaders.ts"
import { META_PROTOCOL_VERSION } from "../../../protocol/modern.ts"
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../Transport.ts"
import { HttpError, HttpNetworkError } from "./errors.ts"
import type { HeadersInit } from "./HttpClientTransport.ts"
import { HEADER_PROTOCOL_VERSION, postMessage } from "./HttpExchange.ts"
import { DEFAULT_CONNECT_TIMEOUT_MS, isAbortError, makeAgent } from "./httpRequest.ts"

export const HEADER_METHOD = "mcp-method"
export const HEADER_NAME = "mcp-name"
export { decodeHeaderValue, encodeHeaderValue, HEADER_PARAM_PREFIX, type ParamHeader, paramHeadersOf } from "../../../protocol/mcpHeaders.ts"


/**
 * The request-metadata headers of one modern message: `MCP-Protocol-Version`
 * (from its `_meta`), `Mcp-Method`, `Mcp-Name` when the method has one.
 * A message without a `_meta` version gets no version header (the server then
 * rejects it, as it must any modern request without one).
 */
export const modernHeaders = (message: JsonRpcRequest | JsonRpcNotification): Record<string, string> => {
  const headers: Record<string, string> = { [HEADER_METHOD]: message.method }
  const version = isObject(message.params?._meta) ? message.params._meta[META_PROTOCOL_VERSION] : undefined
  if (typeof version === "string") headers[HEADER_PROTOCOL_VERSION] = version
  const named = NAMED_PARAM.get(message.method)
  const name = named === undefined ? undefined : message.params?.[named]
  if (typeof name === "string") headers[HEADER_NAME] = encodeHeaderValue(name)
  return headers
}

// ---------------------------------------------------------------- one exchange

/**
 * How one modern POST ended:
 * - `Response`: the JSON-RPC response to the request (a result or an error), from a JSON body or the SSE stream;
 * - `Rejected`: an HTTP error status (or an unexpected 2xx type), with the body's JSON-RPC error if it has one;
 * - `NoResponse`: the exchange ended without an answer (202, a stream that ended early, an oversized or answerless body).
 */
export type ModernReply =
  | { readonly _tag: "Response"; readonly status: number; readonly response: JsonRpcResponse }
  | { readonly _tag: "Rejected"; readonly status: number; readonly body: string; readonly rpcError: RpcErrorObject | undefined }
  | { readonly _tag: "NoResponse"; readonly status: number; readonly reason: string; readonly lost: boolean }

export interface ModernExchangeOptions {
  /** Extra headers (authorization, …); the protocol headers always win. */
  readonly headers?: Readonly<Record<string, string>>
  readonly signal?: AbortSignal
  readonly agent?: Agent
  readonly connectTimeoutMs?: number
  readonly maxMessageBytes?: number
  /** Messages that precede the response (notifications; a server→client request, which 2026-07-28 forbids, is passed on too). */
  readonly onMessage?: (message: JsonRpcMessage) => void
  readonly onInvalid?: (detail: string) => void
}

const abortError = (): Error => {
  const e = new Error("aborted")
  e.name = "AbortError"
  return e
}

/**
 * POST one modern request and read its answer. Rejects with an `AbortError`
 * when `signal` aborts (the stream is closed: the server's cue to cancel) and
 * with `HttpNetworkError` when the exchange failed below HTTP.
 */
export const exchangeModern = async (url: URL, request: JsonRpcRequest, options: ModernExchangeOptions = {}): Promise<ModernReply> => {
  const { signal } = options
  /** Set when the stream's answer was over `maxMessageBytes` (discarded unread): the exchange ends with that. */
  let oversizedAnswer: number | undefined
  let answerStream: { close(): void } | undefined
  const outcome = await postMessage(url, request, {
    headers: { ...options.headers, ...modernHeaders(request) },
    ...(signal !== undefined ? { signal } : {}),
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    onOversized: (bytes, head) => {
      options.onInvalid?.(`${request.method}: dropped an oversized SSE event of ${bytes} bytes`)
      // This stream carries one request's answer: an oversized response is it (the server may keep the stream open).
      if (oversizedAnswer === undefined && isResponseHead(head)) {
        oversizedAnswer = bytes
        answerStream?.close()
      }
    }
  })
  const status = outcome.status
  /** One message text: the response to our request ends the exchange; anything before it is passed on. */
  const take = (text: string): JsonRpcResponse | undefined => {
    const d = decodeText(text)
    if (d._tag !== "Message") {
      options.onInvalid?.(`${request.method}: ignored an invalid message: ${text.slice(0, 200)}`)
      // An invalid response to this request ends it with an error now (not at its deadline).
      const failed = invalidResponseError(d)
      return failed !== undefined && failed.id === request.id ? failed : undefined
    }
    const m = d.message
    if ("method" in m) {
      options.onMessage?.(m)
      return undefined
    }
    if (m.id === request.id) return m
    options.onInvalid?.(`${request.method}: ignored a response for another request id (${JSON.stringify(m.id)})`)
    return undefined
  }
  switch (outcome._tag) {
    case "Rejected":
      return { _tag: "Rejected", status, body: outcome.body, rpcError: outcome.rpcError }
    case "Accepted":
      return { _tag: "NoResponse", status, reason: `HTTP ${status} without a body`, lost: false }
    case "TooLarge":
      return { _tag: "NoResponse", status, reason: `the response (${outcome.bytes} bytes) exceeds maxMessageBytes`, lost: false }
    case "Json": {
      for (const frame of outcome.messages) {
        const response = take(frame)
        if (response !== undefined) return { _tag: "Response", status, response }
      }
      return { _tag: "NoResponse", status, reason: "the JSON body did not contain the response", lost: false }
    }
    case "Stream": {
      const { stream } = outcome
      answerStream = stream
      const stop = () => stream.close()
      signal?.addEventListener("abort", stop, { once: true })
      try {
        for await (const event of stream) {
          if (event.type !== "message" || event.data === "") continue
          const response = take(event.data)
          // The final response SHOULD terminate the stream; stop reading either way.
          if (response !== undefined) return { _tag: "Response", status, response }
        }
      } finally {
        signal?.removeEventListener("abort", stop)
        stream.close()
      }
      if (signal?.aborted) throw abortError()
      if (oversizedAnswer !== undefined) return { _tag: "NoResponse", status, reason: `the response (${oversizedAnswer} bytes) exceeds maxMessageBytes`, lost: false }
      return {
        _tag: "NoResponse",
        status,
        reason: stream.endedBy === "end" ? "the response stream ended before the response" : "the response stream broke before the response",
        lost: true
      }
    }
  }
}

// ---------------------------------------------------------------- the wire

/** The HTTP status an `RpcError` or `HttpError` from a {@link ModernHttpWire} was answered with. */
const statuses = new WeakMap<object, number>()

/**
 * The HTTP status of a request failure from a modern HTTP wire: an `RpcError`
 * whose JSON-RPC body came with an error status (4xx: refused, not run), or
 * an `HttpError`. Undefined for anything else (including errors delivered as
 * JSON-RPC responses on 200).
 */
export const httpStatusOf = (error: unknown): number | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  return statuses.get(error) ?? (error instanceof HttpError ? error.status : undefined)
}

/** Options of `ModernHttpWire`: the endpoint, extra headers, limits and the connection pool. */
export interface ModernHttpWireOptions {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3000/mcp`. */
  readonly url: string | URL
  /** Extra headers on every POST (e.g. `authorization`); a function is called per POST. */
  readonly headers?: HeadersInit
  /** Largest JSON body or SSE event accepted. Default 4 MiB. */
  readonly maxMessageBytes?: number
  /** TCP/TLS connect deadline per POST. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** Connection pool; default a keep-alive agent owned (and destroyed on close) by the wire. */
  readonly agent?: Agent
  /** Unreadable or unexpected messages, rejected tool definitions. */
  readonly onDiagnostic?: (text: string) => void
}

interface InFlight {
  readonly request: JsonRpcRequest
  readonly abort: AbortController
}

/**
 * The wire a `ModernClient` uses over Streamable HTTP: one POST per request, with the
 * `Mcp-Method`/`Mcp-Name`/`Mcp-Param-*` headers the modern era requires; cancelling a
 * request closes its response stream. HTTP failures reach the caller as typed errors.
 */
export class ModernHttpWire implements ModernWire {
  readonly kind = "http" as const
  readonly url: URL
  private readonly options: ModernHttpWireOptions
  private readonly agent: Agent
  private readonly ownsAgent: boolean
  private readonly inflight = new Map<RequestId, InFlight>()
  /** `x-mcp-header` annotations per tool name, from the `tools/list` results seen. */
  private readonly paramHeaders = new Map<string, ReadonlyArray<ParamHeader>>()
  private handlers: WireHandlers | undefined
  private closed = false

  constructor(options: ModernHttpWireOptions) {
    this.options = options
    this.url = new URL(options.url)
    this.ownsAgent = options.agent === undefined
    this.agent = options.agent ?? makeAgent(this.url)
  }

  /** POSTs still waiting for their answer. */
  get inFlight(): number {
    return this.inflight.size
  }

  /** The valid `x-mcp-header` annotations learned for `tool` (from `tools/list`). */
  paramHeadersFor(tool: string): ReadonlyArray<ParamHeader> | undefined {
    return this.paramHeaders.get(tool)
  }

  start(handlers: WireHandlers): void {
    if (this.handlers !== undefined) throw new Error("ModernHttpWire: start() called twice")
    this.handlers = handlers
  }

  send(request: JsonRpcRequest): void {
    if (this.closed || this.handlers === undefined) return
    const entry: InFlight = { request, abort: new AbortController() }
    this.inflight.set(request.id, entry)
    void this.run(entry).catch((e: unknown) => this.diagnostic(`internal error: ${e instanceof Error ? e.message : String(e)}`))
  }

  /** Close the request's response stream: the server's signal to cancel it (nothing else is sent). */
  cancel(id: RequestId, _reason: string): void {
    const entry = this.inflight.get(id)
    if (entry === undefined) return
    this.inflight.delete(id)
    entry.abort.abort()
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.closed = true
    for (const entry of this.inflight.values()) entry.abort.abort()
    this.inflight.clear()
    if (this.ownsAgent) this.agent.destroy()
    this.handlers?.onClose({ expected: true, reason: "client closed" })
    return Promise.resolve()
  }

  // ---------------------------------------------------------------- one request

  private async run(entry: InFlight): Promise<void> {
    const { request, abort } = entry
    const method = request.method
    let reply: ModernReply
    try {
      reply = await exchangeModern(this.url, request, {
        headers: { ...(await this.extraHeaders()), ...this.paramHeadersOf(request) },
        signal: abort.signal,
        agent: this.agent,
        ...(this.options.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
        ...(this.options.maxMessageBytes !== undefined ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
        onMessage: (m) => {
          if (!abort.signal.aborted) this.handlers?.onMessage(m)
        },
        onInvalid: (text) => this.diagnostic(text)
      })
    } catch (e) {
      if (abort.signal.aborted || isAbortError(e)) return // cancelled here, or the wire closed
      this.fail(entry, e instanceof HttpNetworkError && !e.reachedServer
        ? e
        : new ConnectionLost({ method, message: `${method}: connection lost before the answer (${e instanceof Error ? e.message : String(e)})` }))
      return
    }
    if (abort.signal.aborted) return
    switch (reply._tag) {
      case "Response":
        return this.deliver(entry, this.filterToolList(method, reply.response))
      case "Rejected": {
        const { rpcError, status } = reply
        const what = `${method}: HTTP ${status}${rpcError ? ` (${rpcError.code} ${rpcError.message})` : snippet(reply.body)}`
        if (rpcError === undefined) {
          return this.fail(entry, new HttpError({ method, status, message: what, ...(reply.body !== "" ? { body: reply.body.slice(0, 512) } : {}) }))
        }
        // The body answers this request (its id may be missing: HTTP already correlates them).
        if (MODERN_ERROR_CODES.has(rpcError.code)) return this.deliver(entry, { jsonrpc: "2.0", id: request.id, error: rpcError })
        const error = rpcErrorOf(method, rpcError)
        statuses.set(error, status)
        return this.fail(entry, error)
      }
      case "NoResponse":
        return this.fail(entry, reply.lost
          ? new ConnectionLost({ method, message: `${method}: ${reply.reason}` })
          : new HttpError({ method, status: reply.status, message: `${method}: ${reply.reason}` }))
    }
  }

  private deliver(entry: InFlight, response: JsonRpcResponse): void {
    if (this.inflight.get(entry.request.id) !== entry) return
    this.inflight.delete(entry.request.id)
    this.handlers?.onMessage(response)
  }

  private fail(entry: InFlight, error: Error): void {
    if (this.inflight.get(entry.request.id) !== entry) return
    this.inflight.delete(entry.request.id)
    if (this.handlers?.onRequestFailed !== undefined) this.handlers.onRequestFailed(entry.request.id, error)
    else this.diagnostic(`${error.message} (the client has no onRequestFailed hook: the request stays pending until its timeout)`)
  }

  private async extraHeaders(): Promise<Readonly<Record<string, string>>> {
    const h = this.options.headers
    return (typeof h === "function" ? await h() : h) ?? {}
  }

  /** `Mcp-Param-{Name}` headers of a `tools/call`, from the tool's annotations (L356-L568, Client Behavior). */
  private paramHeadersOf(request: JsonRpcRequest): Record<string, string> {
    if (request.method !== "tools/call") return {}
    const tool = request.params?.name
    const annotations = typeof tool === "string" ? this.paramHeaders.get(tool) : undefined
    if (annotations === undefined) return {}
    const out: Record<string, string> = {}
    for (const a of annotations) {
      const v = paramHeaderValue(request.params?.arguments, a.path)
      if (v !== undefined) out[`${HEADER_PARAM_PREFIX}${a.name.toLowerCase()}`] = v
    }
    return out
  }

  /** Learn the `x-mcp-header` annotations of a `tools/list` page and drop the tools that break their rules. */
  private filterToolList(method: string, response: JsonRpcResponse): JsonRpcResponse {
    if (method !== "tools/list" || !("result" in response) || !Array.isArray(response.result.tools)) return response
    const kept: Array<unknown> = []
    for (const tool of response.result.tools as ReadonlyArray<unknown>) {
      if (!isObject(tool) || typeof tool.name !== "string") {
        kept.push(tool)
        continue
      }
      const checked = paramHeadersOf(tool.inputSchema)
      if (!checked.ok) {
        this.paramHeaders.delete(tool.name)
        this.diagnostic(`tools/list: excluded tool ${JSON.stringify(tool.name)}: ${checked.reason}`)
        continue
      }
      if (checked.headers.length > 0) this.paramHeaders.set(tool.name, checked.headers)
      else this.paramHeaders.delete(tool.name)
      kept.push(tool)
    }
    if (kept.length === response.result.tools.length) return response
    return { ...response, result: { ...response.result, tools: kept } }
  }

  /** To `onDiagnostic` when given, else to the client's `onInvalid`. */
  private diagnostic(text: string): void {
    if (this.options.onDiagnostic !== undefined) this.options.onDiagnostic(text)
    else this.handlers?.onInvalid?.(text)
  }
}

const snippet = (body: string): string => (body.trim() === "" ? "" : `: ${body.trim().slice(0, 200)}`)

/** A modern wire for the MCP endpoint at `options.url` (see {@link ModernHttpWire}). */
export const makeModernHttpWire = (options: ModernHttpWireOptions): ModernHttpWire => new ModernHttpWire(options)
