/**
 * Issue 12's real-peer list, the parts the other tests cover only for one
 * `McpServer` or only for tools, here through the host's gateway and for
 * resources and prompts, with the official SDK client (Streamable HTTP on a
 * real socket) and three identities whose JWTs are signed here:
 *
 * - resources and prompts a principal may not use are absent from
 *   `resources/list` and `prompts/list`, and reading or getting them anyway is
 *   -32003 that never reaches the handler (one `McpServer`, and the host's
 *   aggregate gateway, where policies name the upstream server);
 * - through the gateway: rate limits trip with a retry-after hint and recover
 *   on the engine's virtual clock; a third identity without a grant gets 403;
 *   an expired token, `alg: none` and a wrong audience get 401; the audit chain
 *   verifies and a one-byte edit is caught.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { AuditLog, queryAudit, verifyAudit } from "../src/policy/AuditLog.ts"
import { makeAuthenticator } from "../src/policy/Authenticator.ts"
import { makeJwtVerifier } from "../src/policy/JwtVerifier.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { bearerAuth } from "../src/server/auth/bearerAuth.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { post } from "./support/mcpHttp.ts"

const ISSUER = "https://issuer.test"
const AUDIENCE = "mcp://gateway-sdk"
const T0 = Date.parse("2026-01-01T00:00:00.000Z")

let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]
let dir: string
const cleanups: Array<() => unknown> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "policy-gateway-sdk-"))
  const keys = await generateKeyPair("ES256")
  privateKey = keys.privateKey
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }))
})
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  rmSync(dir, { recursive: true, force: true })
})

const token = (sub: string, groups: Array<string>, o: { aud?: string; exp?: number | string } = {}) =>
  new SignJWT({ groups }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject(sub).setIssuer(ISSUER).setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt().setExpirationTime(o.exp ?? "10m").sign(privateKey)

const connect = async (url: string, sub: string, groups: Array<string>): Promise<Client> => {
  const client = new Client({ name: "sdk-gateway-policy", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${await token(sub, groups)}` } } }))
  cleanups.push(() => client.close().catch(() => {}))
  return client
}

/** A server with a tool, two prompts and three resources, counting what reaches each handler. */
const upstream = (name: string) => {
  const ran = { echo: 0, greet: 0, admin: 0, notes: 0, secret: 0 }
  const server = new McpServer({ name, version: "1.0.0" })
    .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => {
      ran.echo++
      return { content: [{ type: "text", text: String(args.text) }] }
    })
    .prompt({ name: "greet" }, () => {
      ran.greet++
      return { messages: [{ role: "user", content: { type: "text", text: "hello" } }] }
    })
    .prompt({ name: "admin" }, () => {
      ran.admin++
      return { messages: [{ role: "user", content: { type: "text", text: "root" } }] }
    })
    .resource({ uri: "mem://notes/1", name: "note 1" }, (uri) => {
      ran.notes++
      return { contents: [{ uri, text: "one" }] }
    })
    .resource({ uri: "mem://notes/2", name: "note 2" }, (uri) => {
      ran.notes++
      return { contents: [{ uri, text: "two" }] }
    })
    .resource({ uri: "mem://secret", name: "secret" }, (uri) => {
      ran.secret++
      return { contents: [{ uri, text: "s3cret" }] }
    })
  return { server, ran }
}

/** Policies over `server` (undefined: rules name no server): staff get greet, everyone the notes, nobody admin or the secret. */
const policyText = (server: string | undefined) => {
  const on = server === undefined ? "" : ` server: ${server},`
  return `
default: deny
grants:
  - groups: [staff, contractors]
rules:
  - { id: echo-all,${on} tool: echo, effect: allow }
  - { id: greet-staff,${on} prompt: greet, effect: allow, principals: { groups: [staff] } }
  - { id: admin-hidden,${on} prompt: admin, effect: hide }
  - { id: notes-all,${on} resource: "mem://notes/*", effect: allow }
  - { id: secret-hidden,${on} resource: "mem://secret", effect: hide }
rateLimits:
  - { id: echo-rate, tool: echo, limit: 2, window: 10s, per: identity }
`
}

const names = async (c: Client) => ({
  prompts: (await c.listPrompts()).prompts.map((p) => p.name).sort(),
  resources: (await c.listResources()).resources.map((r) => r.uri).sort()
})

