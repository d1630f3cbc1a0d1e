/**
 * Hostile frame generators (fast-check) shared by the fuzz tests and
 * `npm run fuzz`. A generated {@link FrameGen} is plain data (printable,
 * shrinkable); {@link materialize} turns it into the bytes sent, giving each
 * request a fresh id of the generated kind so that replies can be matched.
 *
 * What is generated: wrong types for every envelope field; ids of every type
 * (string, integer, negative, huge, float, null, boolean, object, array);
 * `Object.prototype` property names as methods, tool and prompt names, resource
 * URIs, capability keys, `_meta` keys and extra fields; deep nesting (served and
 * hostile depths); oversized frames; invalid UTF-8; malformed JSON; batches;
 * notifications vs requests; lifecycle frames in every order (initialize before
 * and after the handshake, duplicates, `notifications/initialized` early or twice).
 */
import fc from "fast-check"
import { DEPTH_REJECTED, DEPTH_SERVED, LEGACY_VERSIONS, META_CAPS, META_VERSION, MODERN_VERSION } from "./oracle.ts"

export const PROTO_NAMES: ReadonlyArray<string> = Object.getOwnPropertyNames(Object.prototype)

/** A nested value written straight into the frame text (JSON.stringify overflows the stack on hostile depths). */
export class Deep {
  readonly depth: number
  readonly shape: "array" | "object"
  constructor(depth: number, shape: "array" | "object") {
    this.depth = depth
    this.shape = shape
  }
  [fc.toStringMethod](): string {
    return `Deep(${this.depth}, ${this.shape})`
  }
  toJson(): string {
    return this.shape === "array" ? "[".repeat(this.depth) + "0" + "]".repeat(this.depth) : '{"a":'.repeat(this.depth) + "0" + "}".repeat(this.depth)
  }
}

/** A padding string of `bytes` ASCII characters (oversized frames). */
export class Pad {
  readonly bytes: number
  constructor(bytes: number) {
    this.bytes = bytes
  }
  [fc.toStringMethod](): string {
    return `Pad(${this.bytes})`
  }
}

export type IdGen =
  | { readonly t: "absent" }
  | { readonly t: "int" | "neg" | "huge" | "bigExp" }
  | { readonly t: "str"; readonly prefix: string }
  /** Any other JSON value as the id (null, boolean, float, object, array, …). */
  | { readonly t: "lit"; readonly v: unknown }

/** One JSON-RPC-shaped object; fields are written in this order, `absent` ones left out. */
export interface MsgGen {
  readonly t: "msg"
  readonly jsonrpc: unknown
  readonly id: IdGen
  readonly method: unknown
  readonly params: unknown
  readonly extra: ReadonlyArray<readonly [string, unknown]>
}

export type FrameGen =
  | MsgGen
  | { readonly t: "batch"; readonly items: ReadonlyArray<MsgGen | { readonly t: "value"; readonly v: unknown }> }
  /** Any JSON value as the whole frame (string, number, null, nested arrays…). */
  | { readonly t: "value"; readonly v: unknown }
  /** Text that is (usually) not JSON. */
  | { readonly t: "raw"; readonly text: string }
  /** A frame with bytes that are not UTF-8 spliced in at `at` (0..1 of its length). */
  | { readonly t: "badUtf8"; readonly inner: FrameGen; readonly at: number; readonly bytes: ReadonlyArray<number> }
  /** A modern `tools/call slow` kept in flight, then `dup` with the same id (-32600 expected). */
  | { readonly t: "dup"; readonly dup: MsgGen }

export const ABSENT: unique symbol = Symbol("absent")

// ---------------------------------------------------------------- values

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("", " ", "\u0000", "\u2028\u2029", "💥💥", "%ZZ", "../..", "\\", '"', "\r\n", "\uFEFF", "null", "a".repeat(3000), "\uD800")
  },
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) }
)
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e300, -1, 0.5, 2 ** 53 + 1, -(2 ** 63)),
  hostileString
)
const key = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...PROTO_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) })
/** Small JSON values with hostile keys and strings. */
export const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(key, tie("v"), { maxKeys: 3 })
  )
})).v

