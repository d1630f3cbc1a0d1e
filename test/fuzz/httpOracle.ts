/**
 * The oracle for one Streamable HTTP POST (spec-digest §3): the HTTP statuses a
 * correct server may answer with, and what the body must then hold (the
 * message oracle's replies, judged the same way). Pure, like `oracle.ts`.
 *
 * Routing, as the client sees it: a body whose `_meta` names a protocol
 * version, a `server/discover`, or an `MCP-Protocol-Version: 2026-07-28`
 * header is a modern (stateless) request; anything else is legacy and, except
 * `initialize`, needs a live `Mcp-Session-Id`.
 *
 * Where several faults meet (headers and body), any of their statuses is
 * accepted; an error body must then carry one of their codes.
 */
import {
  Code,
  depthOf,
  DEPTH_REJECTED,
  type Expectation,
  FRESH,
  LEGACY_VERSIONS,
  META_CAPS,
  META_VERSION,
  MODERN_VERSION,
  type Outcome,
  oracle,
  type RequestId,
  type SessionModel
} from "./oracle.ts"

export interface HttpOutcome {
  readonly statuses: ReadonlyArray<number>
  /** "empty": no JSON-RPC body expected (202, or a refusal whose body is not checked); else the replies. */
  readonly body: "empty" | "any-error" | Outcome
  /** The session after this outcome (legacy frames on the window's session). */
  readonly next?: SessionModel
  /** A valid initialize: the answer carries a new Mcp-Session-Id. */
  readonly createsSession?: boolean
  readonly label: string
}

export interface HttpExpectation {
  readonly outcomes: ReadonlyArray<HttpOutcome>
  readonly next: SessionModel
  readonly modern: boolean
}

export interface HttpContext {
  /** The window's session: its id and what the client knows of it. */
  readonly sessionId: string
  readonly model: SessionModel
  /** Ids of sessions the client ended (DELETE): 404 now. */
  readonly deleted: ReadonlySet<string>
  readonly maxMessageBytes: number
  /** Legacy request ids in flight on the window's session. */
  readonly inFlight?: ReadonlySet<unknown>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const has = (o: object, k: string) => Object.hasOwn(o, k)
const isId = (v: unknown): v is RequestId => typeof v === "string" || (typeof v === "number" && Number.isInteger(v))
const lower = (h: Readonly<Record<string, string>>, name: string): string | undefined => {
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return v
  return undefined
}
const SUPPORTED = new Set<string>([...LEGACY_VERSIONS, MODERN_VERSION])
const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const refusal = (statuses: ReadonlyArray<number>, label: string): HttpOutcome => ({ statuses, body: "empty", label })
const rpc = (status: ReadonlyArray<number>, ids: ReadonlyArray<RequestId | null>, codes: ReadonlyArray<number>): HttpOutcome => ({
  statuses: status,
  body: { replies: [{ t: "error", ids, codes }], label: codes.join("|") },
  label: `${status.join("|")} ${codes.join("|")}`
})

/** Header faults checked before the body is read: 406, 415, 400 (unsupported version), 413. */
const headerFaults = (body: Uint8Array, headers: Readonly<Record<string, string>>, max: number): Array<HttpOutcome> => {
  const out: Array<HttpOutcome> = []
  const accept = (lower(headers, "accept") ?? "").toLowerCase()
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) out.push(refusal([406], "406"))
  const ct = (lower(headers, "content-type") ?? "").split(";")[0]!.trim().toLowerCase()
  if (ct !== "application/json") out.push(refusal([415], "415"))
  const pv = lower(headers, "mcp-protocol-version")
  if (pv !== undefined && !SUPPORTED.has(pv)) out.push(refusal([400], "400 version"))
  if (body.byteLength > max) out.push(refusal([413], "413"))
  return out
}

