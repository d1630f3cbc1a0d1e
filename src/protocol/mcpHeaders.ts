/**
 * The request headers that mirror body values in the modern era (2026-07-28,
 * basic/transports/streamable-http.mdx): `Mcp-Name` and `Mcp-Param-{Name}`,
 * their value encoding, and the `x-mcp-header` annotations that say which tool
 * arguments are mirrored. Pure rules, used by both sides: the client writes the
 * headers, the server checks them against the body.
 *
 * - Value Encoding (L356-L568): a value that is not plain header-safe ASCII, or
 *   that looks like the sentinel itself, travels as `=?base64?{UTF-8}?=`.
 * - Server Validation (L582-L607): headers that do not match the body, required
 *   ones that are missing and values with invalid characters are refused with
 *   400 and -32020 (`HeaderMismatch`). Integers are compared as numbers.
 */
import { isObject } from "./jsonrpc.ts"

/** Which param `Mcp-Name` mirrors, per method (Standard Request Headers). A `Map`: it is looked up by the peer's method. */
export const NAMED_PARAM: ReadonlyMap<string, "name" | "uri"> = new Map([["tools/call", "name"], ["prompts/get", "name"], ["resources/read", "uri"]])

/** `Mcp-Param-{Name}` headers (lower-cased, as Node reads them). */
export const HEADER_PARAM_PREFIX = "mcp-param-"

const SENTINEL = /^=\?base64\?(.*)\?=$/s
/** Visible ASCII with inner spaces; no control characters (tab included), no leading or trailing whitespace. */
const PLAIN = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/
/** What RFC 9110 allows in a field value: visible ASCII, space, horizontal tab. */
const FIELD_VALUE = /^[\x20-\x7E\t]*$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * A header value as the spec's Value Encoding wants it: as is when it is plain
 * header-safe ASCII, else `=?base64?{UTF-8 as Base64}?=` (also for a plain
 * value that matches the sentinel pattern, to keep it unambiguous; and for "").
 */
