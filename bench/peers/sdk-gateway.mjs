#!/usr/bin/env node
// Written for bench/host.ts (not from the neutral kit): a gateway built from the official SDK alone, the
// best way a peer would build one. An SDK `Server` per WebSocket connection (the SDK ships a WebSocket
// *client* transport only, so the server side is the ~15-line transport below), whose `tools/list` and
// `tools/call` handlers forward to ONE SDK `Client` of the upstream (stdio child), names prefixed `demo__`
// as our gateway does. Usage: node sdk-gateway.mjs '<json {command, args}>'; prints the ws URL on stdout.
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { WebSocketServer } from "ws"

const upstreamSpec = JSON.parse(process.argv[2])
const upstream = new Client({ name: "sdk-gateway", version: "1.0.0" })
await upstream.connect(new StdioClientTransport({ ...upstreamSpec, stderr: "ignore" }))
const PREFIX = "demo__"

/** The server side of the SDK's WebSocketClientTransport: one JSON-RPC message per text frame. */
class WsServerTransport {
  constructor(socket) { this.socket = socket }
  async start() {
    this.socket.on("message", (d) => {
      let msg
      try { msg = JSON.parse(String(d)) } catch (e) { this.onerror?.(e); return }
      this.onmessage?.(msg)
    })
    this.socket.on("close", () => this.onclose?.())
  }
  async send(msg) { this.socket.send(JSON.stringify(msg)) }
  async close() { this.socket.close() }
}

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false })
wss.on("connection", (socket) => {
  const server = new Server({ name: "sdk-gateway", version: "1.0.0" }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const { tools } = await upstream.listTools()
    return { tools: tools.map((t) => ({ ...t, name: PREFIX + t.name })) }
  })
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const name = req.params.name.startsWith(PREFIX) ? req.params.name.slice(PREFIX.length) : req.params.name
    return upstream.callTool({ ...req.params, name })
  })
  void server.connect(new WsServerTransport(socket))
})
wss.on("listening", () => console.log(`ws://127.0.0.1:${wss.address().port}`))
process.on("SIGTERM", async () => {
  for (const c of wss.clients) c.terminate()
  wss.close()
  await upstream.close()
  process.exit(0)
})