/** Every acceptable answer to one POST. */
export const httpOracle = (body: Uint8Array, headers: Readonly<Record<string, string>>, ctx: HttpContext): HttpExpectation => {
  const faults = headerFaults(body, headers, ctx.maxMessageBytes)
  const model = ctx.model
  if (faults.length > 0) {
    // Refused before (or instead of) reading the body: any fault's status will do.
    return { outcomes: [refusal([...new Set(faults.flatMap((f) => f.statuses)), 400], faults.map((f) => f.label).join("+"))], next: model, modern: false }
  }
  let text: string | undefined
  try {
    text = fatal.decode(body)
  } catch {
    // Not UTF-8: refused as unparsable, or read with U+FFFD and judged as that text.
    const lenient = httpOracle(Buffer.from(Buffer.from(body).toString("utf8")), headers, ctx)
    return { outcomes: [{ ...rpc([400], [null], [Code.Parse]), next: model }, ...lenient.outcomes], next: lenient.next, modern: lenient.modern }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { outcomes: [rpc([400], [null], [Code.Parse])], next: model, modern: false }
  }
  const pv = lower(headers, "mcp-protocol-version")
  const modern = pv === MODERN_VERSION || (isObject(value) && (value.method === "server/discover" ||
    (isObject(value.params) && isObject(value.params._meta) && has(value.params._meta, META_VERSION))))
  if (modern && isObject(value) && value.method === "initialize" && has(value, "id") && !envelopeFault(value)) {
    // initialize is legacy by definition (spec-digest §0); said in a modern voice it may also be -32601 (404).
    const legacy = legacyPost(body, value, headers, ctx)
    const asModern = modernPost(body, value, headers, ctx).map((o) => ({ ...o, next: model }))
    return { outcomes: [...legacy.outcomes, rpc([404], isId(value.id) ? [value.id] : [null], [Code.MethodNotFound]), ...asModern], next: legacy.next, modern: true }
  }
  if (modern) return { outcomes: modernPost(body, value, headers, ctx), next: model, modern: true }
  return { ...legacyPost(body, value, headers, ctx), modern: false }
}

/** Decode-level verdict of one JSON value (the message oracle on it, in a state where only envelope errors show). */
const envelopeFault = (value: unknown): boolean => {
  if (!isObject(value)) return true
  if (value.jsonrpc !== "2.0") return true
  if (depthOf(value) + 1 >= DEPTH_REJECTED) return true
  if (!has(value, "method")) {
    const r = has(value, "result")
    const e = has(value, "error")
    if (r === e) return true
    if (r) return !isId(value.id) || !isObject(value.result)
    const err = value.error
    return !(isObject(err) && typeof err.code === "number" && Number.isInteger(err.code) && typeof err.message === "string") ||
      !(value.id === undefined || value.id === null || isId(value.id))
  }
  if (typeof value.method !== "string" || value.method === "") return true
  if (has(value, "id") && !isId(value.id)) return true
  return value.params !== undefined && !isObject(value.params)
}

const statusesOf = (o: Outcome): ReadonlyArray<number> =>
  // Legacy: a JSON-RPC error may come with 200 or 400 (the spec fixes neither); a result with 200.
  o.replies.some((r) => r.t === "error") ? [200, 400] : [200]

const legacyPost = (body: Uint8Array, value: unknown, headers: Readonly<Record<string, string>>, ctx: HttpContext): Omit<HttpExpectation, "modern"> => {
  const model = ctx.model
  const sid = lower(headers, "mcp-session-id")
  const sessionFaults: Array<HttpOutcome> = []
  if (sid === undefined || !/^[\x21-\x7e]{1,256}$/.test(sid)) sessionFaults.push(refusal([400], "400 session id"))
  else if (sid !== ctx.sessionId) sessionFaults.push(refusal([404], "404 session"))
  const opts = { maxMessageBytes: ctx.maxMessageBytes, ...(ctx.inFlight ? { inFlight: ctx.inFlight } : {}) }
  if (Array.isArray(value)) {
    if (value.length === 0) return { outcomes: [rpc([400], [null], [Code.InvalidRequest])], next: model }
    if (sessionFaults.length > 0) return { outcomes: sessionFaults, next: model }
    const e = oracle(body, model, opts)
    const outcomes: Array<HttpOutcome> = e.outcomes.map((o) => (o.replies.length === 0 ? { ...refusal([202], "202"), next: o.next ?? e.next } : fromMessage(o, e.next, true)))
    // A batch with an item that cannot be decoded (or an initialize) may be refused whole.
    if (value.some((i) => envelopeFault(i) || (isObject(i) && i.method === "initialize" && has(i, "id")))) {
      outcomes.push({ ...rpc([400], [null], [Code.InvalidRequest, Code.InvalidParams]), next: model })
    }
    return { outcomes, next: e.next }
  }
  if (envelopeFault(value)) {
    const e = oracle(body, FRESH, opts)
    // A notification with bad params has no reply in JSON-RPC; over HTTP it may be 202 or 400.
    return { outcomes: e.outcomes.map((o) => (o.replies.length === 0 ? refusal([202, 400], "202|400") : fromMessage(o, model, true))), next: model }
  }
  const v = value as Record<string, unknown>
  if (v.method === "initialize" && has(v, "id")) {
    // Always a new session, whatever Mcp-Session-Id says.
    const e = oracle(body, FRESH, opts)
    return { outcomes: e.outcomes.map((o) => ({ ...fromMessage(o, model, false), createsSession: o.label === "result" })), next: model }
  }
  if (sessionFaults.length > 0) return { outcomes: sessionFaults, next: model }
  const e = oracle(body, model, opts)
  return {
    outcomes: e.outcomes.map((o) => (o.replies.length === 0 ? { ...refusal([202], "202"), next: o.next ?? e.next } : fromMessage(o, e.next, false))),
    next: e.next
  }
}

