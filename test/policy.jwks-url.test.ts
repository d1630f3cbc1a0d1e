/**
 * Issue 12: "a bearer token verified as a JWT against configured keys (JWKS
 * file or URL …)". The file is covered elsewhere; here the keys come from a
 * JWKS URL served on a real socket: `makeJwtVerifier({ jwksUrl })` fetches
 * them (once, then cached) and verifies tokens, refusing a forged signature,
 * and `serve --http --jwks http://…` takes the URL as a URL (not a path) and
 * lets the official SDK client in with a token signed here.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeJwtVerifier } from "../src/policy/JwtVerifier.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { spawnOurServer } from "./support/httpPeers.ts"

const ISSUER = "https://issuer.test"
const AUDIENCE = "mcp://jwks-url"

describe("JWT keys from a JWKS URL", { timeout: 60_000 }, () => {
  let keys: Awaited<ReturnType<typeof generateKeyPair>>
  let forger: Awaited<ReturnType<typeof generateKeyPair>>
  let jwksServer: Server
  let jwksUrl: string
  let fetches = 0
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "policy-jwks-url-"))
    keys = await generateKeyPair("ES256")
    forger = await generateKeyPair("ES256")
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] })
    jwksServer = createServer((req, res) => {
      fetches++
      if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end()
      res.writeHead(200, { "content-type": "application/json" }).end(body)
    })
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve))
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`
  })
  afterAll(async () => {
    jwksServer.closeAllConnections()
    await new Promise((resolve) => jwksServer.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  const token = (sub: string, key = keys.privateKey) =>
    new SignJWT({ groups: ["staff"] }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE)
      .setIssuedAt().setExpirationTime("10m").sign(key)

  it("makeJwtVerifier({ jwksUrl }) fetches the keys, verifies tokens and refuses a forged signature", async () => {
    const before = fetches // the JWKS server is shared with the other test (which runs a server that fetches too)
    const verify = makeJwtVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE })
    expect(fetches).toBe(before) // fetched with the first token, not before
    expect(await verify(await token("alice"))).toMatchObject({ ok: true, identity: { id: "alice", groups: ["staff"], via: "jwt" } })
    expect(fetches).toBe(before + 1)
    expect(await verify(await token("bob"))).toMatchObject({ ok: true, identity: { id: "bob" } })
    expect(fetches).toBe(before + 1) // cached
    expect(await verify(await token("mallory", forger.privateKey))).toEqual({ ok: false, reason: "the signature does not verify" })
  })

  it("serve --http --jwks URL: the SDK client with a signed token is served; a forged one gets 401", async () => {
    writeFileSync(join(dir, "policy.yaml"), "default: deny\nrules:\n  - { id: echo-staff, tool: echo, effect: allow, principals: { groups: [staff] } }\n")
    const before = fetches
    const server = await spawnOurServer(["--policy", join(dir, "policy.yaml"), "--jwks", jwksUrl, "--issuer", ISSUER, "--audience", AUDIENCE])
    const client = new Client({ name: "jwks-url-test", version: "1.0.0" })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${await token("alice")}` } } }))
      expect(await client.callTool({ name: "echo", arguments: { text: "via url" } })).toMatchObject({ content: [{ text: "via url" }] })
      expect(fetches).toBeGreaterThan(before) // the server fetched the URL
      const forged = await fetch(server.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${await token("mallory", forger.privateKey)}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } })
      })
      expect(forged.status).toBe(401)
      expect(forged.headers.get("www-authenticate")).toMatch(/invalid_token.*signature does not verify/)
      expect(await forged.json()).toMatchObject({ error: { code: ErrorCode.Unauthorized } })
    } finally {
      await client.close().catch(() => {})
      await server.stop()
    }
  })
})
