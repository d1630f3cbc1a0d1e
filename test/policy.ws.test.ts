/**
 * The policy gateway over WebSocket: the same bearer hook on the upgrade
 * (401 with `WWW-Authenticate`, 403 without a grant) and the same guard on
 * the session's calls, with our client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { connectWs } from "../src/client/connectWs.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeApiKeyTable } from "../src/policy/ApiKeyTable.ts"
import { makeAuthenticator } from "../src/policy/Authenticator.ts"
import { Policy } from "../src/policy/Policy.ts"
import { PolicyEngine } from "../src/policy/PolicyEngine.ts"
import { bearerAuth } from "../src/server/auth/bearerAuth.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { policyGuard } from "../src/server/policyGuard.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"

describe("policy gateway over WebSocket", () => {
  let ws: WsServerHandle
  let ran = 0
  beforeAll(async () => {
    const engine = new PolicyEngine(Policy.parse("default: deny\ngrants: [{ groups: [ops, readers] }]\nrules:\n  - { id: echo-ops, tool: echo, effect: allow, principals: { groups: [ops] } }\n", "p.yaml"))
    const server = new McpServer({ name: "ws-demo", version: "1.0.0" }).tool({ name: "echo" }, () => {
      ran++
      return { content: [{ type: "text", text: "ok" }] }
    })
    server.guard = policyGuard({ engine, server: "ws-demo" })
    const apiKeys = makeApiKeyTable([
      { name: "op", key: "k-op", groups: ["ops"] },
      { name: "reader", key: "k-reader", groups: ["readers"] },
      { name: "guest", key: "k-guest", groups: ["guests"] }
    ])
    ws = await makeWsServer(server, { authenticate: bearerAuth({ authenticator: makeAuthenticator({ apiKeys }), grant: (id) => engine.grant(id, "ws-demo") }) })
  })
  afterAll(async () => {
    await ws?.close({ drainMs: 0 })
  })

  const upgrade = (headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const socket = new WebSocket(ws.url, "mcp", { headers })
      socket.on("unexpected-response", (_req, res) => {
        let body = ""
        res.on("data", (c: Buffer) => (body += c.toString()))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      })
      socket.on("open", () => reject(new Error("upgrade accepted")))
      socket.on("error", () => {})
    })

  it("refuses the upgrade: 401 with WWW-Authenticate, 403 naming the missing grant", async () => {
    const none = await upgrade({})
    expect(none.status).toBe(401)
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="mcp"')
    const bad = await upgrade({ authorization: "Bearer nope" })
    expect(bad.status).toBe(401)
    expect(bad.headers["www-authenticate"]).toMatch(/error="invalid_token", error_description="unknown API key"/)
    const guest = await upgrade({ authorization: "Bearer k-guest" })
    expect(guest.status).toBe(403)
    expect(JSON.parse(guest.body)).toMatchObject({ error: { message: "Forbidden: guest has no grant for server ws-demo" } })
  })

  it("allows and denies calls per identity; a denied call never reaches the handler", async () => {
    const op = await connectWs(ws.url, { headers: { authorization: "Bearer k-op" } })
    const reader = await connectWs(ws.url, { headers: { authorization: "Bearer k-reader" } })
    try {
      expect(await op.request("tools/call", { name: "echo", arguments: {} })).toMatchObject({ content: [{ text: "ok" }] })
      expect(await reader.request("tools/list")).toEqual({ tools: [] })
      await expect(reader.request("tools/call", { name: "echo", arguments: {} })).rejects.toMatchObject({ code: ErrorCode.PolicyDenied })
      expect(ran).toBe(1)
    } finally {
      await op.close()
      await reader.close()
    }
  })
})
