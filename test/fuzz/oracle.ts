/**
 * The fuzzing oracle: given one frame (the raw bytes a client sends) and what
 * the client knows of its session, the replies a correct mcp-actors demo server
 * (`examples/demo.ts`) must give — written from the spec (spec-digest §2, §6),
 * not from the server's code. Pure: no I/O, no clock.
 *
 * Where the spec leaves a choice (several faults in one frame, a code the spec
 * does not fix), the oracle lists every acceptable outcome; a frame passes when
 * the server's replies match one of them.
 *
 * Policy choices the oracle pins (documented server behaviour, all consistent
 * with the spec):
 * - before `initialize`, only `ping` (and modern requests) are served; other
 *   requests get -32600 (or -32601 when the method does not exist at all);
 * - between the initialize response and `notifications/initialized`, requests
 *   get -32600 (the "reject" early-request policy);
 * - a message nested deeper than {@link DEPTH_REJECTED} is refused at decode
 *   (-32600 for the message or -32602 for its params); one of at most
 *   {@link DEPTH_SERVED} levels is served normally (the limit lies between);
 * - invalid UTF-8 may be refused (-32700) or decoded with U+FFFD replacements
 *   (what `Buffer#toString` does), then judged as that text;
 * - blank lines on stdio are ignored.
 */

export type RequestId = string | number

/** What the client knows of the (legacy) session on this connection. */
export interface SessionModel {
  readonly phase: "fresh" | "initializing" | "operating"
  /** The negotiated legacy version once `initialize` was answered. */
  readonly version: string | undefined
}
export const FRESH: SessionModel = { phase: "fresh", version: undefined }

/** A check on a successful result (`result` member). */
export type ResultCheck =
  | { readonly t: "empty" }
  | { readonly t: "echo"; readonly text: string }
  | { readonly t: "toolError" }
  | { readonly t: "init"; readonly version: string }
  | { readonly t: "list"; readonly key: string; readonly field: "name" | "uri" | "uriTemplate"; readonly includes: string }
  | { readonly t: "read"; readonly uri: string; readonly text: string }
  | { readonly t: "prompt"; readonly text: string }
  | { readonly t: "completion" }
  | { readonly t: "discover" }

export type ReplyExpect =
  | { readonly t: "error"; readonly ids: ReadonlyArray<RequestId | null>; readonly codes: ReadonlyArray<number> }
  | { readonly t: "result"; readonly id: RequestId; readonly check: ResultCheck; readonly modern: boolean }
  /** One JSON array (a 2025-03-26 batch answer); each item lists its acceptable replies (empty: no reply). */
  | { readonly t: "batch"; readonly items: ReadonlyArray<ReadonlyArray<Outcome>> }

/** One acceptable outcome: exactly these replies (any order), nothing else. */
export interface Outcome {
  readonly replies: ReadonlyArray<ReplyExpect>
  /** For reports: "none", "result", "-32600", … */
  readonly label: string
  /** The session after this outcome when it differs from {@link Expectation.next}. */
  readonly next?: SessionModel
}

export interface Expectation {
  readonly outcomes: ReadonlyArray<Outcome>
  /** The session after this frame (every outcome leads to the same one). */
  readonly next: SessionModel
}

export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const
export const LATEST_LEGACY = "2025-11-25"
export const MODERN_VERSION = "2026-07-28"
export const META_VERSION = "io.modelcontextprotocol/protocolVersion"
export const META_CAPS = "io.modelcontextprotocol/clientCapabilities"

/** Served normally up to this depth (the message object is depth 1). */
export const DEPTH_SERVED = 64
/** Refused at decode from this depth on. */
export const DEPTH_REJECTED = 1_000

export const Code = {
  Parse: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  ResourceNotFound: -32002,
  UnsupportedVersion: -32022
} as const

const DEMO_TOOLS = ["echo", "count", "log", "slow"]
const LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
/** Methods the demo server serves to a legacy client (plus ping and initialize). */
const LEGACY_METHODS = new Set([
  "tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list", "resources/subscribe",
  "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel"
])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const has = (o: object, k: string): boolean => Object.hasOwn(o, k)
const isId = (v: unknown): v is RequestId => typeof v === "string" || (typeof v === "number" && Number.isInteger(v))

