/**
 * JSON-RPC 2.0 messages as MCP restricts them: ids are strings or integers, never
 * null (spec-digest §6); a response carries `result` xor `error`; notifications
 * carry no id. Validation is a hand-written decoder on the hot path (one pass,
 * no allocation beyond the result), mirrored by `effect/Schema` definitions in
 * `schemas.ts` that tests prove equivalent; see docs/architecture.md.
 */
import { ErrorCode, type RpcErrorObject, rpcError } from "./errors.ts"

/** A JSON-RPC request id. MCP forbids `null` ids, so only strings and numbers. */
export type RequestId = string | number
/** Request or notification parameters: always an object in MCP, with an optional `_meta`. */
export type Params = { readonly [key: string]: unknown; readonly _meta?: Meta }
export type Meta = { readonly [key: string]: unknown; readonly progressToken?: ProgressToken }
export type ProgressToken = string | number

/** A request: has an `id`, so the peer must answer it. */
export interface JsonRpcRequest {
  readonly jsonrpc: "2.0"
  readonly id: RequestId
  readonly method: string
  readonly params?: Params
}
/** A notification: no `id`, never answered. */
export interface JsonRpcNotification {
  readonly jsonrpc: "2.0"
  readonly method: string
  readonly params?: Params
}
export interface JsonRpcResult {
  readonly jsonrpc: "2.0"
  readonly id: RequestId
  readonly result: { readonly [key: string]: unknown }
}
export interface JsonRpcErrorResponse {
  readonly jsonrpc: "2.0"
  /** Absent (or null on the wire) only when the request id could not be read. */
  readonly id?: RequestId | null
  readonly error: RpcErrorObject
}
/** An answer to a request: a result or an error, never both. */
export type JsonRpcResponse = JsonRpcResult | JsonRpcErrorResponse
/** Any message a transport carries. */
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse
/** The answer to a JSON-RPC batch (2025-03-26 only): the responses of its requests, in one array. */
export type JsonRpcBatchResponse = ReadonlyArray<JsonRpcResponse>

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => "method" in m && "id" in m
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => "method" in m && !("id" in m)
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !("method" in m)
export const isErrorResponse = (m: JsonRpcMessage): m is JsonRpcErrorResponse => "error" in m && !("method" in m)

export const request = (id: RequestId, method: string, params?: Params): JsonRpcRequest =>
  params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }
export const notification = (method: string, params?: Params): JsonRpcNotification =>
  params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params }
export const result = (id: RequestId, value: { readonly [key: string]: unknown }): JsonRpcResult =>
  ({ jsonrpc: "2.0", id, result: value })
export const errorResponse = (id: RequestId | null | undefined, error: RpcErrorObject): JsonRpcErrorResponse =>
  ({ jsonrpc: "2.0", id: id ?? null, error })

/** Outcome of decoding one frame: a message, or the error response to send back. */
export type Decoded =
  | { readonly _tag: "Message"; readonly message: JsonRpcMessage }
  | { readonly _tag: "Batch"; readonly messages: ReadonlyArray<unknown> }
  | {
    readonly _tag: "Invalid"
    readonly reply: JsonRpcErrorResponse | undefined
    /** Set when the frame is a response whose id is readable but whose body is not valid (a `null` result, a malformed error). */
    readonly responseId?: RequestId
  }

const isId = (v: unknown): v is RequestId =>
  typeof v === "string" || (typeof v === "number" && Number.isInteger(v))

/** A JSON object (not null, not an array): what a peer's `params`, `result`, `_meta` or error `data` must be to be read by field. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * Default limit on how deeply a message may nest objects and arrays (the message
 * object itself is level 1, its `params` level 2). Deeper input is refused at decode:
 * recursive code further on (JSON.stringify in an error path, schema validation,
 * a handler) would otherwise exhaust the stack. Real payloads stay far below it:
 * a tools/list result with a JSON schema nested 20 levels deep is about 45.
 */
export const DEFAULT_MAX_NESTING_DEPTH = 100

