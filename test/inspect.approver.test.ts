/**
 * The inspector page as the policy gateway's approver, over real sockets: a
 * Streamable HTTP server behind a policy that requires approval for `deploy`
 * (built by the CLI's policy setup with `approver: "inspector"`), the
 * inspector started with it, the official SDK client calling the tool, and
 * the test acting as the page — it reads the feed with the token, sees the
 * pending approval, and approves or denies it over the inspector's channel.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { setupPolicy, type PolicySetup } from "../src/cli/policySetup.ts"
import { InspectorApprover } from "../src/inspect/inspectorApprover.ts"
import { answerApproval } from "../src/policy/ApprovalStore.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { type Msg, openFeed } from "./support/inspectorFeed.ts"
import { McpServer } from "../src/server/McpServer.ts"

describe("inspector approver: approvals answered from the page", () => {
  let dir: string
  let server: McpServer
  let gateway: PolicySetup
  let http: HttpServerHandle
  let client: Client
  let deployed = 0
  const approver = new InspectorApprover()
  const audit = () => readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Msg)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "inspect-approver-"))
    writeFileSync(join(dir, "policy.yaml"), "default: deny\nrules:\n  - { id: deploy-approval, tool: deploy, effect: approve, approvalTimeout: 60s }\n")
    server = new McpServer({ name: "ops", version: "1.0.0" }).tool({ name: "deploy" }, () => {
      deployed++
      return { content: [{ type: "text", text: "deployed" }] }
    })
    gateway = setupPolicy(server, {
      policy: join(dir, "policy.yaml"),
      audit: join(dir, "audit.jsonl"),
      approvals: join(dir, "approvals.jsonl"),
      approver: "inspector",
      inspectorApprover: approver
    }, () => {})
    http = await makeHttpServer(server, { inspect: { approver } })
    client = new Client({ name: "approving-client", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
  })

  afterAll(async () => {
    await client?.close()
    await http?.close({ drainMs: 0 })
    gateway?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const feedUrl = (token = http.inspector!.token) => `ws://127.0.0.1:${http.inspector!.port}/feed?definitions=0&token=${token}`

  it("a pending call is listed on the feed and approved over it; the call completes and the audit names the inspector", async () => {
    const feed = await openFeed(feedUrl(), { origin: http.inspector!.origin })
    const before = deployed // the tests share the server: count this test's runs only
    try {
      const call = client.callTool({ name: "deploy", arguments: { env: "prod", secret: "hunter2" } })
      const shown = await feed.waitFor((m) => m.type === "@mcp-actors.approval", "a pending approval")
      expect(shown).toMatchObject({ principal: "anonymous", server: "ops", method: "tools/call", target: "deploy", policies: ["deploy-approval"] })
      expect(shown.argsDigest).toMatch(/\S{16,}/)
      expect(shown.args).toBeUndefined() // values only when the page shows secrets
      expect(JSON.stringify(shown)).not.toContain("hunter2")
      expect(shown.deadline - shown.requestedAt).toBe(60_000)
      expect(deployed).toBe(before) // still waiting in awaitingApproval
      // Listed on the HTTP API too, for the same token.
      const listed = await (await fetch(`${http.inspector!.origin}/approvals?token=${http.inspector!.token}`)).json() as Array<Msg>
      expect(listed.map((p) => p.id)).toEqual([shown.id])

      feed.ws.send(JSON.stringify({ id: shown.id, approved: true }))
      expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
      expect(deployed).toBe(before + 1)
      await feed.waitFor((m) => m.type === "@mcp-actors.approval.gone" && m.id === shown.id, "the approval leaving the panel")
      expect(await feed.waitFor((m) => m.type === "@mcp-actors.approval.answer", "the answer's receipt")).toMatchObject({ id: shown.id, ok: true })
      expect(approver.pending()).toEqual([])
      const allowed = audit().find((r) => r.approval?.id === shown.id && r.decision === "allow")
      expect(allowed?.approval).toMatchObject({ by: "inspector" })
      expect(Date.parse(allowed!.approval.at)).toBeGreaterThan(shown.requestedAt - 1)
      // Answering it again is refused (no longer waiting).
      feed.ws.send(JSON.stringify({ id: shown.id, approved: false }))
      expect(await feed.waitFor((m) => m.type === "@mcp-actors.approval.answer" && m.ok === false, "a refused answer")).toMatchObject({ status: 404 })
    } finally {
      feed.ws.close()
    }
  }, 60_000)

  it("denied from the page (POST): the client gets the policy error and the tool never runs; a wrong token or foreign Origin cannot answer", async () => {
    const feed = await openFeed(feedUrl())
    const before = deployed
    try {
      const call = client.callTool({ name: "deploy", arguments: { env: "staging" } })
      call.catch(() => {}) // awaited below
      const shown = await feed.waitFor((m) => m.type === "@mcp-actors.approval", "a pending approval")
      const answerUrl = `${http.inspector!.origin}/approvals/${encodeURIComponent(shown.id)}`
      const post = (headers: Record<string, string>, body: unknown, query = "") =>
        fetch(answerUrl + query, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })

      expect((await post({}, { approved: true })).status).toBe(401)
      expect((await post({ authorization: "Bearer wrong" }, { approved: true })).status).toBe(401)
      expect((await post({}, { approved: true }, "?token=wrong")).status).toBe(401)
      expect((await post({ authorization: `Bearer ${http.inspector!.token}`, origin: "http://evil.example" }, { approved: true })).status).toBe(403)
      await expect(openFeed(feedUrl(), { origin: "http://evil.example" })).rejects.toMatchObject({ status: 403 })
      await expect(openFeed(feedUrl("wrong"))).rejects.toMatchObject({ status: 401 })
      expect((await post({ authorization: `Bearer ${http.inspector!.token}` }, { approved: "yes" })).status).toBe(400)
      expect(approver.pending().map((p) => p.id)).toEqual([shown.id]) // none of those answered it

      const denied = await post({ authorization: `Bearer ${http.inspector!.token}`, origin: http.inspector!.origin }, { approved: false, reason: "not on a Friday" })
      expect(denied.status).toBe(200)
      expect(await denied.json()).toEqual({ id: shown.id, decision: "denied" })
      await expect(call).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/approval rejected.*not on a Friday/) })
      expect(deployed).toBe(before) // the denied call never ran the tool
      await feed.waitFor((m) => m.type === "@mcp-actors.approval.gone" && m.id === shown.id, "the denied approval leaving the panel")
      const record = audit().find((r) => r.approval?.id === shown.id)
      expect(record).toMatchObject({ decision: "deny", approval: { outcome: "rejected", by: "inspector" } })
    } finally {
      feed.ws.close()
    }
  }, 60_000)

  it("an approval answered elsewhere (the CLI, through the store) leaves the panel", async () => {
    const feed = await openFeed(feedUrl())
    try {
      const call = client.callTool({ name: "deploy", arguments: {} })
      const shown = await feed.waitFor((m) => m.type === "@mcp-actors.approval", "a pending approval")
      expect(answerApproval(join(dir, "approvals.jsonl"), shown.id, { approved: true, by: "carol (cli)" })).toBe(true)
      expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
      expect(await feed.waitFor((m) => m.type === "@mcp-actors.approval.gone" && m.id === shown.id, "the approval leaving the panel")).toMatchObject({ answered: "elsewhere" })
      expect(approver.pending()).toEqual([])
      // The page can no longer answer it.
      const late = await fetch(`${http.inspector!.origin}/approvals/${shown.id}?token=${http.inspector!.token}`, { method: "POST", body: JSON.stringify({ approved: false }) })
      expect(late.status).toBe(404)
    } finally {
      feed.ws.close()
    }
  }, 60_000)

  it("with secrets shown, the panel gets the argument values", async () => {
    const { startInspector } = await import("../src/inspect/InspectorServer.ts")
    const shownApprover = new InspectorApprover()
    const inspector = await startInspector({ approver: shownApprover, showSecrets: true })
    try {
      const ac = new AbortController()
      const asked = shownApprover.ask({ id: "a1", principal: "alice", sessionId: "0123456789abcdef0123", server: "ops", method: "tools/call", target: "deploy", argsDigest: "d", args: { env: "prod" }, policies: ["p"], reason: "r", requestedAt: 1, deadline: 2 }, ac.signal)
      const list = await (await fetch(`${inspector.origin}/approvals?token=${inspector.token}`)).json() as Array<Msg>
      expect(list).toMatchObject([{ id: "a1", args: { env: "prod" }, session: "0123456789abcdef0123" }])
      ac.abort() // the chart left awaitingApproval elsewhere
      expect(shownApprover.pending()).toEqual([])
      expect(shownApprover.answer("a1", true)).toBe(false)
      void asked
    } finally {
      await inspector.close()
    }
  })
})

describe("--approver inspector on the command line", () => {
  it("serve --http 0 --policy … --approver inspector --inspect: the page's channel approves a real client's call", async () => {
    const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
    const dir = mkdtempSync(join(tmpdir(), "inspect-approver-serve-"))
    writeFileSync(join(dir, "p.yaml"), "default: deny\nrules:\n  - { id: echo-approval, tool: echo, effect: approve, approvalTimeout: 60s }\n")
    const server = spawn(process.execPath, [cli, "serve", "--http", "0", "--policy", join(dir, "p.yaml"), "--audit", join(dir, "audit.jsonl"), "--approver", "inspector", "--inspect"], { stdio: ["ignore", "pipe", "pipe"] })
    const exited = new Promise((r) => server.once("exit", r))
    const client = new Client({ name: "cli-approval-client", version: "1.0.0" })
    // The server's log, for the failure message (a failure under load must say what the server saw).
    let log = ""
    server.stderr!.on("data", (d: Buffer) => (log += d.toString()))
    try {
      const inspectorUrl = new URL(await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no inspector URL printed")), 30_000)
        createInterface({ input: server.stderr! }).on("line", (line) => {
          const m = /inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})/.exec(line)
          if (m !== null) (clearTimeout(t), resolve(m[1]!))
        })
      }))
      const mcpUrl = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once("line", resolve))
      const token = inspectorUrl.searchParams.get("token")!
      const feed = await openFeed(`ws://${inspectorUrl.host}/feed?token=${token}`)
      await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)))
      const call = client.callTool({ name: "echo", arguments: { text: "hello" } })
      const shown = await feed.waitFor((m) => m.type === "@mcp-actors.approval", "a pending approval")
      expect(shown, log).toMatchObject({ target: "echo", policies: ["echo-approval"] })
      const r = await fetch(`${inspectorUrl.origin}/approvals/${shown.id}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ approved: true }) })
      expect(r.status, `${await r.clone().text()}\n${log}`).toBe(200)
      expect(JSON.stringify(await call), log).toContain("hello")
      feed.ws.close()
      // The audit trail is complete once the server has shut down (it writes in batches).
      await client.close()
      server.kill("SIGTERM")
      await exited
      const audit = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Msg)
      expect(audit.find((x) => x.approval?.id === shown.id && x.decision === "allow")?.approval, JSON.stringify(audit)).toMatchObject({ by: "inspector" })
    } finally {
      await client.close()
      if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM")
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)

  it("needs --inspect (usage error, exit 2)", () => {
    const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
    const dir = mkdtempSync(join(tmpdir(), "inspect-approver-cli-"))
    try {
      writeFileSync(join(dir, "p.yaml"), "default: deny\n")
      const r = spawnSync(process.execPath, [cli, "serve", "--http", "0", "--policy", join(dir, "p.yaml"), "--approver", "inspector"], { encoding: "utf8", timeout: 30_000 })
      expect(r.status).toBe(2)
      expect(r.stderr).toMatch(/--approver inspector needs --inspect/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 40_000)
})