const deep = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: DEPTH_SERVED - 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: DEPTH_REJECTED + 10, max: 25_000 }) }
).chain((d) => fc.constantFrom("array", "object").map((s) => new Deep(d, s as "array" | "object")))

/** A wrong value for a field: any type, a deep value, or absent. */
const wrong = fc.oneof({ weight: 4, arbitrary: jsonish }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: fc.constant(ABSENT) })

// ---------------------------------------------------------------- _meta

const modernMetaGood = fc.record({ caps: fc.dictionary(key, jsonish, { maxKeys: 3 }), extra: fc.dictionary(key, jsonish, { maxKeys: 2 }) })
  .map(({ caps, extra }) => ({ ...extra, [META_VERSION]: MODERN_VERSION, [META_CAPS]: caps }))
const modernMetaBad = fc.oneof(
  fc.constant({ [META_VERSION]: MODERN_VERSION }),
  fc.record({ v: fc.oneof(scalar, fc.constantFrom("2099-01-01", "2025-11-25", "")) }).map(({ v }) => ({ [META_VERSION]: v, [META_CAPS]: {} })),
  fc.record({ c: jsonish }).map(({ c }) => ({ [META_VERSION]: MODERN_VERSION, [META_CAPS]: c }))
)
const metaArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(ABSENT) },
  { weight: 3, arbitrary: modernMetaGood },
  { weight: 2, arbitrary: modernMetaBad },
  { weight: 2, arbitrary: fc.dictionary(key, jsonish, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.record({ progressToken: scalar }) },
  { weight: 1, arbitrary: scalar }
)

// ---------------------------------------------------------------- params per method

const KNOWN_METHODS = [
  "ping", "initialize", "tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list",
  "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
  "server/discover", "notifications/initialized", "notifications/cancelled", "notifications/progress",
  "sampling/createMessage", "roots/list", "elicitation/create", "tasks/list", "rpc.discover"
]

const name = (good: string) => fc.oneof({ weight: 5, arbitrary: fc.constant(good) }, { weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: wrong })
const greetingName = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{1,8}$/),
  fc.constantFrom("%ZZ", "%E0%A4%A", "%", "a%2", "%F0%9F%92%A5", "Ada%20L", "%C0%AF", "%ED%A0%80")
)
const uri = fc.oneof(
  { weight: 2, arbitrary: fc.constant("demo://readme") },
  { weight: 3, arbitrary: greetingName.map((n) => `demo://greeting/${n}`) },
  { weight: 1, arbitrary: fc.constantFrom("demo://missing", "demo://greeting/", "demo://greeting/a/b", "file:///etc/passwd", "") },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: wrong }
)
const echoArgs = fc.oneof(
  { weight: 5, arbitrary: fc.record({ text: fc.oneof(hostileString, fc.string({ unit: "grapheme", maxLength: 40 })) }) },
  { weight: 2, arbitrary: fc.record({ text: wrong }) },
  { weight: 1, arbitrary: fc.dictionary(key, jsonish, { maxKeys: 3 }) },
  { weight: 2, arbitrary: wrong }
)
const cursor = fc.oneof({ weight: 4, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: jsonish })

