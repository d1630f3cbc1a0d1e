/**
 * The host's overhead, side by side in one run:
 *
 * 1. latency of one `tools/call` (demo `echo`, and demo `slow {ms: 1}` as a
 *    tool doing a little work), p50/p99 over sequential calls:
 *    - direct: our client → the demo server (child process, stdio);
 *    - SDK direct: the official SDK client → the same kind of child (reference);
 *    - host API: `host.callTool("demo__echo")` → the same kind of child;
 *    - gateway: our client → WebSocket → the gateway (in this process) → host → child;
 *    - gateway, own process: the same through `mcp-actors host CONFIG --serve-ws 0`
 *      in a child process, as deployed (the client's and the gateway's work no
 *      longer share one event loop, as direct's client and server do not);
 *    - WS hop alone (reference): our client → WebSocket → the demo server in this
 *      process, i.e. what the gateway's extra hop costs before any routing;
 * 2. the host's own memory with 50 connected servers (50 WebSocket upstreams
 *    served by one child process, so only the host's side is in this heap).
 *
 * Run: `node --expose-gc bench/host.ts [--calls N] [--servers N]`.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { connectAutoStdio } from "../src/client/connectAuto.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeDemoServer } from "../examples/demo.ts"

const { nonNegative } = scriptArgs("Usage: node --expose-gc bench/host.ts [--calls N] [--warmup N] [--servers N]", { calls: { type: "string" }, servers: { type: "string" }, warmup: { type: "string" } })
const CALLS = nonNegative("calls") ?? 3_000
const WARMUP = nonNegative("warmup") ?? 500
const SERVERS = nonNegative("servers") ?? 50
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const DEMO = { command: process.execPath, args: [MAIN, "serve", "--stdio", "--example", "demo"] }

type Call = () => Promise<unknown>

/** Round-robin over the paths, one call each per round, so machine noise hits every path alike. */
const measureAll = async (calls: ReadonlyArray<Call>): Promise<ReadonlyArray<{ p50: number; p99: number }>> => {
  for (let i = 0; i < WARMUP; i++) for (const call of calls) await call()
  const samples = calls.map(() => new Float64Array(CALLS))
  for (let i = 0; i < CALLS; i++) {
    for (let j = 0; j < calls.length; j++) {
      const t0 = process.hrtime.bigint()
      await calls[j]!()
      samples[j]![i] = Number(process.hrtime.bigint() - t0) / 1000
    }
  }
  return samples.map((s) => {
    s.sort()
    return { p50: s[Math.floor(CALLS * 0.5)]!, p99: s[Math.floor(CALLS * 0.99)]! }
  })
}

const gc = () => (globalThis as { gc?: () => void }).gc?.()

