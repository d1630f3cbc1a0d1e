/**
 * A loaded policy: the Cedar set plus what the gateway evaluates around it —
 * argument conditions (pre-evaluated into `context.cond`), rate limits and
 * approval deadlines. From a `.cedar` file, or from the YAML/JSON form
 * (PolicyForm.ts) compiled to Cedar. Loading either throws a
 * {@link PolicyParseError} naming the line and the reason.
 */
import { readFileSync } from "node:fs"
import { type CedarDecision, CedarPolicySet, parseDuration, parseRate, type CedarTarget } from "./CedarPolicySet.ts"
import { FormEvaluator } from "./FormEvaluator.ts"
import type { Identity } from "./Identity.ts"
import { compileForm, type FormRateLimit, type FormRule, type TargetKind } from "./PolicyForm.ts"

export interface RateLimitSpec {
  readonly id: string
  readonly limit: number
  readonly windowMs: number
  readonly per: "identity" | "session" | "global"
}

const KIND_OF: Record<string, TargetKind> = { Tool: "tool", Resource: "resource", Prompt: "prompt" }

/** A loaded policy (Cedar text or the YAML/JSON form): the Cedar set plus the argument conditions, rate limits and approval deadlines the gateway applies around it. */
export class Policy {
  readonly source: string
  readonly format: "cedar" | "form"
  readonly cedar: CedarPolicySet
  private readonly rules: ReadonlyArray<FormRule>
  private readonly formLimits: ReadonlyArray<FormRateLimit>
  private readonly defaultApprovalTimeoutMs: number
  /** Decides a form's requests without the wasm trip (same answers as Cedar); undefined for `.cedar` files. */
  readonly evaluator: FormEvaluator | undefined

  private constructor(
    source: string,
    format: "cedar" | "form",
    cedar: CedarPolicySet,
    rules: ReadonlyArray<FormRule>,
    limits: ReadonlyArray<FormRateLimit>,
    approvalTimeoutMs: number,
    evaluator?: FormEvaluator
  ) {
    this.evaluator = evaluator
    this.source = source
    this.format = format
    this.cedar = cedar
    this.rules = rules
    this.formLimits = limits
    this.defaultApprovalTimeoutMs = approvalTimeoutMs
  }

  /**
   * Parse policy text; `.cedar` sources (or `format: "cedar"`) are Cedar, anything else the YAML/JSON form.
   * `formEvaluator: false` makes a form's decisions go through Cedar too (benchmarks, comparisons).
   */
  static parse(text: string, source = "policy", format?: "cedar" | "form", options: { readonly formEvaluator?: boolean } = {}): Policy {
    const f = format ?? (source.endsWith(".cedar") ? "cedar" : "form")
    if (f === "cedar") return new Policy(source, f, CedarPolicySet.parse(text, source), [], [], 5 * 60_000)
    const form = compileForm(text, source)
    // Cedar still parses and checks the compiled text: it is the oracle, the audit's record and the fallback.
    const cedar = CedarPolicySet.parse(form.cedar, `${source} (compiled)`)
    const evaluator = options.formEvaluator === false ? undefined : FormEvaluator.of(form)
    return new Policy(source, f, cedar, form.rules, form.rateLimits, form.approvalTimeoutMs, evaluator)
  }

  /**
   * Cedar's decision for this request: by the form evaluator when it can give
   * it (the same answer without the wasm trip), else by Cedar with the
   * context `context()` builds.
   */
  authorize(
    identity: Identity,
    action: string,
    target: CedarTarget,
    cond: { readonly [id: string]: boolean } | undefined,
    context: () => Record<string, unknown>
  ): CedarDecision {
    return this.evaluator?.decide(identity, action, target, cond) ?? this.cedar.isAuthorized(identity, action, target, context())
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
