/**
 * Read a request body up to a size limit, without ever buffering more than the
 * limit: a `Content-Length` over it is refused before reading, and a chunked
 * body is abandoned as soon as it crosses it (the caller answers 413 and the
 * connection is closed, so the rest is never read).
 */
import type { IncomingMessage } from "node:http"

export type BodyResult =
  | { readonly _tag: "Body"; readonly text: string }
  | { readonly _tag: "TooLarge"; readonly bytes: number }
  | { readonly _tag: "Aborted" }

export const readBody = (req: IncomingMessage, limit: number): Promise<BodyResult> =>
  new Promise((resolve) => readBodyInto(req, limit, resolve))

/** The one "Aborted" result (it carries nothing: no object per request). */
const ABORTED: BodyResult = Object.freeze({ _tag: "Aborted" })

/**
 * `readBody` with a callback: `done` is called once, from the request's last event
 * (or at once for a declared length over the limit). No promise and no microtask hop
 * per request: the server's POST path. Three listeners (data, end, close) and no chunk
 * array for a body that arrives in one chunk, as nearly all do. No "error" listener:
 * a request destroyed with an error emits "close" after it, and an `IncomingMessage`
 * without "error" listeners does not emit its error at all (node:_http_incoming `onError`).
 */
export const readBodyInto = (req: IncomingMessage, limit: number, done: (body: BodyResult) => void): void => {
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
  const onData = (chunk: Buffer) => {
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
  }
  const onEnd = () => {
    if (settled) return
    settled = true
    const text = more !== undefined ? Buffer.concat(more, size).toString("utf8") : first !== undefined ? first.toString("utf8") : ""
    done({ _tag: "Body", text })
  }
  // "close" after a complete body is the normal end of the request; before it, the body was cut off.
  const onClose = () => {
    if (settled || req.complete) return
    settled = true
    done(ABORTED)
  }
  req.on("data", onData)
  req.on("end", onEnd)
  req.on("close", onClose)
}
