/**
 * Read a request body up to a size limit, without ever buffering more than the
 * limit: a `Content-Length` over it is refused before reading, and a chunked
 * body is abandoned as soon as it crosses it (the caller answers 413 and the
 * connection is closed, so the rest is never read).
 */
import type { IncomingMessage } from "node:http"

/** The body was over the limit: `bytes` is the declared length, or what had arrived when it crossed. */
export interface TooLarge {
  readonly _tag: "TooLarge"
  readonly bytes: number
}

/**
 * Read `req`'s body and call `done` once: with its text, or with {@link TooLarge}.
 * A callback, not a promise: no promise, microtask or result object per request
 * (the server's POST path).
 *
 * With a `Content-Length` (what every client sends for a JSON-RPC POST) the body is
 * complete when that many bytes have arrived — llhttp delivers exactly that many — so
 * one "data" listener does: no "end" listener and no wait for the stream's end. Only a
 * chunked body waits for "end". A body cut off by the client never completes: `done` is
 * not called, and there is nothing to answer (the connection is gone; its response
 * goes with it). No chunk array for a body that arrives in one chunk, as nearly all do.
 */
export const readBodyInto = (req: IncomingMessage, limit: number, done: (body: string | TooLarge) => void): void => {
  const declared = req.headers["content-length"]
  let expected = -1
  if (declared !== undefined) {
    const n = Number(declared)
    if (Number.isSafeInteger(n) && n >= 0) {
      if (n > limit) return done({ _tag: "TooLarge", bytes: n })
      if (n === 0) return done("")
      expected = n
    }
  }
  let first: Buffer | undefined
  let more: Array<Buffer> | undefined
  let size = 0
  let settled = false
  const text = () => (more !== undefined ? Buffer.concat(more, size).toString("utf8") : first!.toString("utf8"))
  // The listeners stay: `settled` makes later events no-ops, and they go with the request
  // (removing them per request was measurable under session churn).
  req.on("data", (chunk: Buffer) => {
    if (settled) return
    size += chunk.length
    if (size > limit) {
      first = more = undefined
      req.pause()
      settled = true
      return done({ _tag: "TooLarge", bytes: size })
    }
    if (first === undefined) first = chunk
    else (more ??= [first]).push(chunk)
    if (size === expected) {
      settled = true
      done(text())
    }
  })
  if (expected === -1) {
    req.on("end", () => {
      if (settled) return
      settled = true
      done(first === undefined ? "" : text())
    })
  }
}