const none: Outcome = { replies: [], label: "none" }
const err = (ids: ReadonlyArray<RequestId | null>, codes: ReadonlyArray<number>): Outcome => ({
  replies: [{ t: "error", ids, codes }],
  label: codes.join("|")
})
const ok = (id: RequestId, check: ResultCheck, modern: boolean): Outcome => ({ replies: [{ t: "result", id, check, modern }], label: "result" })
const stay = (model: SessionModel, ...outcomes: Array<Outcome>): Expectation => ({ outcomes, next: model })

/** Nesting depth of a parsed JSON value (a scalar is 0), without recursion. */
export const depthOf = (root: unknown): number => {
  let max = 0
  const stack: Array<[unknown, number]> = [[root, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== "object" || v === null) {
      if (d > max) max = d
      continue
    }
    const children = Array.isArray(v) ? v : Object.values(v)
    if (children.length === 0 && d + 1 > max) max = d + 1
    for (const c of children) stack.push([c, d + 1])
  }
  return max
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }) // a BOM is part of the text (JSON.parse refuses it)

export interface OracleOptions {
  /** Frames over this many bytes are refused unread (-32600, id null). */
  readonly maxMessageBytes: number
  /** stdio: blank lines are not messages. */
  readonly ignoreBlank?: boolean
  /** Request ids still in flight on this connection (a request reusing one gets -32600). */
  readonly inFlight?: ReadonlySet<unknown>
}

/**
 * The expectation for one frame (a stdio line without its newline, a WebSocket
 * text frame, an HTTP body) on a connection whose session is `model`.
 */
export const oracle = (frame: Uint8Array, model: SessionModel, options: OracleOptions): Expectation => {
  if (frame.byteLength > options.maxMessageBytes) return stay(model, err([null], [Code.InvalidRequest]))
  let text: string
  try {
    text = fatalUtf8.decode(frame)
  } catch {
    // Not UTF-8: refused as unparsable, or decoded leniently and judged as that text.
    const lenient = Buffer.from(frame).toString("utf8")
    const judged = textOracle(lenient, model, options)
    return { outcomes: [{ ...err([null], [Code.Parse]), next: model }, ...judged.outcomes], next: judged.next }
  }
  return textOracle(text, model, options)
}

export const textOracle = (text: string, model: SessionModel, options: OracleOptions): Expectation => {
  if (options.ignoreBlank === true && text.trim() === "") return stay(model, none)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return stay(model, err([null], [Code.Parse]))
  }
  const tooDeepFrame = depthOf(value) >= DEPTH_REJECTED
  if (Array.isArray(value)) {
    const b = batch(value, model, options)
    // A batch with a too-deep item: refused whole, or that item alone.
    return tooDeepFrame ? { outcomes: [...tooDeep(value).map((o) => ({ ...o, next: model })), ...b.outcomes], next: b.next } : b
  }
  if (tooDeepFrame) return stay(model, ...tooDeep(value))
  return message(value, model, false, options)
}

/** A message refused for its depth: -32600 (message) or -32602 (params); a notification may also go unanswered. */
const tooDeep = (value: unknown): Array<Outcome> => {
  const id = isObject(value) && isId(value.id) ? value.id : undefined
  const ids = id === undefined ? [null] : [id, null]
  const outcomes = [err(ids, [Code.InvalidRequest, Code.InvalidParams])]
  if (isObject(value) && !has(value, "id")) outcomes.push(none)
  return outcomes
}