const paramsFor = (method: unknown): fc.Arbitrary<Record<string, unknown>> => {
  switch (method) {
    case "initialize":
      return fc.record({
        protocolVersion: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...LEGACY_VERSIONS, "2099-01-01", MODERN_VERSION) }, { weight: 1, arbitrary: wrong }),
        capabilities: fc.oneof({ weight: 4, arbitrary: fc.dictionary(key, jsonish, { maxKeys: 4 }) }, { weight: 1, arbitrary: wrong }),
        clientInfo: fc.oneof(
          { weight: 4, arbitrary: fc.record({ name: fc.oneof(hostileString, fc.constant("fuzz")), version: fc.constant("1") }) },
          { weight: 1, arbitrary: wrong }
        )
      })
    case "tools/call":
      return fc.record({ name: name("echo"), arguments: fc.oneof({ weight: 4, arbitrary: echoArgs }, { weight: 1, arbitrary: fc.constant(ABSENT) }) })
    case "prompts/get":
      return fc.record({
        name: name("greet"),
        arguments: fc.oneof(
          { weight: 4, arbitrary: fc.record({ name: fc.oneof({ weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: wrong }) }) },
          { weight: 1, arbitrary: wrong }
        )
      })
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return fc.record({ uri })
    case "logging/setLevel":
      return fc.record({ level: fc.oneof(fc.constantFrom("debug", "info", "error", "emergency", "verbose", "INFO"), wrong) })
    case "completion/complete":
      return fc.record({
        ref: fc.oneof({ weight: 3, arbitrary: fc.constant({ type: "ref/prompt", name: "greet" }) }, { weight: 1, arbitrary: wrong }),
        argument: fc.oneof(
          { weight: 3, arbitrary: fc.record({ name: fc.constantFrom("name", "other", "__proto__"), value: fc.oneof(fc.string({ maxLength: 4 }), hostileString) }) },
          { weight: 1, arbitrary: wrong }
        )
      })
    case "tools/list":
    case "prompts/list":
    case "resources/list":
    case "resources/templates/list":
      return fc.record({ cursor })
    default:
      return fc.dictionary(key, jsonish, { maxKeys: 4 })
  }
}

const withMeta = (method: unknown): fc.Arbitrary<unknown> =>
  fc.tuple(paramsFor(method), metaArb, fc.dictionary(key, jsonish, { maxKeys: 2 }), fc.nat(19)).map(([p, meta, extra, roll]) => {
    const out: Record<string, unknown> = roll < 2 ? { ...extra, ...p } : { ...p }
    if (meta !== ABSENT) out._meta = meta
    return out
  })

const params = (method: unknown): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: withMeta(method) }, { weight: 1, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: wrong })

// ---------------------------------------------------------------- messages

const idArb: fc.Arbitrary<IdGen> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<IdGen>({ t: "int" }, { t: "neg" }, { t: "huge" }, { t: "bigExp" }) },
  { weight: 4, arbitrary: hostileString.map((prefix): IdGen => ({ t: "str", prefix: prefix.slice(0, 40) })) },
  { weight: 3, arbitrary: fc.constant<IdGen>({ t: "absent" }) },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.constantFrom(1.5, -0.25, 1e-7), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(key, scalar, { maxKeys: 2 }))
      .map((v): IdGen => ({ t: "lit", v }))
  }
)

const methodArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...KNOWN_METHODS) },
  { weight: 4, arbitrary: fc.constantFrom(...PROTO_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: wrong }
)

const jsonrpcArb = fc.oneof({ weight: 20, arbitrary: fc.constant("2.0") }, { weight: 1, arbitrary: fc.constantFrom("1.0", "2", 2, 2.0, ABSENT) }, { weight: 1, arbitrary: jsonish })
const extraArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant([] as Array<[string, unknown]>) },
  { weight: 2, arbitrary: fc.array(fc.tuple(key, jsonish), { maxLength: 3 }) }
)

/** A request or notification, possibly with a wrong field. */
export const messageArb: fc.Arbitrary<MsgGen> = fc.tuple(methodArb, idArb, jsonrpcArb, extraArb).chain(([method, id, jsonrpc, extra]) =>
  params(method).map((p): MsgGen => ({ t: "msg", jsonrpc, id, method, params: p, extra }))
)