/** `next`: the session after the frame unless the outcome says otherwise. */
const fromMessage = (o: Outcome, next: SessionModel, decodeLevel: boolean): HttpOutcome => {
  const statuses = decodeLevel && o.replies.every((r) => r.t === "error") ? [400, 200] : statusesOf(o)
  return { statuses, body: o, next: o.next ?? next, label: `${statuses.join("|")} ${o.label}` }
}

/** 2026-07-28 POST (streamable-http.mdx, spec-digest §3.B). */
const modernPost = (body: Uint8Array, value: unknown, headers: Readonly<Record<string, string>>, ctx: HttpContext): Array<HttpOutcome> => {
  if (!isObject(value)) return [rpc([400], [null], [Code.InvalidRequest])]
  const opts = { maxMessageBytes: ctx.maxMessageBytes }
  const e: Expectation = oracle(body, FRESH, opts)
  if (envelopeFault(value)) {
    return e.outcomes.map((o) => (o.replies.length === 0 ? refusal([202, 400], "202|400") : { statuses: [400], body: o, label: `400 ${o.label}` }))
  }
  if (!has(value, "method")) return [rpc([400], isId(value.id) ? [value.id, null] : [null], [Code.InvalidRequest])]
  const id = has(value, "id") ? value.id as RequestId : undefined
  const ids = id === undefined ? [null] : [id, null]
  const params = isObject(value.params) ? value.params : undefined
  const meta = params !== undefined && isObject(params._meta) ? params._meta : undefined
  const metaVersion = meta?.[META_VERSION]
  const pv = lower(headers, "mcp-protocol-version")
  const faults: Array<HttpOutcome> = []
  // Headers must mirror the body (-32020, 400).
  if (metaVersion !== undefined && metaVersion !== pv) faults.push(rpc([400], ids, [-32020]))
  if (lower(headers, "mcp-method") !== value.method) faults.push(rpc([400], ids, [-32020]))
  const named = value.method === "tools/call" || value.method === "prompts/get" ? "name" : value.method === "resources/read" ? "uri" : undefined
  if (named !== undefined) {
    const h = lower(headers, "mcp-name")
    const decoded = h === undefined ? undefined : decodeName(h)
    if (decoded === undefined || typeof params?.[named] !== "string" || decoded !== params[named]) faults.push(rpc([400], ids, [-32020]))
  }
  if (id === undefined) return faults.length > 0 ? [...faults, refusal([202], "202")] : [refusal([202], "202")]
  // Missing or bad _meta: -32602 / -32022 with 400 (basic/index.mdx:L373-L392).
  if (typeof metaVersion !== "string") faults.push(rpc([400], [id], [Code.InvalidParams]))
  else if (metaVersion !== MODERN_VERSION) faults.push(rpc([400], [id], [Code.UnsupportedVersion]))
  if (meta === undefined || !isObject(meta[META_CAPS])) faults.push(rpc([400], [id], [Code.InvalidParams]))
  const served = e.outcomes.map((o): HttpOutcome => {
    const err = o.replies.find((r) => r.t === "error")
    if (err === undefined || err.t !== "error") return { statuses: [200], body: o, label: `200 ${o.label}` }
    // -32601 → 404 (MUST); the -3202x codes → 400; -32602 → 200 or 400; others 200.
    const statuses = err.codes.flatMap((c) => (c === Code.MethodNotFound ? [404] : c <= -32020 && c >= -32029 ? [400] : c === Code.InvalidParams || c === Code.InvalidRequest ? [200, 400] : [200]))
    return { statuses: [...new Set(statuses)], body: o, label: `${[...new Set(statuses)].join("|")} ${o.label}` }
  })
  if (faults.length === 0) return served
  const codes = new Set<number>()
  const statuses = new Set<number>()
  for (const f of [...faults, ...served.filter((s) => s.body !== "empty" && s.body !== "any-error" && s.body.label !== "result")]) {
    for (const s of f.statuses) statuses.add(s)
    if (f.body !== "empty" && f.body !== "any-error") for (const r of f.body.replies) if (r.t === "error") for (const c of r.codes) codes.add(c)
  }
  return [rpc([...statuses], ids, [...codes])]
}

const decodeName = (v: string): string | undefined => {
  const m = /^=\?base64\?(.*)\?=$/s.exec(v)
  if (m === null) return v
  const bytes = Buffer.from(m[1]!, "base64")
  return bytes.toString("utf8")
}
