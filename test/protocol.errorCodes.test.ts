/**
 * One JSON-RPC code per meaning (docs/architecture.md "One error family"): -32000 is
 * `ConnectionClosed` only (the SDK's value), an HTTP 400 is `BadRequest`, a path nothing is
 * served at is `NotFound`; every implementation-defined code stays in the legacy sub-range
 * -32000..-32019 (2026-07-28 reserves -32020..-32099 for the spec). Checked on the table and
 * on the wire: the host gateway's and the WebSocket server's 404s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeGateway, serveGatewayHttp, type GatewayHttpHandle } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { ErrorCode, httpStatusErrorCode, MODERN_ERROR_CODES } from "../src/protocol/errors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { connect } from "node:net"

/** The names of the table, by code: a code with two names means two things. */
const namesByCode = (): Map<number, Array<string>> => {
  const byCode = new Map<number, Array<string>>()
  for (const [name, code] of Object.entries(ErrorCode)) byCode.set(code, [...(byCode.get(code) ?? []), name])
  return byCode
}

describe("ErrorCode: one code per meaning", () => {
  it("no two names share a code; -32000 is ConnectionClosed (the SDK's value), 400 is BadRequest", () => {
    expect([...namesByCode()].filter(([, names]) => names.length > 1)).toEqual([])
    expect(ErrorCode.ConnectionClosed).toBe(-32000)
    expect(ErrorCode.SessionNotFound).toBe(-32001) // the SDK's "Session not found"
    expect(ErrorCode.BadRequest).not.toBe(ErrorCode.ConnectionClosed)
  })

  it("our own codes are in the implementation-defined legacy sub-range; the spec's range holds only the spec's codes", () => {
    const standard = new Set<number>([ErrorCode.ParseError, ErrorCode.InvalidRequest, ErrorCode.MethodNotFound, ErrorCode.InvalidParams, ErrorCode.InternalError])
    const spec = new Set<number>([ErrorCode.UrlElicitationRequired, ErrorCode.ResourceNotFound, ...MODERN_ERROR_CODES])
    const own = Object.values(ErrorCode).filter((c) => !standard.has(c) && !spec.has(c))
    expect(own.length).toBeGreaterThan(10)
    for (const code of own) expect(code, `${namesByCode().get(code)}`).toBeGreaterThanOrEqual(-32019)
    for (const code of own) expect(code).toBeLessThanOrEqual(-32000)
    // Nothing of ours lands where a dual-era probe would read "modern".
    for (const code of own) expect(MODERN_ERROR_CODES.has(code)).toBe(false)
  })

  it("every HTTP status the transports write maps to its own code, none of them ConnectionClosed", () => {
    const statuses = [400, 401, 403, 404, 405, 406, 409, 415, 429, 503]
    const codes = statuses.map(httpStatusErrorCode)
    expect(new Set(codes).size).toBe(statuses.length)
    expect(codes).not.toContain(ErrorCode.ConnectionClosed)
    expect(httpStatusErrorCode(400)).toBe(ErrorCode.BadRequest)
    expect(httpStatusErrorCode(404)).toBe(ErrorCode.NotFound)
  })
})

describe("404 on the wire: NotFound, not -32000", { timeout: 30_000 }, () => {
  let host: McpHost
  let gateway: ReturnType<typeof makeGateway>
  let http: GatewayHttpHandle
  beforeAll(async () => {
    host = await startHost({ mcpServers: {} }, { stateFile: false })
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })
  afterAll(async () => {
    await http.close()
    gateway.close()
    await host.close()
  })

  it("the host gateway answers a path it does not serve (and an unknown /mcp/<server>) with 404 and ErrorCode.NotFound", async () => {
    const origin = new URL(http.url).origin
    for (const path of ["/nothing-here", "/mcp/nobody"]) {
      const res = await fetch(`${origin}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ jsonrpc: "2.0", error: { code: ErrorCode.NotFound, message: "Not Found" } })
    }
  })

  it("the WebSocket server refuses an upgrade on another path with 404 and ErrorCode.NotFound in the body", async () => {
    const ws = await makeWsServer(new McpServer({ name: "s", version: "1" }), { port: 0, path: "/mcp" })
    try {
      const { port } = new URL(ws.url)
      // A raw upgrade request, so the refusal's body is read as sent.
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.write(
            `GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
          )
        })
        let text = ""
        socket.on("data", (c: Buffer) => (text += c.toString("utf8")))
        socket.on("end", () => resolve(text))
        socket.on("close", () => resolve(text))
        socket.on("error", reject)
      })
      expect(reply).toMatch(/^HTTP\/1\.1 404/)
      const body = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)) as { error: { code: number; message: string } }
      expect(body.error.code).toBe(ErrorCode.NotFound)
      expect(body.error.message).toMatch(/Not Found/)
    } finally {
      await ws.close()
    }
  })
})