const main = async () => {
  const rows: Array<{ path: string; tool: string; p50: number; p99: number }> = []
  const direct = await connectAutoStdio({ ...DEMO, stderr: "ignore" })
  const sdk = new Client({ name: "bench-sdk", version: "1.0.0" })
  await sdk.connect(new StdioClientTransport({ ...DEMO, stderr: "ignore" }))
  const host = await startHost({ mcpServers: { demo: { ...DEMO, keepalive: false } } }, { stateFile: false, onStderr: () => {} })
  const gateway = makeGateway(host)
  const ws = await serveGatewayWs(gateway, { port: 0 })
  const viaGateway = await connectWs(ws.url)
  const dir = mkdtempSync(join(tmpdir(), "bench-host-"))
  writeFileSync(join(dir, "mcp.json"), JSON.stringify({ mcpServers: { demo: { ...DEMO, keepalive: false } } }))
  const hostChild = spawn(process.execPath, [MAIN, "host", join(dir, "mcp.json"), "--json", "--serve-ws", "0", "--state-file", join(dir, "state.json")], { stdio: ["ignore", "ignore", "pipe"] })
  const childUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: hostChild.stderr! }).on("line", (l) => {
      const m = /gateway on (\S+)/.exec(l)
      if (m !== null) resolve(m[1]!)
    })
    hostChild.once("exit", (code) => reject(new Error(`host exited with ${code}`)))
  })
  const viaChild = await connectWs(childUrl)
  const local = await makeWsServer(makeDemoServer(), { port: 0 })
  const viaLocal = await connectWs(local.url)
  const tools = [["echo", { text: "hello" }], ["slow", { ms: 1 }]] as const
  for (const [tool, args] of tools) {
    const paths = [
      ["direct", () => direct.callTool(tool, args)],
      ["SDK direct", () => sdk.callTool({ name: tool, arguments: args })],
      ["host API", () => host.callTool(`demo__${tool}`, args)],
      ["gateway (ws)", () => viaGateway.callTool(`demo__${tool}`, args)],
      ["gateway (ws), own process", () => viaChild.callTool(`demo__${tool}`, args)],
      ["WS hop alone", () => viaLocal.callTool(tool, args)]
    ] as const
    const results = await measureAll(paths.map(([, call]) => call))
    paths.forEach(([path], i) => rows.push({ path, tool, ...results[i]! }))
  }
  await viaGateway.close()
  await viaLocal.close()
  await viaChild.close()
  const hostExited = new Promise((r) => hostChild.once("exit", r))
  hostChild.kill("SIGTERM")
  await hostExited
  rmSync(dir, { recursive: true, force: true })
  await local.close()
  await ws.close()
  gateway.close()
  await host.close()
  await direct.close()
  await sdk.close()

  // Memory: 50 upstreams in one child process, over WebSocket.
  const upstream = spawn(process.execPath, ["-e", `
    const { makeWsServer } = await import(${JSON.stringify(new URL("../src/server/ws/WsServer.ts", import.meta.url).href)});
    const { makeDemoServer } = await import(${JSON.stringify(new URL("../examples/demo.ts", import.meta.url).href)});
    const urls = [];
    for (let i = 0; i < ${SERVERS}; i++) urls.push((await makeWsServer(makeDemoServer(), { port: 0 })).url);
    console.log(JSON.stringify(urls));
  `], { stdio: ["ignore", "pipe", "inherit"] })
  const urls = JSON.parse(await new Promise<string>((r) => createInterface({ input: upstream.stdout! }).once("line", r))) as Array<string>
  gc()
  await new Promise((r) => setTimeout(r, 100))
  gc()
  const before = process.memoryUsage()
  const many = await startHost({ mcpServers: Object.fromEntries(urls.map((url, i) => [`s${i}`, { url, keepalive: false }])) }, { stateFile: false })
  const ready = many.status().filter((s) => s.state === "ready").length
  gc()
  await new Promise((r) => setTimeout(r, 100))
  gc()
  const after = process.memoryUsage()
  const tools50 = many.tools().length
  await many.close()
  upstream.kill("SIGTERM")

  const fmt = (n: number) => n.toFixed(1).padStart(8)
  process.stdout.write(`host bench: ${CALLS} sequential calls per row after ${WARMUP} warm-up, µs\n\n`)
  process.stdout.write(`| tool | path | p50 µs | p99 µs | p50 vs direct |\n|---|---|---:|---:|---:|\n`)
  for (const r of rows) {
    const base = rows.find((x) => x.tool === r.tool && x.path === "direct")!
    process.stdout.write(`| ${r.tool} | ${r.path} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.path === "direct" ? "—" : `${r.p50 >= base.p50 ? "+" : "−"}${Math.abs(((r.p50 - base.p50) / base.p50) * 100).toFixed(0)} %`} |\n`)
  }
  const heap = (after.heapUsed - before.heapUsed) / 1024
  const rss = (after.rss - before.rss) / 1024
  process.stdout.write(`\n${ready}/${SERVERS} servers ready, ${tools50} tools; host heap +${(heap / 1024).toFixed(1)} MB (${(heap / SERVERS).toFixed(0)} KB/server), rss +${(rss / 1024).toFixed(1)} MB\n`)
  process.exit(0)
}

await main()
