/**
 * The policy gateway in front of the host: `mcp-actors host CONFIG --serve-http 0
 * --policy … --audit … --jwks …` (a real host process) with two upstream
 * servers (ours over Streamable HTTP, in this process, counting what reaches
 * them), driven by the official SDK client with two JWT identities. Policies
 * name the upstream server; denied calls never reach it; hidden tools are
 * absent from lists (aggregate and `/mcp/<server>`); an approval answered by
 * the client's elicitation handler lets the call through; the audit trail
 * names server and original tool and verifies.
 *
 * Also `/mcp/<server>` over WebSocket (in-process gateway, our client).
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectWs } from "../src/client/connectWs.ts"
import { makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { condition } from "./support/condition.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const ISSUER = "https://issuer.test"
const AUDIENCE = "mcp://host"

/** An upstream with echo, secret and deploy, counting the calls that reach it. */
const upstream = (name: string) => {
  const ran = { echo: 0, secret: 0, deploy: 0 }
  const server = new McpServer({ name, version: "1.0.0" })
  for (const tool of ["echo", "secret", "deploy"] as const) {
    server.tool({ name: tool, inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => {
      ran[tool]++
      return { content: [{ type: "text", text: `${name}/${tool}: ${String(args.text ?? "")}` }] }
    })
  }
  return { server, ran }
}

const text = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]!.text

