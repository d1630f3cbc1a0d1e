/**
 * Fuzzing the Streamable HTTP server: every frame is one POST (legacy, on the
 * window's session, or modern, stateless), sent concurrently with its
 * neighbours unless it changes the session; each answer (status, body) is
 * judged by `httpOracle`. After each group, a sentinel request on the same
 * session must be answered; after each window a new session must be served.
 * Sessions the frames create (initialize) are ended with DELETE.
 */
import { type FrameGen, IdSource, materialize } from "./frames.ts"
import { type HttpExpectation, type HttpOutcome, httpOracle } from "./httpOracle.ts"
import { type Answer, KeepAliveClient } from "./KeepAliveClient.ts"
import type { Window } from "./MessageFuzzer.ts"
import { checkResult, judge, LEGACY_VERSIONS, META_VERSION, type SessionModel } from "./oracle.ts"
import { FuzzFailure, newStats, showFrame } from "./report.ts"

export interface HttpFuzzerOptions {
  readonly url: string
  readonly maxMessageBytes: number
  readonly timeoutMs?: number
  /** POSTs in flight at once. Default 16. */
  readonly concurrency?: number
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const PLAIN = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/
const sameModel = (a: SessionModel, b: SessionModel) => a.phase === b.phase && a.version === b.version
const encodeName = (v: string): string => (PLAIN.test(v) && !/^=\?base64\?.*\?=$/s.test(v) ? v : `=?base64?${Buffer.from(v, "utf8").toString("base64")}?=`)

/** Messages in an answer body: one JSON value, or the `data` of each SSE event. */
const messagesOf = (a: Answer): Array<unknown> => {
  if (a.body.trim() === "") return []
  const ct = String(a.headers["content-type"] ?? "")
  if (ct.includes("text/event-stream")) {
    return a.body.split(/\r?\n\r?\n/).flatMap((block) => {
      const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n")
      return data === "" ? [] : [JSON.parse(data)]
    })
  }
  return [JSON.parse(a.body)]
}

export class HttpFuzzer {
  readonly stats = newStats()
  private readonly options: HttpFuzzerOptions
  private readonly client: KeepAliveClient
  private readonly ids = new IdSource()
  private session: { id: string; model: SessionModel } | undefined
  private readonly deleted = new Set<string>()
  private readonly created: Array<string> = []

  constructor(options: HttpFuzzerOptions) {
    this.options = options
    this.client = new KeepAliveClient({ maxSockets: options.concurrency ?? 16, timeoutMs: options.timeoutMs ?? 15_000 })
  }

  private post(body: Uint8Array, headers: Record<string, string>): Promise<Answer> {
    return this.send("POST", body, headers)
  }

  private send(method: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<Answer> {
    return this.client.request(this.options.url, method, body, headers).finally(() => (this.stats.retried = this.client.retries))
  }

  private baseHeaders(): Record<string, string> {
    return { accept: "application/json, text/event-stream", "content-type": "application/json" }
  }

  private async openSession(version: string, operate: boolean): Promise<{ id: string; model: SessionModel }> {
    const init = { jsonrpc: "2.0", id: "open", method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } }
    const a = await this.post(Buffer.from(JSON.stringify(init)), this.baseHeaders())
    const id = a.headers["mcp-session-id"]
    if (a.status !== 200 || typeof id !== "string") throw new FuzzFailure("http", { why: `a new session is not served: ${a.status} ${a.body.slice(0, 300)}` })
    if (!operate) return { id, model: { phase: "initializing", version } }
    const ack = await this.post(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}'), { ...this.baseHeaders(), "mcp-session-id": id, "mcp-protocol-version": version })
    if (ack.status !== 202) throw new FuzzFailure("http", { why: `initialized answered ${ack.status}` })
    return { id, model: { phase: "operating", version } }
  }

  private async endSession(id: string): Promise<void> {
    const a = await this.send("DELETE", undefined, { "mcp-session-id": id })
    if (a.status !== 200 && a.status !== 404) throw new FuzzFailure("http", { why: `DELETE answered ${a.status}: ${a.body.slice(0, 200)}` })
    this.deleted.add(id)
    if (this.deleted.size > 64) this.deleted.delete(this.deleted.values().next().value!)
  }

