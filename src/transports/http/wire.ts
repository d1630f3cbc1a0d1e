/**
 * Small HTTP helpers shared by the Streamable HTTP server: header parsing
 * (Accept, Content-Type, session ids) and writing JSON / JSON-RPC error bodies.
 *
 * Transport-level errors (bad headers, unknown session, forbidden origin) carry
 * a JSON-RPC error body **without** an `id` (2025-11-25/basic/transports.mdx:L74-L84:
 * "a JSON-RPC error response that has no id"; the MCP schema makes `id` optional,
 * never null). Errors about a request whose id could be read carry that id.
 */
import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from "node:http"
import type { RpcErrorObject } from "../../protocol/errors.ts"
import type { RequestId } from "../../protocol/jsonrpc.ts"

export const HEADER_SESSION_ID = "mcp-session-id"
export const HEADER_PROTOCOL_VERSION = "mcp-protocol-version"
export const HEADER_LAST_EVENT_ID = "last-event-id"
export const HEADER_METHOD = "mcp-method"
export const HEADER_NAME = "mcp-name"

/** A header as one string (Node joins repeated custom headers with ", "; arrays only for set-cookie). */
export const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(", ") : v
}

/** The media types listed in an Accept header, lower-cased, without parameters; `q=0` entries dropped. */
const acceptedTypes = (accept: string | undefined): ReadonlyArray<string> => {
  if (accept === undefined) return []
  // Clients send the same few Accept values on every request: parse each once.
  const cached = acceptCache.get(accept)
  if (cached !== undefined) return cached
  const parsed = parseAccept(accept)
  if (acceptCache.size >= 64) acceptCache.clear() // bounded: a client cannot grow it
  acceptCache.set(accept, parsed)
  return parsed
}
const acceptCache = new Map<string, ReadonlyArray<string>>()

const parseAccept = (accept: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const part of accept.split(",")) {
    const [type, ...params] = part.split(";")
    if (params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p))) continue
    const t = type!.trim().toLowerCase()
    if (t.length > 0) out.push(t)
  }
  return out
}

/**
 * Strict on purpose, like the SDK: the spec says the client MUST *list* these
 * types, and a bare wildcard (the curl and fetch default) is usually a client
 * that does not speak Streamable HTTP.
 */
const accepts = (types: ReadonlyArray<string>, type: string): boolean => types.includes(type)

/** POST: the client MUST list both `application/json` and `text/event-stream` (transports.mdx:L86-L131). */
export const acceptsPostResponses = (req: IncomingMessage): boolean => {
  const types = acceptedTypes(header(req, "accept"))
  return accepts(types, "application/json") && accepts(types, "text/event-stream")
}

/** GET: the client MUST list `text/event-stream` (transports.mdx:L133-L154). */
export const acceptsEventStream = (req: IncomingMessage): boolean =>
  accepts(acceptedTypes(header(req, "accept")), "text/event-stream")

/** `Content-Type: application/json`, any parameters (charset) allowed. */
export const isJsonContentType = (req: IncomingMessage): boolean => {
  const ct = header(req, "content-type")
  if (ct === undefined) return false
  if (ct === "application/json") return true // what nearly every client sends: no allocation
  const semi = ct.indexOf(";")
  return (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase() === "application/json"
}

/** Session ids are visible ASCII only (0x21–0x7E, transports.mdx:L192-L220); ours are 22 base64url chars. */
const SESSION_ID = /^[\x21-\x7e]{1,256}$/
export const isWellFormedSessionId = (id: string): boolean => SESSION_ID.test(id)

/**
 * Extra headers as a flat `[name, value, …]` list, without the ones `writeJson` /
 * `writeEmpty` set themselves (theirs win, as a spread `{ ...headers, own }` did).
 */
const flatHeaders = (headers: OutgoingHttpHeaders, own: ReadonlySet<string>): Array<OutgoingHttpHeader> => {
  const out: Array<OutgoingHttpHeader> = []
  for (const k of Object.keys(headers)) {
    const v = headers[k]
    if (v !== undefined && !own.has(k.toLowerCase())) out.push(k, v)
  }
  return out
}
const JSON_OWN: ReadonlySet<string> = new Set(["content-type", "content-length"])
const EMPTY_OWN: ReadonlySet<string> = new Set(["content-length"])
/** The head of a response with no body and no other header (202 for every notification); `writeHead` only reads it. */
const EMPTY_HEAD: Array<OutgoingHttpHeader> = ["content-length", 0]

/**
 * Write a complete JSON body with an exact Content-Length. The head is a flat
 * `[name, value, …]` list: `writeHead` walks it by index, where an object costs a
 * `for…in` with an own-property check per header (every response passes here).
 */
export const writeJson = (res: ServerResponse, status: number, body: string, headers?: OutgoingHttpHeaders): void => {
  if (res.headersSent || res.destroyed) return
  const length = Buffer.byteLength(body)
  if (headers === undefined) res.writeHead(status, ["content-type", "application/json", "content-length", length])
  else res.writeHead(status, [...flatHeaders(headers, JSON_OWN), "content-type", "application/json", "content-length", length])
  res.end(body)
}

/** A JSON-RPC error body; `id` only when the request id was read. */
export const rpcErrorBody = (error: RpcErrorObject, id?: RequestId | null): string =>
  JSON.stringify(id === undefined || id === null ? { jsonrpc: "2.0", error } : { jsonrpc: "2.0", id, error })

export const writeRpcError = (
  res: ServerResponse,
  status: number,
  error: RpcErrorObject,
  id?: RequestId | null,
  headers?: OutgoingHttpHeaders
): void => writeJson(res, status, rpcErrorBody(error, id), headers)

/** A status with no body (202 Accepted, 204, 405 with Allow, ...). */
export const writeEmpty = (res: ServerResponse, status: number, headers?: OutgoingHttpHeaders): void => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, headers === undefined ? EMPTY_HEAD : [...flatHeaders(headers, EMPTY_OWN), "content-length", 0])
  res.end()
}
