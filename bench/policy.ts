/**
 * Policy gateway benchmark: the server CPU an allowed `tools/call` costs with
 * a 50-rule policy in front of it, against the same server with no policy, in
 * one run (variants interleaved round by round). The session is driven in
 * process (`ServerSession.receive`, responses dropped), so the figure is the
 * server's own work per call, transport excluded.
 *
 *   node bench/policy.ts [--rounds 5] [--calls 20000]
 *
 * Variants: `none` (no guard) · `policy` (50-rule YAML form compiled to Cedar)
 * · `policy+audit` (also a hash-chained audit record per decision and per call,
 * argument digests) · `policy+audit keyed` (the same chain as HMAC-SHA-256 under
 * a key, `--audit-key`) · `cedar` (a hand-written 50-policy .cedar set).
 * Also: decisions/s of `PolicyEngine.decide` alone: the 50-rule form (decided
 * by the form evaluator) with one identity, with a new principal per decision,
 * and with principal, groups, tool and arguments all varying; the same form on
 * Cedar (evaluator off) and the .cedar set, where an uncached decision is a
 * wasm call; and the floor, one bare cedar-wasm call.
 * Targets: ≤ 15 µs added per allowed call; ≥ 20 000 decisions/s per core.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as cedar from "@cedar-policy/cedar-wasm/nodejs"
import { AuditLog } from "../src/policy/AuditLog.ts"
import type { Identity } from "../src/policy/Identity.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { ServerSession } from "../src/server/ServerSession.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { count } = scriptArgs("Usage: node bench/policy.ts [--rounds 5] [--calls 20000]", { rounds: { type: "string" }, calls: { type: "string" } })
const ROUNDS = count("rounds") ?? 5
const CALLS = count("calls") ?? 20_000

const alice: Identity = { id: "alice", subject: "alice", groups: ["staff"], scopes: ["tools:echo"], claims: { sub: "alice" }, via: "jwt" }

/** 50 rules: one allows echo; the rest allow, deny, hide or approve other tools, some with argument conditions. */
const formText = (): string => {
  const rules = ["  - { id: echo-staff, tool: echo, effect: allow, principals: { groups: [staff] } }"]
  for (let i = 1; i < 50; i++) {
    const effect = ["allow", "deny", "hide", "approve"][i % 4]
    const when = i % 3 === 0 ? `, when: [{ arg: n, min: 0, max: ${i} }, { arg: path, regex: "^/tmp/" }]` : ""
    rules.push(`  - { id: r${i}, tool: tool${i}, effect: ${effect}, principals: { groups: [g${i % 7}] }${when} }`)
  }
  return `default: deny\nrules:\n${rules.join("\n")}\n`
}
const cedarText = (): string => {
  const ps = [`@id("connect") permit(principal, action == Action::"connect", resource);`,
    `@id("echo") permit(principal in Group::"staff", action == Action::"tools/call", resource == Tool::"bench/echo");`]
  for (let i = 2; i < 50; i++) {
    ps.push(i % 2 === 0
      ? `@id("p${i}") permit(principal in Group::"g${i % 7}", action == Action::"tools/call", resource == Tool::"bench/tool${i}") when { principal.scopes.contains("s${i}") };`
      : `@id("f${i}") forbid(principal, action, resource == Tool::"bench/tool${i}") unless { principal in Group::"admins" };`)
  }
  return ps.join("\n")
}

const makeServer = () => {
  const server = new McpServer({ name: "bench", version: "1.0.0" })
    .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))
  for (let i = 1; i < 50; i++) server.tool({ name: `tool${i}` }, () => ({ content: [] }))
  return server
}

const dir = mkdtempSync(join(tmpdir(), "bench-policy-"))
let keyedTrails = 0
type Variant = { readonly label: string; readonly server: McpServer; readonly close?: () => void }
const variants = (): Array<Variant> => {
  const none = makeServer()
  const policy = makeServer()
  policy.guard = policyGuard({ engine: new PolicyEngine(Policy.parse(formText(), "bench.yaml")), server: "bench" })
  const audited = makeServer()
  const audit = AuditLog.open(join(dir, "audit.jsonl"), { maxBytes: 64 * 1024 * 1024 })
  audited.guard = policyGuard({ engine: new PolicyEngine(Policy.parse(formText(), "bench.yaml")), server: "bench", audit })
  const keyed = makeServer()
  const keyedAudit = AuditLog.open(join(dir, `keyed-${keyedTrails++}.jsonl`), { maxBytes: 64 * 1024 * 1024, key: Buffer.alloc(32, 7) })
  keyed.guard = policyGuard({ engine: new PolicyEngine(Policy.parse(formText(), "bench.yaml")), server: "bench", audit: keyedAudit })
  const cedar = makeServer()
  cedar.guard = policyGuard({ engine: new PolicyEngine(Policy.parse(cedarText(), "bench.cedar")), server: "bench" })
  return [{ label: "none", server: none }, { label: "policy", server: policy }, { label: "policy+audit", server: audited, close: () => audit.close() },
    { label: "policy+audit keyed", server: keyed, close: () => keyedAudit.close() }, { label: "cedar", server: cedar }]
}

