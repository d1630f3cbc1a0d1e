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
 * (the server's POST path). Two listeners, "data" and "end", and no chunk array for
 * a body that arrives in one chunk, as nearly all do.
 *
 * A body the client cuts off never ends: `done` is not called, and there is nothing
 * to answer (the connection is gone, its response with it), so no "close" or "error"
 * listener is needed (an `IncomingMessage` with no "error" listener does not emit its
 * error: node:_http_incoming `onError`). Answering from "data" once `Content-Length`
 * bytes are in was measured slower: node then adds its own "end" listener
 * (`clearIncoming`) to the request to free the parser later.
 */
export const readBodyInto = (req: IncomingMessage, limit: number, done: (body: string | TooLarge) => void): void => {
  const declared = req.headers["content-length"]
  if (declared !== undefined) {
    const n = Number(declared)
    if (Number.isFinite(n) && n > limit) return done({ _tag: "TooLarge", bytes: n })
  }
  let first: Buffer | undefined
  let more: Array<Buffer> | undefined
  let size = 0
  let settled = false
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
  })
  req.on("end", () => {
    if (settled) return
    settled = true
    done(more !== undefined ? Buffer.concat(more, size).toString("utf8") : first !== undefined ? first.toString("utf8") : "")
  })
}
