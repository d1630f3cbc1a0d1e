/**
 * A hostile MCP server over WebSocket for the client tests (test/hostile.server-ws.test.ts):
 * a real `ws` server on 127.0.0.1, port 0, subprotocol `mcp`. `initialize`, `ping` and
 * `tools/list` are answered as a plain server would; `tools/call` with the misbehaviour of
 * the mode, named by the path (`/<mode>`).
 */
import type { AddressInfo } from "node:net"
import { WebSocketServer } from "ws"

export interface HostileWsServer {
  readonly url: (mode: string) => string
  /** Sockets the server still holds. */
  readonly clients: () => number
  close(): Promise<void>
}

export const startHostileWsServer = async (): Promise<HostileWsServer> => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "mcp" })
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()))
  wss.on("connection", (ws, req) => {
    const mode = (req.url ?? "/").slice(1)
    const send = (m: unknown) => ws.send(typeof m === "string" ? m : JSON.stringify(m))
    ws.on("message", (data) => {
      let m: any
      try {
        m = JSON.parse(String(data))
      } catch {
        return
      }
      if (m.id === undefined || m.method === undefined) return
      const ok = (result: unknown) => send({ jsonrpc: "2.0", id: m.id, result })
      if (m.method === "initialize") {
        return ok({ protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "hostile-ws", version: "1.0.0" } })
      }
      if (m.method === "ping") return ok({})
      if (m.method === "tools/list") return ok({ tools: [{ name: "echo", inputSchema: { type: "object" } }] })
      const answer = { content: [{ type: "text", text: "echo" }] }
      switch (mode) {
        case "garbage":
          send("this is not json")
          send("[".repeat(100_000))
          send([{ jsonrpc: "2.0", id: m.id, result: answer }])
          send({ jsonrpc: "2.0", id: 99_999, result: {} })
          send({ jsonrpc: "2.0", id: String(m.id), result: {} })
          for (const method of ["__proto__", "constructor", "toString"]) send({ jsonrpc: "2.0", method, params: {} })
          send("x".repeat(5 * 1024 * 1024))
          return ok(answer)
        case "binary":
          ws.send(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: answer })), { binary: true })
          return
        case "oversized-response":
          return ok({ content: [{ type: "text", text: "x".repeat(5 * 1024 * 1024) }] })
        case "close-mid-call":
          ws.close(1011, "boom")
          return
        default:
          return ok(answer)
      }
    })
  })
  const port = (wss.address() as AddressInfo).port
  return {
    url: (mode) => `ws://127.0.0.1:${port}/${mode}`,
    clients: () => wss.clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      })
  }
}
