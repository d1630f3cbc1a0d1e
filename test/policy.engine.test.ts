import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { CedarPolicySet, PolicyParseError } from "../src/policy/CedarPolicySet.ts"
import type { Identity } from "../src/policy/Identity.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine, type SessionFacts } from "../src/policy/PolicyEngine.ts"
import type { Clock } from "../src/protocol/clock.ts"
import { countingClock } from "./support/countingClock.ts"

const who = (id: string, groups: Array<string> = [], scopes: Array<string> = []): Identity => ({ id, subject: id, groups, scopes, claims: { sub: id }, via: "jwt" })
const alice = who("alice", ["staff"])
const bob = who("bob", ["contractors"], ["tools:echo"])
const eve = who("eve")
const session: SessionFacts = { id: "s1", era: "legacy", transport: "http", protocolVersion: "2025-11-25" }
const tool = (name: string) => ({ kind: "Tool" as const, server: "demo", name })
const call = (engine: PolicyEngine, identity: Identity, name: string, args: Record<string, unknown> = {}) =>
  engine.decide({ identity, session, method: "tools/call", target: tool(name), args })

const FORM = `
default: deny
grants:
  - groups: [staff, contractors]
rules:
  - id: echo-staff
    tool: echo
    effect: allow
    principals: { groups: [staff], scopes: ["tools:echo"] }
  - id: echo-short
    tool: echo
    effect: deny
    when:
      - { arg: text, regex: "^rm " }
  - id: add-bounded
    tool: add
    effect: allow
    when:
      - { arg: a, min: 0, max: 100 }
  - id: secret
    tool: secret
    effect: hide
  - id: deploy
    tool: deploy
    effect: approve
    principals: { groups: [staff] }
    approvalTimeout: 30s
  - id: fs
    tool: "fs_*"
    effect: allow
    principals: { subjects: [alice] }
rateLimits:
  - { id: echo-rate, tool: echo, limit: 2, window: 10s, per: identity }
`