const batch = (items: ReadonlyArray<unknown>, model: SessionModel, options: OracleOptions): Expectation => {
  // JSON-RPC batches exist only in 2025-03-26 (spec-digest §6); an empty one is invalid anyway.
  if (items.length === 0 || model.phase === "fresh" || model.version !== "2025-03-26") {
    return stay(model, err([null], [Code.InvalidRequest]))
  }
  let next = model
  const perItem: Array<ReadonlyArray<Outcome>> = []
  for (const item of items) {
    if (Array.isArray(item)) {
      perItem.push([err([null], [Code.InvalidRequest])])
      continue
    }
    if (isObject(item) && item.method === "initialize" && has(item, "id") && item.jsonrpc === "2.0") {
      // 2025-03-26/basic/lifecycle.mdx: initialize MUST NOT be part of a batch.
      perItem.push([err(isId(item.id) ? [item.id, null] : [null], [Code.InvalidRequest])])
      continue
    }
    if (depthOf(item) + 1 >= DEPTH_REJECTED) {
      perItem.push(tooDeep(item))
      continue
    }
    const e = message(item, next, true, options)
    next = e.next
    perItem.push(e.outcomes)
  }
  // Only notifications (or responses) inside: nothing to answer (JSON-RPC 2.0 §6).
  if (perItem.every((alts) => alts.every((o) => o.replies.length === 0))) return { outcomes: [none], next }
  const answer: Outcome = { replies: [{ t: "batch", items: perItem }], label: "batch" }
  // Every item may go unanswered (e.g. a notification refused for its depth): then so may the batch
  // (fuzz seed 424242, path 1580).
  const maySilence = perItem.every((alts) => alts.some((o) => o.replies.length === 0))
  return { outcomes: maySilence ? [answer, none] : [answer], next }
}

/** One JSON value that is not an array. */
const message = (value: unknown, model: SessionModel, inBatch: boolean, options: OracleOptions): Expectation => {
  if (!isObject(value)) return stay(model, err([null], [Code.InvalidRequest]))
  const hasId = has(value, "id")
  const id = value.id
  const echo = isId(id) ? [id] : [null]
  if (value.jsonrpc !== "2.0") return stay(model, err(isId(id) ? [id, null] : [null], [Code.InvalidRequest]))
  if (!has(value, "method")) return response(value, model)
  const method = value.method
  if (typeof method !== "string" || method === "") return stay(model, err(isId(id) ? [id, null] : [null], [Code.InvalidRequest]))
  if (hasId && !isId(id)) return stay(model, err([null], [Code.InvalidRequest]))
  const params = value.params
  // An invalid notification is not answered, and not acted on either.
  if (!hasId) return params !== undefined && !isObject(params) ? stay(model, none) : notification(method, params, model)
  const normal = params !== undefined && !isObject(params)
    ? stay(model, err(echo, [Code.InvalidParams]))
    : request(id as RequestId, method, params as Record<string, unknown> | undefined, model, inBatch)
  if (options.inFlight?.has(id) !== true) return normal
  // Ids are unique among in-flight requests: a reused one is refused (-32600), or for its other faults.
  const codes = new Set<number>([Code.InvalidRequest])
  for (const o of normal.outcomes) for (const r of o.replies) if (r.t === "error") for (const c of r.codes) codes.add(c)
  return stay(model, err([id as RequestId], [...codes]))
}

/** A client→server response: accepted silently when well-formed (to an id nobody asked), else -32600. */
const response = (value: Record<string, unknown>, model: SessionModel): Expectation => {
  const id = value.id
  const ids = isId(id) ? [id, null] : [null]
  const hasResult = has(value, "result")
  const hasError = has(value, "error")
  if (hasResult === hasError) return stay(model, err(ids, [Code.InvalidRequest]))
  if (hasResult) return stay(model, isId(id) && isObject(value.result) ? none : err(ids, [Code.InvalidRequest]))
  const e = value.error
  const wellFormed = isObject(e) && typeof e.code === "number" && Number.isInteger(e.code) && typeof e.message === "string" &&
    (id === undefined || id === null || isId(id))
  return stay(model, wellFormed ? none : err(ids, [Code.InvalidRequest]))
}

const notification = (method: string, _params: unknown, model: SessionModel): Expectation => {
  // Notifications are never answered, whatever they carry (JSON-RPC 2.0 §4.1).
  if (method === "notifications/initialized" && model.phase === "initializing") {
    return { outcomes: [none], next: { phase: "operating", version: model.version } }
  }
  return stay(model, none)
}

