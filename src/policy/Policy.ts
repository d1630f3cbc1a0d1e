/**
 * A loaded policy: the Cedar set plus what the gateway evaluates around it —
 * argument conditions (pre-evaluated into `context.cond`), rate limits and
 * approval deadlines. From a `.cedar` file, or from the YAML/JSON form
 * (PolicyForm.ts) compiled to Cedar. Loading either throws a
 * {@link PolicyParseError} naming the line and the reason.
 */
import { readFileSync } from "node:fs"
import { CedarPolicySet, parseDuration, parseRate, type CedarTarget } from "./CedarPolicySet.ts"
import { compileForm, type FormRateLimit, type FormRule, type TargetKind } from "./PolicyForm.ts"

export interface RateLimitSpec {
  readonly id: string
  readonly limit: number
  readonly windowMs: number
  readonly per: "identity" | "session" | "global"
}

const KIND_OF: Record<string, TargetKind> = { Tool: "tool", Resource: "resource", Prompt: "prompt" }

export class Policy {
  readonly source: string
  readonly format: "cedar" | "form"
  readonly cedar: CedarPolicySet
  private readonly rules: ReadonlyArray<FormRule>
  private readonly formLimits: ReadonlyArray<FormRateLimit>
  private readonly defaultApprovalTimeoutMs: number

  private constructor(source: string, format: "cedar" | "form", cedar: CedarPolicySet, rules: ReadonlyArray<FormRule>, limits: ReadonlyArray<FormRateLimit>, approvalTimeoutMs: number) {
    this.source = source
    this.format = format
    this.cedar = cedar
    this.rules = rules
    this.formLimits = limits
    this.defaultApprovalTimeoutMs = approvalTimeoutMs
  }

  /** Parse policy text; `.cedar` sources (or `format: "cedar"`) are Cedar, anything else the YAML/JSON form. */
  static parse(text: string, source = "policy", format?: "cedar" | "form"): Policy {
    const f = format ?? (source.endsWith(".cedar") ? "cedar" : "form")
    if (f === "cedar") return new Policy(source, f, CedarPolicySet.parse(text, source), [], [], 5 * 60_000)
    const form = compileForm(text, source)
    return new Policy(source, f, CedarPolicySet.parse(form.cedar, `${source} (compiled)`), form.rules, form.rateLimits, form.approvalTimeoutMs)
  }

  static load(path: string): Policy {
    return Policy.parse(readFileSync(path, "utf8"), path)
  }

  /** The compiled Cedar text (the form's output, or the file itself). */
  get cedarText(): string {
    return this.cedar.text
  }

  /** Argument conditions of the rules that target this resource, evaluated (`undefined` when none). */
  conditions(target: CedarTarget, args: { readonly [key: string]: unknown } | undefined): Record<string, boolean> | undefined {
    if (this.rules.length === 0) return undefined
    const kind = KIND_OF[target.kind]
    let out: Record<string, boolean> | undefined
    for (const r of this.rules) {
      if (r.conditions.length === 0 || r.kind !== kind || !r.match(target.name)) continue
      for (const c of r.conditions) {
        const value = args !== undefined && Object.hasOwn(args, c.arg) ? args[c.arg] : undefined
        ;(out ??= {})[c.id] = c.test(value)
      }
    }
    return out
  }

  /**
   * For list filtering: conditions as they could turn out for some arguments —
   * an `allow`/`approve` rule's conditions true, a `deny` rule's false — so a
   * tool is hidden only when no arguments could make it callable.
   */
  listingConditions(target: CedarTarget): Record<string, boolean> | undefined {
    if (this.rules.length === 0) return undefined
    const kind = KIND_OF[target.kind]
    let out: Record<string, boolean> | undefined
    for (const r of this.rules) {
      if (r.conditions.length === 0 || r.kind !== kind || !r.match(target.name)) continue
      for (const c of r.conditions) (out ??= {})[c.id] = r.effect === "allow" || r.effect === "approve"
    }
    return out
  }

  /** Rate limits on a call allowed by `policies` to `target`. */
  rateLimits(target: CedarTarget, policies: ReadonlyArray<string>): ReadonlyArray<RateLimitSpec> {
    let out: Array<RateLimitSpec> | undefined
    const kind = KIND_OF[target.kind]
    for (const l of this.formLimits) if (l.kind === kind && l.match(target.name)) (out ??= []).push(l)
    for (const id of policies) {
      const rate = this.cedar.policies.get(id)?.annotations.get("rateLimit")
      const parsed = rate === undefined ? undefined : parseRate(rate)
      if (parsed !== undefined) (out ??= []).push({ id, limit: parsed.limit, windowMs: parsed.windowMs, per: "identity" })
    }
    return out ?? []
  }

  /** Whether a policy asks for approval (`@approval`), and how long it may take. */
  isApproval(id: string): boolean {
    return this.cedar.policies.get(id)?.annotations.has("approval") ?? false
  }

  approvalTimeoutMs(policies: ReadonlyArray<string>): number {
    let ms: number | undefined
    for (const id of policies) {
      const t = parseDuration(this.cedar.policies.get(id)?.annotations.get("approvalTimeout"))
      if (t !== undefined) ms = ms === undefined ? t : Math.min(ms, t)
    }
    return ms ?? this.defaultApprovalTimeoutMs
  }
}