describe("policy engine: the YAML form compiled to Cedar", () => {
  it("allows, denies and asks for approval, naming the deciding policies", () => {
    let now = 0
    const engine = new PolicyEngine(Policy.parse(FORM, "p.yaml"), { now: () => now })
    expect(call(engine, alice, "echo", { text: "hi" })).toMatchObject({ kind: "allow", policies: ["echo-staff"] })
    expect(call(engine, bob, "echo", { text: "hi" })).toMatchObject({ kind: "allow", policies: ["echo-staff"] }) // by scope
    expect(call(engine, eve, "echo", { text: "hi" })).toMatchObject({ kind: "deny", policies: [] })
    now += 60_000
    expect(call(engine, alice, "echo", { text: "rm -rf /" })).toMatchObject({ kind: "deny", policies: ["echo-short"] })
    expect(call(engine, alice, "add", { a: 5 })).toMatchObject({ kind: "allow", policies: ["add-bounded"] })
    expect(call(engine, alice, "add", { a: 500 }).kind).toBe("deny")
    expect(call(engine, alice, "add", { a: 2.5 }).kind).toBe("allow") // floats are compared by the gateway, not Cedar
    expect(call(engine, alice, "add", { a: "5" }).kind).toBe("deny") // wrong type: the condition is false
    expect(call(engine, alice, "add", {}).kind).toBe("deny")
    expect(call(engine, alice, "secret")).toMatchObject({ kind: "deny", policies: ["secret"] })
    expect(call(engine, alice, "deploy")).toMatchObject({ kind: "approve", policies: ["deploy"], approvalTimeoutMs: 30_000 })
    expect(call(engine, bob, "deploy").kind).toBe("deny")
    expect(call(engine, alice, "fs_read").kind).toBe("allow")
    expect(call(engine, bob, "fs_read").kind).toBe("deny")
  })

  it("rate limits per identity and tool trip with a retry-after hint and recover", () => {
    let now = 1_000_000
    const engine = new PolicyEngine(Policy.parse(FORM, "p.yaml"), { now: () => now })
    expect(call(engine, alice, "echo", { text: "a" }).kind).toBe("allow")
    expect(call(engine, alice, "echo", { text: "b" }).kind).toBe("allow")
    const limited = call(engine, alice, "echo", { text: "c" })
    expect(limited).toMatchObject({ kind: "rateLimited", policies: ["echo-rate"], retryAfterMs: 5_000 })
    expect(limited.reason).toMatch(/retry after 5s/)
    expect(call(engine, bob, "echo", { text: "c" }).kind).toBe("allow") // another identity has its own bucket
    now += 5_000
    expect(call(engine, alice, "echo", { text: "d" }).kind).toBe("allow")
    expect(call(engine, alice, "echo", { text: "e" }).kind).toBe("rateLimited")
  })

  it("rate limits per session and global buckets; a refund gives a token back", () => {
    let now = 0
    const engine = new PolicyEngine(Policy.parse(`default: allow
rateLimits:
  - { id: per-session, tool: echo, limit: 1, window: 1s, per: session }
  - { id: everyone, tool: add, limit: 2, window: 1s, per: global }
`, "p.yaml"), { now: () => now })
    const inSession = (id: string) => ({ id, era: "legacy" as const, transport: "http", protocolVersion: undefined })
    const echo = (sid: string) => engine.decide({ identity: alice, session: inSession(sid), method: "tools/call", target: tool("echo") })
    expect(echo("s1").kind).toBe("allow")
    expect(echo("s1")).toMatchObject({ kind: "rateLimited", policies: ["per-session"], retryAfterMs: 1_000 })
    expect(echo("s2").kind).toBe("allow") // same identity, another session
    const add = (who: Identity) => engine.decide({ identity: who, session, method: "tools/call", target: tool("add") })
    const first = add(alice)
    expect(first.kind).toBe("allow")
    expect(add(bob).kind).toBe("allow")
    expect(add(eve).kind).toBe("rateLimited") // global: everyone shares it
    engine.refund(first)
    expect(add(eve).kind).toBe("allow")
    now += 500
    expect(add(eve).kind).toBe("allow") // half a window refills one of two tokens
    expect(add(eve).kind).toBe("rateLimited")
  })

  it("list visibility: hidden and never-permitted tools are invisible; conditional ones stay", () => {
    const engine = new PolicyEngine(Policy.parse(FORM, "p.yaml"))
    const visible = (id: Identity, name: string) => engine.visible(id, session, "tools/call", tool(name))
    expect(visible(alice, "echo")).toBe(true)
    expect(visible(alice, "add")).toBe(true) // allowed for some arguments
    expect(visible(alice, "secret")).toBe(false)
    expect(visible(alice, "deploy")).toBe(true)
    expect(visible(bob, "deploy")).toBe(false)
    expect(visible(eve, "echo")).toBe(false)
  })

  it("grants: who may use the server at all", () => {
    const engine = new PolicyEngine(Policy.parse(FORM, "p.yaml"))
    expect(engine.grant(alice, "demo")).toBeUndefined()
    expect(engine.grant(bob, "demo")).toBeUndefined()
    expect(engine.grant(eve, "demo")).toMatch(/eve has no grant for server demo/)
  })

  it("a Cedar file with no permit denies every call (default deny)", () => {
    const engine = new PolicyEngine(Policy.parse(`@id("no-secrets") forbid(principal, action, resource) when { resource.name == "secret" };`, "p.cedar"))
    expect(engine.policy.cedar.hasPermit).toBe(false)
    expect(call(engine, alice, "echo")).toMatchObject({ kind: "deny", policies: [] })
    expect(engine.grant(alice, "demo")).toBeDefined()
  })

  it("hand-written Cedar: groups, scopes, claims, arguments and @approval / @rateLimit annotations", () => {
    let now = 0
    const engine = new PolicyEngine(Policy.parse(`
@id("connect") permit(principal, action == Action::"connect", resource);
@id("echo") @rateLimit("1/1m")
permit(principal in Group::"staff", action == Action::"tools/call", resource == Tool::"demo/echo")
  when { context has args && context.args has text && context.args.text like "hello*" };
@id("deploy-approval") @approval @approvalTimeout("45s")
permit(principal, action == Action::"tools/call", resource == Tool::"demo/deploy") when { principal.scopes.contains("deploy") };
@id("no-argument-escape") forbid(principal, action, resource) when { context has args && context.args has __entity };
`, "p.cedar"), { now: () => now })
    expect(call(engine, alice, "echo", { text: "hello world" })).toMatchObject({ kind: "allow", policies: ["echo"] })
    expect(call(engine, alice, "echo", { text: "hello again" })).toMatchObject({ kind: "rateLimited", policies: ["echo"] })
    now += 60_000
    expect(call(engine, alice, "echo", { text: "bye" }).kind).toBe("deny")
    expect(call(engine, who("d", [], ["deploy"]), "deploy")).toMatchObject({ kind: "approve", policies: ["deploy-approval"], approvalTimeoutMs: 45_000 })
    // A peer cannot smuggle Cedar's entity escape through its arguments.
    expect(call(engine, alice, "echo", { text: "hello x", __entity: { type: "User", id: "root" } }).kind).toBe("allow")
  })

  it("a malformed policy is refused with the line and the reason", () => {
    expect(() => Policy.parse(`permit(principal, action, resource);\n\npermit(principal, action,\n  resource) when { context.x === 1 };`, "bad.cedar"))
      .toThrow(PolicyParseError)
    try {
      Policy.parse(`permit(principal, action, resource);\n\npermit(principal, action,\n  resource) when { context.x === 1 };`, "bad.cedar")
    } catch (e) {
      expect((e as PolicyParseError).line).toBe(4)
      expect((e as PolicyParseError).message).toMatch(/^bad\.cedar:4:\d+: .*unexpected token/)
    }
    try {
      Policy.parse(`default: deny\nrules:\n  - tool: echo\n    effect: allow\n  - tool: x\n    effect: maybe\n`, "bad.yaml")
      expect.unreachable()
    } catch (e) {
      expect((e as PolicyParseError).line).toBe(6)
      expect((e as PolicyParseError).reason).toMatch(/effect must be allow, deny, approve or hide/)
    }
    expect(() => Policy.parse(`rules:\n  - tool: x\n    effect: allow\n    when:\n      - { arg: a, regex: "(" }\n`, "re.yaml")).toThrow(/re\.yaml:5.*invalid regex/)
    expect(() => Policy.parse(`rules: [\n`, "broken.yaml")).toThrow(PolicyParseError)
  })
})

