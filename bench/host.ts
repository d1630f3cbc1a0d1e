/**
 * The host's overhead, side by side in one run.
 *
 * 1. Latency of one `tools/call` (demo `echo`, a no-op, and demo `slow` with
 *    `{ms: 1}` and `{ms: 10}`, tools doing some work), p50/p99 over sequential calls, all rows
 *    round-robin (one call on each per round, so machine noise hits them alike):
 *    - direct: our client (auto → modern era) → the demo server (child, stdio);
 *    - SDK direct: the official SDK client → the same kind of child (reference);
 *    - host API: `host.callTool("demo__…")` → the same kind of child;
 *    - gateway, in process: our client → WebSocket → the gateway (in this
 *      process) → host → child; with our legacy session client and with our
 *      auto client (modern era, the same client as *direct*);
 *    - gateway, own process: the same through `mcp-actors host CONFIG --serve-ws 0`
 *      in a child process, as deployed (auto client, legacy client, SDK client), one
 *      gateway process (with its own demo child) per client row, so every row's
 *      processes are as idle between its calls as *direct*'s child is
 *      (`--shared-gateway`: one gateway for the three, the layout before 2026-12-06 noon,
 *      where the first of the three rows in a round woke it for the other two);
 *    - WS hop alone: our legacy client → WebSocket → the demo server in this
 *      process, what the gateway's extra hop costs before any routing;
 *    - raw ceilings (no MCP, no JSON parsing; the same bytes, a `slow` frame
 *      answered after 1 ms): a `ws` text frame echoed by a `ws` server in this
 *      process and in another process, a line echoed by a child over stdio
 *      pipes (the floor of *direct*), and a `ws` frame relayed by another
 *      process to such a child and back (the floor of a gateway in its own
 *      process: the same processes and hops, nothing else).
 *    - peers' gateways, own process, each with its own demo child, reached by the SDK client
 *      (compared with *SDK direct*): one built from the official SDK alone (`bench/peers/sdk-gateway.mjs`:
 *      an SDK `Server` over WebSocket whose handlers forward to an SDK `Client` of the demo, the best
 *      peer's way to build a gateway), and a raw byte relay (`bench/peers/raw-relay.mjs`: ws frame ↔
 *      the demo's stdio line, no parsing; the ceiling of any gateway in its own process).
 *    Repeated `--runs` times (fresh rounds, same processes); each row reports the
 *    median of the runs' p50/p99 and the spread, with the load average per run.
 * 2. The host's own memory with 50 connected servers (50 WebSocket upstreams
 *    served by one child process, so only the host's side is in this heap).
 *
 * Every row also reports CPU µs per call: this process's (`process.cpuUsage`, the
 * client's side) and, for the own-process gateway rows, the gateway process's main
 * thread (`/proc/<pid>/schedstat`, exact), probed around each call.
 *
 * Run: `node --expose-gc bench/host.ts [--calls N] [--warmup N] [--runs N] [--servers N]`
 * (`--servers 0` skips the memory part; `--rows REGEX` and `--tools echo,slow1,slow10`
 * narrow the latency part; *direct* and *SDK direct* always run, they are the baselines).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { threadCpuNs } from "./lib.ts"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import WebSocket, { WebSocketServer } from "ws"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { connectAuto, connectAutoStdio } from "../src/client/connectAuto.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"
import { makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { startHost } from "../src/host/McpHost.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeDemoServer } from "../examples/demo.ts"

const { nonNegative, values } = scriptArgs("Usage: node --expose-gc bench/host.ts [--calls N] [--warmup N] [--runs N] [--servers N] [--gateway-cpu-prof DIR] [--rows REGEX] [--tools echo,slow1,slow10] [--shared-gateway] [--base-gateway CHECKOUT]", {
  calls: { type: "string" },
  rows: { type: "string" },
  tools: { type: "string" },
  servers: { type: "string" },
  warmup: { type: "string" },
  runs: { type: "string" },
  "gateway-cpu-prof": { type: "string" },
  "shared-gateway": { type: "boolean" },
  "base-gateway": { type: "string" }
})
/** `--gateway-cpu-prof DIR`: the gateway in its own process writes a V8 CPU profile there when it exits. */
const GATEWAY_PROF = (values as { readonly "gateway-cpu-prof"?: string })["gateway-cpu-prof"]
/** `--shared-gateway`: the three own-process gateway rows share one gateway process (the layout before 2026-12-06 noon). */
const SHARED_GATEWAY = (values as { readonly "shared-gateway"?: boolean })["shared-gateway"] === true
/** `--rows REGEX`: only the rows whose label matches (plus *direct* and *SDK direct*, the baselines); all by default. */
/** `--base-gateway CHECKOUT`: one more row, the gateway as deployed from another checkout (e.g. a worktree of main), SDK client: before/after in one run. */
const BASE_GATEWAY = (values as { readonly "base-gateway"?: string })["base-gateway"]
const ROWS = (values as { readonly rows?: string }).rows
const ROW_FILTER = ROWS === undefined ? undefined : new RegExp(ROWS)
/** `--tools echo,slow1,slow10`: which tools to measure; all by default. */
const TOOLS = new Set(((values as { readonly tools?: string }).tools ?? "echo,slow1,slow10").split(","))
const CALLS = nonNegative("calls") ?? 1_000
const WARMUP = nonNegative("warmup") ?? 200
const RUNS = Math.max(1, nonNegative("runs") ?? 3)
const SERVERS = nonNegative("servers") ?? 50
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("..", import.meta.url))
const DEMO = { command: process.execPath, args: [MAIN, "serve", "--stdio", "--example", "demo"] }

