/**
 * What the inspector may show of an event, a context or a session summary:
 * plain JSON, with secrets replaced by default.
 *
 * Why: contexts hold live objects (a session, a transport) that are neither
 * serializable nor meant for a page, and events carry tool arguments, tokens
 * and headers. The inspector shows structure by default: argument values,
 * results, tokens and anything under a secret-looking key become `"[redacted]"`; the
 * user opts in to see them (`showSecrets`).
 */

export const REDACTED = "[redacted]"

/** Keys whose values are never shown unless secrets are opted in (compared lower-case, without `-`/`_`). */
const SECRET_KEYS = new Set([
  "arguments",
  "args",
  // Tool results echo what the arguments held (OpenTelemetry's MCP conventions make both opt-in).
  "result",
  "input",
  "token",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "authorization",
  "auth",
  "password",
  "secret",
  "clientsecret",
  "apikey",
  "key",
  "cookie",
  "headers",
  "credentials",
  "requeststate"
])

const normalize = (key: string) => key.toLowerCase().replace(/[-_]/g, "")

/** Whether a value under `key` is hidden by default. */
export const isSecretKey = (key: string): boolean => SECRET_KEYS.has(normalize(key))

/** {@link isSecretKey} of the keys seen so far (event and summary field names repeat: each key normalized once, not per copy; bounded, since a peer's params name keys too). */
const secretKeyCache = new Map<string, boolean>()
const isSecretKeyCached = (key: string): boolean => {
  let secret = secretKeyCache.get(key)
  if (secret === undefined) {
    secret = isSecretKey(key)
    if (secretKeyCache.size < 4096) secretKeyCache.set(key, secret)
  }
  return secret
}

export interface ToJsonOptions {
  /** Show secret values (default false: they become `"[redacted]"`). */
  readonly showSecrets?: boolean
  /** Deeper structure becomes `"[…]"`. Default 6. */
  readonly maxDepth?: number
  /** Longer strings are cut. Default 2000. */
  readonly maxString?: number
}

/** `out[key] = v` for a peer's key: `"__proto__"` would set the copy's prototype, so it is defined as an own key. */
const setOwn = (out: Record<string, unknown>, key: string, v: unknown): void => {
  if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
  else out[key] = v
}

/**
 * A JSON-safe copy: plain objects, arrays and primitives are copied (cycles and
 * depth cut), class instances become `"[ClassName]"`, functions and symbols are
 * dropped, secrets are redacted unless `showSecrets`. Never throws.
 */
export const toJsonSafe = (value: unknown, options: ToJsonOptions = {}): unknown => {
  const show = options.showSecrets === true
  const maxDepth = options.maxDepth ?? 6
  const maxString = options.maxString ?? 2000
  const seen = new Set<object>()
  const walk = (v: unknown, depth: number): unknown => {
    switch (typeof v) {
      case "string":
        return v.length > maxString ? `${v.slice(0, maxString)}…` : v
      case "number":
        return Number.isFinite(v) ? v : String(v)
      case "boolean":
        return v
      case "bigint":
        return v.toString()
      case "undefined":
      case "function":
      case "symbol":
        return undefined
    }
    if (v === null) return null
    const o = v as object
    if (seen.has(o)) return "[cycle]"
    if (depth >= maxDepth) return "[…]"
    if (o instanceof Error) return { name: o.name, message: o.message }
    if (Array.isArray(o)) {
      seen.add(o)
      const out = o.slice(0, 200).map((x) => walk(x, depth + 1) ?? null)
      if (o.length > 200) out.push(`[${o.length - 200} more]`)
      seen.delete(o)
      return out
    }
    const proto = Object.getPrototypeOf(o) as object | null
    if (proto !== Object.prototype && proto !== null) {
      if (o instanceof Map) return `[Map(${o.size})]`
      if (o instanceof Set) return `[Set(${o.size})]`
      return `[${(o.constructor as { name?: string } | undefined)?.name || "object"}]`
    }
    seen.add(o)
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(o)) {
      const child = (o as Record<string, unknown>)[key]
      if (!show && child !== undefined && child !== null && isSecretKeyCached(key)) {
        setOwn(out, key, REDACTED)
        continue
      }
      const copied = walk(child, depth + 1)
      if (copied !== undefined) setOwn(out, key, copied)
    }
    seen.delete(o)
    return out
  }
  try {
    return walk(value, 0)
  } catch {
    return "[unserializable]"
  }
}

/** A session id shown by default: enough to tell sessions apart, not enough to hijack one over HTTP. */
export const redactId = (id: string, showSecrets: boolean): string =>
  showSecrets || id.length <= 12 || id.startsWith("x:") ? id : `${id.slice(0, 8)}…`


const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as object | null
  return proto === Object.prototype || proto === null
}

/**
 * `o` with its secret values (by key, this level only) replaced, or `o` itself when it holds none.
 * Only objects and long strings are worth not keeping: a short secret string (a token) is left to
 * the download's redaction, so a field holding a primitive costs one `typeof` here, no key lookup.
 */
const redactLevel = (o: Record<string, unknown>, deeper: boolean): Record<string, unknown> => {
  let copy: Record<string, unknown> | undefined
  for (const key in o) {
    const child = o[key]
    if (typeof child === "object" ? child === null : typeof child !== "string" || child.length < 256) continue
    if (!Object.hasOwn(o, key)) continue
    let replaced: unknown = child
    if (isSecretKeyCached(key)) replaced = REDACTED
    else if (deeper && isPlainObject(child)) replaced = redactLevel(child, false)
    if (replaced !== child) (copy ??= { ...o })[key] = replaced
  }
  return copy ?? o
}

/**
 * What a record keeps of an event when secrets are not shown: the event itself when it holds no
 * secret object (or long string) in its own fields or one level below (`params.arguments`), else a
 * shallow copy with those values replaced by {@link REDACTED}. {@link toJsonSafe} without `showSecrets` gives the same
 * JSON for both (it redacts the same keys, at any depth); the record just does not keep a tool's
 * result or arguments alive, which nobody may see, for as long as the ring holds the entry.
 */
export const withoutSecrets = <E extends object>(event: E): E =>
  isPlainObject(event) ? redactLevel(event, true) as E : event