/**
 * Whether `v` nests objects/arrays more than `limit` levels deep. It never descends
 * past `limit`, so its own recursion is bounded; it visits each node at most once
 * (less than the JSON.parse that made them), and a message of a few primitives
 * costs a handful of property reads.
 */
const deeperThan = (v: unknown, limit: number): boolean =>
  typeof v === "object" && v !== null && deeperNode(v, limit)

// Recurses into objects and arrays only: primitives (most members) cost a typeof, not a call.
const deeperNode = (v: object, limit: number): boolean => {
  if (limit <= 0) return true
  const next = limit - 1
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      if (typeof x === "object" && x !== null && deeperNode(x, next)) return true
    }
    return false
  }
  for (const k in v) {
    const x: unknown = (v as Record<string, unknown>)[k]
    if (typeof x === "object" && x !== null && deeperNode(x, next)) return true
  }
  return false
}

const tooDeep = (maxDepth: number) => `nesting deeper than ${maxDepth} levels`

/**
 * Validate an already-parsed JSON value as one JSON-RPC message.
 * Returns the error response to send when it is not (a reply for an invalid
 * notification is never sent, per JSON-RPC: `reply` is then undefined).
 *
 * `maxDepth` bounds nesting (see {@link DEFAULT_MAX_NESTING_DEPTH}): a request whose
 * `params` go deeper gets -32602 with its id (the envelope is a valid Request, its
 * parameters are not: JSON-RPC 2.0 §5.1); a response whose `result`/`error` goes
 * deeper is -32600; a notification gets no reply. The members are checked, not the
 * message's other keys, which are never read. For a batch, each item is checked
 * when it is decoded.
 */
export const decodeValue = (value: unknown, maxDepth: number = DEFAULT_MAX_NESTING_DEPTH): Decoded => {
  if (Array.isArray(value)) {
    if (value.length === 0) return invalid(null, "Invalid Request: empty batch")
    return { _tag: "Batch", messages: value }
  }
  if (!isObject(value)) return invalid(null, "Invalid Request: a JSON-RPC message must be an object")
  const id = value.id
  const hasId = id !== undefined
  if (value.jsonrpc !== "2.0") return invalid(isId(id) ? id : null, "Invalid Request: jsonrpc must be \"2.0\"")
  const method = value.method
  if (method !== undefined) {
    if (typeof method !== "string" || method.length === 0) {
      return invalid(isId(id) ? id : null, "Invalid Request: method must be a non-empty string")
    }
    const params = value.params
    if (params !== undefined && !isObject(params)) {
      // MCP params are always objects (named parameters).
      return hasId && isId(id)
        ? { _tag: "Invalid", reply: errorResponse(id, rpcError(ErrorCode.InvalidParams, "Invalid params: params must be an object")) }
        : { _tag: "Invalid", reply: hasId ? errorResponse(null, rpcError(ErrorCode.InvalidRequest, "Invalid Request: bad id")) : undefined }
    }
    if (!hasId) {
      if (params !== undefined && deeperThan(params, maxDepth - 1)) return { _tag: "Invalid", reply: undefined }
      return { _tag: "Message", message: value as unknown as JsonRpcNotification }
    }
    if (!isId(id)) return invalid(null, "Invalid Request: id must be a string or an integer (never null)")
    if (params !== undefined && deeperThan(params, maxDepth - 1)) {
      return { _tag: "Invalid", reply: errorResponse(id, rpcError(ErrorCode.InvalidParams, `Invalid params: ${tooDeep(maxDepth)}`)) }
    }
    return { _tag: "Message", message: value as unknown as JsonRpcRequest }
  }
  // A response.
  const hasResult = "result" in value
  const hasError = "error" in value
  if (hasResult === hasError) return invalidResponse(id, "Invalid Request: a response needs exactly one of result and error")
  if (hasResult) {
    if (!isId(id)) return invalid(null, "Invalid Request: response id must be a string or an integer")
    if (!isObject(value.result)) return invalidResponse(id, "Invalid Request: result must be an object")
    if (deeperThan(value.result, maxDepth - 1)) return invalidResponse(id, `Invalid Request: ${tooDeep(maxDepth)}`)
    return { _tag: "Message", message: value as unknown as JsonRpcResult }
  }
  const error = value.error
  if (!isObject(error) || typeof error.code !== "number" || !Number.isInteger(error.code) || typeof error.message !== "string") {
    return invalidResponse(id, "Invalid Request: error must have an integer code and a string message")
  }
  if (id !== undefined && id !== null && !isId(id)) return invalid(null, "Invalid Request: bad response id")
  if (deeperThan(error, maxDepth - 1)) return invalidResponse(id, `Invalid Request: ${tooDeep(maxDepth)}`)
  return { _tag: "Message", message: value as unknown as JsonRpcErrorResponse }
}