type Call = () => Promise<unknown>
interface Sample {
  readonly p50: number
  readonly p99: number
  /** This process's CPU µs per call (user + system): the client's side of the row, plus whatever else this process serves (the in-process gateway, the host API's host). */
  readonly benchCpu: number
  /** The gateway process's main-thread CPU µs per call (gateway, own process rows only). */
  readonly gatewayCpu: number | undefined
}

/** Round-robin over the paths, one call each per round (rotated), so machine noise hits every path alike. */
const measureAll = async (calls: ReadonlyArray<Call>, n: number, warmup: number, gatewayPidOf: (j: number) => number | undefined): Promise<ReadonlyArray<Sample>> => {
  for (let i = 0; i < warmup; i++) for (const call of calls) await call()
  const samples = calls.map(() => new Float64Array(n))
  const cpu = calls.map(() => ({ bench: 0, gateway: 0 }))
  for (let i = 0; i < n; i++) {
    // Each round starts one row later: no row always follows the same one (the first call to a process
    // that sat idle through the other rows pays its wake-up; a fixed order charged that to one row).
    for (let k = 0; k < calls.length; k++) {
      const j = (k + i) % calls.length
      // CPU probes outside the timed span: this process's (the client's side) and the gateway process's main thread.
      const gatewayPid = gatewayPidOf(j)
      const g0 = runNs(gatewayPid)
      const c0 = process.cpuUsage()
      const t0 = process.hrtime.bigint()
      await calls[j]!()
      samples[j]![i] = Number(process.hrtime.bigint() - t0) / 1000
      const c1 = process.cpuUsage(c0)
      cpu[j]!.bench += c1.user + c1.system
      if (g0 !== undefined) cpu[j]!.gateway += ((runNs(gatewayPid) ?? g0) - g0) / 1000
    }
  }
  return samples.map((s, j) => {
    s.sort()
    return { p50: s[Math.floor(n * 0.5)]!, p99: s[Math.floor(n * 0.99)]!, benchCpu: cpu[j]!.bench / n, gatewayCpu: gatewayPidOf(j) === undefined ? undefined : cpu[j]!.gateway / n }
  })
}

/** A thread's time on a CPU in ns (`threadCpuNs`); undefined elsewhere. */
const runNs = (pid: number | undefined): number | undefined => (pid === undefined ? undefined : threadCpuNs(pid))

const gc = () => (globalThis as { gc?: () => void }).gc?.()

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s. */
const TICKS_PER_S = 100
/** A process's user + system CPU time in ticks (Linux `/proc`); undefined elsewhere. */
const cpuTicks = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    // "pid (comm) state …": utime and stime are fields 14 and 15, i.e. 11 and 12 after the comm.
    const fields = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]!.split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** The raw echo peers answer a frame carrying `"ms":N` after N ms, as the demo's `slow {ms: N}` does (a regex, no JSON parse). */
