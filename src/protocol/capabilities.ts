/**
 * The capability model (2025-11-25/basic/lifecycle.mdx:L184-L220): each side
 * may only use what the other advertised. `requiredServerCapability` and
 * `requiredClientCapability` map a method onto the capability that gates it, so
 * both the sender (local typed error) and the receiver (-32601/-32602) enforce
 * the same table.
 */
/**
 * What a client declares in `initialize` (legacy) or each request's `_meta` (modern).
 * Unknown keys pass through, so capabilities from newer spec versions are not lost.
 */
export interface ClientCapabilities {
  readonly roots?: { readonly listChanged?: boolean }
  readonly sampling?: { readonly context?: object; readonly tools?: object }
  readonly elicitation?: { readonly form?: object; readonly url?: object }
  readonly tasks?: object
  readonly experimental?: Record<string, object>
  readonly extensions?: Record<string, object>
  readonly [key: string]: unknown
}

/**
 * What a server declares. `McpServer` derives it from what is registered (a server
 * advertises only what it serves); unknown keys pass through.
 */
export interface ServerCapabilities {
  readonly tools?: { readonly listChanged?: boolean }
  readonly resources?: { readonly subscribe?: boolean; readonly listChanged?: boolean }
  readonly prompts?: { readonly listChanged?: boolean }
  readonly logging?: object
  readonly completions?: object
  readonly tasks?: object
  readonly experimental?: Record<string, object>
  readonly extensions?: Record<string, object>
  readonly [key: string]: unknown
}

/** A capability path such as `resources.subscribe` or `tools`. */
export type CapabilityPath = string

// Keyed by the peer's method name: a `Map`, never a plain object, so that a method called
// `constructor` or `__proto__` finds nothing instead of an `Object.prototype` member.
const SERVER_METHOD_CAPABILITY: ReadonlyMap<string, CapabilityPath> = new Map([
  ["tools/list", "tools"],
  ["tools/call", "tools"],
  ["resources/list", "resources"],
  ["resources/read", "resources"],
  ["resources/templates/list", "resources"],
  ["resources/subscribe", "resources.subscribe"],
  ["resources/unsubscribe", "resources.subscribe"],
  ["prompts/list", "prompts"],
  ["prompts/get", "prompts"],
  ["logging/setLevel", "logging"],
  ["completion/complete", "completions"]
])

const CLIENT_METHOD_CAPABILITY: ReadonlyMap<string, CapabilityPath> = new Map([
  ["sampling/createMessage", "sampling"],
  ["elicitation/create", "elicitation"],
  ["roots/list", "roots"]
])

/** Server capability a client→server request needs, if any. */
export const requiredServerCapability = (method: string): CapabilityPath | undefined => SERVER_METHOD_CAPABILITY.get(method)
/** Client capability a server→client request needs, if any. */
export const requiredClientCapability = (method: string): CapabilityPath | undefined => CLIENT_METHOD_CAPABILITY.get(method)

/** `node[key]` if it is the node's own property (capabilities come from the peer: inherited members do not count). */
const ownMember = (node: unknown, key: string): unknown =>
  typeof node === "object" && node !== null && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined

/** Whether `caps` declares `path` (a dotted path; a present object or `true` counts). */
export const hasCapability = (caps: object | undefined, path: CapabilityPath): boolean => {
  // Checked on every request: top-level paths (the common case) need no split.
  if (path.indexOf(".") === -1) {
    const v = ownMember(caps, path)
    return v !== undefined && v !== null && v !== false
  }
  let node: unknown = caps
  for (const key of path.split(".")) node = ownMember(node, key)
  return node !== undefined && node !== null && node !== false
}

/**
 * Elicitation modes a client declared: `{}` means form only
 * (2025-11-25/client/elicitation.mdx:L65).
 */
export const elicitationModes = (caps: ClientCapabilities | undefined): ReadonlySet<"form" | "url"> => {
  const e = caps?.elicitation
  if (!e) return new Set()
  const modes = new Set<"form" | "url">()
  if (e.form) modes.add("form")
  if (e.url) modes.add("url")
  if (modes.size === 0) modes.add("form")
  return modes
}

/**
 * The client capability (a dotted path) that a server→client request needs and
 * `caps` lacks, or undefined. Elicitation also needs the mode it asks for
 * (2025-11-25/client/elicitation.mdx:L65: `{}` means form only).
 */
export const missingClientCapabilityFor = (caps: ClientCapabilities, method: string, params: { readonly [key: string]: unknown } | undefined): string | undefined => {
  const capability = requiredClientCapability(method)
  if (capability !== undefined && !hasCapability(caps, capability)) return capability
  if (method === "elicitation/create") {
    const mode = typeof params?.mode === "string" ? params.mode : "form"
    if (!elicitationModes(caps).has(mode as "form" | "url")) return `elicitation.${mode}`
  }
  return undefined
}

/**
 * Dotted capability paths as a capabilities object: `["elicitation.url", "roots"]`
 * → `{ elicitation: { url: {} }, roots: {} }`. The 2026-07-28 -32021 error carries
 * `data.requiredCapabilities` in this shape (a `ClientCapabilities`, schema.ts
 * `MissingRequiredClientCapabilityError`).
 */
export const capabilityObject = (paths: ReadonlyArray<string>): ClientCapabilities => {
  // Paths may carry peer-chosen parts (an elicitation mode): defined as own properties, so
  // `__proto__` stays a key rather than replacing the prototype.
  const root: Record<string, unknown> = {}
  for (const path of paths) {
    let node = root
    for (const key of path.split(".")) {
      if (!Object.hasOwn(node, key)) Object.defineProperty(node, key, { value: {}, enumerable: true, writable: true, configurable: true })
      node = node[key] as Record<string, unknown>
    }
  }
  return root as ClientCapabilities
}

/**
 * The dotted paths a capabilities object names (its leaves): the inverse of
 * `capabilityObject`. A list of strings (the shape of early drafts) is taken as is.
 */
export const capabilityPaths = (value: unknown): ReadonlyArray<string> => {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string")
  const out: Array<string> = []
  const walk = (node: unknown, prefix: string): void => {
    const entries = typeof node === "object" && node !== null ? Object.entries(node) : []
    if (entries.length === 0) {
      if (prefix !== "") out.push(prefix)
      return
    }
    for (const [k, v] of entries) walk(v, prefix === "" ? k : `${prefix}.${k}`)
  }
  walk(value, "")
  return out
}