const invalid = (id: RequestId | null, message: string): Decoded =>
  ({ _tag: "Invalid", reply: errorResponse(id, rpcError(ErrorCode.InvalidRequest, message)) })

/** An invalid response: as {@link invalid}, remembering its id when readable (its request can then be failed). */
const invalidResponse = (id: unknown, message: string): Decoded =>
  isId(id)
    ? { _tag: "Invalid", reply: errorResponse(id, rpcError(ErrorCode.InvalidRequest, message)), responseId: id }
    : invalid(null, message)

/**
 * What a client makes of an invalid response to one of its requests: an error response
 * with the request's id, so the caller gets a typed error at once instead of waiting out
 * its deadline (a `result: null`, a result that is an array or a string, an error without
 * an integer code). Undefined when the frame is not a response with a readable id.
 */
export const invalidResponseError = (decoded: Decoded): JsonRpcErrorResponse | undefined =>
  decoded._tag === "Invalid" && decoded.responseId !== undefined
    ? errorResponse(decoded.responseId, rpcError(ErrorCode.InvalidRequest, `invalid response from the server: ${decoded.reply?.error.message.replace(/^Invalid Request: /, "") ?? "malformed"}`))
    : undefined

export const parseErrorReply = (detail?: string): JsonRpcErrorResponse =>
  errorResponse(null, rpcError(ErrorCode.ParseError, detail ? `Parse error: ${detail}` : "Parse error: invalid JSON"))

/** Parse and validate one text frame (a stdio line, a WebSocket text frame, an HTTP body). */
export const decodeText = (text: string, maxDepth: number = DEFAULT_MAX_NESTING_DEPTH): Decoded => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return { _tag: "Invalid", reply: parseErrorReply(e instanceof Error ? e.message : undefined) }
  }
  return decodeValue(value, maxDepth)
}

/** The error a client fails its request with when the response to it was too big to read. */
export const oversizedResponseError = (bytes: number, edges: { readonly head: string; readonly tail: string } | undefined): JsonRpcErrorResponse | undefined => {
  const id = edges === undefined ? undefined : oversizedResponseId(edges.head, edges.tail)
  return id === undefined ? undefined : oversizedResponseFailure(id, bytes)
}

/** How request `id` fails when the server's response to it was over the client's `maxMessageBytes`. */
export const oversizedResponseFailure = (id: RequestId, bytes: number): JsonRpcErrorResponse =>
  errorResponse(id, rpcError(ErrorCode.InvalidRequest, `invalid response from the server: ${bytes} bytes, over the client's maxMessageBytes`))

/**
 * Whether an oversized message's first characters show a response (a top-level `result` or
 * `error` before any `method`): on a stream that carries one request's answer (an HTTP POST's),
 * that is the answer, whatever its id.
 */
export const isResponseHead = (head: string): boolean => topLevelPrefix(head).response

/**
 * The id of the response an oversized frame was, read from its two ends (`head`, `tail`: its
 * first and last characters; the middle was never buffered). Only what is certain counts: a
 * top-level `"id"` before the first nested value (`{"jsonrpc":"2.0","id":5,"result":…`), or as
 * the very last member (`…,"jsonrpc":"2.0","id":5}`, the SDK's order), and only once the head
 * shows a top-level `result` or `error`, not a `method` (a request carries an id too).
 */
