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

/**
 * `readBody` with a callback: `done` is called once, from the request's last event
 * (or at once for a declared length over the limit). No promise and no microtask hop
 * per request: the server's POST path.
 */
export const readBodyInto = (req: IncomingMessage, limit: number, done: (body: BodyResult) => void): void => {
  const declared = req.headers["content-length"]
  if (declared !== undefined) {
    const n = Number(declared)
    if (Number.isFinite(n) && n > limit) return done({ _tag: "TooLarge", bytes: n })
  }
  const chunks: Array<Buffer> = []
  let size = 0
  let settled = false
  // The listeners stay: `settled` makes later events no-ops, and they go with the request
  // (removing four listeners per request was measurable under session churn).
  const finish = (r: BodyResult) => {
    if (settled) return
    settled = true
    done(r)
  }
  const onData = (chunk: Buffer) => {
    if (settled) return
    size += chunk.length
    if (size > limit) {
      chunks.length = 0
      req.pause()
      return finish({ _tag: "TooLarge", bytes: size })
    }
    chunks.push(chunk)
  }
  const onEnd = () =>
    finish({ _tag: "Body", text: chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8") })
  const onError = () => finish({ _tag: "Aborted" })
  const onClose = () => {
    if (!req.complete) finish({ _tag: "Aborted" })
  }
  req.on("data", onData)
  req.on("end", onEnd)
  req.on("error", onError)
  req.on("close", onClose)
}
