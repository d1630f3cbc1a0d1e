/**
 * The small YAML/JSON policy form for the common cases, compiled to Cedar.
 *
 * ```yaml
 * default: deny                 # deny | allow | approve (Cedar's default is deny)
 * approvalTimeout: 2m           # how long an approval may take (default 5m)
 * grants:                       # who may use the server at all (absent: any authenticated identity)
 *   - group: staff
 * rules:
 *   - id: echo-staff            # the policy id decisions name (default rule<N>)
 *     tool: echo                # or resource: URI, prompt: NAME; `*` is a wildcard
 *     effect: allow             # allow | deny | approve | hide
 *     principals: { groups: [staff], subjects: [alice], scopes: ["tools:echo"] }
 *     when:                     # argument conditions, all must hold
 *       - { arg: text, regex: "^[a-z ]+$" }
 *       - { arg: count, min: 0, max: 10 }
 *       - { arg: mode, equals: fast }
 * rateLimits:
 *   - { tool: echo, limit: 5, window: 1m, per: identity }   # identity | session | global
 * ```
 *
 * Argument conditions are evaluated by the gateway, not by Cedar, and handed to
 * Cedar as booleans (`context.cond["<rule>#<n>"]`) that the compiled policy
 * tests. Why: Cedar has no regular expressions (only `like` globs), its
 * numbers are 64-bit integers (a JSON argument `2.5` is not a Cedar value),
 * and reading a missing argument is an evaluation error that makes Cedar skip
 * the policy — for a `forbid`, that would fail open. Pre-evaluating keeps
 * every decision, and its attribution to a rule id, inside Cedar, while the
 * conditions are total (a missing or mistyped argument is simply `false`).
 */
import { createRequire } from "node:module"
import { isObject } from "../protocol/jsonrpc.ts"
import { parseDuration, PolicyParseError } from "./CedarPolicySet.ts"

export type RuleEffect = "allow" | "deny" | "approve" | "hide"
export type TargetKind = "tool" | "resource" | "prompt"

export interface ArgCondition {
  readonly id: string
  readonly arg: string
  readonly test: (value: unknown) => boolean
}

/** Who a rule or grant names (any one suffices); compiled to `principal == User::…`, `principal in Group::…`, `principal.scopes.contains(…)`. */
export interface FormPrincipals {
  readonly subjects: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string>
}

export interface FormRule {
  readonly id: string
  readonly kind: TargetKind
  /** Name or URI pattern (`*` wildcard). */
  readonly pattern: string
  readonly match: (name: string) => boolean
  readonly server: string | undefined
  readonly effect: RuleEffect
  /** Undefined: anyone. */
  readonly principals: FormPrincipals | undefined
  readonly conditions: ReadonlyArray<ArgCondition>
}

export interface FormRateLimit {
  readonly id: string
  readonly kind: TargetKind
  readonly match: (name: string) => boolean
  readonly limit: number
  readonly windowMs: number
  readonly per: "identity" | "session" | "global"
}

export interface CompiledForm {
  readonly cedar: string
  readonly default: "deny" | "allow" | "approve"
  /** The `connect` grants (`grant<i>`); undefined: one `grant` for any identity. */
  readonly grants: ReadonlyArray<FormPrincipals> | undefined
  readonly rules: ReadonlyArray<FormRule>
  readonly rateLimits: ReadonlyArray<FormRateLimit>
  readonly approvalTimeoutMs: number
}

const ACTION: Record<TargetKind, string> = { tool: "tools/call", resource: "resources/read", prompt: "prompts/get" }
const ENTITY: Record<TargetKind, string> = { tool: "Tool", resource: "Resource", prompt: "Prompt" }

const cedarString = (s: string): string => JSON.stringify(s)
/** A Cedar `like` pattern: `*` stays a wildcard, a literal `*` cannot be expressed (we have no need). */
const likePattern = (s: string): string => JSON.stringify(s)
const globMatcher = (pattern: string): ((name: string) => boolean) => {
  if (!pattern.includes("*")) return (name) => name === pattern
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s")
  return (name) => re.test(name)
}

const MAX_REGEX_INPUT = 64 * 1024

const listOf = (v: unknown): ReadonlyArray<string> => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)])

