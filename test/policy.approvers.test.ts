/**
 * Approvers other than the calling client, with the official SDK client as
 * the caller: an HTTP webhook (a real local server) and the CLI/store
 * approver, while progress keeps the caller's own timeout from firing.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ErrorCode } from "../src/protocol/errors.ts"
import { answerApproval, ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { Approvals, storeApprover, webhookApprover } from "../src/policy/Approvals.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"

describe("approvers: webhook and CLI, with progress keeping the caller alive", () => {
  let dir: string
  let http: HttpServerHandle
  let hook: Server
  let hookUrl: string
  let approvals: Approvals
  let server: McpServer
  let deployed = 0
  let reply: { approved: boolean; by?: string; reason?: string } = { approved: true }
  const posted: Array<Record<string, unknown>> = []
  const engine = new PolicyEngine(Policy.parse("default: deny\nrules:\n  - { id: deploy-approval, tool: deploy, effect: approve, approvalTimeout: 30s }\n", "p.yaml"))
  let client: Client

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "approvers-"))
    approvals = new Approvals({ store: ApprovalStore.open(join(dir, "approvals.jsonl")), keepAliveMs: 100 })
    hook = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        posted.push(JSON.parse(body) as Record<string, unknown>)
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply))
      })
    })
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r))
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/approve`
    server = new McpServer({ name: "ops", version: "1.0.0" }).tool({ name: "deploy" }, () => {
      deployed++
      return { content: [{ type: "text", text: "deployed" }] }
    })
    http = await makeHttpServer(server)
    client = new Client({ name: "approver-test", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
  })

  afterAll(async () => {
    await client?.close()
    await http?.close({ drainMs: 0 })
    approvals?.close()
    await new Promise<void>((r) => hook.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })

  it("a webhook approves or rejects; it is sent the pending approval", async () => {
    server.guard = policyGuard({ engine, server: "ops", approvals, approver: webhookApprover(hookUrl) })
    const before = deployed // the server is shared with the CLI test, which deploys too
    reply = { approved: true, by: "oncall" }
    expect(await client.callTool({ name: "deploy", arguments: { env: "prod" } })).toMatchObject({ content: [{ text: "deployed" }] })
    expect(posted[0]).toMatchObject({ principal: "anonymous", server: "ops", method: "tools/call", target: "deploy", policies: ["deploy-approval"] })
    expect(posted[0]!.args).toBeUndefined() // values only if configured
    reply = { approved: false, by: "oncall", reason: "change freeze" }
    await expect(client.callTool({ name: "deploy", arguments: {} })).rejects.toMatchObject({
      code: ErrorCode.PolicyDenied,
      message: expect.stringMatching(/approval rejected \(rejected by oncall: change freeze\)/)
    })
    expect(deployed).toBe(before + 1)
  })

  it("the CLI approves through the store while progress resets the caller's 400 ms timeout", async () => {
    server.guard = policyGuard({ engine, server: "ops", approvals, approver: storeApprover })
    let progress = 0
    let eighth!: () => void
    const kept = new Promise<void>((resolve) => (eighth = resolve))
    const before = deployed
    const call = client.callTool({ name: "deploy", arguments: {} }, undefined, {
      timeout: 400,
      resetTimeoutOnProgress: true,
      onprogress: () => void (++progress === 8 && eighth())
    })
    // The 8th keep-alive (100 ms apart) comes well past the caller's own 400 ms timeout,
    // which is the SDK client's real timer: only the progress keeps the call waiting.
    const early = call.then((r) => Promise.reject(new Error(`settled before approval: ${JSON.stringify(r)}`)))
    early.catch(() => {}) // only the race below reports it
    await Promise.race([kept, early])
    expect(approvals.pending()).toHaveLength(1)
    const [pending] = ApprovalStore.open(join(dir, "approvals.jsonl")).pending()
    expect(answerApproval(join(dir, "approvals.jsonl"), pending!.id, { approved: true, by: "carol (cli)" })).toBe(true)
    expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
    expect(deployed).toBe(before + 1)
  }, 30_000)
})