const rawReply = (s: WebSocket, d: WebSocket.RawData, binary: boolean): void => {
  const m = /"ms":(\d+)/.exec(String(d))
  if (m) setTimeout(() => s.send(d, { binary }), Number(m[1]))
  else s.send(d, { binary })
}
const rawFrame = (tool: string, args: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: args } })

/** A request/response over a raw socket: one outstanding at a time, answered by the next message. */
const rawWs = async (url: string): Promise<{ readonly call: (tool: string, args: Record<string, unknown>) => Call; readonly close: () => void }> => {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  await new Promise((resolve, reject) => {
    socket.once("open", resolve)
    socket.once("error", reject)
  })
  let waiter: (() => void) | undefined
  socket.on("message", () => {
    const w = waiter
    waiter = undefined
    w?.()
  })
  return {
    // The bytes of the `tools/call` request: the ceiling moves what the MCP rows move.
    call: (tool, args) => {
      const frame = rawFrame(tool, args)
      return () =>
        new Promise<void>((resolve) => {
          waiter = resolve
          socket.send(frame)
        })
    },
    close: () => socket.terminate()
  }
}

/** A line echoed by a child process over its stdio pipes (the floor of any stdio round trip). */
/** A child echoing lines on stdio (one with `"ms":N` after N ms): the raw stand-in for the demo server. */
const STDIO_ECHO = `
  let buf = "";
  process.stdin.setEncoding("utf8").on("data", (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\\n")) >= 0) {
      const line = buf.slice(0, i + 1);
      buf = buf.slice(i + 1);
      const m = /"ms":(\\d+)/.exec(line);
      if (m) setTimeout(() => process.stdout.write(line), Number(m[1]));
      else process.stdout.write(line);
    }
  });
`

const rawStdio = (): { readonly call: (tool: string, args: Record<string, unknown>) => Call; readonly child: ChildProcess } => {
  const child = own(spawn(process.execPath, ["-e", STDIO_ECHO], { stdio: ["pipe", "pipe", "ignore"] }))
  let waiter: (() => void) | undefined
  let buffered = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk
    if (!buffered.endsWith("\n")) return
    buffered = ""
    const w = waiter
    waiter = undefined
    w?.()
  })
  return {
    child,
    call: (tool, args) => {
      const line = rawFrame(tool, args) + "\n"
      return () =>
        new Promise<void>((resolve) => {
          waiter = resolve
          child.stdin!.write(line)
        })
    }
  }
}

/** Children this script spawned itself: stopped if the run is interrupted (the clients' children end with their stdin). */
const spawned = new Set<ChildProcess>()
const own = (child: ChildProcess): ChildProcess => {
  spawned.add(child)
  child.once("exit", () => spawned.delete(child))
  return child
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of spawned) child.kill("SIGTERM")
    process.exit(130)
  })
}

const exited = (child: ChildProcess): Promise<unknown> => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", r)))

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** The host's own memory with SERVERS connected upstreams (WebSocket, served by one child process). */
const measureMemory = async (): Promise<{ readonly ready: number; readonly tools: number; readonly heap: number; readonly rss: number }> => {
  const upstream = own(spawn(process.execPath, ["-e", `
    const { makeWsServer } = await import(${JSON.stringify(new URL("../src/server/ws/WsServer.ts", import.meta.url).href)});
    const { makeDemoServer } = await import(${JSON.stringify(new URL("../examples/demo.ts", import.meta.url).href)});
    const urls = [];
    for (let i = 0; i < ${SERVERS}; i++) urls.push((await makeWsServer(makeDemoServer(), { port: 0 })).url);
    console.log(JSON.stringify(urls));
  `], { stdio: ["ignore", "pipe", "inherit"] }))
  const urls = JSON.parse(await new Promise<string>((r) => createInterface({ input: upstream.stdout! }).once("line", r))) as Array<string>
  gc()
  await new Promise((r) => setTimeout(r, 100))
  gc()
  const memBefore = process.memoryUsage()
  const many = await startHost({ mcpServers: Object.fromEntries(urls.map((url, i) => [`s${i}`, { url, keepalive: false }])) }, { stateFile: false })
  const ready = many.status().filter((s) => s.state === "ready").length
  gc()
  await new Promise((r) => setTimeout(r, 100))
  gc()
  const memAfter = process.memoryUsage()
  const tools50 = many.tools().length
  await many.close()
  upstream.kill("SIGTERM")

  return { ready, tools: tools50, heap: (memAfter.heapUsed - memBefore.heapUsed) / 1024, rss: (memAfter.rss - memBefore.rss) / 1024 }
}

