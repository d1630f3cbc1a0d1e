/**
 * `asGatewayResult` (the gateway's answer from an upstream result) copies key by key instead of
 * rest-destructuring twice (issue 10, the gateway's per-call cost). This proves the copy is the old
 * one's: for random results with and without `resultType`, a `_meta` with and without the upstream's
 * server info and other entries, and wire keys such as `__proto__`, the same keys in the same order,
 * the same JSON, an untouched input, and a `__proto__` key that stays an own key (never a prototype).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { asGatewayResult } from "../src/host/gateway.ts"
import { META_SERVER_INFO } from "../src/protocol/modern.ts"
import type { Result } from "../src/client/ClientSession.ts"

/** The copy as it was (two rest-destructurings). */
const reference = (r: Result): Result => {
  const meta = r._meta as Record<string, unknown> | undefined
  const info = meta !== undefined && typeof meta === "object" && meta !== null && Object.hasOwn(meta, META_SERVER_INFO)
  if (!info && !Object.hasOwn(r, "resultType")) return r
  const { resultType: _t, ...rest } = r
  if (!info) return rest
  const { [META_SERVER_INFO]: _i, ...others } = meta!
  if (Object.keys(others).length > 0) return { ...rest, _meta: others }
  const { _meta: _m, ...bare } = rest
  return bare
}

const key = fc.constantFrom("content", "structuredContent", "isError", "__proto__", "constructor", "toString", "x")
const metaKey = fc.constantFrom(META_SERVER_INFO, "progressToken", "__proto__", "io.example/trace", "constructor")
const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }))
/** A result as JSON text (parsed, so `__proto__` is an own key as from the wire). */
const resultText = fc.record({
  fields: fc.array(fc.tuple(key, value), { maxLength: 4 }),
  resultType: fc.option(fc.constantFrom("complete", "input_required"), { nil: undefined }),
  meta: fc.option(fc.array(fc.tuple(metaKey, value), { maxLength: 3 }), { nil: undefined }),
  metaAt: fc.nat(4)
}).map(({ fields, resultType, meta, metaAt }) => {
  const entries: Array<string> = fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
  if (resultType !== undefined) entries.unshift(`"resultType":${JSON.stringify(resultType)}`)
  if (meta !== undefined) entries.splice(Math.min(metaAt, entries.length), 0, `"_meta":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`)
  return `{${entries.join(",")}}`
})

describe("asGatewayResult: the key-by-key copy is the rest-destructuring one", () => {
  it("same keys in the same order, same JSON, input untouched, `__proto__` an own key (fast-check)", () => {
    fc.assert(fc.property(resultText, (text) => {
      const r = JSON.parse(text) as Result
      const want = reference(JSON.parse(text) as Result)
      const got = asGatewayResult(r)
      expect(JSON.stringify(r)).toBe(JSON.stringify(JSON.parse(text))) // the upstream's result is not changed
      expect(Reflect.ownKeys(got)).toEqual(Reflect.ownKeys(want))
      expect(JSON.stringify(got)).toBe(JSON.stringify(want))
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
      const meta = (got as { _meta?: unknown })._meta
      if (typeof meta === "object" && meta !== null) {
        expect(Reflect.ownKeys(meta)).toEqual(Reflect.ownKeys((want as { _meta: object })._meta))
        expect(Object.getPrototypeOf(meta)).toBe(Object.prototype)
      }
      // Nothing to strip: the very same object (no copy at all).
      if (!Object.hasOwn(r, "resultType") && !(typeof r._meta === "object" && r._meta !== null && Object.hasOwn(r._meta, META_SERVER_INFO))) expect(got).toBe(r)
    }), { numRuns: 2_000 })
  })

  it("examples: server info alone drops `_meta`; with other entries keeps them; `resultType` goes", () => {
    const info = { name: "up", version: "1" }
    expect(asGatewayResult({ resultType: "complete", content: [], _meta: { [META_SERVER_INFO]: info } })).toEqual({ content: [] })
    expect(asGatewayResult({ content: [], _meta: { [META_SERVER_INFO]: info, trace: "t" }, resultType: "complete" })).toEqual({ content: [], _meta: { trace: "t" } })
    const proto = asGatewayResult(JSON.parse(`{"resultType":"complete","__proto__":{"polluted":true}}`) as Result)
    expect(Object.keys(proto)).toEqual(["__proto__"])
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })
})
