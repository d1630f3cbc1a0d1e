/**
 * The policy gateway in front of one McpServer, driven by the official SDK
 * client (`@modelcontextprotocol/sdk` 1.32, Streamable HTTP with an
 * `Authorization: Bearer` header): three identities with JWTs signed here
 * (jose, ES256), a YAML policy, an audit trail and client-side approval.
 * Rate limits run on the engine's virtual clock; the peers are real.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ErrorCode } from "../src/protocol/errors.ts"
import { ApprovalStore } from "../src/policy/ApprovalStore.ts"
import { Approvals } from "../src/policy/Approvals.ts"
import { AuditLog, queryAudit, verifyAudit } from "../src/policy/AuditLog.ts"
import { makeAuthenticator } from "../src/policy/Authenticator.ts"
import { makeJwtVerifier } from "../src/policy/JwtVerifier.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { bearerAuth } from "../src/server/auth/bearerAuth.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { post } from "./support/mcpHttp.ts"

const ISSUER = "https://issuer.test"
const AUDIENCE = "mcp://demo"
const POLICY = `
default: deny
grants:
  - groups: [staff, contractors]
rules:
  - { id: echo-all, tool: echo, effect: allow }
  - { id: add-staff, tool: add, effect: allow, principals: { groups: [staff] } }
  - { id: secret-hidden, tool: secret, effect: hide }
  - { id: deploy-approval, tool: deploy, effect: approve, approvalTimeout: 30s }
rateLimits:
  - { id: echo-rate, tool: echo, limit: 3, window: 3s, per: identity }
`

describe("policy gateway with the official SDK client over Streamable HTTP", { shuffle: false }, () => { // the last test reads the audit trail the others made
  let dir: string
  let http: HttpServerHandle
  let audit: AuditLog
  let approvals: Approvals
  let engine: PolicyEngine
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]
  let now = Date.now()
  const ran = { echo: 0, add: 0, secret: 0, deploy: 0 }
  const clients: Array<Client> = []

  const token = (sub: string, groups: Array<string>, claims: { aud?: string; exp?: number | string } = {}) =>
    new SignJWT({ groups })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(claims.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? "10m")
      .sign(privateKey)

  const connect = async (jwt: string, approve?: boolean): Promise<Client> => {
    const client = new Client({ name: "sdk-policy-test", version: "1.0.0" }, { capabilities: approve === undefined ? {} : { elicitation: {} } })
    if (approve !== undefined) {
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        expect(req.params.message).toMatch(/^Approve tools\/call deploy for /)
        return { action: "accept", content: { approve } }
      })
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${jwt}` } } }))
    clients.push(client)
    return client
  }

  const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]!.text

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "policy-sdk-"))
    const keys = await generateKeyPair("ES256")
    privateKey = keys.privateKey
    const jwks = { keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }
    writeFileSync(join(dir, "jwks.json"), JSON.stringify(jwks))
    engine = new PolicyEngine(Policy.parse(POLICY, "policy.yaml"), { now: () => now })
    audit = AuditLog.open(join(dir, "audit.jsonl"))
    approvals = new Approvals({ store: ApprovalStore.open(join(dir, "approvals.jsonl")) })
    const server = new McpServer({ name: "demo", version: "1.0.0" })
      .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => {
        ran.echo++
        return { content: [{ type: "text", text: String(args.text) }] }
      })
      .tool({ name: "add", inputSchema: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } } } }, (args) => {
        ran.add++
        return { content: [{ type: "text", text: String(Number(args.a) + Number(args.b)) }] }
      })
      .tool({ name: "secret" }, () => {
        ran.secret++
        return { content: [{ type: "text", text: "s3cret" }] }
      })
      .tool({ name: "deploy" }, () => {
        ran.deploy++
        return { content: [{ type: "text", text: "deployed" }] }
      })
    server.guard = policyGuard({ engine, server: "demo", audit, approvals })
    const jwt = makeJwtVerifier({ jwksFile: join(dir, "jwks.json"), issuer: ISSUER, audience: AUDIENCE })
    http = await makeHttpServer(server, { authenticate: bearerAuth({ authenticator: makeAuthenticator({ jwt }), grant: (id) => engine.grant(id, "demo") }) })
  })

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await http?.close({ drainMs: 0 })
    audit?.close()
    approvals?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("hidden and never-permitted tools are absent from tools/list, per identity", async () => {
    const alice = await connect(await token("alice", ["staff"]))
    const bob = await connect(await token("bob", ["contractors"]))
    expect((await alice.listTools()).tools.map((t) => t.name).sort()).toEqual(["add", "deploy", "echo"])
    expect((await bob.listTools()).tools.map((t) => t.name).sort()).toEqual(["deploy", "echo"])
  })

  it("allowed calls pass; denied calls never reach the handler", async () => {
    const alice = await connect(await token("alice", ["staff"]))
    const bob = await connect(await token("bob", ["contractors"]))
    expect(text(await alice.callTool({ name: "add", arguments: { a: 2, b: 3 } }))).toBe("5")
    const before = { ...ran }
    await expect(bob.callTool({ name: "add", arguments: { a: 2, b: 3 } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/no policy permits bob/) })
    await expect(alice.callTool({ name: "secret", arguments: {} })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["secret-hidden"] } })
    expect(ran.add).toBe(before.add)
    expect(ran.secret).toBe(0)
  })

  it("an approval answered by the client's elicitation handler lets the call through; a refusal denies it", async () => {
    const yes = await connect(await token("alice", ["staff"]), true)
    expect(text(await yes.callTool({ name: "deploy", arguments: {} }))).toBe("deployed")
    expect(ran.deploy).toBe(1)
    const no = await connect(await token("bob", ["contractors"]), false)
    await expect(no.callTool({ name: "deploy", arguments: {} })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/approval rejected/) })
    // A client that cannot elicit cannot approve: denied, with the reason.
    const mute = await connect(await token("carol", ["staff"]))
    await expect(mute.callTool({ name: "deploy", arguments: {} })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/elicitation/) })
    expect(ran.deploy).toBe(1)
    expect(approvals.pending()).toEqual([])
  })

  it("rate limits trip with a retry-after hint and recover", async () => {
    const dan = await connect(await token("dan", ["contractors"]))
    for (let i = 0; i < 3; i++) expect(text(await dan.callTool({ name: "echo", arguments: { text: `e${i}` } }))).toBe(`e${i}`)
    const ranBefore = ran.echo
    await expect(dan.callTool({ name: "echo", arguments: { text: "e3" } })).rejects.toMatchObject({
      code: ErrorCode.RateLimited,
      data: { policies: ["echo-rate"], retryAfterMs: 1_000, retryAfterSeconds: 1 }
    })
    expect(ran.echo).toBe(ranBefore)
    now += 1_000
    expect(text(await dan.callTool({ name: "echo", arguments: { text: "again" } }))).toBe("again")
  })

  it("bad credentials: none, expired, alg none, wrong audience get 401; no grant gets 403", async () => {
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }
    const missing = await post(http.url, initialize)
    expect(missing.status).toBe(401)
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="mcp"')
    const expired = await post(http.url, initialize, { authorization: `Bearer ${await token("alice", ["staff"], { exp: Math.floor(Date.now() / 1000) - 3600 })}` })
    expect(expired.status).toBe(401)
    expect(expired.headers.get("www-authenticate")).toMatch(/error="invalid_token", error_description="the token has expired"/)
    const none = new UnsecuredJWT({ groups: ["staff"] }).setSubject("alice").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("10m").encode()
    const unsecured = await post(http.url, initialize, { authorization: `Bearer ${none}` })
    expect(unsecured.status).toBe(401)
    expect(unsecured.headers.get("www-authenticate")).toMatch(/invalid_token/)
    const wrongAud = await post(http.url, initialize, { authorization: `Bearer ${await token("alice", ["staff"], { aud: "mcp://other" })}` })
    expect(wrongAud.status).toBe(401)
    expect(wrongAud.headers.get("www-authenticate")).toMatch(/claim \\?"?aud/)
    const eve = await post(http.url, initialize, { authorization: `Bearer ${await token("eve", ["guests"])}` })
    expect(eve.status).toBe(403)
    expect(await eve.json()).toMatchObject({ error: { code: ErrorCode.PolicyDenied, message: "Forbidden: eve has no grant for server demo" } })
    // The SDK client sees the 403 too.
    await expect(connect(await token("eve", ["guests"]))).rejects.toMatchObject({ code: 403, message: expect.stringMatching(/no grant for server demo/) })
  })

  it("modern era (2026-07-28): a denial is a JSON-RPC error; approval travels as input_required and comes back on the retry", async () => {
    const modern = async (jwt: string, id: number, name: string, extra: Record<string, unknown> = {}) => {
      const res = await post(http.url, {
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name, arguments: {}, ...extra, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } } }
      }, { authorization: `Bearer ${jwt}`, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": name })
      return { status: res.status, body: await res.json() as { result?: Record<string, unknown>; error?: { code: number; message: string } } }
    }
    const bob = await token("bob", ["contractors"])
    const refused = await modern(bob, 1, "add")
    expect(refused.body.error).toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/no policy permits bob/) })
    const alice = await token("alice", ["staff"])
    const before = ran.deploy
    const first = await modern(alice, 2, "deploy")
    expect(first.body.result).toMatchObject({ resultType: "input_required" })
    const inputRequests = first.body.result!.inputRequests as Record<string, { method: string; params: { message: string } }>
    const [key, ask] = Object.entries(inputRequests)[0]!
    expect(ask).toMatchObject({ method: "elicitation/create", params: { message: expect.stringMatching(/^Approve tools\/call deploy for alice/) } })
    expect(ran.deploy).toBe(before)
    const retry = await modern(alice, 3, "deploy", {
      inputResponses: { [key]: { action: "accept", content: { approve: true } } },
      ...(first.body.result!.requestState === undefined ? {} : { requestState: first.body.result!.requestState })
    })
    expect(retry.body.result).toMatchObject({ resultType: "complete", content: [{ text: "deployed" }] })
    expect(ran.deploy).toBe(before + 1)
  })

  it("the audit trail records decisions and calls, verifies, and a one-byte edit is caught", () => {
    audit.flush()
    const file = join(dir, "audit.jsonl")
    const verified = verifyAudit([file])
    expect(verified).toMatchObject({ ok: true })
    const aliceCalls = queryAudit([file], { principal: "alice", type: "call" })
    expect(aliceCalls.map((r) => r.name)).toEqual(expect.arrayContaining(["add", "deploy"]))
    const deploy = aliceCalls.find((r) => r.name === "deploy")!
    expect(deploy).toMatchObject({ decision: "allow", policies: ["deploy-approval"], outcome: "ok", era: "legacy", transport: "http", server: "demo", approval: { by: "alice via sdk-policy-test" } })
    expect(deploy.args).toBeUndefined() // values only if configured
    const denied = queryAudit([file], { principal: "bob", tool: "add", type: "decision" })
    expect(denied[0]).toMatchObject({ decision: "deny", policies: [] })
    const lines = readFileSync(file, "utf8").split("\n")
    const target = 3
    lines[target] = lines[target]!.replace('"legacy"', '"legacz"')
    writeFileSync(join(dir, "edited.jsonl"), lines.join("\n"))
    expect(verifyAudit([join(dir, "edited.jsonl")])).toMatchObject({ ok: false, line: target + 1, reason: expect.stringMatching(/edited/) })
  })
})
