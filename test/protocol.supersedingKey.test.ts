/**
 * `supersedingKey`: which outgoing message makes its older copies on a stream obsolete (a
 * paramless `list_changed`, keyed by its method), decided from the message and not from its
 * text. Examples of each case, then properties over random and hostile methods and params
 * (prototype names such as `constructor` and `__proto__`, null-prototype objects, arrays):
 * it never throws, the key is the method or nothing, it agrees with what the message says on
 * the wire, and it is the same after a JSON round trip (so it does not depend on how we build
 * or serialize the message).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encode, type JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { supersedingKey } from "../src/protocol/supersedingKey.ts"

const TOOLS = "notifications/tools/list_changed"
const note = (method: string, params?: unknown): JsonRpcMessage =>
  (params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params }) as JsonRpcMessage

/** The wire's view, written independently: a list_changed whose params serialize to nothing but `{}` or `{"_meta":{}}`. */
const oracle = (m: Record<string, unknown>): string | undefined => {
  if (typeof m.method !== "string" || "id" in m || !/^notifications\/[^/]+\/list_changed$/.test(m.method)) return undefined
  if (m.params === undefined) return m.method
  const text = JSON.stringify(m.params)
  return text === "{}" || text === `{"_meta":{}}` ? m.method : undefined
}

describe("supersedingKey", () => {
  it("is the method of a list_changed notification that carries nothing: no params, {}, or an empty _meta", () => {
    for (const list of ["tools", "prompts", "resources", "roots"]) expect(supersedingKey(note(`notifications/${list}/list_changed`))).toBe(`notifications/${list}/list_changed`)
    expect(supersedingKey(note(TOOLS, {}))).toBe(TOOLS)
    expect(supersedingKey(note(TOOLS, { _meta: {} }))).toBe(TOOLS)
    expect(supersedingKey(note(TOOLS, Object.create(null)))).toBe(TOOLS)
    // Keys whose value is undefined are not serialized: the client gets `{}`.
    expect(supersedingKey(note(TOOLS, { x: undefined, _meta: { traceparent: undefined } }))).toBe(TOOLS)
  })

  it("is undefined for a list_changed that says more: params, a non-empty _meta (trace context, a subscription id), params that are not an object", () => {
    expect(supersedingKey(note(TOOLS, { x: 1 }))).toBeUndefined()
    expect(supersedingKey(note(TOOLS, { _meta: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } }))).toBeUndefined()
    expect(supersedingKey(note(TOOLS, { _meta: { "io.modelcontextprotocol/subscriptionId": 7 } }))).toBeUndefined()
    expect(supersedingKey(note(TOOLS, { _meta: null }))).toBeUndefined()
    expect(supersedingKey(note(TOOLS, { _meta: [] }))).toBeUndefined()
    for (const params of [[], null, "x", 0, new Date(0), new Map()]) expect(supersedingKey(note(TOOLS, params))).toBeUndefined()
  })

  it("is undefined for every other message: requests (even named list_changed), responses, other notifications, malformed methods", () => {
    expect(supersedingKey({ jsonrpc: "2.0", id: 1, method: TOOLS })).toBeUndefined()
    expect(supersedingKey({ jsonrpc: "2.0", id: 1, result: {} })).toBeUndefined()
    expect(supersedingKey({ jsonrpc: "2.0", id: 1, error: { code: -32603, message: "x" } })).toBeUndefined()
    for (const method of [
      "notifications/message",
      "notifications/resources/updated",
      "notifications//list_changed",
      "notifications/list_changed",
      "notifications/a/b/list_changed",
      "notifications/tools/list_changed/",
      "notifications/tools/list_changedX",
      "Notifications/tools/list_changed",
      "constructor",
      "__proto__",
      "toString",
      "hasOwnProperty",
      ""
    ]) expect(supersedingKey(note(method)), method).toBeUndefined()
    expect(supersedingKey({ jsonrpc: "2.0", method: 42 } as unknown as JsonRpcMessage)).toBeUndefined()
  })

  /** Methods: random text, prototype names, and list_changed around random and hostile segments. */
  const hostile = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "")
  const segment = fc.oneof(hostile, fc.string({ maxLength: 6 }), fc.constantFrom("tools", "prompts", "resources", "roots", "a/b"))
  const method = fc.oneof(
    hostile,
    fc.string({ maxLength: 40 }),
    segment.map((s) => `notifications/${s}/list_changed`),
    fc.tuple(fc.constantFrom("notifications/", "", "notification/"), segment, fc.constantFrom("/list_changed", "/list_changed ", "list_changed", "/updated")).map(([a, b, c]) => `${a}${b}${c}`)
  )
  /** Values a handler might put in params, with prototype-named keys as own keys (as from JSON). */
  const key = fc.oneof(hostile, fc.constantFrom("_meta", "x", "traceparent", "io.modelcontextprotocol/subscriptionId"))
  const leaf = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.string({ maxLength: 4 }), fc.constant([]), fc.constant({}))
  const record = (value: fc.Arbitrary<unknown>) =>
    fc.tuple(fc.array(fc.tuple(key, value), { maxLength: 3 }), fc.boolean()).map(([entries, bare]) => {
      const o: Record<string, unknown> = bare ? Object.create(null) : {}
      for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
      return o
    })
  const params = fc.oneof(fc.constant(undefined), leaf, record(leaf), record(fc.oneof(leaf, record(leaf))), fc.constant({ _meta: {} }))
  const message = fc.record({ method, params, request: fc.boolean() }).map(({ method, params, request }) => {
    const m: Record<string, unknown> = { jsonrpc: "2.0" }
    if (request) m.id = 1
    m.method = method
    if (params !== undefined) m.params = params
    return m as unknown as JsonRpcMessage
  })

  it("never throws; the key is the method or nothing, exactly when the wire says a list_changed with nothing in it", () => {
    const seen = { keyed: 0, hostileKeyed: 0, unkeyed: 0 }
    fc.assert(
      fc.property(message, (m) => {
        const key = supersedingKey(m)
        expect(key === undefined || key === (m as { method: string }).method).toBe(true)
        expect(key).toBe(oracle(m as unknown as Record<string, unknown>))
        if (key === undefined) seen.unkeyed++
        else if (/__proto__|constructor|prototype/.test(key)) seen.hostileKeyed++
        else seen.keyed++
      }),
      { numRuns: 2000 }
    )
    // The runs covered both answers, prototype-named list segments included.
    expect(seen.keyed).toBeGreaterThan(20)
    expect(seen.hostileKeyed).toBeGreaterThan(5)
    expect(seen.unkeyed).toBeGreaterThan(200)
  })

  it("is the same after a JSON round trip (it reads the message, not how we built or serialize it)", () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(supersedingKey(JSON.parse(encode(m)) as JsonRpcMessage)).toBe(supersedingKey(m))
      }),
      { numRuns: 2000 }
    )
  })
})
