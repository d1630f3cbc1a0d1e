/**
 * An approval nobody answers is denied when its deadline passes on the
 * runtime's clock: the official SDK client (`@modelcontextprotocol/sdk`,
 * Streamable HTTP on a real socket, a JWT signed here) calls a tool whose rule
 * is `approve` with a 10-minute timeout, and its elicitation handler (the
 * approver) never answers.
 *
 * One SimulatedClock drives the served sessions (`makeHttpServer` /
 * `serveGatewayHttp` `clock`), the approvals (`Approvals` `clock`) and the
 * audit's time, so the 10 minutes pass in a few virtual steps: at 9:59.999
 * the call is still pending (approval visible, keep-alive progress flowing,
 * nothing denied), at 10:00 the client gets -32003 "approval expired", the
 * tool never ran (the upstream saw nothing, through the host's gateway) and
 * the audit trail holds the deny with its reason. Were the deadline a real
 * timer, the call would still be pending when the test times out.
 *
 * Real-time waits here are only for socket I/O (the client's handler being
 * asked, a ping round trip, events of what the client received — bounded,
 * so a deadline that does not fire on virtual time fails with a message).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { Approvals } from "../src/policy/Approvals.ts"
import { AuditLog, queryAudit, verifyAudit } from "../src/policy/AuditLog.ts"
import { makeAuthenticator } from "../src/policy/Authenticator.ts"
import { makeJwtVerifier } from "../src/policy/JwtVerifier.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { bearerAuth } from "../src/server/auth/bearerAuth.ts"
import type { CallGuard, GuardedCall } from "../src/server/CallGuard.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"

import { condition } from "./support/condition.ts"

const ISSUER = "https://issuer.test"
const AUDIENCE = "mcp://approval-timeout"
/** The approval deadline: 10 minutes of virtual time (the test takes seconds of real time). */
const DEADLINE_MS = 10 * 60_000
/** Approvals' default keep-alive: progress to the caller every 10 s while waiting. */
const KEEP_ALIVE_MS = 10_000
/** Virtual time starts here, so stamps read like real ones. */
const T0 = Date.parse("2026-01-01T00:00:00.000Z")
const iso = (ms: number) => new Date(ms).toISOString()

let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "policy-approval-timeout-"))
  const keys = await generateKeyPair("ES256")
  privateKey = keys.privateKey
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }))
  return () => rmSync(dir, { recursive: true, force: true })
})

const token = (sub: string, groups: Array<string>) =>
  new SignJWT({ groups }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE)
    .setIssuedAt().setExpirationTime("10m").sign(privateKey)

/** The engine, audit trail and approvals of one test, all on `clock`. */
const policyParts = (name: string, yaml: string, clock: SimulatedClock) => {
  const engine = new PolicyEngine(Policy.parse(yaml, `${name}.yaml`), { now: () => clock.now() })
  const auditFile = join(dir, `${name}.audit.jsonl`)
  const audit = AuditLog.open(auditFile, { now: () => clock.now() })
  const approvals = new Approvals({ store: ApprovalStore.open(join(dir, `${name}.approvals.jsonl`)), clock })
  const authenticate = (server: string) =>
    bearerAuth({ authenticator: makeAuthenticator({ jwt: makeJwtVerifier({ jwksFile: join(dir, "jwks.json"), issuer: ISSUER, audience: AUDIENCE }) }), grant: (id) => engine.grant(id, server) })
  return { engine, audit, auditFile, approvals, authenticate }
}

