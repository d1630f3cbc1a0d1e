/**
 * The gateway's idle timeout (`serveGatewayHttp`/`serveGatewayWs` `idleTimeoutMs`, `mcp-actors host
 * --idle-timeout`): a gateway client that leaves without closing (the official SDK's `close()` sends
 * no DELETE) is dropped after that long idle on the gateway's clock, not after the default 30 min.
 * The clients are the official SDK's over real sockets; time is the test's.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { makeGateway, serveGatewayHttp, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { countingClock } from "./support/countingClock.ts"

const SECOND = 1_000
const MINUTE = 60 * SECOND

const postPing = (url: string, sessionId: string) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "ping" })
  })

describe("gateway idle timeout", () => {
  it("HTTP: a session idle for idleTimeoutMs of the gateway's clock is closed (404 after); the default keeps it", { timeout: 30_000 }, async () => {
    const sim = countingClock()
    const host = await startHost({ mcpServers: {} }, { stateFile: false, clock: sim.clock })
    const gateway = makeGateway(host, { clock: sim.clock })
    const short = await serveGatewayHttp(gateway, { port: 0, clock: sim.clock, idleTimeoutMs: MINUTE })
    const dflt = await serveGatewayHttp(gateway, { port: 0, clock: sim.clock })
    try {
      const open = async (url: string) => {
        const transport = new StreamableHTTPClientTransport(new URL(url))
        const client = new Client({ name: "left-without-delete", version: "1" })
        await client.connect(transport)
        return transport.sessionId!
      }
      const a = await open(short.url)
      const b = await open(dflt.url)
      expect((await postPing(short.url, a)).status).toBe(200)
      // The clients leave without DELETE. Two minutes of the gateway's clock pass.
      sim.increment(2 * MINUTE)
      await new Promise((resolve) => setImmediate(resolve))
      expect((await postPing(short.url, a)).status).toBe(404)
      expect((await postPing(dflt.url, b)).status).toBe(200)
    } finally {
      await short.close({ drainMs: 0 })
      await dflt.close({ drainMs: 0 })
      gateway.close()
      await host.close()
    }
  })

  it("WebSocket: the connection of a session idle for idleTimeoutMs is closed", { timeout: 30_000 }, async () => {
    const sim = countingClock()
    const host = await startHost({ mcpServers: {} }, { stateFile: false, clock: sim.clock })
    const gateway = makeGateway(host, { clock: sim.clock })
    // (Below the WebSocket heartbeat's period, so only the idle deadline can close it.)
    const ws = await serveGatewayWs(gateway, { port: 0, clock: sim.clock, idleTimeoutMs: SECOND })
    try {
      const socket = new WebSocket(ws.url, "mcp")
      const answers: Array<unknown> = []
      socket.on("message", (data) => answers.push(JSON.parse(String(data))))
      await new Promise<void>((resolve, reject) => socket.once("open", () => resolve()).once("error", reject))
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "idle", version: "1" } } }))
      await new Promise<void>((resolve) => socket.once("message", () => resolve()))
      socket.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
      // A ping answered: the session is operating and idle from here.
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }))
      await new Promise<void>((resolve) => socket.once("message", () => resolve()))
      const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)))
      sim.increment(2 * SECOND)
      expect(typeof (await closed)).toBe("number")
      expect(answers).toHaveLength(2)
    } finally {
      await ws.close({ drainMs: 0 })
      gateway.close()
      await host.close()
    }
  })
})
