/**
 * The policy gateway from the command line: `serve --http --policy --audit
 * --api-keys` as a child process driven by the official SDK client, then
 * `audit verify` / `audit query` / `policy test` (shadow mode) on the trail it
 * wrote, `policy check` on a malformed policy, and `approvals` on a store.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ErrorCode } from "../src/protocol/errors.ts"
import { ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { spawnOurServer } from "./support/httpPeers.ts"

const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const runWith = (env: NodeJS.ProcessEnv, ...args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 30_000, env })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const { MCP_ACTORS_AUDIT_KEY: _ambientKey, ...cleanEnv } = process.env
const run = (...args: ReadonlyArray<string>) => runWith(cleanEnv, ...args)

describe("policy gateway CLI", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "policy-cli-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("serve --policy --audit --api-keys: allowed and denied calls, hidden tools; the trail verifies, an edit is caught, shadow mode reports changes", async () => {
    const policy = join(dir, "policy.yaml")
    writeFileSync(policy, `default: deny
rules:
  - { id: echo-ops, tool: echo, effect: allow, principals: { groups: [ops] } }
  - { id: count-ops, tool: count, effect: allow, principals: { groups: [ops] }, when: [{ arg: n, max: 5 }] }
  - { id: slow-hidden, tool: slow, effect: hide }
`)
    writeFileSync(join(dir, "keys.yaml"), `keys:\n  - { name: ci-bot, key: k-ci-bot-123, groups: [ops] }\n  - { name: intern, key: k-intern-456, groups: [interns] }\n`)
    const audit = join(dir, "audit.jsonl")
    const server = await spawnOurServer(["--policy", policy, "--audit", audit, "--api-keys", join(dir, "keys.yaml"), "--audit-arguments"])
    const clients: Array<Client> = []
    const connect = async (key: string) => {
      const c = new Client({ name: "cli-test", version: "1.0.0" })
      await c.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }))
      clients.push(c)
      return c
    }
    try {
      const bot = await connect("k-ci-bot-123")
      const intern = await connect("k-intern-456")
      expect((await bot.listTools()).tools.map((t) => t.name).sort()).toEqual(["count", "echo"])
      expect((await intern.listTools()).tools).toEqual([])
      expect(await bot.callTool({ name: "echo", arguments: { text: "hi" } })).toMatchObject({ content: [{ text: "hi" }] })
      expect(await bot.callTool({ name: "count", arguments: { n: 3 } })).toMatchObject({ structuredContent: { counted: 3 } })
      await expect(bot.callTool({ name: "count", arguments: { n: 50 } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
      await expect(intern.callTool({ name: "echo", arguments: { text: "hi" } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
      const unauthorized = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: "Bearer wrong" }, body: "{}" })
      expect(unauthorized.status).toBe(401)
    } finally {
      for (const c of clients) await c.close()
      await server.stop()
    }

    const verified = run("audit", "verify", audit)
    expect(verified.stdout).toMatch(/^ok: \d+ records in 1 file, chain intact/)
    expect(verified.code).toBe(0)
    const calls = run("audit", "query", audit, "--principal", "ci-bot", "--type", "call")
    expect(calls.code).toBe(0)
    const records = calls.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.map((r) => r.name)).toEqual(["echo", "count"])
    expect(records[1]).toMatchObject({ args: { n: 3 }, outcome: "ok", policies: ["count-ops"], transport: "http", server: "mcp-actors-demo" })

    // Shadow mode: a policy that lets interns echo and allows counting to 100.
    const next = join(dir, "next.yaml")
    writeFileSync(next, `default: deny
rules:
  - { id: echo-all, tool: echo, effect: allow }
  - { id: count-ops, tool: count, effect: allow, principals: { groups: [ops] }, when: [{ arg: n, max: 100 }] }
`)
    const shadow = run("policy", "test", next, "--against", audit)
    expect(shadow.code).toBe(0)
    expect(shadow.stdout).toMatch(/intern tools\/call mcp-actors-demo\/echo: deny \(default deny\) → allow \(echo-all\)/)
    expect(shadow.stdout).toMatch(/ci-bot tools\/call mcp-actors-demo\/count: deny \(default deny\) → allow \(count-ops\)/)
    expect(shadow.stdout).toMatch(/4 requests replayed against .*: 2 unchanged, 2 would change/)

    // One byte edited → exit 1 naming the record.
    const lines = readFileSync(audit, "utf8").split("\n")
    lines[2] = lines[2]!.replace('"http"', '"htto"')
    writeFileSync(audit, lines.join("\n"))
    const broken = run("audit", "verify", audit)
    expect(broken.code).toBe(1)
    expect(broken.stdout).toMatch(/^BROKEN: .*audit\.jsonl:3 \(seq 3\): the record's hash does not match its content \(edited\)/)
    // A removed record is caught at the next one.
    writeFileSync(audit, [...lines.slice(0, 1), ...lines.slice(2)].join("\n").replace('"htto"', '"http"'))
    const removed = run("audit", "verify", audit)
    expect(removed.code).toBe(1)
    expect(removed.stdout).toMatch(/:2 \(seq 3\): seq 3 follows 1/)
  }, 60_000)

  it("serve --audit --audit-key: the SDK client's calls make a keyed trail; verify needs the key (flag or env); a rewrite with recomputed hashes is caught", async () => {
    const policy = join(dir, "key-policy.yaml")
    writeFileSync(policy, `default: deny\nrules:\n  - { id: echo-all, tool: echo, effect: allow }\n`)
    const key = join(dir, "audit.key")
    writeFileSync(key, `${"5e".repeat(32)}\n`)
    const audit = join(dir, "keyed.jsonl")
    const server = await spawnOurServer(["--policy", policy, "--audit", audit, "--audit-key", key])
    const client = new Client({ name: "cli-key-test", version: "1.0.0" })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)))
      for (const text of ["a", "b", "c"]) expect(await client.callTool({ name: "echo", arguments: { text } })).toMatchObject({ content: [{ text }] })
      await expect(client.callTool({ name: "count", arguments: { n: 1 } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    } finally {
      await client.close()
      await server.stop()
    }
    const lines = readFileSync(audit, "utf8").trimEnd().split("\n")
    expect(lines.length).toBeGreaterThanOrEqual(7) // 4 decisions + 3 completed calls
    expect(lines.every((l) => l.includes('"alg":"hmac-sha256","prev":'))).toBe(true)

    const withKey = run("audit", "verify", audit, "--audit-key", key)
    expect(withKey.stdout).toMatch(/^ok: \d+ records in 1 file, chain intact \(HMAC-SHA-256, keyed\)/)
    expect(withKey.code).toBe(0)
    expect(runWith({ ...cleanEnv, MCP_ACTORS_AUDIT_KEY: key }, "audit", "verify", audit).code).toBe(0)
    const without = run("audit", "verify", audit)
    expect(without.code).toBe(1)
    expect(without.stdout).toMatch(/^BROKEN: .*keyed\.jsonl:1 \(seq 1\): keyed trail: give --audit-key/)
    writeFileSync(join(dir, "other.key"), "0".repeat(64))
    expect(run("audit", "verify", audit, "--audit-key", join(dir, "other.key")).stdout).toMatch(/:1 \(seq 1\): the record's HMAC does not match/)

    // The newest two records removed: the seal (audit.jsonl.seal, keyed) still names the last one.
    writeFileSync(audit, `${lines.slice(0, -2).join("\n")}\n`)
    const truncated = run("audit", "verify", audit, "--audit-key", key)
    expect(truncated.code).toBe(1)
    expect(truncated.stdout).toMatch(new RegExp(`the trail ends at seq ${lines.length - 2} but its seal says ${lines.length}: the newest records were removed`))
    expect(run("audit", "verify", audit, "--audit-key", key, "--ignore-seal").code).toBe(0)

    // The attack the key is for: record 2's decision rewritten and every later hash recomputed as SHA-256.
    let prev = (JSON.parse(lines[0]!) as { hash: string }).hash
    const forged = [lines[0]!, ...lines.slice(1).map((line, i) => {
      const { hash: _h, ...r } = JSON.parse(line) as Record<string, unknown>
      if (i === 0) r.principal = "someone-else"
      r.prev = prev
      const body = JSON.stringify(r)
      prev = createHash("sha256").update(body).digest("hex")
      return `${body.slice(0, -1)},"hash":"${prev}"}`
    })]
    writeFileSync(audit, `${forged.join("\n")}\n`)
    const attacked = run("audit", "verify", audit, "--audit-key", key)
    expect(attacked.code).toBe(1)
    expect(attacked.stdout).toMatch(/^BROKEN: .*keyed\.jsonl:2 \(seq 2\): the record's HMAC does not match its content/)
    // A key too short to be a secret is refused at start, and --audit-key alone is a usage error.
    writeFileSync(join(dir, "short.key"), "abc\n")
    const short = run("serve", "--http", "0", "--policy", policy, "--audit", join(dir, "x.jsonl"), "--audit-key", join(dir, "short.key"))
    expect(short.code).not.toBe(0)
    expect(short.stderr).toMatch(/3 bytes, at least 32 needed/)
    const lone = run("serve", "--http", "0", "--audit-key", key)
    expect(lone.code).not.toBe(0)
    expect(lone.stderr).toMatch(/--audit-key needs --audit/)
  }, 60_000)

  it("policy check: a malformed policy is refused with the line and the reason; a Cedar file without permit says so", () => {
    writeFileSync(join(dir, "bad.cedar"), `@id("ok")\npermit(principal, action, resource);\n\nforbid(principal, action, resource) when { context.args.n > };\n`)
    const bad = run("policy", "check", join(dir, "bad.cedar"))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/bad\.cedar:4:\d+: .*unexpected token/)
    writeFileSync(join(dir, "deny.cedar"), `forbid(principal, action, resource) when { resource.name == "x" };\n`)
    const deny = run("policy", "check", join(dir, "deny.cedar"))
    expect(deny.code).toBe(0)
    expect(deny.stdout).toMatch(/no permit: every call is denied/)
    writeFileSync(join(dir, "bad.yaml"), `default: deny\nrules:\n  - tool: echo\n    effect: permit\n`)
    const badForm = run("policy", "check", join(dir, "bad.yaml"))
    expect(badForm.code).toBe(1)
    expect(badForm.stderr).toMatch(/bad\.yaml:4: effect must be allow, deny, approve or hide, not "permit"/)
    const refused = run("serve", "--stdio", "--policy", join(dir, "bad.yaml"))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/bad\.yaml:4: effect must be/)
  }, 60_000)

  it("approvals: list pending, approve one, an unknown id exits 1", () => {
    const file = join(dir, "approvals.jsonl")
    const store = ApprovalStore.open(file)
    const now = Date.now()
    store.add({ id: "a1", principal: "alice", sessionId: "s", server: "demo", method: "tools/call", target: "deploy", argsDigest: "d", policies: ["deploy"], reason: "r", requestedAt: now, deadline: now + 60_000 })
    const list = run("approvals", "list", "--store", file)
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^a1 {2}alice {2}tools\/call demo\/deploy {2}\(deploy\)/)
    const yes = run("approvals", "approve", "a1", "--store", file, "--by", "carol")
    expect(yes).toMatchObject({ code: 0, stdout: "approved a1\n" })
    expect(ApprovalStore.open(file).pending()).toEqual([])
    expect(run("approvals", "deny", "a1", "--store", file).code).toBe(1)
  }, 60_000)
})
