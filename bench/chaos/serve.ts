/**
 * Churn against `mcp-actors serve --http 0` or `--ws 0` (optionally with
 * `--inspect 0`): thousands of sessions from the official SDK client that open,
 * call tools (echo, slow calls, slow calls cancelled mid-call) and leave
 * without DELETE or close: the fetch aborted mid-request or mid-SSE (undici
 * destroys the socket), the WebSocket's TCP socket destroyed in the middle of
 * a frame. Only idle expiry (and keepalive) can collect them. Every 15 s:
 * heap after GC, handles, fds and the `mcp_actors_sessions` gauge; at the end
 * the traffic stops and the script waits for the idle timeout to reap
 * everything, then compares with the baseline.
 *
 *   node bench/chaos/serve.ts [--minutes 4] [--transport http|ws] [--inspect] [--clients 6]
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { Agent, fetch as undiciFetch } from "undici"
import { WebSocket } from "ws"
import { parseArgs } from "node:util"
import { connect as netConnect } from "node:net"
import { spawn } from "node:child_process"
import { BIN } from "../lib.ts"
import { sleep, snapshot, startProbed, stats, type Probed } from "./probe.ts"

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "4" },
    transport: { type: "string", default: "http" },
    inspect: { type: "boolean", default: false },
    /** With --inspect: a `mcp-actors inspect URL --json` follower reads the feed throughout. */
    follow: { type: "boolean", default: false },
    /** Heap snapshots at the baseline and after the reaping (files printed; compare with bench/heapdiff.ts). */
    snapshots: { type: "boolean", default: false },
    clients: { type: "string", default: "6" },
    "idle-ms": { type: "string", default: "5000" }
  }
})
const minutes = Number(values.minutes)
const transport = values.transport as "http" | "ws"
const idleMs = Number(values["idle-ms"])
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)

const args = [BIN, "serve", transport === "http" ? "--http" : "--ws", "0", "--idle-timeout", String(idleMs), "--metrics"]
if (values.inspect) args.push("--inspect", "0")
const server: Probed = await startProbed(args)
let url: string | undefined, metricsUrl: string | undefined
for (let i = 0; i < 300 && (url === undefined || metricsUrl === undefined); i++) {
  url = /serving \S+ on (\S+)/.exec(server.err())?.[1] ?? /serving (?:Streamable HTTP|WebSocket) on (\S+)/.exec(server.err())?.[1]
  metricsUrl = transport === "http" && url !== undefined ? url.replace(/\/mcp$/, "/metrics") : /(http:\/\/\S+\/metrics)/.exec(server.err())?.[1]
  if (url === undefined || metricsUrl === undefined) await sleep(100)
}
if (url === undefined) throw new Error(`no URL: ${server.err()}`)
log(`server pid ${server.pid} ${url} metrics ${metricsUrl}`)
let followerBytes = 0
let follower: import("node:child_process").ChildProcess | undefined
if (values.follow) {
  const inspectUrl = /inspector on (\S+)/.exec(server.err())?.[1]
  if (inspectUrl === undefined) throw new Error("--follow needs --inspect")
  follower = spawn(process.execPath, [BIN, "inspect", inspectUrl, "--json"], { stdio: ["ignore", "pipe", "inherit"] })
  follower.stdout!.on("data", (c: Buffer) => (followerBytes += c.length))
}

const gauge = async (): Promise<number | string> => {
  if (metricsUrl === undefined) return "n/a"
  try {
    const text = await (await fetch(metricsUrl)).text()
    return [...text.matchAll(/^mcp_actors_sessions(?:\{[^}]*\})? (\d+(?:\.\d+)?)/gm)].reduce((a, m) => a + Number(m[1]), 0)
  } catch (e) {
    return `error ${(e as Error).message}`
  }
}

// ---------------------------------------------------------------- traffic
const outcomes = new Map<string, number>()
const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
let sessions = 0
let running = true
const msg = (e: unknown) => ((e as Error).message ?? String(e)).replace(/\d+/g, "N").slice(0, 100)

/** A slow call cancelled by its caller 50–250 ms in; what the cancellation ended with is counted. */
const cancelMidCall = async (client: Client): Promise<void> => {
  const ac = new AbortController()
  const p = client.callTool({ name: "slow", arguments: { ms: 20_000 } }, undefined, { signal: ac.signal }).catch((e) => count(`cancelled: ${msg(e).slice(0, 40)}`))
  await sleep(50 + Math.random() * 200)
  ac.abort("user cancelled")
  await p
}

