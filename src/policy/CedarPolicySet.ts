/**
 * A Cedar policy set, parsed and checked once per load (`@cedar-policy/cedar-wasm`,
 * the official bindings), evaluated per request against the preparsed copy.
 *
 * Request shape (what policies are written against):
 * - principal `User::"<identity id>"`, attributes `subject`, `scopes` (a set),
 *   `via`, `claims` (a record); parents `Group::"<g>"` for each group;
 * - action `Action::"<MCP method>"` (`tools/call`, `resources/read`,
 *   `prompts/get`; `connect` for "may use this server at all");
 * - resource `Tool::"<server>/<name>"`, `Resource::"<server>/<uri>"`,
 *   `Prompt::"<server>/<name>"` with attributes `name`, `server` and parent
 *   `Server::"<server>"`; `Server::"<server>"` for `connect`;
 * - context: `args` (the arguments, made Cedar-safe), `session` (`id`, `era`,
 *   `transport`, `protocolVersion`), `time` (`epochSeconds`, `hour`, `weekday`,
 *   UTC), `cond` (argument conditions pre-evaluated by the gateway, see
 *   PolicyForm.ts), `listing` (true when filtering a list result).
 *
 * Policy ids are the `@id("…")` annotations (else `policy<N>` in file order):
 * they are what decisions and the audit trail name. A permit annotated
 * `@approval` allows only after approval; `@rateLimit("N/<window>")` limits the
 * calls it allows per identity and resource.
 *
 * Evaluation is memoised: a decision depends only on the principal entity,
 * action, resource and the context keys the policies actually read (found by
 * walking each policy's JSON form), so the cache key holds only those. A policy
 * set that reads `context.args` or `context.time` keys its cache on them too.
 */
import { createRequire } from "node:module"
import { Schema } from "effect"
import type * as CedarWasm from "@cedar-policy/cedar-wasm/nodejs"
import type { Identity } from "./Identity.ts"

// Loaded on first use: compiling the wasm module takes a few hundred ms, which
// `import "mcp-actors"` should not pay unless a policy is actually parsed.
let loaded: typeof CedarWasm | undefined
const wasm = (): typeof CedarWasm => (loaded ??= createRequire(import.meta.url)("@cedar-policy/cedar-wasm/nodejs") as typeof CedarWasm)

export type ResourceKind = "Tool" | "Resource" | "Prompt" | "Server"

/** What a request acts on: becomes the Cedar resource `<kind>::"<server>/<name>"`. */
export interface CedarTarget {
  readonly kind: ResourceKind
  readonly server: string
  /** Tool/prompt name or resource URI; empty for `Server`. */
  readonly name: string
}

/** Cedar's answer with the policies that determined it, which decisions and the audit trail name. */
export interface CedarDecision {
  readonly decision: "allow" | "deny"
  /** The determining policies (Cedar's `diagnostics.reason`). */
  readonly policies: ReadonlyArray<string>
  /** Policies that failed to evaluate (skipped by Cedar), with why. */
  readonly errors: ReadonlyArray<string>
}

/** A policy text that does not parse: where and why. */
export class PolicyParseError extends Schema.TaggedError<PolicyParseError>()("PolicyParseError", {
  /** The file (or name) the text came from. */
  source: Schema.String,
  line: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.Number),
  reason: Schema.String,
  /** `source:line:column: reason` (the parts that are known). */
  message: Schema.String
}) {
  /** The error for `reason` at `source:line:column`, its message naming what is known of the place. */
  static at(source: string, line: number | undefined, column: number | undefined, reason: string): PolicyParseError {
    const where = `${source}${line === undefined ? "" : `:${line}`}${line === undefined || column === undefined ? "" : `:${column}`}`
    return new PolicyParseError({ source, line, column, reason, message: `${where}: ${reason}` })
  }
}

const lineColumn = (text: string, offset: number): { line: number; column: number } => {
  let line = 1
  let last = -1
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      last = i
    }
  }
  return { line, column: offset - last }
}