  /** Headers for one frame: right for its era, or with one fault picked by `roll`. */
  private headersFor(body: Uint8Array, roll: number): Record<string, string> {
    const s = this.session!
    const h: Record<string, string> = { ...this.baseHeaders(), "mcp-session-id": s.id, "mcp-protocol-version": s.model.version ?? "2025-11-25" }
    let value: unknown
    try {
      value = JSON.parse(Buffer.from(body).toString("utf8"))
    } catch {
      value = undefined
    }
    if (isObject(value)) {
      const params = isObject(value.params) ? value.params : undefined
      const meta = params !== undefined && isObject(params._meta) ? params._meta : undefined
      if (value.method === "server/discover" || (meta !== undefined && Object.hasOwn(meta, META_VERSION))) {
        // A modern request: the headers mirror the body (streamable-http.mdx:L250-L293); no session.
        delete h["mcp-session-id"]
        const v = meta?.[META_VERSION]
        if (typeof v === "string" && PLAIN.test(v)) h["mcp-protocol-version"] = v
        else delete h["mcp-protocol-version"]
        if (typeof value.method === "string" && PLAIN.test(value.method)) h["mcp-method"] = value.method
        const named = value.method === "resources/read" ? params?.uri : params?.name
        if (typeof named === "string") h["mcp-name"] = encodeName(named)
      }
    }
    switch (roll) {
      case 0:
        h.accept = "application/json"
        break
      case 1:
        h["content-type"] = "text/plain"
        break
      case 2:
        h["mcp-protocol-version"] = "2099-01-01"
        break
      case 3:
        delete h["mcp-session-id"]
        break
      case 4:
        h["mcp-session-id"] = "x".repeat(300)
        break
      case 5:
        h["mcp-session-id"] = "AAAAAAAAAAAAAAAAAAAAAA"
        break
      case 6:
        h["mcp-session-id"] = [...this.deleted][0] ?? "BBBBBBBBBBBBBBBBBBBBBB"
        break
      case 7:
        h["mcp-protocol-version"] = "2026-07-28"
        break
      case 8:
        if (h["mcp-method"] !== undefined) h["mcp-method"] = h["mcp-method"] === "ping" ? "tools/list" : "ping"
        break
      case 9:
        if (h["mcp-name"] !== undefined) h["mcp-name"] = "nope"
        break
    }
    return h
  }

  async runWindow(w: Window): Promise<void> {
    const rolls = w.rolls ?? []
    // A session left in the handshake would meet the server's handshake deadline (10 s): replace it.
    if (this.session === undefined || w.fresh || this.session.model.phase !== "operating") {
      if (this.session !== undefined) await this.endSession(this.session.id)
      this.session = await this.openSession(w.version ?? LEGACY_VERSIONS[0], (rolls[0] ?? 50) >= 10)
      this.stats.connections++
    }
    const inFlight: Array<Promise<void>> = []
    const concurrency = this.options.concurrency ?? 16
    for (let i = 0; i < w.frames.length; i++) {
      const gen: FrameGen = w.frames[i]!
      this.stats.frames++
      const m = materialize(gen, this.ids)
      let frames = m.frames
      if (m.heldId !== undefined) {
        // Modern HTTP requests are independent: the slow one is just another POST (its answer is checked).
        const slow = frames[0]!
        inFlight.push(this.post(slow, { ...this.baseHeaders(), "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "slow" }).then((a) => {
          const msg = messagesOf(a)[0]
          const bad = a.status !== 200 || !isObject(msg) ? `status ${a.status}` : checkResult({ t: "echo", text: "waited 40 ms" }, msg.result, true)
          if (bad !== undefined) throw new FuzzFailure("http", { why: `slow request: ${bad}`, got: [a.body.slice(0, 300)] })
        }))
        frames = frames.slice(1)
      }
      for (const body of frames) {
        this.stats.pieces++
        const headers = this.headersFor(body, rolls[i] ?? 50)
        const model = this.session.model
        const exp = httpOracle(body, headers, { sessionId: this.session.id, model, deleted: this.deleted, maxMessageBytes: this.options.maxMessageBytes })
        const barrier = !sameModel(exp.next, model) || exp.outcomes.some((o) => o.next !== undefined && !sameModel(o.next, exp.next))
        if (barrier) {
          await Promise.all(inFlight.splice(0))
          await this.exchange(body, headers, exp, model)
        } else {
          inFlight.push(this.exchange(body, headers, exp, model))
          if (inFlight.length >= concurrency) await Promise.all(inFlight.splice(0))
        }
      }
    }
    await Promise.all(inFlight.splice(0))
    await this.sentinel()
    for (const id of this.created.splice(0)) await this.endSession(id)
    // A new session is still served (and ended again).
    const fresh = await this.openSession("2025-11-25", true)
    await this.endSession(fresh.id)
  }

