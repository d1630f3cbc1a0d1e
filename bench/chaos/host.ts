/**
 * Chaos soak of `mcp-actors host`: three stdio servers (two demo servers, one
 * @modelcontextprotocol/server-everything) behind the gateway (--serve-http or
 * --serve-ws), SDK clients calling tools throughout, and a chaos loop that
 * kill -9s a random child every few seconds and now and then SIGSTOPs one
 * (a hung peer the host's keepalive must find and replace).
 *
 *   node bench/chaos/host.ts [--minutes 5] [--gateway http|ws] [--kill-every-ms 4000] [--clients 4]
 *
 * Prints a sample every 15 s (heap after GC, handles, fds, children, restarts)
 * and a summary: call outcomes by kind, calls that took longer than the call
 * timeout (wedges), orphans, growth per restart.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { mkdirSync, symlinkSync, writeFileSync, rmSync } from "node:fs"
import { parseArgs } from "node:util"
import { ROOT } from "../lib.ts"
import { descendants, orphans, sleep, snapshot, startProbed, stats, type Stats } from "./probe.ts"

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    gateway: { type: "string", default: "http" },
    "kill-every-ms": { type: "string", default: "4000" },
    clients: { type: "string", default: "4" },
    "stop-every": { type: "string", default: "5" }
  }
})
const minutes = Number(values.minutes)
const gateway = values.gateway as "http" | "ws"
const killEveryMs = Number(values["kill-every-ms"])
const nClients = Number(values.clients)
const stopEvery = Number(values["stop-every"])
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)

// A per-run directory whose path marks every child on `ps` (orphan check).
const marker = `/tmp/s23chaos-${process.pid}`
mkdirSync(marker, { recursive: true })
symlinkSync(`${ROOT}/src/cli/main.ts`, `${marker}/main.ts`)
symlinkSync(`${ROOT}/node_modules/@modelcontextprotocol/server-everything/dist/index.js`, `${marker}/everything.js`)
const keepalive = { intervalMs: 2000, timeoutMs: 1000, maxMisses: 2 }
const restart = { intensity: 20, period: 60_000, backoff: { initialMs: 200, maxMs: 5000 } }
const config = {
  mcpServers: {
    demo1: { command: "node", args: [`${marker}/main.ts`, "serve", "--stdio"], keepalive, restart, timeouts: { call: 10_000 } },
    demo2: { command: "node", args: [`${marker}/main.ts`, "serve", "--stdio"], keepalive, restart, timeouts: { call: 10_000 } },
    every: { command: "node", args: [`${marker}/everything.js`, "stdio"], keepalive, restart, timeouts: { call: 10_000 } }
  }
}
writeFileSync(`${marker}/host.json`, JSON.stringify(config))

interface Status { state: string; pid?: number; restarts: number }
const status = new Map<string, Status>()
const transitions: Array<{ t: number; name: string; state: string; pid?: number; restarts: number; lastError?: string }> = []
const t0 = Date.now()

const host = await startProbed([`${marker}/main.ts`, "host", `${marker}/host.json`, gateway === "http" ? "--serve-http" : "--serve-ws", "0", "--json"])
host.onLine((line) => {
  try {
    const j = JSON.parse(line) as { type: string; name: string; state: string; pid?: number; restarts: number; lastError?: string }
    if (j.type !== "status") return
    const prev = status.get(j.name)
    status.set(j.name, { state: j.state, pid: j.pid, restarts: j.restarts })
    if (prev?.state !== j.state) transitions.push({ t: Date.now() - t0, name: j.name, state: j.state, pid: j.pid, restarts: j.restarts, lastError: j.lastError })
  } catch {}
})
let url: string | undefined
for (let i = 0; i < 300 && url === undefined; i++) {
  url = /gateway on ((?:http|ws):\/\/\S+\/mcp)/.exec(host.err())?.[1]
  if (url === undefined) await sleep(100)
}
if (url === undefined) throw new Error(`no gateway URL: ${host.err()}`)
log(`host pid ${host.pid}, gateway ${url}`)
const allReady = async (timeoutMs: number): Promise<boolean> => {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (status.size === 3 && [...status.values()].every((s) => s.state === "ready")) return true
    await sleep(100)
  }
  return false
}
if (!(await allReady(60_000))) throw new Error(`servers not ready: ${JSON.stringify([...status])}`)

// ---------------------------------------------------------------- clients
const outcomes = new Map<string, number>()
const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
let slowest = 0
const wedged: Array<string> = []
let running = true

const connect = async (): Promise<Client> => {
  const client = new Client({ name: "s23-chaos", version: "0" })
  const transport = gateway === "http" ? new StreamableHTTPClientTransport(new URL(url!)) : new WebSocketClientTransport(new URL(url!))
  await client.connect(transport)
  return client
}

const call = async (client: Client, name: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<void> => {
  const started = Date.now()
  const watchdog = setTimeout(() => wedged.push(`${name} still pending after 25 s (${new Date().toISOString()})`), 25_000)
  try {
    const r = await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })
    count(r.isError === true ? `${name}: isError ${JSON.stringify(r.content).slice(0, 100)}` : `${name}: ok`)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    count(`${name}: ${msg.replace(/\d+/g, "N").slice(0, 140)}`)
  } finally {
    clearTimeout(watchdog)
    slowest = Math.max(slowest, Date.now() - started)
  }
}

const clientLoop = async (i: number): Promise<void> => {
  while (running) {
    let client: Client | undefined
    try {
      client = await connect()
      for (let k = 0; k < 20 && running; k++) {
        const r = Math.random()
        if (r < 0.3) await call(client, "demo1__echo", { text: `c${i}-${k}` })
        else if (r < 0.5) await call(client, "demo2__slow", { ms: 300 + Math.floor(Math.random() * 1500) })
        else if (r < 0.7) await call(client, "every__echo", { message: `c${i}-${k}` })
        else if (r < 0.8) await call(client, "every__get-sum", { a: 1, b: 2 })
        else if (r < 0.9) {
          try {
            const l = await client.listTools(undefined, { timeout: 30_000 })
            count(`tools/list: ${l.tools.length} tools`)
          } catch (e) {
            count(`tools/list: ${(e as Error).message.slice(0, 100)}`)
          }
        } else await call(client, "demo1__count", { n: 3 })
      }
    } catch (e) {
      count(`connect: ${(e as Error).message.replace(/\d+/g, "N").slice(0, 120)}`)
      await sleep(200)
    } finally {
      await client?.close().catch(() => {})
    }
  }
}

// ---------------------------------------------------------------- chaos
const kills: Array<{ t: number; name: string; pid: number; signal: string }> = []
let stopped: { name: string; pid: number; t: number } | undefined
const stopDetections: Array<number> = []
const stoppedPids: Array<number> = []
const chaosLoop = async (): Promise<void> => {
  let n = 0
  while (running) {
    await sleep(killEveryMs * (0.5 + Math.random()))
    if (!running) break
    // a stopped peer: detected once the host reports it not ready (then it must be gone from ps)
    if (stopped !== undefined) continue
    const live = [...status].filter(([, s]) => s.state === "ready" && s.pid !== undefined)
    if (live.length === 0) continue
    const [name, s] = live[Math.floor(Math.random() * live.length)]!
    n++
    const signal = n % stopEvery === 0 ? "SIGSTOP" : "SIGKILL"
    // the status's pid is the lifeline wrapper (sh); the server is the node process below it
    const server = descendants(s.pid!).find((p) => p.cmd.startsWith("node "))
    if (server === undefined) continue
    try {
      process.kill(server.pid, signal)
      kills.push({ t: Date.now() - t0, name, pid: server.pid, signal })
      if (signal === "SIGSTOP") {
        stoppedPids.push(server.pid)
        stopped = { name, pid: s.pid!, t: Date.now() }
        log(`SIGSTOP ${name}: server pid ${server.pid} (wrapper ${s.pid})`)
        void (async () => {
          const me = stopped!
          while (status.get(me.name)?.pid === me.pid && status.get(me.name)?.state === "ready") await sleep(50)
          stopDetections.push(Date.now() - me.t)
          log(`SIGSTOPped ${me.name} (pid ${me.pid}) left ready after ${Date.now() - me.t} ms`)
          stopped = undefined
        })()
      }
    } catch {}
  }
}

// ---------------------------------------------------------------- samples
interface Sample extends Stats { t: number; children: number; restarts: number; orphans: number }
const samples: Array<Sample> = []
const sample = async (): Promise<Sample> => {
  const s = await stats(host)
  const kids = descendants(host.pid).filter((p) => p.cmd.includes(marker))
  const restarts = [...status.values()].reduce((a, s) => a + s.restarts, 0)
  const o = orphans(host.pid, marker).filter((p) => !p.cmd.includes(" host "))
  const x = { t: Math.round((Date.now() - t0) / 1000), ...s, children: kids.length, restarts, orphans: o.length }
  samples.push(x)
  log(`t=${x.t}s heap ${x.heapMB} MB rss ${x.rssMB} fds ${x.fds} children ${x.children} restarts ${x.restarts} orphans ${x.orphans} handles ${JSON.stringify(x.handles)}`)
  return x
}

const before = await sample()
const loops = [...Array(nClients)].map((_, i) => clientLoop(i))
const chaos = chaosLoop()
const end = t0 + minutes * 60_000
// heap snapshots after the first 90 s and at the end of the chaos (compare with bench/heapdiff.ts)
const snapshots: Array<string> = []
let warm: Sample | undefined
while (Date.now() < end) {
  await sleep(15_000)
  const s = await sample()
  if (warm === undefined && s.t >= 90) {
    warm = s
    snapshots.push(await snapshot(host))
  }
}
snapshots.push(await snapshot(host))
const chaosEnd = samples[samples.length - 1]
running = false
await chaos
log("chaos stopped; waiting for clients and for every server to be ready")
await Promise.race([Promise.all(loops), sleep(60_000)])
if (stopped !== undefined) log(`still stopped: ${JSON.stringify(stopped)}`)
const readyAgain = await allReady(60_000)
await sleep(2000)
const after = await sample()
// the catalog is live after all those restarts
const check = await connect()
const tools = await check.listTools()
const echo = await check.callTool({ name: "demo1__echo", arguments: { text: "final" } }).catch((e) => ({ error: String(e) }))
const evEcho = await check.callTool({ name: "every__echo", arguments: { message: "final" } }).catch((e) => ({ error: String(e) }))
await check.close()
const finalSample = await sample()

host.child.kill("SIGTERM")
const code = await Promise.race([host.exited, sleep(20_000).then(() => "timeout")])
await sleep(500)
const left = orphans(0, marker).filter((p) => p.pid !== process.pid)

console.log(JSON.stringify({
  minutes, gateway, killEveryMs,
  kills: kills.length, stoppedStillThere: stoppedPids.filter((pid) => { try { process.kill(pid, 0); return true } catch { return false } }), sigstops: kills.filter((k) => k.signal === "SIGSTOP").length,
  stopDetectionsMs: stopDetections,
  restartsTotal: after.restarts, snapshots, warm, chaosEnd,
  readyAgain,
  before, after, finalSample,
  finalTools: tools.tools.length, finalEcho: JSON.stringify(echo).slice(0, 120), finalEveryEcho: JSON.stringify(evEcho).slice(0, 120),
  hostExit: code, leftoverProcesses: left.map((p) => `${p.pid} ${p.stat} ${p.cmd}`),
  slowestCallMs: slowest, wedged,
  outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
  parked: transitions.filter((t) => t.state === "parked").length,
  states: [...new Set(transitions.map((t) => t.state))],
  lastErrors: [...new Set(transitions.map((t) => t.lastError).filter(Boolean))].slice(0, 15)
}, null, 2))
rmSync(marker, { recursive: true, force: true })
process.exit(0)