/** Peer-supplied values made Cedar-safe: no `__entity`/`__extn` escapes, no null, non-integers as strings. */
export const toCedarValue = (v: unknown, depth = 0): unknown => {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v
    case "number":
      return Number.isSafeInteger(v) ? v : String(v)
    case "bigint":
      return String(v)
    case "object": {
      if (v === null || depth > 16) return undefined
      if (Array.isArray(v)) return v.map((x) => toCedarValue(x, depth + 1)).filter((x) => x !== undefined)
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) {
        // `__entity` / `__extn` would be read as an entity reference or extension call: never from a peer.
        if (k.startsWith("__")) continue
        const c = toCedarValue(x, depth + 1)
        if (c !== undefined) out[k] = c
      }
      return out
    }
    default:
      return undefined
  }
}

/**
 * The top-level attributes of variable `v` a policy reads (`context.args…` →
 * "args"); false when it uses the variable otherwise than `.attr` / `has`
 * (`in`, `==` and `is` are allowed for `principal`: they read no attribute).
 */
const attributesRead = (node: unknown, v: "context" | "principal", keys: Set<string>): boolean => {
  if (Array.isArray(node)) return node.every((n) => attributesRead(n, v, keys))
  if (typeof node !== "object" || node === null) return true
  const o = node as Record<string, unknown>
  for (const op of [".", "has"]) {
    const access = o[op] as { left?: { Var?: string }; attr?: string } | undefined
    if (access !== undefined && access.left?.Var === v && typeof access.attr === "string") {
      keys.add(access.attr)
      return true
    }
  }
  if (v === "principal") {
    for (const op of ["in", "==", "!=", "is"]) {
      const cmp = o[op] as { left?: { Var?: string }; right?: unknown } | undefined
      if (cmp !== undefined && cmp.left?.Var === "principal") return attributesRead(cmp.right, v, keys)
    }
  }
  if (o.Var === v) return false
  return Object.values(o).every((n) => attributesRead(n, v, keys))
}

/** What a policy's scope (and a top-level `resource.name == "…"` condition) says it can apply to. */
interface Applicability {
  /** Action ids, or undefined for any. */
  readonly actions: ReadonlySet<string> | undefined
  /** Exact resource uid (`type/id`), entity type, or undefined for any. */
  readonly resourceUid: string | undefined
  readonly resourceType: string | undefined
  readonly resourceName: string | undefined
}

type Scope = { op?: string; entity?: { type?: string; id?: string }; entities?: Array<{ type?: string; id?: string }>; entity_type?: string }

const nameEquality = (body: unknown): string | undefined => {
  const o = body as Record<string, { left?: unknown; right?: unknown }> | undefined
  if (o === undefined || o === null || typeof o !== "object") return undefined
  if (o["&&"] !== undefined) return nameEquality(o["&&"].left) ?? nameEquality(o["&&"].right)
  const eq = o["=="] as { left?: { "."?: { left?: { Var?: string }; attr?: string } }; right?: { Value?: unknown } } | undefined
  const access = eq?.left?.["."]
  if (access?.left?.Var === "resource" && access.attr === "name" && typeof eq?.right?.Value === "string") return eq.right.Value
  return undefined
}

const applicabilityOf = (json: { action: Scope; resource: Scope; conditions: ReadonlyArray<{ kind: string; body: unknown }> }): Applicability => {
  const a = json.action
  // `action in Action::"group"` can match member actions: treated as any.
  const actions = a.op === "==" && a.entity?.id !== undefined
    ? new Set([a.entity.id])
    : a.op === "in" && Array.isArray(a.entities)
    ? new Set(a.entities.map((e) => String(e.id)))
    : undefined
  const r = json.resource
  const resourceUid = r.op === "==" && r.entity !== undefined ? `${r.entity.type}/${r.entity.id}` : undefined
  const resourceType = r.op === "==" ? r.entity?.type : r.op === "is" ? r.entity_type : undefined
  let resourceName: string | undefined
  for (const c of json.conditions) if (c.kind === "when") resourceName ??= nameEquality(c.body)
  return { actions, resourceUid, resourceType, resourceName }
}