describe("policy on resources and prompts, and the host gateway's real-peer checks (official SDK client, three identities)", { timeout: 90_000 }, () => {
  it("one McpServer: lists per principal; a hidden resource or prompt is refused by name and its handler never runs", async () => {
    const { server, ran } = upstream("demo")
    const engine = new PolicyEngine(Policy.parse(policyText(undefined), "demo.yaml"))
    server.guard = policyGuard({ engine, server: "demo" })
    const jwt = makeJwtVerifier({ jwksFile: join(dir, "jwks.json"), issuer: ISSUER, audience: AUDIENCE })
    const http = await makeHttpServer(server, { authenticate: bearerAuth({ authenticator: makeAuthenticator({ jwt }), grant: (id) => engine.grant(id, "demo") }) })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const alice = await connect(http.url, "alice", ["staff"])
    const bob = await connect(http.url, "bob", ["contractors"])
    expect(await names(alice)).toEqual({ prompts: ["greet"], resources: ["mem://notes/1", "mem://notes/2"] })
    expect(await names(bob)).toEqual({ prompts: [], resources: ["mem://notes/1", "mem://notes/2"] })

    expect((await alice.getPrompt({ name: "greet" })).messages).toHaveLength(1)
    expect((await bob.readResource({ uri: "mem://notes/2" })).contents).toEqual([expect.objectContaining({ text: "two" })])
    await expect(bob.getPrompt({ name: "greet" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, message: expect.stringMatching(/no policy permits bob/) })
    await expect(alice.getPrompt({ name: "admin" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["admin-hidden"] } })
    await expect(alice.readResource({ uri: "mem://secret" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["secret-hidden"] } })
    expect(ran).toEqual({ echo: 0, greet: 1, admin: 0, notes: 1, secret: 0 })
  })

  it("a reload changes the next decision on a live session; a policy that does not parse is refused and the session keeps the old one", async () => {
    const { server, ran } = upstream("demo")
    const file = join(dir, "reload.yaml")
    writeFileSync(file, policyText(undefined))
    const reloads: Array<string> = []
    const engine = PolicyEngine.fromFile(file, { onReload: (r) => void reloads.push(r.ok ? "ok" : r.error!.message) })
    server.guard = policyGuard({ engine, server: "demo" })
    const jwt = makeJwtVerifier({ jwksFile: join(dir, "jwks.json"), issuer: ISSUER, audience: AUDIENCE })
    const http = await makeHttpServer(server, { authenticate: bearerAuth({ authenticator: makeAuthenticator({ jwt }), grant: (id) => engine.grant(id, "demo") }) })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const transport = new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${await token("bob", ["contractors"])}` } } })
    const bob = new Client({ name: "sdk-gateway-policy", version: "1.0.0" })
    await bob.connect(transport)
    cleanups.push(() => bob.close().catch(() => {}))
    const session = transport.sessionId
    expect(session).toBeDefined()
    await expect(bob.getPrompt({ name: "greet" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })

    // The new policy lets contractors greet: the same session sees it on its next call and list.
    writeFileSync(file, policyText(undefined).replace("groups: [staff] }", "groups: [staff, contractors] }"))
    expect(engine.reload()).toEqual({ ok: true })
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).toEqual(["greet"])
    expect((await bob.getPrompt({ name: "greet" })).messages).toHaveLength(1)

    // A policy that does not parse is refused with its line and reason; the last good one stays, the session too.
    writeFileSync(file, "default: deny\nrules:\n  - { tool: echo, effect: maybe }\n")
    expect(engine.reload()).toMatchObject({ ok: false })
    expect(reloads).toEqual(["ok", expect.stringMatching(/reload\.yaml:3: effect must be/)])
    expect((await bob.getPrompt({ name: "greet" })).messages).toHaveLength(1)
    expect(await bob.callTool({ name: "echo", arguments: { text: "still here" } })).toMatchObject({ content: [{ text: "still here" }] })
    expect(transport.sessionId).toBe(session)
    expect(ran).toMatchObject({ greet: 2, echo: 1 })
  })

  it("the host's gateway: lists and refusals under the upstream's names, rate limits on virtual time, 401/403, and the audit chain", async () => {
    const alpha = upstream("alpha")
    const upstreamHttp = await makeHttpServer(alpha.server, { port: 0 })
    cleanups.push(() => upstreamHttp.close({ drainMs: 0 }))
    const host = await startHost({ mcpServers: { alpha: { url: upstreamHttp.url, keepalive: false } } }, { stateFile: false })
    cleanups.push(() => host.close())
    await host.callTool("alpha__echo", { text: "ready" })
    alpha.ran.echo = 0

    // Rate windows and the audit's times on a virtual clock; the gateway's sessions too.
    const clock = new SimulatedClock()
    clock.set(T0)
    const engine = new PolicyEngine(Policy.parse(policyText("alpha"), "gateway.yaml"), { now: () => clock.now() })
    const auditFile = join(dir, "gateway.audit.jsonl")
    const audit = AuditLog.open(auditFile, { now: () => clock.now() })
    cleanups.push(() => audit.close())
    const gateway = makeGateway(host, {
      guard: (server, route) => policyGuard({ engine, server: server ?? "host", audit, ...(route === undefined ? {} : { route }) })
    })
    cleanups.push(() => gateway.close())
    const jwt = makeJwtVerifier({ jwksFile: join(dir, "jwks.json"), issuer: ISSUER, audience: AUDIENCE })
    const served = await serveGatewayHttp(gateway, { clock, authenticate: bearerAuth({ authenticator: makeAuthenticator({ jwt }), grant: (id) => engine.grant(id, "alpha") }) })
    cleanups.push(() => served.close({ drainMs: 0 }))

    // Identity 3, carol, has a valid token but no grant: 403 with the reason; bad tokens: 401.
    await expect(connect(served.url, "carol", ["guests"])).rejects.toMatchObject({ code: 403, message: expect.stringMatching(/carol has no grant for server alpha/) })
    const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }
    const refused = async (bearer: string) => {
      const r = await post(served.url, initialize, { authorization: `Bearer ${bearer}` })
      return { status: r.status, challenge: r.headers.get("www-authenticate") }
    }
    expect(await refused(await token("alice", ["staff"], { exp: Math.floor(Date.now() / 1000) - 3600 }))).toEqual({ status: 401, challenge: expect.stringMatching(/invalid_token.*has expired/) })
    expect(await refused(new UnsecuredJWT({ groups: ["staff"] }).setSubject("alice").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("10m").encode()))
      .toEqual({ status: 401, challenge: expect.stringMatching(/invalid_token/) })
    expect(await refused(await token("alice", ["staff"], { aud: "mcp://other" }))).toEqual({ status: 401, challenge: expect.stringMatching(/invalid_token.*aud/) })

    const alice = await connect(served.url, "alice", ["staff"])
    const bob = await connect(served.url, "bob", ["contractors"])
    const listed = async (c: Client) => ({ ...(await names(c)), tools: (await c.listTools()).tools.map((t) => t.name).sort() })
    expect(await listed(alice)).toEqual({ prompts: ["alpha__greet"], resources: ["mem://notes/1", "mem://notes/2"], tools: ["alpha__echo"] })
    expect(await listed(bob)).toEqual({ prompts: [], resources: ["mem://notes/1", "mem://notes/2"], tools: ["alpha__echo"] })
    await expect(bob.getPrompt({ name: "alpha__greet" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    await expect(alice.getPrompt({ name: "alpha__admin" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["admin-hidden"] } })
    await expect(alice.readResource({ uri: "mem://secret" })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied, data: { policies: ["secret-hidden"] } })
    expect((await alice.getPrompt({ name: "alpha__greet" })).messages).toHaveLength(1)
    expect((await bob.readResource({ uri: "mem://notes/1" })).contents).toEqual([expect.objectContaining({ text: "one" })])

    // Rate limit: 2 per 10 s per identity; the third call is refused before the upstream, then one token is back after 5 s.
    for (const i of [1, 2]) expect(await bob.callTool({ name: "alpha__echo", arguments: { text: `b${i}` } })).toMatchObject({ content: [{ text: `b${i}` }] })
    await expect(bob.callTool({ name: "alpha__echo", arguments: { text: "b3" } })).rejects.toMatchObject({
      code: ErrorCode.RateLimited,
      data: { policies: ["echo-rate"], retryAfterMs: 5_000, retryAfterSeconds: 5 }
    })
    expect(await alice.callTool({ name: "alpha__echo", arguments: { text: "a1" } })).toMatchObject({ content: [{ text: "a1" }] }) // per identity
    expect(alpha.ran.echo).toBe(3)
    clock.increment(4_999)
    await expect(bob.callTool({ name: "alpha__echo", arguments: { text: "b4" } })).rejects.toMatchObject({ code: ErrorCode.RateLimited })
    clock.increment(5_000)
    expect(await bob.callTool({ name: "alpha__echo", arguments: { text: "b5" } })).toMatchObject({ content: [{ text: "b5" }] })
    expect(alpha.ran).toEqual({ echo: 4, greet: 1, admin: 0, notes: 1, secret: 0 })

    // The audit trail: the upstream's server and original names, the rate-limit refusals, an intact chain; a one-byte edit is caught.
    audit.flush()
    expect(queryAudit([auditFile], { principal: "bob", type: "decision" }).map((r) => [r.name, r.decision])).toEqual([
      ["greet", "deny"], ["mem://notes/1", "allow"], ["echo", "allow"], ["echo", "allow"], ["echo", "rateLimited"], ["echo", "rateLimited"], ["echo", "allow"]
    ])
    expect(queryAudit([auditFile], { principal: "alice", type: "decision" })).toContainEqual(expect.objectContaining({ server: "alpha", method: "prompts/get", name: "admin", decision: "deny", policies: ["admin-hidden"] }))
    expect(verifyAudit([auditFile])).toMatchObject({ ok: true })
    const bytes = readFileSync(auditFile)
    const at = bytes.indexOf("\"rateLimited\"")
    expect(at).toBeGreaterThan(0)
    bytes[at + 1] = "R".charCodeAt(0) // "rateLimited" → "RateLimited": one byte
    const edited = join(dir, "gateway.edited.jsonl")
    writeFileSync(edited, bytes)
    const line = readFileSync(auditFile, "utf8").slice(0, at).split("\n").length
    expect(verifyAudit([edited])).toMatchObject({ ok: false, line, reason: expect.stringMatching(/edited/) })
  })
})
