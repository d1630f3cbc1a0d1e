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
      if (!show && isSecretKey(key) && child !== undefined && child !== null) {
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