const ANNOTATION = /@([A-Za-z_][A-Za-z0-9_]*)(?:\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\))?/y

/** The `@name("value")` annotations heading one policy's text. */
const annotationsOf = (text: string): Map<string, string> => {
  const out = new Map<string, string>()
  let i = 0
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++
    ANNOTATION.lastIndex = i
    const m = ANNOTATION.exec(text)
    if (m === null) return out
    out.set(m[1]!, m[2] ?? "")
    i = ANNOTATION.lastIndex
  }
}

let nextSetId = 0
const DEFAULT_CACHE_SIZE = 10_000

export interface PolicyInfo {
  readonly id: string
  readonly effect: "permit" | "forbid"
  readonly annotations: ReadonlyMap<string, string>
  /** What it can apply to (for slicing the set per request shape). */
  readonly applies: Applicability
  readonly text: string
}

/** At most this many slices (distinct action/resource shapes) are preparsed; beyond, the whole set is used. */
const MAX_SLICES = 2_000

/**
 * A parsed, validated Cedar policy set with memoised evaluation: parsing and
 * checking happen once per load so a bad policy fails there, and per-request
 * cost stays small (slices by request shape, a cache keyed on what the
 * policies read).
 */
export class CedarPolicySet {
  readonly source: string
  readonly text: string
  readonly policies: ReadonlyMap<string, PolicyInfo>
  /** Context keys the policies read; "all" disables narrowing the cache key. */
  readonly contextKeys: ReadonlySet<string> | "all"
  /** Principal attributes the policies read; "all" when one uses the principal otherwise. */
  readonly principalAttributes: ReadonlySet<string> | "all"
  private readonly setId: string
  /**
   * Preparsed subsets per request shape (action, resource): Cedar evaluates
   * every policy of a set, so a 50-rule set costs ~50× a one-rule set per
   * decision; only the policies whose scope can match are kept in a slice,
   * which gives the same decision and the same determining policies.
   */
  private readonly slices = new Map<string, string>()
  private readonly sliceIds = new Map<string, string>()
  private slicing = true
  private readonly cache = new Map<string, CedarDecision>()
  private readonly cacheSize: number
  private readonly entityKeys = new WeakMap<Identity, { key: string; entities: ReadonlyArray<unknown> }>()

  private constructor(
    source: string,
    text: string,
    policies: Map<string, PolicyInfo>,
    contextKeys: ReadonlySet<string> | "all",
    principalAttributes: ReadonlySet<string> | "all",
    setId: string,
    cacheSize: number
  ) {
    this.source = source
    this.text = text
    this.policies = policies
    this.contextKeys = contextKeys
    this.principalAttributes = principalAttributes
    this.setId = setId
    this.cacheSize = cacheSize
  }