export const encodeHeaderValue = (value: string): string =>
  PLAIN.test(value) && !SENTINEL.test(value) ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`

/**
 * The inverse of {@link encodeHeaderValue}, strict: undefined when the value has
 * characters a field value may not have, or a sentinel whose payload is not
 * Base64 of UTF-8 (servers MUST reject both).
 */
export const decodeHeaderValue = (value: string): string | undefined => {
  if (!FIELD_VALUE.test(value)) return undefined
  const m = SENTINEL.exec(value)
  if (m === null) return value
  const payload = m[1]!
  if (!BASE64.test(payload)) return undefined
  const bytes = Buffer.from(payload, "base64")
  const text = bytes.toString("utf8")
  // Invalid UTF-8 decodes to U+FFFD; re-encoding tells it apart from a real U+FFFD.
  return Buffer.from(text, "utf8").equals(bytes) ? text : undefined
}

// ---------------------------------------------------------------- x-mcp-header

/** One valid `x-mcp-header` annotation: the header name part and the argument path it mirrors. */
export interface ParamHeader {
  readonly name: string
  readonly path: ReadonlyArray<string>
}

/** RFC 9110 `token` (1*tchar). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const PRIMITIVE_TYPES: ReadonlySet<string> = new Set(["string", "integer", "boolean"])
/** Schema keywords holding subschemas that are not `properties`: an annotation below them is not statically reachable. */
const SUBSCHEMA_KEYWORDS: ReadonlyArray<string> = [
  "items", "prefixItems", "additionalItems", "contains", "additionalProperties", "patternProperties", "propertyNames",
  "unevaluatedItems", "unevaluatedProperties", "dependentSchemas", "oneOf", "anyOf", "allOf", "not", "if", "then", "else",
  "$defs", "definitions"
]

const primitiveTyped = (schema: Record<string, unknown>): boolean => {
  const t = schema.type
  if (typeof t === "string") return PRIMITIVE_TYPES.has(t)
  // ["string", "null"]: a nullable primitive (a null value is simply omitted).
  return Array.isArray(t) && t.length > 0 && t.every((x) => x === "null" || (typeof x === "string" && PRIMITIVE_TYPES.has(x))) && t.some((x) => x !== "null")
}

/**
 * The `x-mcp-header` annotations of a tool's `inputSchema`, or why the tool is
 * invalid (tools/x-mcp-header constraints: a non-empty token, unique
 * case-insensitively, on a string/integer/boolean property reached from the
 * root through `properties` keys only).
 */
export const paramHeadersOf = (inputSchema: unknown): { readonly ok: true; readonly headers: ReadonlyArray<ParamHeader> } | { readonly ok: false; readonly reason: string } => {
  const found: Array<ParamHeader> = []
  const problems: Array<string> = []
  const visit = (node: unknown, path: ReadonlyArray<string> | undefined, where: string): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => visit(n, undefined, `${where}[${i}]`))
      return
    }
    if (!isObject(node)) return
    if ("x-mcp-header" in node) {
      const name = node["x-mcp-header"]
      if (path === undefined || path.length === 0) problems.push(`x-mcp-header at ${where} is not on a property reachable through "properties" only`)
      else if (typeof name !== "string" || !TOKEN.test(name)) problems.push(`x-mcp-header ${JSON.stringify(name)} at ${where} is not a non-empty HTTP token`)
      else if (!primitiveTyped(node)) problems.push(`x-mcp-header "${name}" at ${where} is on a property that is not string, integer or boolean`)
      else found.push({ name, path })
    }
    if (isObject(node.properties)) {
      for (const [key, child] of Object.entries(node.properties)) visit(child, path === undefined ? undefined : [...path, key], `${where}.properties.${key}`)
    }
    for (const keyword of SUBSCHEMA_KEYWORDS) {
      const sub = node[keyword]
      if (sub === undefined) continue
      if (isObject(sub) && (keyword === "$defs" || keyword === "definitions" || keyword === "patternProperties" || keyword === "dependentSchemas")) {
        for (const [key, child] of Object.entries(sub)) visit(child, undefined, `${where}.${keyword}.${key}`)
      } else visit(sub, undefined, `${where}.${keyword}`)
    }
  }
  visit(inputSchema, [], "inputSchema")
  const seen = new Set<string>()
  for (const h of found) {
    const k = h.name.toLowerCase()
    if (seen.has(k)) problems.push(`x-mcp-header "${h.name}" is not unique (case-insensitively)`)
    seen.add(k)
  }
  return problems.length > 0 ? { ok: false, reason: problems.join("; ") } : { ok: true, headers: found }
}

/** The argument at an annotation's property path (undefined when a step is missing). */
const argumentAt = (args: unknown, path: ReadonlyArray<string>): unknown => {
  let v: unknown = args
  for (const key of path) {
    // The arguments are the peer's: only their own properties count.
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined
    v = v[key]
  }
  return v
}

/** The header value a client sends for one argument, or undefined when it is absent, null or not a primitive. */
export const paramHeaderValue = (args: unknown, path: ReadonlyArray<string>): string | undefined => {
  const v = argumentAt(args, path)
  if (typeof v === "string") return encodeHeaderValue(v)
  if (typeof v === "boolean") return v ? "true" : "false"
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v)
  return undefined
}

/** Does a decoded header value stand for this body value? Integers compare as numbers ("42.0" = 42). */
const matches = (decoded: string, body: unknown): boolean => {
  if (typeof body === "string") return decoded === body
  if (typeof body === "boolean") return decoded === (body ? "true" : "false")
  if (typeof body === "number") return decoded.trim() !== "" && Number(decoded) === body
  return false
}

/**
 * Server Validation of the `Mcp-Param-*` headers of one `tools/call`: the reason
 * to refuse it (400, -32020), or undefined when every annotated argument and
 * its header agree. `header(name)` reads a request header by lower-cased name.
 *
 * - value present (not null): the header MUST be there and match;
 * - value absent or null: no header is expected, and one that is sent anyway
 *   does not match the body (an intermediary may have routed on it);
 * - invalid characters or a broken Base64 sentinel: refused.
 */
export const checkParamHeaders = (
  annotations: ReadonlyArray<ParamHeader>,
  args: unknown,
  header: (lowerCaseName: string) => string | undefined
): string | undefined => {
  for (const a of annotations) {
    const name = `Mcp-Param-${a.name}`
    const raw = header(`${HEADER_PARAM_PREFIX}${a.name.toLowerCase()}`)
    const body = argumentAt(args, a.path)
    const where = `arguments.${a.path.join(".")}`
    if (body === undefined || body === null) {
      if (raw !== undefined) return `${name} is set but ${where} is ${body === null ? "null" : "absent"}`
      continue
    }
    if (raw === undefined) return `the ${name} header is required (${where} is set)`
    const decoded = decodeHeaderValue(raw)
    if (decoded === undefined) return `${name} has invalid characters or a malformed =?base64?…?= value`
    if (!matches(decoded, body)) return `${name} ${JSON.stringify(decoded)} does not match ${where}`
  }
  return undefined
}
