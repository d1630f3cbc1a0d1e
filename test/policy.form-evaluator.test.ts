/**
 * The form evaluator (src/policy/FormEvaluator.ts) against Cedar, its oracle:
 * random YAML/JSON forms, random requests, identical decisions and identical
 * determining policy ids from both.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { CedarTarget } from "../src/policy/CedarPolicySet.ts"
import type { Identity } from "../src/policy/Identity.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"

// Small pools so rules and requests collide often; names include `/`, spaces, non-ASCII and astral characters.
const NAMES = ["echo", "add", "ad", "eo", "x", "", "a b", "é", "éa", "😀", "s/t"]
const PATTERNS = ["echo", "add", "e*", "*", "*o", "a*d", "x", "é*", "*😀", "s/*", "**", "a b"]
const SERVERS = ["demo", "other"]
const USERS = ["alice", "bob", "eve", "é"]
const GROUPS = ["staff", "g1", "g2"]
const SCOPES = ["s1", "s2", "tools:echo"]
const ACTIONS = ["tools/call", "resources/read", "prompts/get", "connect", "other"]
const KINDS: ReadonlyArray<CedarTarget["kind"]> = ["Tool", "Resource", "Prompt", "Server"]
const ALIGNED: Record<CedarTarget["kind"], string> = { Tool: "tools/call", Resource: "resources/read", Prompt: "prompts/get", Server: "connect" }

const principals = fc.record(
  { subjects: fc.subarray(USERS), groups: fc.subarray(GROUPS), scopes: fc.subarray(SCOPES) },
  { requiredKeys: [] }
).filter((p) => (p.subjects?.length ?? 0) + (p.groups?.length ?? 0) + (p.scopes?.length ?? 0) > 0)

const rule = fc.record({
  kind: fc.constantFrom("tool", "resource", "prompt"),
  pattern: fc.constantFrom(...PATTERNS),
  server: fc.option(fc.constantFrom(...SERVERS), { nil: undefined }),
  effect: fc.constantFrom("allow", "deny", "approve", "hide"),
  principals: fc.option(principals, { nil: undefined }),
  conditions: fc.nat({ max: 2 })
})

const form = fc.record({
  default: fc.constantFrom("deny", "allow", "approve"),
  grants: fc.option(fc.array(principals, { maxLength: 2 }), { nil: undefined }),
  rules: fc.array(rule, { maxLength: 8 })
})

type Form = typeof form extends fc.Arbitrary<infer T> ? T : never

const formText = (f: Form): string => JSON.stringify({
  default: f.default,
  ...(f.grants === undefined ? {} : { grants: f.grants }),
  rules: f.rules.map((r, i) => ({
    id: `r${i}`,
    [r.kind]: r.pattern,
    ...(r.server === undefined ? {} : { server: r.server }),
    effect: r.effect,
    ...(r.principals === undefined ? {} : { principals: r.principals }),
    ...(r.conditions === 0 ? {} : { when: Array.from({ length: r.conditions }, (_, j) => ({ arg: `a${j}`, equals: 1 })) })
  }))
})

const request = fc.record({
  id: fc.constantFrom(...USERS),
  groups: fc.subarray(GROUPS),
  scopes: fc.subarray(SCOPES),
  action: fc.constantFrom(...ACTIONS),
  // Mostly the action that goes with the target's kind, so rules match often.
  aligned: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
  kind: fc.constantFrom(...KINDS),
  server: fc.constantFrom(...SERVERS),
  name: fc.constantFrom(...NAMES),
  // Condition outcomes for rule r<i>, condition j; absent entries are absent from context.cond.
  cond: fc.dictionary(fc.constantFrom(...Array.from({ length: 8 }, (_, i) => [`r${i}#0`, `r${i}#1`]).flat()), fc.boolean(), { maxKeys: 10 }),
  withCond: fc.boolean()
})

const identity = (r: { id: string; groups: Array<string>; scopes: Array<string> }): Identity =>
  ({ id: r.id, subject: r.id, groups: r.groups, scopes: r.scopes, claims: { sub: r.id }, via: "jwt" })

describe("the form evaluator decides as Cedar does", () => {
  it("random forms × random requests: same decision, same determining policies, no errors", () => {
    let allowed = 0
    let forbidden = 0
    let total = 0
    fc.assert(
      fc.property(form, fc.array(request, { minLength: 20, maxLength: 20 }), (f, requests) => {
        const policy = Policy.parse(formText(f), "random.json")
        expect(policy.evaluator).toBeDefined()
        for (const r of requests) {
          const who = identity(r)
          const target: CedarTarget = { kind: r.kind, server: r.server, name: r.kind === "Server" ? "" : r.name }
          const cond = r.withCond ? r.cond : undefined
          const action = r.aligned ? ALIGNED[r.kind] : r.action
          const mine = policy.evaluator!.decide(who, action, target, cond)
          const cedar = policy.cedar.isAuthorized(who, action, target, cond === undefined ? {} : { cond })
          expect(mine, JSON.stringify({ form: formText(f), request: r })).toEqual(cedar)
          total++
          if (cedar.decision === "allow") allowed++
          else if (cedar.policies.length > 0) forbidden++
        }
      }),
      { numRuns: 150 }
    )
    // The generators reach every outcome: allows, forbids, default denies.
    expect(allowed).toBeGreaterThan(total / 20)
    expect(forbidden).toBeGreaterThan(total / 150)
    expect(total - allowed - forbidden).toBeGreaterThan(total / 20)
  }, 120_000)

  it("the engine gives the same verdicts with and without the evaluator (argument conditions, listing, grants)", () => {
    const text = `
default: deny
grants:
  - groups: [staff]
rules:
  - { id: echo-staff, tool: echo, effect: allow, principals: { groups: [staff] } }
  - { id: rm, tool: echo, effect: deny, when: [{ arg: text, regex: "^rm " }] }
  - { id: add, tool: add, effect: approve, when: [{ arg: a, min: 0, max: 10 }] }
  - { id: secret, tool: "sec*", effect: hide }
`
    const fast = new PolicyEngine(Policy.parse(text, "p.yaml"))
    const slow = new PolicyEngine(Policy.parse(text, "p.yaml", undefined, { formEvaluator: false }))
    expect(fast.policy.evaluator).toBeDefined()
    expect(slow.policy.evaluator).toBeUndefined()
    const session = { id: "s", era: "legacy" as const, transport: "memory", protocolVersion: "2025-11-25" }
    const who = [identity({ id: "a", groups: ["staff"], scopes: [] }), identity({ id: "b", groups: [], scopes: [] })]
    const args = [{ text: "hi" }, { text: "rm -rf" }, { a: 5 }, { a: 50 }, {}]
    for (const i of who) {
      expect(fast.grant(i, "demo")).toEqual(slow.grant(i, "demo"))
      for (const name of ["echo", "add", "secret", "other"]) {
        const target = { kind: "Tool" as const, server: "demo", name }
        expect(fast.visible(i, session, "tools/call", target)).toBe(slow.visible(i, session, "tools/call", target))
        for (const a of args) {
          const req = { identity: i, session, method: "tools/call", target, args: a }
          expect(fast.evaluate(req)).toEqual(slow.evaluate(req))
        }
      }
    }
    expect(fast.evaluate({ identity: who[0]!, session, method: "tools/call", target: { kind: "Tool", server: "demo", name: "echo" }, args: { text: "rm x" } }))
      .toMatchObject({ kind: "deny", policies: ["rm"] })
  })

  it("leaves to Cedar what depends on Cedar's string handling", () => {
    // A literal Cedar reads through an escape: no evaluator for the whole form.
    expect(Policy.parse(`rules: [{ id: q, tool: 'a"b', effect: allow }]`, "p.yaml").evaluator).toBeUndefined()
    expect(Policy.parse(`rules: [{ id: q, tool: 'a\\b*', effect: allow }]`, "p.yaml").evaluator).toBeUndefined()
    // A request string that is not well-formed UTF-16: Cedar refuses the call (deny with an error), the evaluator abstains.
    const policy = Policy.parse(`default: allow`, "p.yaml")
    const bad = identity({ id: "\uD800", groups: [], scopes: [] })
    const target = { kind: "Tool" as const, server: "demo", name: "echo" }
    expect(policy.evaluator!.decide(bad, "tools/call", target, undefined)).toBeUndefined()
    const d = policy.authorize(bad, "tools/call", target, undefined, () => ({}))
    expect(d.decision).toBe("deny")
    expect(d.errors.length).toBeGreaterThan(0)
    expect(policy.cedar.isAuthorized(bad, "tools/call", target, {})).toMatchObject({ decision: "deny", policies: [] })
    expect(policy.authorize(identity({ id: "ok", groups: [], scopes: [] }), "tools/call", target, undefined, () => ({})))
      .toEqual({ decision: "allow", policies: ["default"], errors: [] })
  })
})