  /** Parse and check `text`; throws a {@link PolicyParseError} naming the line and the reason. */
  static parse(text: string, source = "policy", options: { readonly cacheSize?: number; readonly slice?: boolean } = {}): CedarPolicySet {
    const checked = wasm().checkParsePolicySet({ staticPolicies: text })
    if (checked.type === "failure") {
      const first = checked.errors[0]
      const at = first?.sourceLocations?.[0]
      const where = at === undefined ? undefined : lineColumn(text, at.start)
      const reason = [first?.message ?? "does not parse", at?.label].filter((s) => s !== undefined && s !== null && s !== "").join(": ")
      throw PolicyParseError.at(source, where?.line, where?.column, reason)
    }
    const parts = wasm().policySetTextToParts(text)
    if (parts.type === "failure") throw PolicyParseError.at(source, undefined, undefined, parts.errors[0]?.message ?? "does not parse")
    if (parts.policy_templates.length > 0) throw PolicyParseError.at(source, undefined, undefined, "policy templates are not supported")
    const byId: Record<string, string> = {}
    const policies = new Map<string, PolicyInfo>()
    const keys = new Set<string>()
    const principalKeys = new Set<string>()
    let all = false
    let allPrincipal = false
    for (const [n, part] of parts.policies.entries()) {
      const annotations = annotationsOf(part)
      const id = annotations.get("id") || `policy${n}`
      if (policies.has(id)) {
        const at = text.indexOf(`@id("${id}")`, text.indexOf(`@id("${id}")`) + 1)
        const where = at < 0 ? undefined : lineColumn(text, at)
        throw PolicyParseError.at(source, where?.line, where?.column, `duplicate policy id "${id}"`)
      }
      const json = wasm().policyToJson(part)
      if (json.type === "failure") throw PolicyParseError.at(source, undefined, undefined, json.errors[0]?.message ?? "does not parse")
      if (!attributesRead(json.json.conditions, "context", keys)) all = true
      if (!attributesRead(json.json.conditions, "principal", principalKeys)) allPrincipal = true
      const rate = annotations.get("rateLimit")
      if (rate !== undefined && parseRate(rate) === undefined) {
        const at = text.indexOf(`@rateLimit("${rate}")`)
        const where = at < 0 ? undefined : lineColumn(text, at)
        throw PolicyParseError.at(source, where?.line, where?.column, `@rateLimit("${rate}") must read "N/<window>", e.g. "10/1m"`)
      }
      policies.set(id, { id, effect: json.json.effect, annotations, applies: applicabilityOf(json.json as never), text: part })
      byId[id] = part
    }
    const setId = `mcp-actors-${++nextSetId}`
    const pre = wasm().preparsePolicySet(setId, { staticPolicies: byId })
    if (pre.type === "failure") throw PolicyParseError.at(source, undefined, undefined, pre.errors[0]?.message ?? "does not parse")
    const set = new CedarPolicySet(source, text, policies, all ? "all" : keys, allPrincipal ? "all" : principalKeys, setId, options.cacheSize ?? DEFAULT_CACHE_SIZE)
    set.slicing = options.slice !== false
    return set
  }

  /** True when some policy permits something: a set without one denies every request. */
  get hasPermit(): boolean {
    for (const p of this.policies.values()) if (p.effect === "permit") return true
    return false
  }

  private principal(identity: Identity): { key: string; entities: ReadonlyArray<unknown> } {
    let e = this.entityKeys.get(identity)
    if (e === undefined) {
      const uid = { type: "User", id: identity.id }
      const all: Record<string, unknown> = { subject: identity.subject, scopes: [...identity.scopes], via: identity.via }
      const read = this.principalAttributes
      // Only the attributes some policy reads cross into wasm (serialising claims costs more than evaluating).
      if (read === "all" || read.has("claims")) all.claims = toCedarValue(identity.claims) ?? {}
      const attrs = read === "all" ? all : Object.fromEntries(Object.entries(all).filter(([k]) => read.has(k)))
      const entity = { uid, attrs, parents: identity.groups.map((g) => ({ type: "Group", id: g })) }
      e = { key: JSON.stringify(entity), entities: [entity] }
      this.entityKeys.set(identity, e)
    }
    return e
  }

