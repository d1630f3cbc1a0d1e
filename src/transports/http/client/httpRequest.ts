/**
 * One HTTP request on `node:http` / `node:https`, resolving with the response
 * head (the body is read by the caller) or rejecting with a typed
 * {@link HttpNetworkError}.
 *
 * Why not `fetch`: the client owns its connection pool (an `Agent` per
 * transport), so closing a session really releases its sockets — the global
 * `fetch` pool keeps keep-alive sockets open past `close()`, which is a leak
 * for a runtime whose sessions come and go. It also gives the socket-level
 * error codes needed to tell "never reached the server" (safe to send again)
 * from "lost on the way back" (not safe), and a connect deadline without a
 * deadline on the (long-lived) SSE body.
 */
import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, request as plainRequest } from "node:http"
import type { Socket } from "node:net"
import { Agent as HttpsAgent, request as tlsRequest } from "node:https"
import { type Clock, systemClock } from "../../../protocol/clock.ts"
import { HttpNetworkError } from "./errors.ts"

export interface HttpRequestOptions {
  readonly method: "GET" | "POST" | "DELETE"
  readonly headers: OutgoingHttpHeaders
  readonly body?: string
  readonly agent?: HttpAgent
  readonly signal?: AbortSignal
  /** Deadline for the TCP (and TLS) connection; the response itself has none. Default 10 s. */
  readonly connectTimeoutMs?: number
  /** The clock of that deadline (the runtime's one clock; the transport's). Default: the system clock. */
  readonly clock?: Clock
  /** Every socket the request runs on (new or reused), so an owner can wait for them to close. */
  readonly onSocket?: (socket: Socket) => void
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** Errors raised before the connection existed: the request was never sent. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "CONNECT_TIMEOUT"
])

/** A keep-alive agent of the right kind for `url` (each transport owns one and destroys it on close). */
export const makeAgent = (url: URL): HttpAgent =>
  url.protocol === "https:" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })

export const isAbortError = (e: unknown): boolean =>
  typeof e === "object" && e !== null && ((e as { name?: unknown }).name === "AbortError" || (e as { code?: unknown }).code === "ABORT_ERR")

export const httpRequest = (url: URL, options: HttpRequestOptions): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const signal = options.signal
    if (signal?.aborted) return reject(abortError())
    const send = url.protocol === "https:" ? tlsRequest : plainRequest
    const req = send(url, {
      method: options.method,
      headers: options.body === undefined ? options.headers : { ...options.headers, "content-length": Buffer.byteLength(options.body) },
      ...(options.agent !== undefined ? { agent: options.agent } : {}),
      ...(signal !== undefined ? { signal } : {})
    })
    const clock = options.clock ?? systemClock
    let connectTimer: unknown
    let connected = false
    const clearConnectTimer = () => {
      if (connectTimer !== undefined) clock.clearTimeout(connectTimer)
      connectTimer = undefined
    }
    req.on("socket", (socket) => {
      options.onSocket?.(socket)
      if (!socket.connecting) {
        connected = true
        return
      }
      const ms = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
      connectTimer = clock.setTimeout(() => {
        const e = new Error(`connect timed out after ${ms} ms`) as Error & { code: string }
        e.code = "CONNECT_TIMEOUT"
        req.destroy(e)
      }, ms)
      socket.once("connect", () => {
        connected = true
        clearConnectTimer()
      })
    })
    req.on("response", (res) => {
      clearConnectTimer()
      resolve(res)
    })
    req.on("error", (err: Error & { code?: string }) => {
      clearConnectTimer()
      if (isAbortError(err) || signal?.aborted) return reject(abortError())
      const code = err.code ?? "EUNKNOWN"
      reject(
        new HttpNetworkError({
          code,
          reachedServer: connected && !NOT_SENT_CODES.has(code),
          message: `${options.method} ${url.origin}${url.pathname}: ${err.message}`
        })
      )
    })
    req.end(options.body)
  })

const abortError = (): Error => {
  const e = new Error("aborted")
  e.name = "AbortError"
  return e
}

export type BodyText =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "TooLarge"; readonly bytes: number }

/** Read a whole (non-streaming) response body, giving up (and destroying it) past `limit` bytes. */
export const readText = (res: IncomingMessage, limit: number): Promise<BodyText> =>
  new Promise((resolve, reject) => {
    const declared = Number(res.headers["content-length"])
    if (Number.isFinite(declared) && declared > limit) {
      res.destroy()
      return resolve({ _tag: "TooLarge", bytes: declared })
    }
    const chunks: Array<Buffer> = []
    let size = 0
    res.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        chunks.length = 0
        res.destroy()
        resolve({ _tag: "TooLarge", bytes: size })
      } else chunks.push(chunk)
    })
    res.on("end", () => resolve({ _tag: "Text", text: Buffer.concat(chunks, size).toString("utf8") }))
    res.on("error", reject)
    res.on("close", () => {
      if (!res.complete) reject(new HttpNetworkError({ code: "ECONNRESET", reachedServer: true, message: "the connection closed before the body ended" }))
    })
  })

/** Drain and discard a body we do not need, so the socket can go back to the pool. */
export const discard = (res: IncomingMessage): void => {
  res.resume()
  res.on("error", () => {})
}