/** Server CPU µs per allowed tools/call over `CALLS` calls on one legacy session. */
const measure = async (server: McpServer): Promise<number> => {
  let answered = 0
  let failed: unknown
  const session = new ServerSession(server, {
    transport: "memory",
    identity: alice,
    send: (m) => {
      if ("error" in m) failed ??= m.error
      answered++
    }
  })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  const params = { name: "echo", arguments: { text: "hello" } }
  for (let i = 1; i <= 2_000; i++) session.receive({ jsonrpc: "2.0", id: i, method: "tools/call", params })
  await new Promise((r) => setImmediate(r))
  const start = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) session.receive({ jsonrpc: "2.0", id: 10_000 + i, method: "tools/call", params })
  const used = process.cpuUsage(start)
  await new Promise((r) => setImmediate(r)) // let the audit batch flush (counted below, separately)
  await session.close()
  if (failed !== undefined) throw new Error(`a call failed: ${JSON.stringify(failed)}`)
  if (answered < CALLS) throw new Error(`only ${answered} answers`)
  return (used.user + used.system) / CALLS
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const results = new Map<string, Array<number>>()
for (let r = 0; r < ROUNDS; r++) {
  const vs = variants()
  // Rotate the order each round so warm-up and GC drift do not favour one variant.
  for (let k = 0; k < vs.length; k++) {
    const v = vs[(k + r) % vs.length]!
    const us = await measure(v.server)
    ;(results.get(v.label) ?? results.set(v.label, []).get(v.label)!).push(us)
  }
  for (const v of vs) v.close?.()
}

// Decisions per second, the engine alone.
const session = { id: "s", era: "legacy" as const, transport: "memory", protocolVersion: "2025-11-25" }
const echo = { kind: "Tool" as const, server: "bench", name: "echo" }
type Req = Parameters<PolicyEngine["decide"]>[0]
const decideRate = (label: string, engine: PolicyEngine, make: (i: number) => Req): [string, number] => {
  const N = 20_000
  for (let i = 0; i < 2_000; i++) engine.decide(make(i))
  const start = process.cpuUsage()
  for (let i = 0; i < N; i++) engine.decide(make(N + i))
  const used = process.cpuUsage(start)
  return [label, N / ((used.user + used.system) / 1e6)]
}
// Realistic uncached traffic: a new principal every decision (its own id, one of 8 group sets), one of the
// 50 tools, arguments that flip the argument conditions; nothing repeats the way a cache could exploit.
const varied = (i: number): Req => ({
  identity: { ...alice, id: `user${i}`, subject: `user${i}`, groups: i % 8 === 7 ? ["staff"] : [`g${i % 8}`] },
  session,
  method: "tools/call",
  target: i % 2 === 0 ? echo : { kind: "Tool", server: "bench", name: `tool${i % 50 || 1}` },
  args: { text: "hello", n: i % 13, path: i % 3 === 0 ? "/tmp/x" : "/etc/x" }
})
const sameTool = (i: number): Req => ({ identity: { ...alice, id: `user${i}` }, session, method: "tools/call", target: echo, args: { text: "hello" } })
const form = new PolicyEngine(Policy.parse(formText(), "bench.yaml"))
const formOnCedar = new PolicyEngine(Policy.parse(formText(), "bench.yaml", undefined, { formEvaluator: false }))
const cedarSet = new PolicyEngine(Policy.parse(cedarText(), "bench.cedar"))
const rates: Array<[string, number]> = [
  decideRate("form, memoised case (one identity calling echo)", form, () => ({ identity: alice, session, method: "tools/call", target: echo, args: { text: "hello" } })),
  decideRate("form, uncached: a new principal each decision, echo", form, sameTool),
  decideRate("form, uncached: new principal, group, tool and arguments each decision", form, varied),
  decideRate("form on Cedar (evaluator off), memoised case", formOnCedar, () => ({ identity: alice, session, method: "tools/call", target: echo, args: { text: "hello" } })),
  decideRate("form on Cedar (evaluator off), new principal each decision, echo", formOnCedar, sameTool),
  decideRate(".cedar 50-policy set, new principal each decision, echo", cedarSet, sameTool)
]
// The floor: one bare Cedar call (one permit, no entities, empty context) through the wasm boundary.
cedar.preparsePolicySet("floor", { staticPolicies: "permit(principal, action, resource);" })
const floor = ((): [string, number] => {
  const call = () => cedar.statefulIsAuthorized({ principal: { type: "User", id: "a" }, action: { type: "Action", id: "x" }, resource: { type: "Tool", id: "t" }, context: {}, preparsedPolicySetId: "floor", entities: [] })
  for (let i = 0; i < 2_000; i++) call()
  const N = 20_000
  const start = process.cpuUsage()
  for (let i = 0; i < N; i++) call()
  const used = process.cpuUsage(start)
  return ["floor: a bare cedar-wasm call (1 permit, no entities)", N / ((used.user + used.system) / 1e6)]
})()
rmSync(dir, { recursive: true, force: true })

const base = median(results.get("none")!)
const fmt = (n: number) => n.toFixed(2)
console.log(`\n## Policy gateway: server CPU per allowed tools/call (${ROUNDS} rounds × ${CALLS} calls, node ${process.version})\n`)
console.log("| variant | µs/call (median) | min..max | added vs none |")
console.log("|---|---:|---:|---:|")
for (const [label, xs] of results) {
  const m = median(xs)
  console.log(`| ${label} | ${fmt(m)} | ${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))} | ${label === "none" ? "—" : `+${fmt(m - base)}`} |`)
}
console.log("\n| engine decisions | per second (one core) |\n|---|---:|")
for (const [label, rate] of [...rates, floor]) console.log(`| ${label} | ${Math.round(rate).toLocaleString("en")} |`)
const added = median(results.get("policy")!) - base
const uncached = rates[2]![1]
console.log(`\nTargets: added per allowed call ≤ 15 µs → ${fmt(added)} µs ${added <= 15 ? "MET" : "MISSED"}; ` +
  `≥ 20 000 decisions/s (50-rule form, uncached, varied) → ${Math.round(uncached).toLocaleString("en")} ${uncached >= 20_000 ? "MET" : "MISSED"}`)