/** The SDK client as an approver that never answers: its elicitation handler hangs, and reports being asked and being withdrawn. */
const silentApprover = async (url: string, sub: string) => {
  const client = new Client({ name: "sdk-approval-timeout", version: "1.0.0" }, { capabilities: { elicitation: {} } })
  const questions: Array<string> = []
  let onAsked!: () => void
  let onWithdrawn!: () => void
  const asked = new Promise<void>((r) => (onAsked = r))
  const withdrawn = new Promise<void>((r) => (onWithdrawn = r))
  client.setRequestHandler(ElicitRequestSchema, (req, extra) => {
    questions.push(req.params.message)
    extra.signal.addEventListener("abort", () => onWithdrawn(), { once: true })
    onAsked()
    return new Promise(() => {}) // nobody answers
  })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${await token(sub, ["staff"])}` } } }))
  return { client, questions, asked, withdrawn }
}

/** Move `clock` to `to` in steps of at most `stepMs` (each step fires what is due, as time passing would). */
const stepTo = (clock: SimulatedClock, to: number, stepMs = KEEP_ALIVE_MS): void => {
  while (clock.now() < to) clock.increment(Math.min(stepMs, to - clock.now()))
}

/**
 * Call `tool` from a client whose approver never answers, and check the wait on
 * virtual time: pending just before the deadline, denied at it. `ran()` counts
 * what reached the tool (or the upstream).
 */
const neverAnswered = async (o: {
  readonly url: string
  readonly tool: string
  readonly clock: SimulatedClock
  readonly parts: ReturnType<typeof policyParts>
  readonly ran: () => number
  readonly server: string
  readonly name: string
}) => {
  const { clock, parts } = o
  const { client, questions, asked, withdrawn } = await silentApprover(o.url, "alice")
  try {
    const progress: Array<number> = []
    // 59 keep-alives (10 s … 9:50) come before the deadline.
    const keepAlives = Math.ceil(DEADLINE_MS / KEEP_ALIVE_MS) - 1
    let settled = false
    const heard = condition() // each progress notification and the call's end, as events
    const outcome = client.callTool({ name: o.tool, arguments: { env: "prod" } }, undefined, {
      // Far beyond the test's own timeout: only the gateway's deadline may end this call.
      timeout: 24 * 60 * 60_000,
      onprogress: (p) => void (progress.push(p.progress), heard.changed())
    }).then(
      (result) => ({ result }),
      (error: unknown) => ({ error: error as { code?: number; message?: string; data?: Record<string, unknown> } })
    ).finally(() => ((settled = true), heard.changed()))

    await asked // the chart is in awaitingApproval and the client's user was asked
    expect(questions).toEqual([expect.stringMatching(new RegExp(`^Approve tools/call ${o.name} for alice\\?`))])
    const [pending] = parts.approvals.pending()
    expect(pending).toMatchObject({ principal: "alice", server: o.server, method: "tools/call", target: o.name, policies: ["deploy-approval"] })
    // The visible deadline is on the clock that enforces it.
    expect(pending!.requestedAt).toBe(T0)
    expect(pending!.deadline).toBe(T0 + DEADLINE_MS)

    // 9:59.999 of virtual time: still waiting; the keep-alive progress kept flowing.
    stepTo(clock, T0 + DEADLINE_MS - 1)
    await heard.when(() => progress.length === keepAlives, `${keepAlives} keep-alive progress notifications on virtual time`)
    expect(progress).toEqual(Array.from({ length: keepAlives }, (_, i) => i + 1))
    await client.ping() // a round trip on the same session: a denial sent before it would have arrived
    expect(settled).toBe(false)
    expect(parts.approvals.pending().map((p) => p.id)).toEqual([pending!.id])
    parts.audit.flush()
    expect(queryAudit([parts.auditFile], { principal: "alice", type: "decision" }).map((r) => r.decision)).toEqual(["approve"])
    expect(o.ran()).toBe(0)

    // 10:00: the deadline is a deny.
    clock.increment(1)
    await heard.when(() => settled, "the call to end at the virtual deadline")
    const { error } = (await outcome) as { error?: { code?: number; message?: string; data?: Record<string, unknown> } }
    expect(error).toMatchObject({
      code: ErrorCode.PolicyDenied,
      message: expect.stringMatching(/Forbidden: approval expired \(no approval within 600000 ms\)/),
      data: { policies: ["deploy-approval"], approval: "expired" }
    })
    await withdrawn // the question to the client's user was cancelled with it
    expect(progress).toHaveLength(keepAlives) // nothing after the answer
    expect(o.ran()).toBe(0)
    expect(parts.approvals.pending()).toEqual([])
    // The durable record of the approval: pending, then expired by the deadline at 10:00 virtual.
    const events = readFileSync(parts.approvals.store.path!, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events).toEqual([
      expect.objectContaining({ type: "pending", id: pending!.id, deadline: T0 + DEADLINE_MS }),
      expect.objectContaining({ type: "resolved", id: pending!.id, approved: false, outcome: "expired", by: "deadline", at: T0 + DEADLINE_MS })
    ])

    parts.audit.flush()
    const decisions = queryAudit([parts.auditFile], { principal: "alice", type: "decision" })
    expect(decisions).toEqual([
      expect.objectContaining({ time: iso(T0), decision: "approve", server: o.server, name: o.name, policies: ["deploy-approval"] }),
      expect.objectContaining({
        time: iso(T0 + DEADLINE_MS),
        decision: "deny",
        server: o.server,
        name: o.name,
        policies: ["deploy-approval"],
        reason: "no approval within 600000 ms",
        approval: { id: pending!.id, outcome: "expired", by: "deadline", at: iso(T0 + DEADLINE_MS) }
      })
    ])
    expect(queryAudit([parts.auditFile], { principal: "alice", type: "call" })).toEqual([]) // no call ran
    expect(verifyAudit([parts.auditFile])).toMatchObject({ ok: true })
  } finally {
    await client.close().catch(() => {})
  }
}

describe("an approval nobody answers is denied at its deadline on virtual time (official SDK client)", { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("McpServer with the policy middleware: pending at 9:59.999, -32003 approval expired at 10:00, the handler never ran, audited", async () => {
    const clock = new SimulatedClock()
    clock.set(T0)
    const parts = policyParts("server", `
default: deny
grants:
  - groups: [staff]
rules:
  - { id: deploy-approval, tool: deploy, effect: approve, approvalTimeout: 10m }
`, clock)
    cleanups.push(() => parts.audit.close())
    let ran = 0
    const server = new McpServer({ name: "demo", version: "1.0.0" }).tool({ name: "deploy", inputSchema: { type: "object", properties: { env: { type: "string" } } } }, () => {
      ran++
      return { content: [{ type: "text", text: "deployed" }] }
    })
    server.guard = policyGuard({ engine: parts.engine, server: "demo", audit: parts.audit, approvals: parts.approvals })
    const http = await makeHttpServer(server, { clock, authenticate: parts.authenticate("demo") })
    // Cleanups run last-in first: approvals end any wait (a failed run) before the server drains, the audit closes last.
    cleanups.push(() => http.close({ drainMs: 0 }), () => parts.approvals.close())
    await neverAnswered({ url: http.url, tool: "deploy", clock, parts, ran: () => ran, server: "demo", name: "deploy" })
  })

  it("the host's gateway: pending at 9:59.999, -32003 approval expired at 10:00, the upstream saw nothing, audited under the upstream's names", async () => {
    // The upstream (our McpServer over HTTP, real time) counts every guarded call that reaches it.
    const seen: Array<GuardedCall> = []
    const counting: CallGuard = { admit: (call) => void seen.push(call), filter: (_kind, items) => items }
    const upstream = new McpServer({ name: "alpha", version: "1.0.0", guard: counting })
    upstream.tool({ name: "deploy", inputSchema: { type: "object", properties: { env: { type: "string" } } } }, () => ({ content: [{ type: "text", text: "deployed" }] }))
    upstream.tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))
    const upstreamHttp = await makeHttpServer(upstream, { port: 0 })
    cleanups.push(() => upstreamHttp.close({ drainMs: 0 }))
    // Sanity: the counter sees what reaches the upstream.
    const host = await startHost({ mcpServers: { alpha: { url: upstreamHttp.url, keepalive: false } } }, { stateFile: false })
    cleanups.push(() => host.close())
    await host.callTool("alpha__echo", { text: "direct" })
    expect(seen.map((c) => c.name)).toEqual(["echo"])
    seen.length = 0

    // The gateway's sessions and approvals run on the virtual clock; the host supervision stays on real time.
    const clock = new SimulatedClock()
    clock.set(T0)
    const parts = policyParts("gateway", `
default: deny
rules:
  - { id: alpha-echo, server: alpha, tool: echo, effect: allow }
  - { id: deploy-approval, server: alpha, tool: deploy, effect: approve, approvalTimeout: 10m }
`, clock)
    cleanups.push(() => parts.audit.close())
    const gateway = makeGateway(host, {
      guard: (server, route) => policyGuard({ engine: parts.engine, server: server ?? "host", audit: parts.audit, approvals: parts.approvals, ...(route === undefined ? {} : { route }) })
    })
    cleanups.push(() => gateway.close())
    const served = await serveGatewayHttp(gateway, { clock, authenticate: parts.authenticate("alpha") })
    cleanups.push(() => served.close({ drainMs: 0 }), () => parts.approvals.close())
    await neverAnswered({ url: served.url, tool: "alpha__deploy", clock, parts, ran: () => seen.length, server: "alpha", name: "deploy" })
    expect(seen).toEqual([])
  })
})