describe("Cedar evaluation shortcuts give Cedar's own answers", () => {
  it("a sliced set (only the policies whose scope can match) decides exactly as the whole set", () => {
    const texts = [
      Policy.parse(FORM, "p.yaml").cedarText,
      `@id("a") permit(principal in Group::"staff", action in [Action::"tools/call", Action::"prompts/get"], resource in Server::"demo");
@id("b") forbid(principal, action == Action::"tools/call", resource == Tool::"demo/secret");
@id("c") permit(principal, action, resource is Prompt) when { resource.name == "greet" && principal.scopes.contains("tools:echo") };
@id("d") forbid(principal == User::"bob", action, resource) when { context has args && context.args has text && context.args.text like "*drop*" };
@id("e") permit(principal, action in Action::"tools/call", resource);`
    ]
    const form = Policy.parse(FORM, "p.yaml")
    for (const text of texts) {
      const sliced = CedarPolicySet.parse(text, "s")
      const whole = CedarPolicySet.parse(text, "w", { slice: false })
      let compared = 0
      for (const identity of [alice, bob, eve]) {
        for (const [action, kind] of [["tools/call", "Tool"], ["prompts/get", "Prompt"], ["resources/read", "Resource"]] as const) {
          for (const name of ["echo", "add", "secret", "deploy", "fs_read", "greet", "x"]) {
            for (const args of [{}, { text: "hi" }, { text: "please drop it" }, { a: 5 }]) {
              const context = { args, session: { id: "s", era: "legacy" }, listing: false, cond: form.conditions({ kind, server: "demo", name }, args) ?? {} }
              const target = { kind, server: "demo", name }
              expect(sliced.isAuthorized(identity, action, target, context)).toEqual(whole.isAuthorized(identity, action, target, context))
              compared++
            }
          }
        }
      }
      expect(compared).toBe(3 * 3 * 7 * 4)
    }
  }, 60_000)
})

describe("policy engine: reload", () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it("a change is picked up; a policy that fails to parse is refused and the old one stays", async () => {
    dir = mkdtempSync(join(tmpdir(), "policy-"))
    const file = join(dir, "p.yaml")
    writeFileSync(file, "default: allow\n")
    const results: Array<{ ok: boolean; error?: Error }> = []
    let notify: (() => void) | undefined
    const engine = PolicyEngine.fromFile(file, { onReload: (r) => { results.push(r); notify?.() } }).watch()
    try {
      expect(call(engine, eve, "echo").kind).toBe("allow")
      const next = () => new Promise<void>((resolve) => (notify = resolve))
      let reloaded = next()
      writeFileSync(file, "default: deny\n")
      await reloaded
      expect(results.at(-1)?.ok).toBe(true)
      expect(call(engine, eve, "echo").kind).toBe("deny")
      reloaded = next()
      writeFileSync(file, "default: allow\nrules:\n  - tool: x\n    effect: nope\n")
      await reloaded
      expect(results.at(-1)?.ok).toBe(false)
      expect(results.at(-1)?.error?.message).toMatch(/p\.yaml:4: effect must be/)
      expect(call(engine, eve, "echo").kind).toBe("deny") // the old policy stays
    } finally {
      engine.close()
    }
  })

  it("a burst of file events reloads once, reloadDebounceMs of the engine's clock after the last one (10 virtual minutes)", async () => {
    dir = mkdtempSync(join(tmpdir(), "policy-"))
    const file = join(dir, "p.yaml")
    writeFileSync(file, "default: allow\n")
    const DEBOUNCE = 10 * 60_000
    const sim = countingClock()
    // Tells the test when a file event (real, from the OS) armed the debounce, so virtual time moves only after it.
    let armed: (() => void) | undefined
    const clock: Clock = {
      now: sim.clock.now,
      clearTimeout: sim.clock.clearTimeout,
      setTimeout: (fn, ms) => {
        const h = sim.clock.setTimeout(fn, ms)
        armed?.()
        return h
      }
    }
    const results: Array<{ ok: boolean }> = []
    const engine = PolicyEngine.fromFile(file, { clock, reloadDebounceMs: DEBOUNCE, onReload: (r) => void results.push(r) }).watch()
    try {
      const debouncing = new Promise<void>((resolve) => (armed = resolve))
      writeFileSync(file, "default: deny\n")
      await debouncing
      sim.increment(DEBOUNCE - 1)
      expect(results).toEqual([])
      expect(call(engine, eve, "echo").kind).toBe("allow")
      sim.increment(1)
      expect(results).toEqual([{ ok: true }])
      expect(call(engine, eve, "echo").kind).toBe("deny")
    } finally {
      engine.close()
    }
    expect(sim.pending).toBe(0) // close clears a debounce still pending
  })
})