  private async exchange(body: Uint8Array, headers: Record<string, string>, exp: HttpExpectation, model: SessionModel): Promise<void> {
    let a: Answer
    try {
      a = await this.post(body, headers)
    } catch (e) {
      throw new FuzzFailure("http", { why: `request failed: ${(e as Error).message}`, phase: model, frame: showFrame(body), headers })
    }
    const reasons: Array<string> = []
    for (const o of exp.outcomes) {
      const why = this.match(o, a)
      if (why === undefined) {
        if (process.env["FUZZ_TRACE"] !== undefined) process.stderr.write(`${o.label} ${model.phase} ${JSON.stringify(headers)} ${showFrame(body).slice(0, 300)} -> ${a.status}\n`)
        this.stats.byLabel.set(o.label, (this.stats.byLabel.get(o.label) ?? 0) + 1)
        if (o.createsSession === true) {
          const sid = a.headers["mcp-session-id"]
          if (typeof sid !== "string") throw new FuzzFailure("http", { why: "initialize answered without Mcp-Session-Id", frame: showFrame(body), headers })
          this.created.push(sid)
        }
        if (o.next !== undefined && this.session !== undefined) this.session.model = o.next
        else if (this.session !== undefined) this.session.model = exp.next
        return
      }
      reasons.push(`${o.label}: ${why}`)
    }
    throw new FuzzFailure("http", {
      why: reasons.join("; "),
      phase: model,
      frame: showFrame(body),
      headers,
      expected: exp.outcomes.map((o) => o.label),
      got: [`${a.status} ${a.body.slice(0, 600)}`]
    })
  }

  private match(o: HttpOutcome, a: Answer): string | undefined {
    if (!o.statuses.includes(a.status)) return `status ${a.status}, expected ${o.statuses.join("|")}`
    if (o.body === "empty" || o.body === "any-error") return undefined
    let got: Array<unknown>
    try {
      got = messagesOf(a)
    } catch {
      return `body is not JSON: ${a.body.slice(0, 200)}`
    }
    const verdict = judge({ outcomes: [o.body], next: { phase: "fresh", version: undefined } }, got)
    return verdict.ok ? undefined : verdict.why
  }

  private async sentinel(): Promise<void> {
    const s = this.session!
    const id = this.ids.own("s")
    const echo = s.model.phase === "operating"
    const body = echo
      ? { jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: id } } }
      : { jsonrpc: "2.0", id, method: "ping" }
    const a = await this.post(Buffer.from(JSON.stringify(body)), { ...this.baseHeaders(), "mcp-session-id": s.id, "mcp-protocol-version": s.model.version! })
    const msg = a.status === 200 ? messagesOf(a)[0] : undefined
    const bad = !isObject(msg) || msg.id !== id ? `status ${a.status} ${a.body.slice(0, 300)}` : checkResult(echo ? { t: "echo", text: id } : { t: "empty" }, msg.result, false)
    if (bad !== undefined) throw new FuzzFailure("http", { why: `sentinel failed: ${bad}`, phase: s.model })
  }

  async close(): Promise<void> {
    const s = this.session
    this.session = undefined
    try {
      for (const id of this.created.splice(0)) await this.endSession(id)
      if (s !== undefined) await this.endSession(s.id)
    } finally {
      this.client.destroy()
    }
  }
}