/** Modern iff `_meta` names a protocol version (spec-digest §0), or the method exists only there. */
const isModern = (method: string, params: Record<string, unknown> | undefined): boolean =>
  method !== "initialize" && (method === "server/discover" || (params !== undefined && isObject(params._meta) && has(params._meta, META_VERSION)))

const request = (
  id: RequestId,
  method: string,
  params: Record<string, unknown> | undefined,
  model: SessionModel,
  inBatch: boolean
): Expectation => {
  if (isModern(method, params)) return stay(model, ...modernRequest(id, method, params))
  if (method === "ping") return stay(model, ok(id, { t: "empty" }, false))
  if (method === "initialize") {
    if (model.phase !== "fresh" || inBatch) return stay(model, err([id], [Code.InvalidRequest]))
    if (!validInitialize(params)) return stay(model, err([id], [Code.InvalidParams]))
    const requested = params!.protocolVersion as string
    const version = (LEGACY_VERSIONS as ReadonlyArray<string>).includes(requested) ? requested : LATEST_LEGACY
    return { outcomes: [ok(id, { t: "init", version }, false)], next: { phase: "initializing", version } }
  }
  if (model.phase !== "operating") {
    const codes = LEGACY_METHODS.has(method) ? [Code.InvalidRequest] : [Code.InvalidRequest, Code.MethodNotFound]
    return stay(model, err([id], codes))
  }
  return stay(model, ...methodOutcomes(id, method, params, false))
}

const validInitialize = (p: Record<string, unknown> | undefined): boolean => {
  if (p === undefined) return false
  const info = p.clientInfo
  return typeof p.protocolVersion === "string" && isObject(p.capabilities) && isObject(info) &&
    typeof info.name === "string" && typeof info.version === "string"
}

const modernRequest = (id: RequestId, method: string, params: Record<string, unknown> | undefined): Array<Outcome> => {
  const meta = params !== undefined && isObject(params._meta) ? params._meta : undefined
  const version = meta?.[META_VERSION]
  const faults: Array<number> = []
  if (typeof version !== "string") faults.push(Code.InvalidParams)
  else if (version !== MODERN_VERSION) faults.push(Code.UnsupportedVersion)
  if (meta === undefined || !isObject(meta[META_CAPS])) faults.push(Code.InvalidParams)
  const served = (() => {
    if (method === "server/discover") return [ok(id, { t: "discover" }, true)]
    // Removed in 2026-07-28 (changelog items 4-5).
    if (method === "ping" || method === "logging/setLevel" || method === "resources/subscribe" || method === "resources/unsubscribe") {
      return [err([id], [Code.MethodNotFound])]
    }
    return methodOutcomes(id, method, params, true)
  })()
  if (faults.length === 0) return served
  // Several faults: any of their codes will do.
  const codes = new Set(faults)
  for (const o of served) for (const r of o.replies) if (r.t === "error") for (const c of r.codes) codes.add(c)
  return [err([id], [...codes])]
}

