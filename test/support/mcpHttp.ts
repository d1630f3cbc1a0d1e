/**
 * Raw Streamable HTTP helpers for tests: POST/GET/DELETE with the headers a
 * well-behaved client sends, an SSE event reader, and a raw `node:http`
 * request for headers `fetch` will not let us set (Host).
 */
import { request as httpRequest } from "node:http"
import { waitFor as poll } from "./waitFor.ts"

export const ACCEPT_BOTH = "application/json, text/event-stream"

export interface SseEvent {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly retry?: number
  readonly comment?: string
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> =>
  fetch(url, {
    method: "POST",
    headers: { accept: ACCEPT_BOTH, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...(signal === undefined ? {} : { signal })
  })

export const get = (url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> =>
  fetch(url, { method: "GET", headers: { accept: "text/event-stream", ...headers }, ...(signal === undefined ? {} : { signal }) })

export const del = (url: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: "DELETE", headers })

export const initializeRequest = (version = "2025-11-25", id: number | string = 0) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } }
})

/** initialize + notifications/initialized; returns the session id and the headers later requests need. */
export const openSession = async (
  url: string,
  version = "2025-11-25",
  extra: Record<string, string> = {}
): Promise<{ readonly sid: string; readonly headers: Record<string, string> }> => {
  const res = await post(url, initializeRequest(version), extra)
  if (res.status !== 200) throw new Error(`initialize answered ${res.status}: ${await res.text()}`)
  const sid = res.headers.get("mcp-session-id")
  if (sid === null) throw new Error("no Mcp-Session-Id on the initialize response")
  const body = await res.json() as { result: { protocolVersion: string } }
  const headers = { ...extra, "mcp-session-id": sid, "mcp-protocol-version": body.result.protocolVersion }
  const ack = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)
  if (ack.status !== 202) throw new Error(`initialized answered ${ack.status}`)
  return { sid, headers }
}

const parseBlock = (block: string): SseEvent => {
  const e: { id?: string; event?: string; data?: string; retry?: number; comment?: string } = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      e.comment = line.slice(1).trim()
      continue
    }
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "id") e.id = value
    else if (field === "event") e.event = value
    else if (field === "retry") e.retry = Number(value)
    else if (field === "data") e.data = e.data === undefined ? value : `${e.data}\n${value}`
  }
  return e
}

/** Reads SSE events one by one from a fetch Response. */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<string>
  private buffer = ""
  private done = false

  constructor(res: Response) {
    this.reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  }

  /** The next event (comments included), or undefined at end of stream. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const idx = this.buffer.indexOf("\n\n")
      if (idx !== -1) {
        const block = this.buffer.slice(0, idx)
        this.buffer = this.buffer.slice(idx + 2)
        return parseBlock(block)
      }
      if (this.done) return undefined
      const r = await this.reader.read()
      if (r.done) this.done = true
      else this.buffer += r.value
    }
  }

  /** The next event that carries a JSON-RPC message, parsed. */
  async nextMessage(): Promise<{ readonly event: SseEvent; readonly message: Record<string, any> } | undefined> {
    for (;;) {
      const e = await this.next()
      if (e === undefined) return undefined
      if (e.data !== undefined && e.data.length > 0) return { event: e, message: JSON.parse(e.data) }
    }
  }

  /** Every remaining event until the server ends the stream. */
  async rest(): Promise<ReadonlyArray<SseEvent>> {
    const out: Array<SseEvent> = []
    for (let e = await this.next(); e !== undefined; e = await this.next()) out.push(e)
    return out
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined)
  }
}

/** A raw request with full control over headers (fetch replaces Host). */
export const rawRequest = (
  url: string,
  options: { readonly method: string; readonly headers: Record<string, string>; readonly body?: string }
): Promise<{ readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: string }> =>
  new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = httpRequest(
      { host: u.hostname, port: u.port, path: u.pathname, method: options.method, headers: options.headers, agent: false },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (body += c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      }
    )
    req.on("error", reject)
    if (options.body !== undefined) req.end(options.body)
    else req.end()
  })

/** Poll until `predicate` holds (real servers only): the shared helper of ./waitFor.ts, positional form. */
export const waitFor = (predicate: () => boolean, timeoutMs = 2_000, what = "condition"): Promise<void> => poll(predicate, { timeoutMs, what })