/** A client→server response (good or malformed). */
const responseArb: fc.Arbitrary<MsgGen> = fc.tuple(idArb, fc.nat(5), jsonish, jsonish).map(([id, shape, a, b]): MsgGen => {
  const extra: Array<[string, unknown]> = shape === 0
    ? [["result", {}]]
    : shape === 1
    ? [["error", { code: -32000, message: "client says no" }]]
    : shape === 2
    ? [["result", {}], ["error", { code: 1, message: "both" }]]
    : shape === 3
    ? []
    : [[shape === 4 ? "result" : "error", a], ["x", b]]
  return { t: "msg", jsonrpc: "2.0", id, method: ABSENT, params: ABSENT, extra }
})

/** Lifecycle frames that move a session along (valid initialize, initialized), in any order. */
const lifecycleArb: fc.Arbitrary<MsgGen> = fc.oneof(
  fc.constantFrom(...LEGACY_VERSIONS, "2099-01-01").map((v): MsgGen => ({
    t: "msg",
    jsonrpc: "2.0",
    id: { t: "int" },
    method: "initialize",
    params: { protocolVersion: v, capabilities: Object.fromEntries(PROTO_NAMES.slice(0, 3).map((k) => [k, {}])), clientInfo: { name: "fuzz", version: "1" } },
    extra: []
  })),
  fc.constant<MsgGen>({ t: "msg", jsonrpc: "2.0", id: { t: "absent" }, method: "notifications/initialized", params: ABSENT, extra: [] })
)

const rawArb = fc.oneof(
  fc.constantFrom("{", "}", "[", "{not json", '{"jsonrpc":"2.0","id":1,"method":"ping"', "\uFEFF{}", "nul", "NaN", "'x'", "{'a':1}", "1e999x", '{"a":1,}', "[1,]", '"unterminated', "\\u0000", "{\"a\":\"\\ud800\"}x"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 })
)
const valueArb = fc.oneof(scalar, fc.array(jsonish, { maxLength: 3 }), deep, fc.constant([]), fc.constant([[]]))

const badBytes = fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82])

const oversizedArb = (maxMessageBytes: number): fc.Arbitrary<FrameGen> =>
  fc.integer({ min: 1, max: Math.floor(maxMessageBytes / 2) }).map((extra): FrameGen => ({
    t: "msg",
    jsonrpc: "2.0",
    id: { t: "int" },
    method: "tools/call",
    params: { name: "echo", arguments: { text: new Pad(maxMessageBytes + extra) } },
    extra: []
  }))

export interface FrameOptions {
  readonly maxMessageBytes: number
  /** Generate batches (stdio, WebSocket; HTTP legacy). */
  readonly batches?: boolean
}

/** One hostile frame. */
export const frameArb = (options: FrameOptions): fc.Arbitrary<FrameGen> => {
  const single: fc.Arbitrary<FrameGen> = fc.oneof(
    { weight: 30, arbitrary: messageArb },
    { weight: 4, arbitrary: lifecycleArb },
    { weight: 3, arbitrary: responseArb },
    { weight: 3, arbitrary: rawArb.map((text): FrameGen => ({ t: "raw", text })) },
    { weight: 3, arbitrary: valueArb.map((v): FrameGen => ({ t: "value", v })) }
  )
  const arms: Array<fc.WeightedArbitrary<FrameGen>> = [
    { weight: 40, arbitrary: single },
    { weight: 2, arbitrary: fc.tuple(single, fc.double({ min: 0, max: 1, noNaN: true }), badBytes).map(([inner, at, bytes]): FrameGen => ({ t: "badUtf8", inner, at, bytes })) },
    { weight: 1, arbitrary: oversizedArb(options.maxMessageBytes) },
    { weight: 1, arbitrary: messageArb.map((dup): FrameGen => ({ t: "dup", dup })) }
  ]
  if (options.batches !== false) {
    arms.push({
      weight: 4,
      arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: fc.oneof(messageArb, lifecycleArb, responseArb) }, { weight: 1, arbitrary: valueArb.map((v) => ({ t: "value" as const, v })) }), { maxLength: 5 })
        .map((items): FrameGen => ({ t: "batch", items }))
    })
  }
  return fc.oneof(...arms)
}

