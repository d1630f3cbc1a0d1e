/**
 * A small JSON Schema validator for tool arguments: the keywords tool schemas
 * use in practice (type, properties, required, additionalProperties, enum,
 * const, items, bounds, lengths, pattern, anyOf/oneOf/allOf, local $ref into
 * $defs/definitions). Compiled once per tool into a closure, so a call costs a
 * walk over the arguments only. Unknown keywords are ignored (permissive),
 * never rewritten: `tools/list` returns the schema exactly as registered.
 * Why not ajv: see docs/architecture.md ("JSON Schema").
 */
import type { JsonSchema } from "./types.ts"

export type Validator = (value: unknown) => string | undefined

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v

const matchesType = (v: unknown, t: string): boolean => {
  const actual = typeOf(v)
  return actual === t || (t === "number" && actual === "integer")
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

export const compileSchema = (root: JsonSchema | undefined): Validator => {
  if (root === undefined) return () => undefined
  const resolve = (ref: string): JsonSchema | undefined => {
    if (!ref.startsWith("#/")) return undefined
    let node: unknown = root
    for (const part of ref.slice(2).split("/")) {
      const key = part.replace(/~1/g, "/").replace(/~0/g, "~")
      if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return undefined
      node = (node as Record<string, unknown>)[key]
    }
    return node as JsonSchema | undefined
  }
  const cache = new Map<JsonSchema, Validator>()
  const compile = (schema: JsonSchema | boolean | undefined): Validator => {
    if (schema === undefined || schema === true) return () => undefined
    if (schema === false) return (_) => "no value is allowed here"
    const cached = cache.get(schema)
    if (cached) return cached
    const checks: Array<(v: unknown, path: string) => string | undefined> = []
    let self: Validator = () => undefined
    const proxy: Validator = (v) => self(v)
    cache.set(schema, proxy)
    const s = schema as Record<string, any>
    if (typeof s.$ref === "string") {
      const target = resolve(s.$ref)
      const v = compile(target)
      checks.push((x) => v(x))
    }
    if (s.type !== undefined) {
      const types: ReadonlyArray<string> = Array.isArray(s.type) ? s.type : [s.type]
      checks.push((x) => types.some((t) => matchesType(x, t)) ? undefined : `expected ${types.join(" or ")}, got ${typeOf(x)}`)
    }
    if (Array.isArray(s.enum)) {
      const values = s.enum
      checks.push((x) => values.some((e: unknown) => deepEqual(e, x)) ? undefined : `must be one of ${JSON.stringify(values)}`)
    }
    if ("const" in s) checks.push((x) => deepEqual(s.const, x) ? undefined : `must equal ${JSON.stringify(s.const)}`)
    if (typeof s.minimum === "number") checks.push((x) => typeof x === "number" && x < s.minimum ? `must be >= ${s.minimum}` : undefined)
    if (typeof s.maximum === "number") checks.push((x) => typeof x === "number" && x > s.maximum ? `must be <= ${s.maximum}` : undefined)
    if (typeof s.minLength === "number") checks.push((x) => typeof x === "string" && x.length < s.minLength ? `must have at least ${s.minLength} characters` : undefined)
    if (typeof s.maxLength === "number") checks.push((x) => typeof x === "string" && x.length > s.maxLength ? `must have at most ${s.maxLength} characters` : undefined)
    if (typeof s.pattern === "string") {
      const re = new RegExp(s.pattern, "u")
      checks.push((x) => typeof x === "string" && !re.test(x) ? `must match ${s.pattern}` : undefined)
    }
    const props = (typeof s.properties === "object" && s.properties !== null) ? s.properties as Record<string, JsonSchema> : undefined
    const required: ReadonlyArray<string> = Array.isArray(s.required) ? s.required : []
    if (props || required.length > 0 || s.additionalProperties !== undefined) {
      const propValidators = props ? Object.entries(props).map(([k, sub]) => [k, compile(sub)] as const) : []
      const additional = s.additionalProperties
      const additionalValidator = typeof additional === "object" ? compile(additional) : undefined
      checks.push((x) => {
        if (typeOf(x) !== "object") return undefined
        const o = x as Record<string, unknown>
        // The value is the peer's: only own properties count (`"toString" in {}` is true).
        for (const r of required) if (!Object.hasOwn(o, r) || o[r] === undefined) return `missing required property "${r}"`
        for (const [k, v] of propValidators) {
          if (Object.hasOwn(o, k) && o[k] !== undefined) {
            const err = v(o[k])
            if (err) return `property "${k}": ${err}`
          }
        }
        if (additional === false || additionalValidator) {
          for (const k of Object.keys(o)) {
            if (props && Object.hasOwn(props, k)) continue
            if (additional === false) return `unexpected property "${k}"`
            const err = additionalValidator!(o[k])
            if (err) return `property "${k}": ${err}`
          }
        }
        return undefined
      })
    }
    if (s.items !== undefined && typeof s.items === "object" && !Array.isArray(s.items)) {
      const item = compile(s.items)
      checks.push((x) => {
        if (!Array.isArray(x)) return undefined
        for (let i = 0; i < x.length; i++) {
          const err = item(x[i])
          if (err) return `item ${i}: ${err}`
        }
        return undefined
      })
    }
    if (typeof s.minItems === "number") checks.push((x) => Array.isArray(x) && x.length < s.minItems ? `must have at least ${s.minItems} items` : undefined)
    if (typeof s.maxItems === "number") checks.push((x) => Array.isArray(x) && x.length > s.maxItems ? `must have at most ${s.maxItems} items` : undefined)
    for (const key of ["anyOf", "oneOf"] as const) {
      if (Array.isArray(s[key])) {
        const alts = (s[key] as Array<JsonSchema>).map(compile)
        const one = key === "oneOf"
        checks.push((x) => {
          const ok = alts.filter((a) => a(x) === undefined).length
          return (one ? ok === 1 : ok >= 1) ? undefined : `must match ${one ? "exactly one" : "at least one"} of the alternatives`
        })
      }
    }
    if (Array.isArray(s.allOf)) {
      const all = (s.allOf as Array<JsonSchema>).map(compile)
      checks.push((x) => {
        for (const a of all) {
          const err = a(x)
          if (err) return err
        }
        return undefined
      })
    }
    self = (v) => {
      for (const c of checks) {
        const err = c(v, "")
        if (err) return err
      }
      return undefined
    }
    return self
  }
  return compile(root)
}