describe("host gateway with --policy, --audit and --jwks (official SDK client, two identities)", { timeout: 90_000, shuffle: false }, () => { // one host; the tests count its upstream calls and audit lines in turn
  let dir: string
  const alpha = upstream("alpha")
  const beta = upstream("beta")
  const upstreams: Array<HttpServerHandle> = []
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]
  let child: ReturnType<typeof spawn>
  let gatewayUrl: string | undefined
  const stderr: Array<string> = []
  const clients: Array<Client> = []

  const token = (sub: string, groups: Array<string>) =>
    new SignJWT({ groups }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE)
      .setIssuedAt().setExpirationTime("10m").sign(privateKey)

  const connect = async (sub: string, groups: Array<string>, path = "", approve?: boolean): Promise<Client> => {
    const client = new Client({ name: "sdk-host-policy", version: "1.0.0" }, { capabilities: approve === undefined ? {} : { elicitation: {} } })
    if (approve !== undefined) {
      client.setRequestHandler(ElicitRequestSchema, async (req) => {
        // The approval names the upstream's own tool name.
        expect(req.params.message).toMatch(/^Approve tools\/call deploy for /)
        return { action: "accept", content: { approve } }
      })
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gatewayUrl!}${path}`), { requestInit: { headers: { authorization: `Bearer ${await token(sub, groups)}` } } }))
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "host-policy-"))
    const keys = await generateKeyPair("ES256")
    privateKey = keys.privateKey
    writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256" }] }))
    writeFileSync(join(dir, "policy.yaml"), `default: deny
rules:
  - { id: alpha-echo, server: alpha, tool: echo, effect: allow }
  - { id: beta-echo-staff, server: beta, tool: echo, effect: allow, principals: { groups: [staff] } }
  - { id: beta-secret-hidden, server: beta, tool: secret, effect: hide }
  - { id: alpha-deploy-approval, server: alpha, tool: deploy, effect: approve, approvalTimeout: 30s }
`)
    for (const u of [alpha, beta]) upstreams.push(await makeHttpServer(u.server, { port: 0 }))
    writeFileSync(join(dir, "mcp.json"), JSON.stringify({ mcpServers: { alpha: { url: upstreams[0]!.url }, beta: { url: upstreams[1]!.url } } }))
    child = spawn(process.execPath, [
      MAIN, "host", join(dir, "mcp.json"), "--json", "--serve-http", "0", "--state-file", join(dir, "state.json"),
      "--policy", join(dir, "policy.yaml"), "--audit", join(dir, "audit.jsonl"),
      "--jwks", join(dir, "jwks.json"), "--issuer", ISSUER, "--audience", AUDIENCE
    ], { stdio: ["ignore", "ignore", "pipe"] })
    const lines = condition() // each stderr line, as an event
    createInterface({ input: child.stderr! }).on("line", (l) => {
      stderr.push(l)
      gatewayUrl ??= /gateway on (\S+)/.exec(l)?.[1]
      lines.changed()
    })
    await lines.when(() => gatewayUrl !== undefined, "the gateway's URL on stderr", 45_000)
    expect(gatewayUrl).toBeDefined()
  })

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r))
      child.kill("SIGTERM")
      await exited
    }
    for (const u of upstreams) await u.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("lists per principal, allows what the policy names with its server, and denied calls never reach the upstream", async () => {
    const alice = await connect("alice", ["staff"])
    const bob = await connect("bob", ["contractors"])
    expect((await alice.listTools()).tools.map((t) => t.name).sort()).toEqual(["alpha__deploy", "alpha__echo", "beta__echo"])
    expect((await bob.listTools()).tools.map((t) => t.name).sort()).toEqual(["alpha__deploy", "alpha__echo"])

    expect(text(await alice.callTool({ name: "beta__echo", arguments: { text: "hi" } }))).toBe("beta/echo: hi")
    expect(beta.ran.echo).toBe(1)
    await expect(bob.callTool({ name: "beta__echo", arguments: { text: "hi" } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    // A hidden tool called by name anyway: refused at the gateway too.
    await expect(alice.callTool({ name: "beta__secret", arguments: {} })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    // The same tool name on another server is another resource: alpha's echo is open to bob.
    expect(text(await bob.callTool({ name: "alpha__echo", arguments: { text: "yo" } }))).toBe("alpha/echo: yo")
    expect(beta.ran).toEqual({ echo: 1, secret: 0, deploy: 0 })
    expect(alpha.ran).toEqual({ echo: 1, secret: 0, deploy: 0 })
  })

  it("/mcp/<server> applies the same policy under the original names", async () => {
    const alice = await connect("alice", ["staff"], "/beta")
    const bob = await connect("bob", ["contractors"], "/beta")
    expect((await alice.listTools()).tools.map((t) => t.name)).toEqual(["echo"])
    expect((await bob.listTools()).tools).toEqual([])
    await expect(bob.callTool({ name: "echo", arguments: { text: "x" } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    expect(text(await alice.callTool({ name: "echo", arguments: { text: "x" } }))).toBe("beta/echo: x")
    expect(beta.ran.echo).toBe(2)
  })

  it("an approval answered by the client's elicitation handler lets the call through; a refusal never reaches the upstream", async () => {
    const yes = await connect("alice", ["staff"], "", true)
    expect(text(await yes.callTool({ name: "alpha__deploy", arguments: { text: "v1" } }))).toBe("alpha/deploy: v1")
    const no = await connect("bob", ["contractors"], "", false)
    await expect(no.callTool({ name: "alpha__deploy", arguments: { text: "v2" } })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
    expect(alpha.ran.deploy).toBe(1)
  })

  it("a request without a token gets 401", async () => {
    const r = await fetch(gatewayUrl!, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" })
    expect(r.status).toBe(401)
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer /)
  })

  it("audits every decision and completed call with the upstream server and original name; the chain verifies", () => {
    const audit = join(dir, "audit.jsonl")
    const verified = spawnSync(process.execPath, [MAIN, "audit", "verify", audit], { encoding: "utf8" })
    expect(verified.stdout).toMatch(/^ok: \d+ records in 1 file, chain intact/)
    const query = spawnSync(process.execPath, [MAIN, "audit", "query", audit, "--principal", "bob"], { encoding: "utf8" })
    const records = query.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records).toContainEqual(expect.objectContaining({ type: "decision", server: "beta", name: "echo", decision: "deny" }))
    expect(records).toContainEqual(expect.objectContaining({ type: "call", server: "alpha", name: "echo", outcome: "ok", policies: ["alpha-echo"] }))
    expect(records).toContainEqual(expect.objectContaining({ type: "decision", server: "alpha", name: "deploy", decision: "deny" }))
  })
})

describe("host gateway over WebSocket: /mcp/<server>", { timeout: 60_000 }, () => {
  it("serves one upstream under its original names next to the aggregate", async () => {
    const a = upstream("alpha")
    const http = await makeHttpServer(a.server, { port: 0 })
    const host = await startHost({ mcpServers: { alpha: { url: http.url, keepalive: false } } }, { stateFile: false })
    const gateway = makeGateway(host)
    const ws = await serveGatewayWs(gateway, { port: 0 })
    try {
      const one = await connectWs(`${ws.url}/alpha`)
      const all = await connectWs(ws.url)
      const names = async (c: typeof one) => ((await c.listTools()) as { tools: ReadonlyArray<{ name: string }> }).tools.map((t) => t.name).sort()
      expect(await names(one)).toEqual(["deploy", "echo", "secret"])
      expect(await names(all)).toEqual(["alpha__deploy", "alpha__echo", "alpha__secret"])
      expect(text(await one.callTool("echo", { text: "ws" }))).toBe("alpha/echo: ws")
      expect(a.ran.echo).toBe(1)
      await one.close()
      await all.close()
      await expect(connectWs(`${ws.url}/nobody`)).rejects.toThrow(/404/)
    } finally {
      await ws.close()
      gateway.close()
      await host.close()
      await http.close()
    }
  })
})