  /** Decide one request (memoised on what the policies read). */
  isAuthorized(identity: Identity, action: string, target: CedarTarget, context: { readonly [key: string]: unknown }): CedarDecision {
    const p = this.principal(identity)
    const resourceId = target.kind === "Server" ? target.server : `${target.server}/${target.name}`
    let ctxKey = ""
    const keys = this.contextKeys
    let narrowed: Record<string, unknown> | undefined
    if (keys === "all") ctxKey = JSON.stringify(context)
    else {
      narrowed = {}
      for (const k of keys) {
        if (!Object.hasOwn(context, k)) continue
        narrowed[k] = context[k]
        ctxKey += `${k}=${JSON.stringify(context[k])};`
      }
    }
    const cacheKey = `${p.key}\u0000${action}\u0000${target.kind}\u0000${resourceId}\u0000${ctxKey}`
    const hit = this.cache.get(cacheKey)
    if (hit !== undefined) return hit
    const resourceUid = { type: target.kind, id: resourceId }
    const entities = target.kind === "Server"
      ? p.entities
      : [...p.entities, { uid: resourceUid, attrs: { name: target.name, server: target.server }, parents: [{ type: "Server", id: target.server }] }]
    let answer: CedarWasm.AuthorizationAnswer
    try {
      answer = wasm().statefulIsAuthorized({
        principal: { type: "User", id: identity.id },
        action: { type: "Action", id: action },
        resource: resourceUid,
        context: toCedarValue(narrowed ?? context) as Record<string, never>,
        preparsedPolicySetId: this.sliceFor(action, target, resourceUid),
        entities: entities as never
      })
    } catch (e) {
      // The bindings throw rather than answer when the request's JSON does not
      // parse in wasm (a lone surrogate in a peer-supplied string): refused, not a crash.
      return { decision: "deny", policies: [], errors: [e instanceof Error ? e.message : String(e)] }
    }
    let decision: CedarDecision
    if (answer.type === "failure") {
      // A request Cedar cannot even evaluate is refused (fail closed).
      decision = { decision: "deny", policies: [], errors: answer.errors.map((e) => e.message) }
    } else {
      const r = answer.response
      // Cedar reports the determining policies as a set: sorted, so decisions compare and log stably.
      decision = { decision: r.decision, policies: [...r.diagnostics.reason].sort(), errors: r.diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`) }
    }
    if (this.cache.size >= this.cacheSize) this.cache.clear()
    this.cache.set(cacheKey, decision)
    return decision
  }

  /** The preparsed subset of policies that can apply to this action and resource. */
  private sliceFor(action: string, target: CedarTarget, uid: { readonly type: string; readonly id: string }): string {
    const shape = `${action}\u0000${uid.type}\u0000${uid.id}`
    const known = this.slices.get(shape)
    if (known !== undefined) return known
    if (!this.slicing || this.slices.size >= MAX_SLICES) return this.setId
    const chosen: Record<string, string> = {}
    const ids: Array<string> = []
    for (const p of this.policies.values()) {
      const a = p.applies
      if (a.actions !== undefined && !a.actions.has(action)) continue
      if (a.resourceUid !== undefined && a.resourceUid !== `${uid.type}/${uid.id}`) continue
      if (a.resourceType !== undefined && a.resourceType !== uid.type) continue
      if (a.resourceName !== undefined && a.resourceName !== target.name) continue
      chosen[p.id] = p.text
      ids.push(p.id)
    }
    const signature = ids.join("\u0000")
    let id = this.sliceIds.get(signature)
    if (id === undefined) {
      id = `${this.setId}/${this.sliceIds.size}`
      const pre = wasm().preparsePolicySet(id, { staticPolicies: chosen })
      if (pre.type === "failure") id = this.setId
      this.sliceIds.set(signature, id)
    }
    this.slices.set(shape, id)
    return id
  }
}

/** `"10/1m"` → { limit: 10, windowMs: 60000 } (units ms, s, m, h). */
export const parseRate = (s: string): { readonly limit: number; readonly windowMs: number } | undefined => {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)\s*$/.exec(s)
  if (m === null) return undefined
  const limit = Number(m[1])
  const n = m[2] === "" ? 1 : Number(m[2])
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[3] as "ms" | "s" | "m" | "h"]
  return limit > 0 && n > 0 ? { limit, windowMs: n * unit } : undefined
}

/** `"90s"`, `"2m"`, `"500ms"`, or a number of ms → milliseconds. */
export const parseDuration = (v: unknown): number | undefined => {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined
  if (typeof v !== "string") return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v)
  if (m === null) return undefined
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h"]
}