/** One SDK session over HTTP whose sockets we can destroy (its own undici pool). */
const httpSession = async (i: number): Promise<void> => {
  const agent = new Agent({ connections: 4 })
  const transportObj = new StreamableHTTPClientTransport(new URL(url!), {
    fetch: ((input: string | URL | Request, init?: RequestInit) => undiciFetch(input as never, { ...(init as object), dispatcher: agent } as never)) as typeof fetch
  })
  const client = new Client({ name: `churn-${i}`, version: "0" })
  try {
    await client.connect(transportObj)
    sessions++
    await client.callTool({ name: "echo", arguments: { text: "hi" } })
    count("echo ok")
    const r = Math.random()
    if (r < 0.25) {
      // leave mid-call: a slow call in flight, every socket destroyed (no DELETE, no cancel)
      const p = client.callTool({ name: "slow", arguments: { ms: 20_000 } }).catch(() => {})
      await sleep(50 + Math.random() * 200)
      void agent.destroy(new Error("gone"))
      void p
      count("left mid-call (sockets destroyed)")
      return
    }
    if (r < 0.45) {
      // cancelled mid-call, then left without DELETE
      await cancelMidCall(client)
    }
    if (r < 0.6) {
      // a progress stream (count sends progress over SSE), sockets destroyed mid-stream
      const p = client.callTool({ name: "count", arguments: { n: 50 } }, undefined, { onprogress: () => {} }).catch(() => {})
      await sleep(Math.random() * 30)
      void agent.destroy(new Error("gone"))
      void p
      count("left mid-SSE")
      return
    }
    if (r < 0.8) {
      // the standalone GET stream open (the SDK opens it after initialized), then everything destroyed
      await sleep(Math.random() * 50)
      void agent.destroy(new Error("gone"))
      count("left with the GET stream open")
      return
    }
    // close without DELETE (the SDK's close() aborts its streams and sends nothing)
    await client.close()
    count("closed without DELETE")
  } catch (e) {
    count(`error: ${msg(e)}`)
  } finally {
    if (!agent.destroyed) void agent.destroy().catch(() => {})
  }
}

