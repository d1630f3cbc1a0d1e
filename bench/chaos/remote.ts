/**
 * `mcp-actors host` with remote upstreams (Streamable HTTP and WebSocket) whose
 * server processes are killed (SIGKILL or SIGTERM) every 2–5 s and started
 * again on the same port after 0–2 s (every fourth time after 6 s: the host
 * then restarts it), while a gateway client calls both
 * throughout: the host's own client reconnecting many times. The host's heap,
 * handles and fds must not grow with the reconnects, and each upstream must be
 * ready again once its server is back.
 *
 *   node bench/chaos/remote.ts [--minutes 3]
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { BIN, freePort } from "../lib.ts"
import { gatewayUrl, sleep, startProbed, stats } from "./probe.ts"

const { values } = parseArgs({ options: { minutes: { type: "string", default: "3" } } })
const minutes = Number(values.minutes)
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)
const dir = `/tmp/s23remote-${process.pid}`
mkdirSync(dir, { recursive: true })

interface Upstream { readonly kind: "http" | "ws"; readonly port: number; child?: ChildProcess; starts: number }
const ups: Array<Upstream> = [{ kind: "http", port: await freePort(), starts: 0 }, { kind: "ws", port: await freePort(), starts: 0 }]
const start = async (u: Upstream): Promise<void> => {
  const child = spawn(process.execPath, [BIN, "serve", u.kind === "http" ? "--http" : "--ws", String(u.port)], { stdio: ["ignore", "ignore", "pipe"] })
  u.child = child
  u.starts++
  let err = ""
  await new Promise<void>((ok) => {
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c, /serving/.test(err) && ok()))
    child.once("exit", () => ok())
  })
}
const stop = async (u: Upstream): Promise<void> => {
  const child = u.child!
  const exited = new Promise((r) => child.once("exit", r))
  child.kill(Math.random() < 0.5 ? "SIGKILL" : "SIGTERM")
  await exited
}
for (const u of ups) await start(u)
const keepalive = { intervalMs: 2000, timeoutMs: 1000, maxMisses: 2 }
const restart = { intensity: 50, period: 60_000, backoff: { initialMs: 200, maxMs: 2000 } }
writeFileSync(`${dir}/host.json`, JSON.stringify({
  mcpServers: {
    rhttp: { type: "http", url: `http://127.0.0.1:${ups[0]!.port}/mcp`, keepalive, restart, timeouts: { call: 10_000, connect: 5_000 } },
    rws: { type: "ws", url: `ws://127.0.0.1:${ups[1]!.port}/mcp`, keepalive, restart, timeouts: { call: 10_000, connect: 5_000 } }
  }
}))
const host = await startProbed([BIN, "host", `${dir}/host.json`, "--serve-http", "0", "--json"])
const state = new Map<string, string>()
const restarts = new Map<string, number>()
host.onLine((line) => {
  try {
    const j = JSON.parse(line) as { type: string; name: string; state: string; restarts: number; tools?: number; lastError?: string }
    if (j.type === "status" && process.env["CHAOS_VERBOSE"] !== undefined) log(`status ${j.name} ${j.state} tools ${j.tools} ${j.lastError ?? ""}`)
    if (j.type === "catalog" && process.env["CHAOS_VERBOSE"] !== undefined) log(`catalog ${line.slice(0, 200)}`)
    if (j.type === "status") {
      state.set(j.name, j.state)
      restarts.set(j.name, j.restarts)
    }
  } catch {}
})
const url = await gatewayUrl(host)
const ready = async (ms: number) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (state.get("rhttp") === "ready" && state.get("rws") === "ready") return true
    await sleep(100)
  }
  return false
}
if (!(await ready(30_000))) throw new Error(`not ready: ${JSON.stringify([...state])} ${host.err()}`)
log(`host ${host.pid} ${url}`)

const outcomes = new Map<string, number>()
const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
let running = true
const wedges: Array<string> = []
const caller = async () => {
  while (running) {
    const client = new Client({ name: "remote-chaos", version: "0" })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url!)))
      for (let i = 0; i < 50 && running; i++) {
        for (const name of ["rhttp__echo", "rws__echo"]) {
          const t = setTimeout(() => wedges.push(`${name} pending 25 s at ${new Date().toISOString()}`), 25_000)
          try {
            const r = await client.callTool({ name, arguments: { text: "x" } }, undefined, { timeout: 30_000 })
            count(`${name}: ${r.isError === true ? `isError ${JSON.stringify(r.content).slice(0, 90)}` : "ok"}`)
          } catch (e) {
            count(`${name}: ${(e as Error).message.replace(/\d+/g, "N").slice(0, 90)}`)
          } finally {
            clearTimeout(t)
          }
        }
        await sleep(20)
      }
    } catch (e) {
      count(`connect: ${(e as Error).message.slice(0, 80)}`)
    } finally {
      await client.close().catch(() => {})
    }
  }
}
let outages = 0
const chaos = async () => {
  while (running) {
    await sleep(2000 + Math.random() * 3000)
    if (!running) break
    const u = ups[Math.floor(Math.random() * ups.length)]!
    await stop(u)
    if (process.env["CHAOS_VERBOSE"] !== undefined) log(`upstream ${u.kind} stopped`)
    // every fourth outage outlasts the host's health probes (2 misses at 2 s): the host restarts the upstream
    await sleep(++outages % 4 === 0 ? 6000 : Math.random() * 2000)
    await start(u)
    if (process.env["CHAOS_VERBOSE"] !== undefined) log(`upstream ${u.kind} up`)
  }
}
const sample = async (label: string) => {
  const s = await stats(host)
  log(`${label} heap ${s.heapMB} MB fds ${s.fds} handles ${JSON.stringify(s.handles)} restarts ${JSON.stringify(Object.fromEntries(restarts))} upstream starts ${ups.map((u) => u.starts).join("/")}`)
  return s
}
const loops = [caller(), caller()]
const chaosDone = chaos()
const first = await sample("start")
const t0 = Date.now()
let warm: Awaited<ReturnType<typeof sample>> | undefined
while (Date.now() - t0 < minutes * 60_000) {
  await sleep(15_000)
  const s = await sample(`t=${Math.round((Date.now() - t0) / 1000)}s`)
  if (warm === undefined && Date.now() - t0 >= 60_000) warm = s
}
running = false
await chaosDone
await Promise.race([Promise.all(loops), sleep(40_000)])
const back = await ready(30_000)
await sleep(2000)
const last = await sample("end")
host.child.kill("SIGTERM")
const code = await Promise.race([host.exited, sleep(20_000).then(() => "timeout")])
for (const u of ups) u.child?.kill("SIGKILL")
console.log(JSON.stringify({ minutes, first, warm, last, readyAfter: back, upstreamStarts: ups.map((u) => u.starts), restarts: Object.fromEntries(restarts), exit: code, wedges, outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])) }, null, 2))
rmSync(dir, { recursive: true, force: true })
process.exit(0)
