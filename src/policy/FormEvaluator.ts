/**
 * Decides requests against a compiled YAML/JSON policy form in plain JS, with
 * the same decision and the same determining policy ids as Cedar gives for
 * the Cedar text the form compiles to (PolicyForm.ts).
 *
 * Why: an uncached Cedar decision is one trip through the wasm boundary
 * (JSON in, serde, entity construction, JSON out), ~20 µs with nothing in it
 * and ~50 µs with the principal and resource entities a form needs; the
 * form's policies are a fixed, tiny fragment of Cedar (an action, a resource
 * type, a name `==`/`like`, a server `==`, principal `==`/`in`/`scopes.contains`
 * alternatives, pre-evaluated argument conditions), which this evaluates
 * directly. Cedar stays the oracle: test/policy.form-evaluator.test.ts checks
 * random forms against random requests for identical answers, and `.cedar`
 * files always go through Cedar.
 *
 * Cedar's rules reproduced here: a request is allowed iff some permit is
 * satisfied and no forbid is; the determining policies are the satisfied
 * forbids on a deny, the satisfied permits on an allow, none for a default
 * deny. The fragment cannot raise evaluation errors (`context.cond` is read
 * behind `has`, `principal.scopes` is always supplied). Cases where Cedar's
 * answer depends on its string handling are left to Cedar: a form with a
 * literal that Cedar would read through an escape (backslash, quote, control
 * characters) is not evaluated here at all, and a request carrying a string
 * that is not well-formed UTF-16 (Cedar refuses the whole call) falls back per
 * request.
 */
import type { CedarDecision, CedarTarget } from "./CedarPolicySet.ts"
import type { Identity } from "./Identity.ts"
import type { CompiledForm, FormPrincipals, FormRule } from "./PolicyForm.ts"

const ACTION_OF: Record<FormRule["kind"], string> = { tool: "tools/call", resource: "resources/read", prompt: "prompts/get" }
const TYPE_OF: Record<FormRule["kind"], CedarTarget["kind"]> = { tool: "Tool", resource: "Resource", prompt: "Prompt" }
const APPROVE_ACTIONS = new Set(["tools/call", "resources/read", "prompts/get"])

/** A literal Cedar reads exactly as written: JSON.stringify added only the quotes. */
const plain = (s: string): boolean => JSON.stringify(s) === `"${s}"`

interface Compiled {
  readonly id: string
  readonly forbid: boolean
  /** undefined: any action. */
  readonly actions: ReadonlySet<string> | undefined
  /** undefined: any resource type. */
  readonly type: CedarTarget["kind"] | undefined
  readonly name: ((name: string) => boolean) | undefined
  readonly server: string | undefined
  readonly principals: FormPrincipals | undefined
  readonly conditions: ReadonlyArray<string>
}

const principalMatches = (p: FormPrincipals, identity: Identity): boolean => {
  for (const s of p.subjects) if (identity.id === s) return true
  for (const g of p.groups) if (identity.groups.includes(g)) return true
  for (const s of p.scopes) if (identity.scopes.includes(s)) return true
  return false
}

/** At most this many request shapes keep their candidate list; beyond, candidates are filtered per request. */
const MAX_SHAPES = 2_000

export class FormEvaluator {
  private readonly policies: ReadonlyArray<Compiled>
  /** The policies whose action, resource type, name and server fit a request shape (what is left depends on the principal and conditions). */
  private readonly shapes = new Map<string, ReadonlyArray<Compiled>>()

  private constructor(policies: ReadonlyArray<Compiled>) {
    this.policies = policies
  }

  /** An evaluator for `form`, or undefined when some literal is outside what it reproduces exactly (Cedar decides then). */
  static of(form: CompiledForm): FormEvaluator | undefined {
    const out: Array<Compiled> = []
    const literals: Array<string> = []
    const who = (p: FormPrincipals | undefined) => {
      if (p !== undefined) literals.push(...p.subjects, ...p.groups, ...p.scopes)
      return p
    }
    // The same policies, in the same order and with the same ids, as compileForm's Cedar text.
    if (form.grants === undefined) {
      out.push({ id: "grant", forbid: false, actions: new Set(["connect"]), type: undefined, name: undefined, server: undefined, principals: undefined, conditions: [] })
    } else {
      for (const [i, g] of form.grants.entries()) {
        out.push({ id: `grant${i}`, forbid: false, actions: new Set(["connect"]), type: undefined, name: undefined, server: undefined, principals: who(g), conditions: [] })
      }
    }
    if (form.default === "allow") out.push({ id: "default", forbid: false, actions: undefined, type: undefined, name: undefined, server: undefined, principals: undefined, conditions: [] })
    if (form.default === "approve") out.push({ id: "default", forbid: false, actions: APPROVE_ACTIONS, type: undefined, name: undefined, server: undefined, principals: undefined, conditions: [] })
    for (const r of form.rules) {
      literals.push(r.id, r.pattern, ...(r.server === undefined ? [] : [r.server]), ...r.conditions.map((c) => c.id))
      out.push({
        id: r.id,
        forbid: r.effect === "deny" || r.effect === "hide",
        actions: new Set([ACTION_OF[r.kind]]),
        type: TYPE_OF[r.kind],
        name: r.match,
        server: r.server,
        principals: who(r.principals),
        conditions: r.conditions.map((c) => c.id)
      })
    }
    return literals.every(plain) ? new FormEvaluator(out) : undefined
  }

  /**
   * Cedar's answer for principal `User::"<identity.id>"` (parents its groups,
   * attribute `scopes`), `Action::"<action>"`, the target, and `cond` as
   * `context.cond`; undefined when only Cedar can say (ill-formed strings).
   */
  decide(identity: Identity, action: string, target: CedarTarget, cond: { readonly [id: string]: boolean } | undefined): CedarDecision | undefined {
    if (!wellFormed(identity, action, target)) return undefined
    let permits: Array<string> | undefined
    let forbids: Array<string> | undefined
    for (const p of this.candidates(action, target)) {
      if (p.principals !== undefined && !principalMatches(p.principals, identity)) continue
      if (!p.conditions.every((c) => cond !== undefined && Object.hasOwn(cond, c) && cond[c] === true)) continue
      if (p.forbid) (forbids ??= []).push(p.id)
      else (permits ??= []).push(p.id)
    }
    if (forbids !== undefined) return { decision: "deny", policies: forbids.sort(), errors: [] }
    if (permits !== undefined) return { decision: "allow", policies: permits.sort(), errors: [] }
    return { decision: "deny", policies: [], errors: [] }
  }

  private candidates(action: string, target: CedarTarget): ReadonlyArray<Compiled> {
    const shape = `${action}\u0000${target.kind}\u0000${target.server}\u0000${target.name}`
    let out = this.shapes.get(shape)
    if (out === undefined) {
      out = this.policies.filter((p) =>
        (p.actions === undefined || p.actions.has(action)) &&
        (p.type === undefined || p.type === target.kind) &&
        (p.name === undefined || p.name(target.name)) &&
        (p.server === undefined || p.server === target.server)
      )
      if (this.shapes.size < MAX_SHAPES) this.shapes.set(shape, out)
    }
    return out
  }
}

const wellFormed = (identity: Identity, action: string, target: CedarTarget): boolean => {
  if (!identity.id.isWellFormed() || !action.isWellFormed() || !target.server.isWellFormed() || !target.name.isWellFormed()) return false
  for (const g of identity.groups) if (!g.isWellFormed()) return false
  for (const s of identity.scopes) if (!s.isWellFormed()) return false
  return true
}
