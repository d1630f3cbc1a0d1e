/**
 * The three HTTP exchanges of a Streamable HTTP client, each one request and
 * its classified response — the building blocks of
 * {@link ../HttpClientTransport} and of the modern-era (2026-07-28) client,
 * which sends single POSTs without a session:
 *
 * - {@link postMessage}: POST one JSON-RPC message (2025-11-25/basic/transports.mdx:L86-L131):
 *   202 (`Accepted`), a JSON body (`Json`: one message or a 2025-03-26 batch, as
 *   text frames), an event stream (`Stream`), or an error status (`Rejected`,
 *   with the body's JSON-RPC error when it has one — a modern client inspects
 *   it before falling back to legacy, 2026-07-28/basic/transports/streamable-http.mdx:L650-L737);
 * - {@link openEventStream}: GET the standalone stream or resume one with
 *   `Last-Event-ID` (L133-L190);
 * - {@link deleteSession}: DELETE (L192-L220).
 *
 * Network failures reject with `HttpNetworkError`; an abort rejects with an
 * `AbortError`. Nothing here retries or keeps state: that is the transport's job.
 */
import type { Agent, IncomingHttpHeaders, IncomingMessage } from "node:http"
import type { Socket } from "node:net"
import { StringDecoder } from "node:string_decoder"
import type { Clock } from "../../../protocol/clock.ts"
import type { RpcErrorObject } from "../../../protocol/errors.ts"
import type { JsonRpcMessage } from "../../../protocol/jsonrpc.ts"
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../Transport.ts"
import { discard, httpRequest, readText } from "./httpRequest.ts"
import { type SseEvent, SseParser } from "./SseParser.ts"

export const HEADER_SESSION_ID = "mcp-session-id"
export const HEADER_PROTOCOL_VERSION = "mcp-protocol-version"
export const HEADER_LAST_EVENT_ID = "last-event-id"
export const ACCEPT_POST = "application/json, text/event-stream"
export const ACCEPT_SSE = "text/event-stream"

export interface HttpExchangeOptions {
  /** Extra headers (session id, protocol version, authorization, …). */
  readonly headers?: Readonly<Record<string, string>>
  readonly signal?: AbortSignal
  /** Connection pool; default Node's global agent. */
  readonly agent?: Agent
  readonly connectTimeoutMs?: number
  /** The clock of the connect deadline. Default: the system clock. */
  readonly clock?: Clock
  /** Largest JSON body or SSE event accepted; default 4 MiB. */
  readonly maxMessageBytes?: number
  /** Oversized SSE events (discarded) are reported here. */
  readonly onOversized?: (bytes: number, head: string) => void
  /** Every socket used (see `HttpRequestOptions.onSocket`). */
  readonly onSocket?: (socket: Socket) => void
}

interface Head {
  readonly status: number
  readonly headers: IncomingHttpHeaders
}

export type PostOutcome =
  /** 202: a notification or response was accepted (no body). */
  | Head & { readonly _tag: "Accepted" }
  /** 2xx `application/json`: each JSON-RPC message of the body as text (a batch is split). */
  | Head & { readonly _tag: "Json"; readonly messages: ReadonlyArray<string> }
  /** 2xx `text/event-stream`: read it with `for await` (or `close()` it: until then it holds a socket). */
  | Head & { readonly _tag: "Stream"; readonly stream: SseStream }
  /** An error status (or a 2xx of an unexpected type): the body, and its JSON-RPC error if it is one. */
  | Head & { readonly _tag: "Rejected"; readonly body: string; readonly rpcError: RpcErrorObject | undefined }
  /** A JSON body over `maxMessageBytes` (not read). */
  | Head & { readonly _tag: "TooLarge"; readonly bytes: number }

export type GetOutcome = Extract<PostOutcome, { readonly _tag: "Stream" | "Rejected" }>

/** The media type of a Content-Type header, lower-cased, without parameters. */
export const mediaType = (headers: IncomingHttpHeaders): string => {
  const ct = headers["content-type"] ?? ""
  const semi = ct.indexOf(";")
  return (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase()
}

/** A header as one string. */
export const headerValue = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v.join(", ") : v
}

/** The JSON-RPC error object of an error body, when the body is a JSON-RPC error response. */
export const rpcErrorOf = (body: string): RpcErrorObject | undefined => {
  try {
    const v = JSON.parse(body) as unknown
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined
    const error = (v as { error?: unknown }).error
    if (typeof error !== "object" || error === null) return undefined
    const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown }
    if (typeof code !== "number" || !Number.isInteger(code) || typeof message !== "string") return undefined
    return data === undefined ? { code, message } : { code, message, data }
  } catch {
    return undefined
  }
}

/** Split a JSON body into message texts: an array (a 2025-03-26 batch) gives one frame per element. */
const framesOf = (text: string): ReadonlyArray<string> => {
  const first = text.trimStart().charCodeAt(0)
  if (first !== 91 /* [ */) return [text]
  try {
    const v = JSON.parse(text) as unknown
    return Array.isArray(v) ? v.map((m) => JSON.stringify(m)) : [text]
  } catch {
    return [text] // invalid JSON: the session reports it
  }
}