// ---------------------------------------------------------------- materialize

/**
 * Fresh request ids, unique on a connection. The harness's own ids (sentinels
 * `s#n`, handshakes `h#n`) come from the same counter: a generated string id is
 * `<any prefix>#n`, so with prefix "s" it looks like a sentinel's, but never is one.
 */
export class IdSource {
  #n = 0
  /** An id for the harness's own request: `${tag}#n`, never equal to a generated id. */
  own(tag: string): string {
    return `${tag}#${++this.#n}`
  }
  next(gen: IdGen): unknown {
    const n = ++this.#n
    switch (gen.t) {
      case "absent":
        return ABSENT
      case "int":
        return 1_000_000 + n
      case "neg":
        return -n
      case "huge":
        return 2 ** 53 + 2 * n // even above 2^53: exactly representable
      case "bigExp":
        return n * 1e290 // an integer, written in exponent form
      case "str":
        return `${gen.prefix}#${n}`
      case "lit":
        return gen.v
    }
  }
}

const toJson = (v: unknown): string => {
  if (v instanceof Deep) return v.toJson()
  if (v instanceof Pad) return JSON.stringify("p".repeat(v.bytes))
  if (Array.isArray(v)) return `[${v.map((x) => (x === ABSENT ? "null" : toJson(x))).join(",")}]`
  if (typeof v === "object" && v !== null) {
    const parts: Array<string> = []
    for (const [k, x] of Object.entries(v)) if (x !== ABSENT) parts.push(`${JSON.stringify(k)}:${toJson(x)}`)
    return `{${parts.join(",")}}`
  }
  if (v === undefined || v === ABSENT) return "null"
  return JSON.stringify(v)
}

/** Fields written as JSON text in order, so that keys such as `__proto__` stay own keys. */
const msgText = (m: MsgGen, id: unknown): string => {
  const parts: Array<string> = []
  const field = (k: string, v: unknown) => {
    if (v !== ABSENT) parts.push(`${JSON.stringify(k)}:${toJson(v)}`)
  }
  field("jsonrpc", m.jsonrpc)
  field("id", id)
  field("method", m.method)
  field("params", m.params)
  for (const [k, v] of m.extra) field(k, v)
  return `{${parts.join(",")}}`
}

export interface Materialized {
  /** The frames to send, in order (a `dup` is two). */
  readonly frames: ReadonlyArray<Uint8Array>
  /** For `dup`: the id held in flight by the first frame. */
  readonly heldId?: unknown
}

export const materialize = (gen: FrameGen, ids: IdSource): Materialized => {
  switch (gen.t) {
    case "msg":
      return { frames: [Buffer.from(msgText(gen, ids.next(gen.id)))] }
    case "value":
      return { frames: [Buffer.from(toJson(gen.v))] }
    case "raw":
      return { frames: [Buffer.from(gen.text)] }
    case "batch":
      return {
        frames: [Buffer.from(`[${gen.items.map((i) => (i.t === "msg" ? msgText(i, ids.next(i.id)) : toJson(i.v))).join(",")}]`)]
      }
    case "badUtf8": {
      const inner = materialize(gen.inner, ids).frames[0]!
      const at = Math.floor(gen.at * inner.byteLength)
      return { frames: [Buffer.concat([inner.subarray(0, at), Buffer.from(gen.bytes), inner.subarray(at)])] }
    }
    case "dup": {
      const id = `dup#${ids.next({ t: "int" })}`
      const slow = { jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow", arguments: { ms: 40 }, _meta: { [META_VERSION]: MODERN_VERSION, [META_CAPS]: {} } } }
      return { frames: [Buffer.from(JSON.stringify(slow)), Buffer.from(msgText({ ...gen.dup, id: { t: "lit", v: id } }, id))], heldId: id }
    }
  }
}