const main = async () => {
  const direct = await connectAutoStdio({ ...DEMO, stderr: "ignore" })
  const sdk = new Client({ name: "bench-sdk", version: "1.0.0" })
  await sdk.connect(new StdioClientTransport({ ...DEMO, stderr: "ignore" }))
  const host = await startHost({ mcpServers: { demo: { ...DEMO, keepalive: false } } }, { stateFile: false, onStderr: () => {} })
  const gateway = makeGateway(host)
  const ws = await serveGatewayWs(gateway, { port: 0 })
  const viaGatewayLegacy = await connectWs(ws.url)
  const autoOver = async (url: string) => {
    const t = makeWsClientTransport({ url })
    await t.opened
    return connectAuto(t)
  }
  const viaGatewayAuto = await autoOver(ws.url)
  const dir = mkdtempSync(join(tmpdir(), "bench-host-"))
  writeFileSync(join(dir, "mcp.json"), JSON.stringify({ mcpServers: { demo: { ...DEMO, keepalive: false } } }))
  // The gateway as deployed: `mcp-actors host CONFIG --serve-ws 0`, its own process with its own demo child.
  // One per client row, so each row's processes sit idle between its calls as *direct*'s child does: with one
  // gateway shared by the three rows, the first of them in a round woke the gateway and its child and the
  // other two found them awake (`--shared-gateway` measures that layout).
  const startGatewayChild = async (name: string, main = MAIN): Promise<{ readonly child: ChildProcess; readonly url: string }> => {
    const prof = GATEWAY_PROF === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", GATEWAY_PROF, "--cpu-prof-name", `gateway-${name}-${process.pid}.cpuprofile`]
    const child = own(spawn(process.execPath, [...prof, main, "host", join(dir, "mcp.json"), "--json", "--serve-ws", "0", "--state-file", join(dir, `state-${name}.json`)], { stdio: ["ignore", "ignore", "pipe"] }))
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on("line", (l) => {
        const m = /gateway on (\S+)/.exec(l)
        if (m !== null) resolve(m[1]!)
      })
      child.once("exit", (code) => reject(new Error(`host exited with ${code}`)))
    })
    return { child, url }
  }
  const gwAuto = await startGatewayChild(SHARED_GATEWAY ? "shared" : "auto")
  const gwLegacy = SHARED_GATEWAY ? gwAuto : await startGatewayChild("legacy")
  const gwSdk = SHARED_GATEWAY ? gwAuto : await startGatewayChild("sdk")
  const gwBase = BASE_GATEWAY === undefined ? undefined : await startGatewayChild("base-sdk", join(BASE_GATEWAY, "src/cli/main.ts"))
  const gatewayChildren = [...new Set([gwAuto, gwLegacy, gwSdk])]
  const viaChildAuto = await autoOver(gwAuto.url)
  const viaChildLegacy = await connectWs(gwLegacy.url)
  const sdkViaChild = new Client({ name: "bench-sdk-ws", version: "1.0.0" })
  await sdkViaChild.connect(new WebSocketClientTransport(new URL(gwSdk.url)))
  const sdkViaBase = gwBase === undefined ? undefined : new Client({ name: "bench-sdk-ws-base", version: "1.0.0" })
  if (gwBase !== undefined) await sdkViaBase!.connect(new WebSocketClientTransport(new URL(gwBase.url)))
  // Peers' gateways, each its own process with its own demo child, reached by the SDK client (compared with
  // SDK direct): one built from the official SDK alone (SDK Server → SDK Client), and a raw byte relay (the ceiling).
  const startPeer = async (file: string): Promise<{ readonly child: ChildProcess; readonly url: string }> => {
    const child = own(spawn(process.execPath, [fileURLToPath(new URL(`./peers/${file}`, import.meta.url)), JSON.stringify(DEMO)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] }))
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve)
      child.once("exit", (code) => reject(new Error(`${file} exited with ${code}`)))
    })
    return { child, url }
  }
  const sdkGw = await startPeer("sdk-gateway.mjs")
  const sdkViaSdkGw = new Client({ name: "bench-sdk-sdkgw", version: "1.0.0" })
  await sdkViaSdkGw.connect(new WebSocketClientTransport(new URL(sdkGw.url)))
  const relayGw = await startPeer("raw-relay.mjs")
  const sdkViaRelay = new Client({ name: "bench-sdk-relay", version: "1.0.0" })
  await sdkViaRelay.connect(new WebSocketClientTransport(new URL(relayGw.url)))
  const local = await makeWsServer(makeDemoServer(), { port: 0 })
  const viaLocal = await connectWs(local.url)
  const viaLocalAuto = await autoOver(local.url)

  // Raw ceilings: a ws echo server here and in another process, and a stdio line echo child.
  const rawServer = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  rawServer.on("connection", (s) => s.on("message", (d, binary) => rawReply(s, d, binary)))
  await new Promise((r) => rawServer.once("listening", r))
  const rawHere = await rawWs(`ws://127.0.0.1:${(rawServer.address() as { port: number }).port}`)
  const rawChild = own(spawn(process.execPath, ["-e", `
    const { WebSocketServer } = require("ws");
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    wss.on("connection", (s) => s.on("message", (d, binary) => (${rawReply.toString()})(s, d, binary)));
    wss.on("listening", () => console.log(wss.address().port));
  `], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] }))
  const rawPort = await new Promise<string>((r) => createInterface({ input: rawChild.stdout! }).once("line", r))
  const rawThere = await rawWs(`ws://127.0.0.1:${rawPort}`)
  // The raw floor of a gateway in its own process: ws → a relay process → a stdio echo child → back, no MCP.
  const relayChild = own(spawn(process.execPath, ["-e", `
    const { spawn } = require("node:child_process");
    const { WebSocketServer } = require("ws");
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    wss.on("connection", (s) => {
      const echo = spawn(process.execPath, ["-e", ${JSON.stringify(STDIO_ECHO)}], { stdio: ["pipe", "pipe", "ignore"] });
      let buf = "";
      echo.stdout.setEncoding("utf8").on("data", (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\\n")) >= 0) {
          s.send(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      s.on("message", (d) => echo.stdin.write(String(d) + "\\n"));
      s.on("close", () => echo.stdin.end());
    });
    wss.on("listening", () => console.log(wss.address().port));
    process.on("SIGTERM", () => { for (const c of wss.clients) c.terminate(); wss.close(); setTimeout(() => process.exit(0), 100); });
  `], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] }))
  const relayPort = await new Promise<string>((r) => createInterface({ input: relayChild.stdout! }).once("line", r))
  const rawRelay = await rawWs(`ws://127.0.0.1:${relayPort}`)
  const stdioEcho = rawStdio()

  // A no-op, a tool doing 1 ms of work and one doing 10 ms (fewer calls: it is slow to measure).
  const tools = [
    { label: "echo", tool: "echo", args: { text: "hello" }, calls: CALLS, warmup: WARMUP },
    { label: "slow {ms: 1}", tool: "slow", args: { ms: 1 }, calls: CALLS, warmup: WARMUP },
    { label: "slow {ms: 10}", tool: "slow", args: { ms: 10 }, calls: Math.ceil(CALLS / 5), warmup: Math.ceil(WARMUP / 5) }
  ].filter((t) => TOOLS.has(t.label === "echo" ? "echo" : t.label === "slow {ms: 1}" ? "slow1" : "slow10"))
  /** The gateway process a row goes through (its CPU is probed around each of the row's calls). */
  const gatewayPidOf = new Map<string, number | undefined>([
    ["gateway, own process (auto client)", gwAuto.child.pid],
    ["gateway, own process (legacy client)", gwLegacy.child.pid],
    ["gateway, own process (SDK client)", gwSdk.child.pid],
    ["base gateway, own process (SDK client)", gwBase?.child.pid],
    ["SDK-built gateway, own process (SDK client)", sdkGw.child.pid],
    ["raw byte relay to the demo's stdio, own process (SDK client)", relayGw.child.pid]
  ])
  const rowsOf = (tool: string, args: Record<string, unknown>): ReadonlyArray<readonly [string, Call]> => ([
    ["direct", () => direct.callTool(tool, args)],
    ["SDK direct", () => sdk.callTool({ name: tool, arguments: args })],
    ["host API", () => host.callTool(`demo__${tool}`, args)],
    ["gateway, in process (auto client)", () => viaGatewayAuto.callTool(`demo__${tool}`, args)],
    ["gateway, in process (legacy client)", () => viaGatewayLegacy.callTool(`demo__${tool}`, args)],
    ["gateway, own process (auto client)", () => viaChildAuto.callTool(`demo__${tool}`, args)],
    ["gateway, own process (legacy client)", () => viaChildLegacy.callTool(`demo__${tool}`, args)],
    ["gateway, own process (SDK client)", () => sdkViaChild.callTool({ name: `demo__${tool}`, arguments: args })],
    ...(sdkViaBase === undefined ? [] : [["base gateway, own process (SDK client)", () => sdkViaBase.callTool({ name: `demo__${tool}`, arguments: args })] as const]),
    ["SDK-built gateway, own process (SDK client)", () => sdkViaSdkGw.callTool({ name: `demo__${tool}`, arguments: args })],
    ["raw byte relay to the demo's stdio, own process (SDK client)", () => sdkViaRelay.callTool({ name: tool, arguments: args })],
    ["WS hop alone (legacy client, server in process)", () => viaLocal.callTool(tool, args)],
    ["WS hop alone (auto client, server in process)", () => viaLocalAuto.callTool(tool, args)],
    ["raw ws round trip, in process", rawHere.call(tool, args)],
    ["raw ws round trip, other process", rawThere.call(tool, args)],
    ["raw stdio line round trip, child", stdioEcho.call(tool, args)],
    ["raw relay: ws → other process → stdio child", rawRelay.call(tool, args)]
  ] as ReadonlyArray<readonly [string, Call]>).filter(([path]) => ROW_FILTER === undefined || path === "direct" || path === "SDK direct" || ROW_FILTER.test(path))
  // results[tool][path] = one sample per run
  const results = new Map<string, Map<string, Array<Sample>>>()
  // The gateway process's own CPU (user + system, /proc ticks) per call through it, per tool and run.
  const gatewayCpu = new Map<string, Array<number>>()
  const gatewayRows = Math.max(1, rowsOf("echo", {}).filter(([path]) => path.startsWith("gateway, own process")).length)
  const loads: Array<string> = []
  for (let run = 0; run < RUNS; run++) {
    const before = loadavg()
    for (const { label, tool, args, calls, warmup } of tools) {
      const rows = rowsOf(tool, args)
      const ticks = () => gatewayChildren.reduce((sum, g) => sum + (cpuTicks(g.child.pid) ?? NaN), 0)
      const cpu0 = ticks()
      const samples = await measureAll(rows.map(([, call]) => call), calls, warmup, (j) => gatewayPidOf.get(rows[j]![0]))
      const cpu1 = ticks()
      if (Number.isFinite(cpu0) && Number.isFinite(cpu1)) {
        const list = gatewayCpu.get(label) ?? []
        list.push(((cpu1 - cpu0) * 1e6) / TICKS_PER_S / ((calls + warmup) * gatewayRows))
        gatewayCpu.set(label, list)
      }
      const byPath = results.get(label) ?? new Map<string, Array<Sample>>()
      results.set(label, byPath)
      rows.forEach(([path], i) => {
        const list = byPath.get(path) ?? []
        list.push(samples[i]!)
        byPath.set(path, list)
      })
    }
    const after = loadavg()
    loads.push(`run ${run + 1}: load average ${before.map((l) => l.toFixed(1)).join(" ")} → ${after.map((l) => l.toFixed(1)).join(" ")}`)
    process.stderr.write(`${loads.at(-1)}\n`)
  }

  await viaGatewayLegacy.close()
  await viaGatewayAuto.close()
  await viaLocal.close()
  await viaLocalAuto.close()
  await viaChildAuto.close()
  await viaChildLegacy.close()
  await sdkViaChild.close()
  await sdkViaBase?.close()
  await sdkViaSdkGw.close()
  await sdkViaRelay.close()
  const peersExited = [exited(sdkGw.child), exited(relayGw.child)]
  sdkGw.child.kill("SIGTERM")
  relayGw.child.kill("SIGTERM")
  await Promise.all(peersExited)
  rawHere.close()
  rawThere.close()
  rawRelay.close()
  relayChild.kill("SIGTERM")
  rawServer.close()
  rawChild.kill("SIGTERM")
  stdioEcho.child.stdin!.end()
  const allGateways = gwBase === undefined ? gatewayChildren : [...gatewayChildren, gwBase]
  const gatewaysExited = allGateways.map((g) => exited(g.child))
  for (const g of allGateways) g.child.kill("SIGTERM")
  await Promise.all([...gatewaysExited, exited(rawChild), exited(stdioEcho.child), exited(relayChild)])
  rmSync(dir, { recursive: true, force: true })
  await local.close()
  await ws.close()
  gateway.close()
  await host.close()
  await direct.close()
  await sdk.close()

  // Memory: 50 upstreams in one child process, over WebSocket (skipped with `--servers 0`).
  const memory = SERVERS === 0 ? undefined : await measureMemory()
  const us = (n: number) => n.toFixed(0)
  const spread = (xs: ReadonlyArray<number>) => (xs.length < 2 ? us(xs[0]!) : `${us(median(xs))} (${us(Math.min(...xs))}..${us(Math.max(...xs))})`)
  const pct = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(0)} %`
  process.stdout.write(`host bench: ${CALLS} sequential calls per row and run (${Math.ceil(CALLS / 5)} for slow {ms: 10}) after ${WARMUP} warm-up, ${RUNS} run(s); µs, median of the runs (min..max)\n`)
  for (const l of loads) process.stdout.write(`${l}\n`)
  process.stdout.write(`\n| tool | path | p50 µs | p99 µs | p50 vs direct | added p50 µs | CPU µs/call: this process · gateway process |\n|---|---|---:|---:|---:|---:|---:|\n`)
  for (const [tool, byPath] of results) {
    for (const [path, samples] of byPath) {
      // The SDK client through the gateway is compared with the SDK client direct (same client, one hop more).
      const base = byPath.get(path.includes("SDK client") ? "SDK direct" : "direct")!
      const added = samples.map((s, i) => s.p50 - base[i]!.p50)
      const rel = samples.map((s, i) => (s.p50 - base[i]!.p50) / base[i]!.p50)
      const vs = samples === base ? "—" : `${pct(median(rel))} (${pct(Math.min(...rel))}..${pct(Math.max(...rel))})${base === byPath.get("direct") ? "" : " vs SDK direct"}`
      process.stdout.write(`| ${tool} | ${path} | ${spread(samples.map((s) => s.p50))} | ${spread(samples.map((s) => s.p99))} | ${vs} | ${samples === base ? "—" : spread(added)} | ${spread(samples.map((s) => s.benchCpu))}${samples[0]!.gatewayCpu === undefined ? "" : ` · ${spread(samples.map((s) => s.gatewayCpu!))}`} |\n`)
    }
  }
  if (gatewayCpu.size > 0) {
    process.stdout.write(`\n| tool | gateway process CPU µs per call through it (its ${gatewayRows} client rows, warm-up included) |\n|---|---:|\n`)
    for (const [tool, xs] of gatewayCpu) process.stdout.write(`| ${tool} | ${spread(xs)} |\n`)
  }
  if (memory !== undefined) {
    const { ready, tools, heap, rss } = memory
    process.stdout.write(`\n${ready}/${SERVERS} servers ready, ${tools} tools; host heap +${(heap / 1024).toFixed(1)} MB (${(heap / SERVERS).toFixed(0)} KB/server), rss +${(rss / 1024).toFixed(1)} MB\n`)
  }
  process.exit(0)
}

await main()