/** A WebSocket frame header + part of its payload, then the TCP socket destroyed. */
const wsMidFrame = async (): Promise<void> => {
  const u = new URL(url!)
  const socket = netConnect(Number(u.port), u.hostname)
  await new Promise<void>((ok, fail) => socket.once("connect", ok).once("error", fail))
  socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n\r\n`)
  await new Promise<void>((ok) => socket.once("data", () => ok()))
  const payload = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "0" } } }))
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
  const header = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255])
  socket.write(Buffer.concat([header, mask, masked.subarray(0, Math.floor(masked.length / 2))]))
  await sleep(20)
  socket.destroy()
  count("ws left mid-frame")
}

/**
 * A session over the `ws` package (the SDK's WebSocket transport runs on Node's built-in WebSocket,
 * whose TCP socket cannot be reached): initialize, a slow call or a progress call, then the TCP
 * socket destroyed with the call in flight, or in the middle of a frame.
 */
const wsRawLeave = async (): Promise<void> => {
  const ws = new WebSocket(url!, "mcp")
  const replies = new Map<number, (m: unknown) => void>()
  ws.on("message", (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { id?: number }
    if (typeof m.id === "number") replies.get(m.id)?.(m)
  })
  await new Promise<void>((ok, fail) => ws.once("open", () => ok()).once("error", fail))
  const ask = (id: number, method: string, params: object) => {
    const p = new Promise((r) => replies.set(id, r))
    ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }))
    return p
  }
  await ask(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } })
  ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
  sessions++
  const r = Math.random()
  const tcp = (ws as unknown as { _socket: import("node:net").Socket })._socket
  if (r < 0.4) {
    void ask(2, "tools/call", { name: "slow", arguments: { ms: 20_000 } })
    await sleep(50 + Math.random() * 200)
    tcp.destroy()
    count("ws left mid-call (TCP destroyed)")
  } else if (r < 0.7) {
    void ask(2, "tools/call", { name: "count", arguments: { n: 50 }, _meta: { progressToken: "p" } })
    await sleep(Math.random() * 30)
    tcp.destroy()
    count("ws left mid-progress (TCP destroyed)")
  } else {
    // half of a masked text frame carrying a tools/call, then the TCP socket destroyed
    const payload = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "slow", arguments: { ms: 20_000 } } }))
    const header = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255, 1, 2, 3, 4])
    tcp.write(Buffer.concat([header, payload.subarray(0, payload.length >> 1)]))
    await sleep(10)
    tcp.destroy()
    count("ws operating, left mid-frame")
  }
  ws.removeAllListeners("message")
  ws.on("error", () => {})
}

const wsSession = async (i: number): Promise<void> => {
  if (Math.random() < 0.1) return wsMidFrame().catch((e) => void count(`mid-frame error: ${msg(e)}`))
  if (Math.random() < 0.4) return wsRawLeave().catch((e) => void count(`raw error: ${msg(e)}`))
  const t = new WebSocketClientTransport(new URL(url!))
  const client = new Client({ name: `churn-${i}`, version: "0" })
  try {
    await client.connect(t)
    sessions++
    await client.callTool({ name: "echo", arguments: { text: "hi" } })
    count("echo ok")
    const r = Math.random()
    if (r < 0.3) {
      // abandoned with a call in flight: the connection stays open, unused (idle expiry after the call)
      void client.callTool({ name: "slow", arguments: { ms: 20_000 } }).catch(() => {})
      await sleep(50 + Math.random() * 200)
      count("abandoned mid-call (socket left open)")
      return
    }
    if (r < 0.5) {
      await cancelMidCall(client)
    }
    if (r < 0.7) {
      void client.callTool({ name: "count", arguments: { n: 50 } }, undefined, { onprogress: () => {} }).catch(() => {})
      await sleep(Math.random() * 30)
      count("abandoned mid-progress (socket left open)")
      return
    }
    await client.close()
    count("closed")
  } catch (e) {
    count(`error: ${msg(e)}`)
  }
}

const loop = async (i: number) => {
  while (running) await (transport === "http" ? httpSession(i) : wsSession(i))
}

interface Row { t: number; heapMB: number; rssMB: number; fds: number; handles: Record<string, number>; sessionsGauge: number | string; opened: number }
const rows: Array<Row> = []
const t0 = Date.now()
const sample = async (label: string): Promise<Row> => {
  const s = await stats(server)
  const row = { t: Math.round((Date.now() - t0) / 1000), ...s, sessionsGauge: await gauge(), opened: sessions }
  rows.push(row)
  log(`${label} t=${row.t}s heap ${row.heapMB} MB rss ${row.rssMB} fds ${row.fds} sessions(gauge) ${row.sessionsGauge} opened ${row.opened} handles ${JSON.stringify(row.handles)}`)
  return row
}

const baseline = await sample("baseline")
const snapshots: Array<string> = []
if (values.snapshots) snapshots.push(await snapshot(server))
const loops = [...Array(Number(values.clients))].map((_, i) => loop(i))
// warm-up minute, then the first "under load" row
const end = t0 + minutes * 60_000
let warm: Row | undefined
while (Date.now() < end) {
  await sleep(15_000)
  const r = await sample("running")
  if (warm === undefined && r.t >= 60) warm = r
}
running = false
await Promise.race([Promise.all(loops), sleep(30_000)])
// everything left behind must be reaped by the idle timeout (and the handshake deadline: 10 s); a session
// whose client left mid-call is busy until the call ends (a dropped connection is not a cancellation:
// the slow calls run 20 s), then idle: so zero is due 20 s + the idle timeout after the traffic stopped
const stoppedAt = Date.now()
let zeroAfterMs: number | undefined
while (Date.now() - stoppedAt < 90_000) {
  if ((await gauge()) === 0) {
    zeroAfterMs = Date.now() - stoppedAt
    break
  }
  await sleep(1000)
}
log(`sessions gauge 0 after ${zeroAfterMs} ms`)
await sleep(2_000)
const reaped = await sample("after idle expiry")
await sleep(5_000)
const reaped2 = await sample("5 s later")
if (values.snapshots) snapshots.push(await snapshot(server))
// what an inspector still lists after the reaping: actors by chart and status
let listed: Record<string, number> | undefined
const inspectUrl = /inspector on (\S+)/.exec(server.err())?.[1]
if (inspectUrl !== undefined) {
  const { execFileSync } = await import("node:child_process")
  const lines = execFileSync(process.execPath, [BIN, "inspect", inspectUrl, "--json", "--once"], { encoding: "utf8", maxBuffer: 1 << 28 }).split("\n").filter(Boolean)
  listed = {}
  for (const l of lines) {
    const m = JSON.parse(l) as { type: string; actor?: { machine?: string; id?: string; status?: string; end?: unknown } }
    if (m.type !== "@xstate.actor") continue
    const k = `${m.actor?.machine ?? m.actor?.id ?? "?"}:${m.actor?.status ?? "?"}`
    listed[k] = (listed[k] ?? 0) + 1
  }
}
// one more session must be served
const c = new Client({ name: "last", version: "0" })
await c.connect(transport === "http" ? new StreamableHTTPClientTransport(new URL(url!)) : new WebSocketClientTransport(new URL(url!)))
const last = await c.callTool({ name: "echo", arguments: { text: "last" } })
await c.close()
follower?.kill("SIGTERM")
server.child.kill("SIGTERM")
const code = await Promise.race([server.exited, sleep(15_000).then(() => "timeout")])
console.log(JSON.stringify({
  minutes, transport, inspect: values.inspect, follow: values.follow, followerMB: +(followerBytes / 1048576).toFixed(1), idleMs, sessionsOpened: sessions,
  snapshots, listed, baseline, warm, zeroAfterMs, reaped, reaped2, last: JSON.stringify(last).slice(0, 80), exit: code,
  outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
  stderrTail: server.err().slice(-600)
}, null, 2))
process.exit(0)