/** Compile the form's text (YAML or JSON: JSON is YAML); errors name the line and the reason. */
// Loaded with the first form compiled (kept off `import "mcp-actors"`).
let yamlModule: typeof import("yaml") | undefined
const yaml = (): typeof import("yaml") => (yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml"))

export const compileForm = (text: string, source = "policy"): CompiledForm => {
  const { isMap, parseDocument } = yaml()
  const doc = parseDocument(text, { prettyErrors: false })
  const lineOf = (offset: number | undefined): number | undefined => {
    if (offset === undefined) return undefined
    let line = 1
    for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++
    return line
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    throw PolicyParseError.at(source, e.linePos?.[0]?.line, e.linePos?.[0]?.col, e.message.split("\n")[0]!)
  }
  const fail = (path: ReadonlyArray<string | number>, reason: string): never => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined
    throw PolicyParseError.at(source, lineOf(node?.range?.[0]), undefined, reason)
  }
  if (!isMap(doc.contents)) fail([], "a policy form is a mapping with default, rules, grants and rateLimits")
  const root = doc.toJS() as Record<string, unknown>
  for (const key of Object.keys(root)) {
    if (!["default", "rules", "grants", "rateLimits", "approvalTimeout", "server"].includes(key)) fail([key], `unknown key "${key}"`)
  }
  const dflt = root.default ?? "deny"
  if (dflt !== "deny" && dflt !== "allow" && dflt !== "approve") fail(["default"], `default must be deny, allow or approve, not ${JSON.stringify(dflt)}`)
  const approvalTimeoutMs = root.approvalTimeout === undefined ? 5 * 60_000 : parseDuration(root.approvalTimeout)
  if (approvalTimeoutMs === undefined) fail(["approvalTimeout"], `approvalTimeout must be a duration like "90s" or "5m"`)
  const out: Array<string> = []
  const principalsOf = (p: unknown, path: ReadonlyArray<string | number>): FormPrincipals | undefined => {
    if (p === undefined) return undefined
    if (!isObject(p)) return fail(path, "principals must be a mapping of subjects, groups and scopes")
    for (const key of Object.keys(p)) {
      if (!["subjects", "groups", "scopes", "subject", "group", "scope"].includes(key)) fail([...path, key], `unknown principals key "${key}"`)
    }
    const out = {
      subjects: [...listOf(p.subjects), ...listOf(p.subject)],
      groups: [...listOf(p.groups), ...listOf(p.group)],
      scopes: [...listOf(p.scopes), ...listOf(p.scope)]
    }
    if (out.subjects.length + out.groups.length + out.scopes.length === 0) fail(path, "principals names nobody")
    return out
  }
  const principalFilter = (p: FormPrincipals | undefined): string | undefined => {
    if (p === undefined) return undefined
    const alts: Array<string> = []
    for (const s of p.subjects) alts.push(`principal == User::${cedarString(s)}`)
    for (const g of p.groups) alts.push(`principal in Group::${cedarString(g)}`)
    for (const s of p.scopes) alts.push(`principal.scopes.contains(${cedarString(s)})`)
    return alts.join(" || ")
  }

  // Grants: the "connect" action.
  let grants: Array<FormPrincipals> | undefined
  if (root.grants === undefined) out.push(`@id("grant")\npermit(principal, action == Action::"connect", resource);`)
  else if (!Array.isArray(root.grants)) fail(["grants"], "grants must be a list")
  else {
    grants = []
    for (const [i, g] of (root.grants as Array<unknown>).entries()) {
      const who = principalsOf(g, ["grants", i])
      // Only a JS `undefined` gets here (YAML/JSON cannot produce it): refused rather than read as "anyone".
      if (who === undefined) fail(["grants", i], "a grant names subjects, groups or scopes")
      grants.push(who!)
      const filter = principalFilter(who)
      out.push(`@id("grant${i}")\npermit(principal, action == Action::"connect", resource) when { ${filter} };`)
    }
  }
  if (dflt === "allow") out.push(`@id("default")\npermit(principal, action, resource);`)
  if (dflt === "approve") {
    out.push(`@id("default")\n@approval\npermit(principal, action in [Action::"tools/call", Action::"resources/read", Action::"prompts/get"], resource);`)
  }

  const rules: Array<FormRule> = []
  const ids = new Set(["grant", "default"])
  const rawRules = root.rules ?? []
  if (!Array.isArray(rawRules)) fail(["rules"], "rules must be a list")
  for (const [i, r] of (rawRules as Array<unknown>).entries()) {
    const path = ["rules", i]
    if (!isObject(r)) fail(path, "a rule is a mapping")
    const rule = r as Record<string, unknown>
    for (const key of Object.keys(rule)) {
      if (!["id", "tool", "resource", "prompt", "server", "effect", "principals", "when", "approvalTimeout"].includes(key)) fail([...path, key], `unknown rule key "${key}"`)
    }
    const id = rule.id === undefined ? `rule${i}` : String(rule.id)
    if (!/^[A-Za-z0-9_.:-]+$/.test(id)) fail([...path, "id"], `rule id ${JSON.stringify(id)} may use letters, digits and _ . : - only`)
    if (ids.has(id)) fail([...path, "id"], `duplicate rule id "${id}"`)
    ids.add(id)
    const kinds = (["tool", "resource", "prompt"] as const).filter((k) => rule[k] !== undefined)
    if (kinds.length !== 1) fail(path, "a rule names exactly one of tool, resource or prompt")
    const kind = kinds[0]!
    const pattern = String(rule[kind])
    const effect = rule.effect
    if (effect !== "allow" && effect !== "deny" && effect !== "approve" && effect !== "hide") {
      fail([...path, "effect"], `effect must be allow, deny, approve or hide, not ${JSON.stringify(effect)}`)
    }
    const conditions: Array<ArgCondition> = []
    const when = rule.when ?? []
    if (!Array.isArray(when)) fail([...path, "when"], "when must be a list of conditions")
    for (const [j, c] of (when as Array<unknown>).entries()) {
      const cpath = [...path, "when", j]
      if (!isObject(c) || typeof c.arg !== "string") fail(cpath, "a condition needs an arg name")
      const cond = c as Record<string, unknown>
      const arg = cond.arg as string
      const tests: Array<(v: unknown) => boolean> = []
      for (const key of Object.keys(cond)) {
        if (!["arg", "equals", "regex", "min", "max", "oneOf"].includes(key)) fail([...cpath, key], `unknown condition "${key}"`)
      }
      if ("equals" in cond) {
        const want = cond.equals
        tests.push((v) => v === want)
      }
      if (Array.isArray(cond.oneOf)) {
        const set = cond.oneOf as ReadonlyArray<unknown>
        tests.push((v) => set.includes(v))
      }
      if (cond.regex !== undefined) {
        let re: RegExp
        try {
          re = new RegExp(String(cond.regex), "u")
        } catch (e) {
          return fail([...cpath, "regex"], `invalid regex: ${(e as Error).message}`)
        }
        tests.push((v) => typeof v === "string" && v.length <= MAX_REGEX_INPUT && re.test(v))
      }
      for (const bound of ["min", "max"] as const) {
        if (cond[bound] === undefined) continue
        const n = cond[bound]
        if (typeof n !== "number") fail([...cpath, bound], `${bound} must be a number`)
        tests.push(bound === "min" ? (v) => typeof v === "number" && v >= (n as number) : (v) => typeof v === "number" && v <= (n as number))
      }
      if (tests.length === 0) fail(cpath, "a condition needs equals, oneOf, regex, min or max")
      conditions.push({ id: `${id}#${j}`, arg, test: (v) => tests.every((t) => t(v)) })
    }
    const server = rule.server === undefined ? undefined : String(rule.server)
    const scope = `principal, action == Action::${cedarString(ACTION[kind])}, resource is ${ENTITY[kind]}`
    const whens: Array<string> = [pattern.includes("*") ? `resource.name like ${likePattern(pattern)}` : `resource.name == ${cedarString(pattern)}`]
    if (server !== undefined) whens.push(`resource.server == ${cedarString(server)}`)
    const principals = principalsOf(rule.principals, [...path, "principals"])
    const who = principalFilter(principals)
    if (who !== undefined) whens.push(`(${who})`)
    for (const c of conditions) whens.push(`(context has cond && context.cond has ${cedarString(c.id)} && context.cond[${cedarString(c.id)}])`)
    const annotations = [`@id(${cedarString(id)})`]
    if (effect === "approve") annotations.push("@approval")
    if (effect === "hide") annotations.push("@hide")
    if (rule.approvalTimeout !== undefined) {
      const ms = parseDuration(rule.approvalTimeout)
      if (ms === undefined) fail([...path, "approvalTimeout"], "approvalTimeout must be a duration")
      annotations.push(`@approvalTimeout(${cedarString(String(ms))})`)
    }
    const verb = effect === "deny" || effect === "hide" ? "forbid" : "permit"
    out.push(`${annotations.join("\n")}\n${verb}(${scope}) when { ${whens.join(" && ")} };`)
    rules.push({ id, kind, pattern, match: globMatcher(pattern), server, effect: effect as RuleEffect, principals, conditions })
  }

  const rateLimits: Array<FormRateLimit> = []
  const rawLimits = root.rateLimits ?? []
  if (!Array.isArray(rawLimits)) fail(["rateLimits"], "rateLimits must be a list")
  for (const [i, l] of (rawLimits as Array<unknown>).entries()) {
    const path = ["rateLimits", i]
    if (!isObject(l)) fail(path, "a rate limit is a mapping")
    const lim = l as Record<string, unknown>
    const kinds = (["tool", "resource", "prompt"] as const).filter((k) => lim[k] !== undefined)
    if (kinds.length !== 1) fail(path, "a rate limit names exactly one of tool, resource or prompt")
    const kind = kinds[0]!
    const limit = lim.limit
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) fail([...path, "limit"], "limit must be a positive integer")
    const windowMs = parseDuration(lim.window)
    if (windowMs === undefined || windowMs <= 0) fail([...path, "window"], "window must be a duration like \"1m\"")
    const per = lim.per ?? "identity"
    if (per !== "identity" && per !== "session" && per !== "global") fail([...path, "per"], "per must be identity, session or global")
    rateLimits.push({
      id: lim.id === undefined ? `rateLimit${i}` : String(lim.id),
      kind,
      match: globMatcher(String(lim[kind])),
      limit: limit as number,
      windowMs: windowMs!,
      per: per as FormRateLimit["per"]
    })
  }
  return { cedar: out.join("\n\n") + "\n", default: dflt as CompiledForm["default"], grants, rules, rateLimits, approvalTimeoutMs: approvalTimeoutMs! }
}
