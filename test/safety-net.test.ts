/**
 * The per-message safety net (issue 8, part 1): whatever throws while a request
 * is served outside its handler — a server definition that throws, a result
 * that cannot be serialized — is answered -32603 with a clear message, the id
 * is free again, nothing is left pending, and the session goes on. Over the
 * memory transport (the path stdio and WebSocket share) and legacy HTTP.
 */
import { describe, expect, it } from "vitest"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { ServerCapabilities } from "../src/protocol/capabilities.ts"
import { post } from "./support/mcpHttp.ts"
import { rawPeer } from "./support/rawPeer.ts"

/** A server whose `capabilities()` throws while `broken` is set (a bug in a definition). */
class FlakyServer extends McpServer {
  broken = false
  override capabilities(): ServerCapabilities {
    if (this.broken) throw new Error("capabilities exploded")
    return super.capabilities()
  }
}

const makeServer = () =>
  new FlakyServer({ name: "net", version: "1.0.0" })
    .tool({ name: "bigint" }, () => ({ content: [{ type: "text", text: "x" }], n: 1n }))
    .tool({ name: "echo" }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))

const INIT = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }
const call = (name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id: "same", method: "tools/call", params: { name, arguments: args } })
const UNSERIALIZABLE = { code: ErrorCode.InternalError, message: "Internal error: the result could not be sent: Do not know how to serialize a BigInt" }
const EXPLODED = { code: ErrorCode.InternalError, message: "Internal error: capabilities exploded" }

describe("safety net: a throw on a request path is -32603, never a crash or a stuck id", () => {
  it("memory transport (stdio and WebSocket share this path)", async () => {
    const server = makeServer()
    const { session, ask, send } = rawPeer(server)
    expect((await ask(INIT)).result.protocolVersion).toBe("2025-11-25")
    send({ jsonrpc: "2.0", method: "notifications/initialized" })
    expect((await ask(call("bigint"))).error).toEqual(UNSERIALIZABLE)
    server.broken = true
    expect((await ask(call("echo", { text: "a" }))).error).toEqual(EXPLODED)
    server.broken = false
    // The same id is free again, and the session serves on.
    expect((await ask(call("echo", { text: "b" }))).result).toEqual({ content: [{ type: "text", text: "b" }] })
    expect(session.inFlightCount).toBe(0)
    expect(session.stateName()).toBe("operating")
    await session.close()
  })

  it("a chart action that throws (initialize while the definition is broken) is answered -32603", async () => {
    const server = makeServer()
    server.broken = true
    const peer = rawPeer(server)
    expect((await peer.ask(INIT)).error).toEqual(EXPLODED)
    await peer.session.close()
  })

  it("legacy HTTP: the exchange is answered and forgotten, the id can be reused", async () => {
    const server = makeServer()
    const http = await makeHttpServer(server)
    try {
      const init = await post(http.url, INIT)
      const sid = init.headers.get("mcp-session-id")!
      await init.text()
      const headers = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }
      expect((await post(http.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status).toBe(202)
      const ask = async (body: unknown) => {
        const res = await post(http.url, body, headers)
        expect(res.status).toBe(200)
        return await res.json() as Record<string, any>
      }
      expect((await ask(call("bigint"))).error).toEqual(UNSERIALIZABLE)
      expect(http.stats().pendingExchanges).toBe(0)
      server.broken = true
      expect((await ask(call("echo", { text: "a" }))).error).toEqual(EXPLODED)
      expect(http.stats().pendingExchanges).toBe(0)
      server.broken = false
      expect((await ask(call("echo", { text: "b" }))).result).toEqual({ content: [{ type: "text", text: "b" }] })
      expect(http.stats()).toMatchObject({ sessions: 1, pendingExchanges: 0 })
    } finally {
      await http.close({ drainMs: 0 })
    }
  })
})
