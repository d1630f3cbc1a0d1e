#!/usr/bin/env node
// Written for bench/host.ts (not from the neutral kit): the ceiling of any gateway in its own process.
// Per WebSocket connection, spawns the upstream (stdio) and relays bytes both ways: a text frame → the
// child's stdin plus "\n"; each stdout line → one text frame. No JSON parsing, no MCP, no renaming (the
// client calls the upstream's own tool names). Usage: node raw-relay.mjs '<json {command, args}>'.
import { spawn } from "node:child_process"
import { WebSocketServer } from "ws"

const { command, args } = JSON.parse(process.argv[2])
const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false })
const children = new Set()
wss.on("connection", (socket) => {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "ignore"] })
  children.add(child)
  child.once("exit", () => children.delete(child))
  let buf = ""
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    buf += chunk
    let i
    while ((i = buf.indexOf("\n")) >= 0) {
      socket.send(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  socket.on("message", (d) => child.stdin.write(String(d) + "\n"))
  socket.on("close", () => child.stdin.end())
})
wss.on("listening", () => console.log(`ws://127.0.0.1:${wss.address().port}`))
process.on("SIGTERM", () => {
  for (const c of wss.clients) c.terminate()
  for (const c of children) c.stdin.end()
  wss.close()
  setTimeout(() => process.exit(0), 200)
})