/**
 * One event stream: iterate it for events. Iteration ends when the stream ends,
 * however it ended (see `endedBy`); it never throws. `close()` stops it early.
 */
export class SseStream implements AsyncIterable<SseEvent> {
  readonly parser: SseParser
  /** How the stream ended: `end` (the server closed it cleanly) or `error` (the connection broke or was closed here). */
  endedBy: "end" | "error" | undefined = undefined
  private readonly res: IncomingMessage

  constructor(res: IncomingMessage, options: { readonly maxEventBytes?: number; readonly onOversized?: (bytes: number, head: string) => void } = {}) {
    this.res = res
    this.parser = new SseParser({
      ...(options.maxEventBytes !== undefined ? { maxEventBytes: options.maxEventBytes } : {}),
      ...(options.onOversized !== undefined ? { onOversized: options.onOversized } : {})
    })
  }

  /** The resumption cursor: the last event id seen on this stream (`""` when none). */
  get lastEventId(): string {
    return this.parser.lastEventId
  }
  /** The reconnection delay the server asked for with `retry:`, if any. */
  get retryMs(): number | undefined {
    return this.parser.retryMs
  }

  close(): void {
    this.res.destroy()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SseEvent> {
    const decoder = new StringDecoder("utf8")
    try {
      for await (const chunk of this.res as AsyncIterable<Buffer>) {
        for (const event of this.parser.push(decoder.write(chunk))) yield event
      }
      const rest = decoder.end()
      for (const event of this.parser.push(rest)) yield event
      this.endedBy = "end"
    } catch {
      this.endedBy = "error"
    } finally {
      this.parser.end()
      if (this.endedBy === undefined) this.endedBy = "error" // the consumer stopped early
      this.res.destroy()
    }
  }
}

const requestHeaders = (accept: string, options: HttpExchangeOptions, json: boolean): Record<string, string> => ({
  ...options.headers,
  accept,
  ...(json ? { "content-type": "application/json" } : {})
})

const classify = async (res: IncomingMessage, options: HttpExchangeOptions, allowJson: boolean): Promise<PostOutcome> => {
  const head = { status: res.statusCode ?? 0, headers: res.headers }
  const limit = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const type = mediaType(res.headers)
  if (head.status >= 200 && head.status < 300) {
    if (type === "text/event-stream") {
      return {
        ...head,
        _tag: "Stream",
        stream: new SseStream(res, { maxEventBytes: limit, ...(options.onOversized !== undefined ? { onOversized: options.onOversized } : {}) })
      }
    }
    if (head.status === 202 || (head.status === 204 && allowJson)) {
      discard(res)
      return { ...head, _tag: "Accepted" }
    }
    if (allowJson && type === "application/json") {
      const body = await readText(res, limit)
      if (body._tag === "TooLarge") return { ...head, _tag: "TooLarge", bytes: body.bytes }
      return { ...head, _tag: "Json", messages: framesOf(body.text) }
    }
  }
  const body = await readText(res, 64 * 1024).catch(() => ({ _tag: "Text" as const, text: "" }))
  const text = body._tag === "Text" ? body.text : ""
  return { ...head, _tag: "Rejected", body: text, rpcError: rpcErrorOf(text) }
}

/** POST one JSON-RPC message (already serialized, or a message to serialize). */
export const postMessage = async (url: URL, message: JsonRpcMessage | string, options: HttpExchangeOptions = {}): Promise<PostOutcome> => {
  const res = await httpRequest(url, {
    method: "POST",
    headers: requestHeaders(ACCEPT_POST, options, true),
    body: typeof message === "string" ? message : JSON.stringify(message),
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.onSocket !== undefined ? { onSocket: options.onSocket } : {})
  })
  return classify(res, options, true)
}

/** GET an event stream: the standalone stream, or a resumption when `lastEventId` is given. */
export const openEventStream = async (url: URL, options: HttpExchangeOptions & { readonly lastEventId?: string } = {}): Promise<GetOutcome> => {
  const headers = requestHeaders(ACCEPT_SSE, options, false)
  if (options.lastEventId !== undefined && options.lastEventId !== "") headers[HEADER_LAST_EVENT_ID] = options.lastEventId
  const res = await httpRequest(url, {
    method: "GET",
    headers,
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.onSocket !== undefined ? { onSocket: options.onSocket } : {})
  })
  const outcome = await classify(res, options, false)
  return outcome._tag === "Stream" || outcome._tag === "Rejected"
    ? outcome
    : { status: outcome.status, headers: outcome.headers, _tag: "Rejected", body: "", rpcError: undefined }
}

/** DELETE the session; resolves with the status (405: the server does not let clients end sessions). */
export const deleteSession = async (url: URL, options: HttpExchangeOptions = {}): Promise<number> => {
  const res = await httpRequest(url, {
    method: "DELETE",
    headers: { ...options.headers },
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.onSocket !== undefined ? { onSocket: options.onSocket } : {})
  })
  discard(res)
  return res.statusCode ?? 0
}