export const oversizedResponseId = (head: string, tail: string): RequestId | undefined => {
  const top = topLevelPrefix(head)
  if (!top.response) return undefined
  if (top.id !== undefined) return top.id
  const m = /,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/.exec(tail)
  if (m === null) return undefined
  const id: unknown = JSON.parse(m[1]!)
  return isId(id) ? id : undefined
}

const MEMBER = /\s*"((?:[^"\\]|\\.)*)"\s*:\s*/y
const PRIMITIVE = /(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null)\s*([,}])/y

/** The members of a JSON object text's start, up to its first nested value: whether it is a response, and its id. */
const topLevelPrefix = (head: string): { readonly response: boolean; readonly id: RequestId | undefined } => {
  const none = { response: false, id: undefined }
  let i = head.indexOf("{")
  if (i === -1 || head.slice(0, i).trim() !== "") return none
  i++
  let id: RequestId | undefined
  for (;;) {
    MEMBER.lastIndex = i
    const k = MEMBER.exec(head)
    if (k === null) return none
    const key = k[1]
    if (key === "method") return none
    // The big value is nested: its key says what the message is.
    if (key === "result" || key === "error") return { response: true, id }
    PRIMITIVE.lastIndex = MEMBER.lastIndex
    const v = PRIMITIVE.exec(head)
    if (v === null) return none
    if (key === "id") {
      const value: unknown = JSON.parse(v[1]!)
      id = isId(value) ? value : undefined
    }
    if (v[2] === "}") return none
    i = PRIMITIVE.lastIndex
  }
}

/** The answer to a request whose id is taken by one still in flight (ids must be unique among them). */
export const idInFlightReply = (id: RequestId): JsonRpcErrorResponse =>
  errorResponse(id, rpcError(ErrorCode.InvalidRequest, `Invalid Request: request id ${JSON.stringify(id)} is already in flight`))

/** One item of a JSON-RPC batch: a message to handle, or refused with the error that answers it in the batch's array (none for a notification). */
export type BatchItem =
  | { readonly _tag: "Message"; readonly message: JsonRpcMessage }
  | { readonly _tag: "Refused"; readonly reply: JsonRpcErrorResponse | undefined }

/**
 * Decode one item of a batch (2025-03-26): as {@link decodeValue}, and refuse a nested
 * batch, an `initialize` (lifecycle.mdx: it MUST NOT be part of a batch) and a request
 * whose id `inFlight` says is taken (by a request in flight or an earlier item).
 */
export const decodeBatchItem = (item: unknown, maxDepth: number | undefined, inFlight: (id: RequestId) => boolean): BatchItem => {
  // An initialize request is refused for being in a batch before anything else about it (its params) is judged.
  if (isObject(item) && item.jsonrpc === "2.0" && item.method === "initialize" && item.id !== undefined) {
    return { _tag: "Refused", reply: errorResponse(isId(item.id) ? item.id : null, rpcError(ErrorCode.InvalidRequest, "Invalid Request: initialize must not be part of a batch")) }
  }
  const d = decodeValue(item, maxDepth)
  if (d._tag === "Invalid") return { _tag: "Refused", reply: d.reply }
  if (d._tag === "Batch") return { _tag: "Refused", reply: errorResponse(null, rpcError(ErrorCode.InvalidRequest, "Invalid Request: nested batch")) }
  const m = d.message
  if (!("method" in m) || !("id" in m)) {
    // An initialize notification: nothing to answer.
    return "method" in m && m.method === "initialize" ? { _tag: "Refused", reply: undefined } : d
  }
  if (inFlight(m.id)) return { _tag: "Refused", reply: idInFlightReply(m.id) }
  return d
}

/** Serialize for newline-delimited framing: JSON.stringify never emits raw newlines. */
export const encode = (message: JsonRpcMessage | JsonRpcBatchResponse): string => JSON.stringify(message)