/** What an operating session (or a modern request with good `_meta`) answers. */
const methodOutcomes = (id: RequestId, method: string, params: Record<string, unknown> | undefined, modern: boolean): Array<Outcome> => {
  const p = params ?? {}
  const bad = [err([id], [Code.InvalidParams])]
  const cursorBad = p.cursor !== undefined
  const result = (check: ResultCheck) => [ok(id, check, modern)]
  switch (method) {
    case "tools/list":
      return cursorBad ? bad : result({ t: "list", key: "tools", field: "name", includes: "echo" })
    case "prompts/list":
      return cursorBad ? bad : result({ t: "list", key: "prompts", field: "name", includes: "greet" })
    case "resources/list":
      return cursorBad ? bad : result({ t: "list", key: "resources", field: "uri", includes: "demo://readme" })
    case "resources/templates/list":
      return cursorBad ? bad : result({ t: "list", key: "resourceTemplates", field: "uriTemplate", includes: "demo://greeting/{name}" })
    case "tools/call": {
      const name = p.name
      if (typeof name !== "string" || !DEMO_TOOLS.includes(name)) return bad
      const args = p.arguments
      if (args !== undefined && args !== null && !isObject(args)) return bad
      if (name !== "echo") throw new Error(`the fuzzer calls only echo, not ${name}`)
      const text = isObject(args) ? args.text : undefined
      const outcome = typeof text === "string" ? result({ t: "echo", text }) : result({ t: "toolError" })
      // `arguments: null` is not an object: refusing it is as right as reading it as {}.
      return args === null ? [...outcome, ...bad] : outcome
    }
    case "prompts/get": {
      if (p.name !== "greet") return bad
      const args = p.arguments
      if (args !== undefined && args !== null && !isObject(args)) return bad
      // Prompt arguments are strings (GetPromptRequest.arguments: { [key]: string }).
      if (isObject(args) && Object.values(args).some((v) => typeof v !== "string")) return bad
      const arg = isObject(args) ? args.name : undefined
      if (typeof arg !== "string") return bad
      // `arguments: null` is not an object: refusing it is as right as reading it as {}.
      return result({ t: "prompt", text: `Please greet ${arg}.` })
    }
    case "resources/read": {
      const uri = p.uri
      if (typeof uri !== "string") return bad
      if (uri === "demo://readme") return result({ t: "read", uri, text: "mcp-actors demo server" })
      const m = /^demo:\/\/greeting\/([^/?#]+)$/.exec(uri)
      if (m !== null) {
        let name: string
        try {
          name = decodeURIComponent(m[1]!)
        } catch {
          return bad // a malformed percent-encoding is a bad parameter, not an internal error
        }
        return result({ t: "read", uri, text: `Hello, ${name}!` })
      }
      // Legacy: -32002 (2025-11-25/server/resources.mdx:L388); 2026-07-28: -32602.
      return [err([id], [modern ? Code.InvalidParams : Code.ResourceNotFound])]
    }
    case "resources/subscribe":
    case "resources/unsubscribe":
      return typeof p.uri === "string" ? result({ t: "empty" }) : bad
    case "logging/setLevel":
      return typeof p.level === "string" && LEVELS.includes(p.level) ? result({ t: "empty" }) : bad
    case "completion/complete": {
      const ref = p.ref
      const arg = p.argument
      if (!isObject(ref) || typeof ref.type !== "string" || !isObject(arg) || typeof arg.name !== "string" || typeof arg.value !== "string") return bad
      return result({ t: "completion" })
    }
    default:
      return [err([id], [Code.MethodNotFound])]
  }
}

// ---------------------------------------------------------------- matching

export type Wire = { readonly [key: string]: unknown } | ReadonlyArray<unknown>

const sameId = (a: unknown, b: unknown): boolean => a === b

/** Why `result` fails `check`, or undefined. */
export const checkResult = (check: ResultCheck, result: unknown, modern: boolean): string | undefined => {
  if (!isObject(result)) return "result is not an object"
  if (modern && result.resultType !== "complete") return `modern result without resultType "complete": ${JSON.stringify(result.resultType)}`
  const content = Array.isArray(result.content) ? result.content as Array<Record<string, unknown>> : undefined
  switch (check.t) {
    case "empty": {
      const keys = Object.keys(result).filter((k) => !(modern && (k === "resultType" || k === "_meta")))
      return keys.length === 0 ? undefined : `expected an empty result, got keys ${keys.join(",")}`
    }
    case "echo":
      return result.isError !== true && content?.[0]?.type === "text" && content[0].text === check.text
        ? undefined
        : `expected echo of ${JSON.stringify(check.text).slice(0, 80)}`
    case "toolError":
      return result.isError === true && content?.[0]?.type === "text" ? undefined : "expected a tool error (isError: true)"
    case "init":
      return result.protocolVersion === check.version && isObject(result.serverInfo) && isObject(result.capabilities)
        ? undefined
        : `expected initialize result for ${check.version}`
    case "list": {
      const list = result[check.key]
      return Array.isArray(list) && list.some((x) => isObject(x) && x[check.field] === check.includes)
        ? undefined
        : `expected ${check.key} listing ${check.includes}`
    }
    case "read": {
      const c = Array.isArray(result.contents) ? result.contents[0] : undefined
      return isObject(c) && c.uri === check.uri && c.text === check.text ? undefined : `expected contents ${JSON.stringify(check.text)}`
    }
    case "prompt": {
      const m = Array.isArray(result.messages) ? result.messages[0] : undefined
      return isObject(m) && isObject(m.content) && m.content.text === check.text ? undefined : `expected prompt ${JSON.stringify(check.text)}`
    }
    case "completion":
      return isObject(result.completion) && Array.isArray(result.completion.values) ? undefined : "expected a completion"
    case "discover":
      return Array.isArray(result.supportedVersions) && result.supportedVersions.includes(MODERN_VERSION) ? undefined : "expected server/discover result"
  }
}

/** Why `got` (one message) is not `want`, or undefined. */
const matchReply = (want: ReplyExpect, got: unknown): string | undefined => {
  if (want.t === "batch") {
    if (!Array.isArray(got)) return "expected one JSON array (batch answer)"
    return matchItems(want.items, got)
  }
  if (!isObject(got)) return "expected a JSON-RPC object"
  if (got.jsonrpc !== "2.0") return "reply without jsonrpc 2.0"
  if (want.t === "error") {
    const e = got.error
    if (!isObject(e)) return `expected error ${want.codes.join("|")}, got a result`
    if (has(got, "result")) return "reply has both result and error"
    if (!want.ids.some((i) => sameId(i, got.id ?? null))) return `expected id ${want.ids.map((i) => JSON.stringify(i)).join("|")}, got ${JSON.stringify(got.id)}`
    if (!want.codes.includes(e.code as number)) return `expected code ${want.codes.join("|")}, got ${String(e.code)} (${String(e.message)})`
    return typeof e.message === "string" ? undefined : "error without a message"
  }
  if (!sameId(want.id, got.id)) return `expected id ${JSON.stringify(want.id)}, got ${JSON.stringify(got.id)}`
  if (!has(got, "result")) {
    const e = got.error as { code?: unknown; message?: unknown } | undefined
    return `expected a result, got error ${String(e?.code)} (${String(e?.message)})`
  }
  return checkResult(want.check, got.result, want.modern)
}

/** Match a batch answer: every item's replies appear once, nothing else. */
const matchItems = (items: ReadonlyArray<ReadonlyArray<Outcome>>, got: ReadonlyArray<unknown>): string | undefined => {
  // Small batches: try every combination of item outcomes, then a one-to-one assignment.
  const choose = (i: number, acc: Array<ReplyExpect>): string | undefined => {
    if (i === items.length) return assign(acc, got)
    let last: string | undefined = "no outcome"
    for (const o of items[i]!) {
      last = choose(i + 1, [...acc, ...o.replies])
      if (last === undefined) return undefined
    }
    return last
  }
  return choose(0, [])
}

/** One-to-one: each wanted reply matches a distinct received message, none left over. */
const assign = (wants: ReadonlyArray<ReplyExpect>, got: ReadonlyArray<unknown>): string | undefined => {
  if (wants.length !== got.length) return `expected ${wants.length} replies, got ${got.length}`
  const used = new Array<boolean>(got.length).fill(false)
  let why: string | undefined
  const go = (i: number): boolean => {
    if (i === wants.length) return true
    for (let j = 0; j < got.length; j++) {
      if (used[j]) continue
      const r = matchReply(wants[i]!, got[j])
      if (r !== undefined) {
        why ??= r
        continue
      }
      used[j] = true
      if (go(i + 1)) return true
      used[j] = false
    }
    return false
  }
  return go(0) ? undefined : why ?? "no match"
}

/** The outcome `got` (every message the frame produced) satisfies, or why none does. */
export const judge = (e: Expectation, got: ReadonlyArray<unknown>): { readonly ok: true; readonly outcome: Outcome } | { readonly ok: false; readonly why: string } => {
  const reasons: Array<string> = []
  for (const o of e.outcomes) {
    const why = assign(o.replies, got)
    if (why === undefined) return { ok: true, outcome: o }
    reasons.push(`${o.label}: ${why}`)
  }
  return { ok: false, why: reasons.join("; ") }
}
