/**
 * Echo calls, paired: several echo servers alive at once (all pinned to the server
 * CPU), each driven in short windows, and each window's server CPU per call from
 * `/proc/PID/schedstat` (ns, not the 10 ms ticks of `/proc/PID/stat`). On a shared
 * 2-core machine one run of `bench/http.ts` moves ±20 % with the other jobs; windows
 * of a second or two, paired server by server, leave far less to chance.
 *
 *   node bench/echoPaired.ts [--base DIR] [--rounds 12] [--window 1.5] [--simultaneous]
 *                            [--concurrency 64] [--no-raw]
 *
 * Servers: ours from this checkout (`serve --http`, the demo example), ours from
 * `--base` (another checkout, e.g. a detached worktree of main), and the raw ceiling
 * (bench/peers/raw-server.mjs). Each window is preceded by 0.3 s unmeasured (a session
 * hibernated while another server was driven wakes up there, not in the measure).
 * `--simultaneous` drives every server in the same window (each with its own
 * concurrency): the other jobs on the machine then weigh on all of them alike.
 * Prints each server's median µs/call (quartiles) and the median of the per-window
 * ratios between servers.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Pool } from "undici"
import { ROOT, freePort, pinning, threadCpuNs } from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const USAGE = `Usage: node bench/echoPaired.ts [options]

  --base DIR          also run ours from this checkout (e.g. a detached worktree of main)
  --rounds N          measured windows per server (default 12)
  --window S          seconds per measured window (default 1.5)
  --simultaneous      drive every server in the same windows (default: one after another, order rotated)
  --concurrency N     requests in flight per server (default 64)
  --no-raw            leave the raw ceiling out
  --no-pin            do not pin the servers to CPU 1`

const { values: flags, nonNegative } = scriptArgs(USAGE, {
  base: { type: "string" }, rounds: { type: "string" }, window: { type: "string" }, simultaneous: { type: "boolean" },
  concurrency: { type: "string" }, "no-raw": { type: "boolean" }, "no-pin": { type: "boolean" }
})
const ROUNDS = nonNegative("rounds") ?? 12
const WINDOW = nonNegative("window") ?? 1.5
const CONCURRENCY = nonNegative("concurrency") ?? 64
const pin = pinning(flags["no-pin"] === true)
// The driver is this process: run it again pinned to the driver's CPU.
if (pin.driver.length > 0 && process.env["ECHO_PAIRED_PINNED"] === undefined) {
  const again = [...pin.driver, process.execPath, ...process.execArgv, ...process.argv.slice(1)]
  const r = spawnSync(again[0]!, again.slice(1), { stdio: "inherit", env: { ...process.env, ECHO_PAIRED_PINNED: "1" } })
  process.exit(r.status ?? 1)
}

interface Server {
  readonly label: string
  readonly child: ChildProcess
  readonly port: number
  pool?: Pool
  sids: Array<string>
  readonly us: Array<number>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const cpuNs = (pid: number) => threadCpuNs(pid) ?? 0

const servers: Array<Server> = []
const stopAll = () => {
  for (const s of servers) s.child.kill("SIGTERM")
}
process.on("exit", stopAll)

const start = async (label: string, cwd: string, argv: (port: number) => Array<string>): Promise<void> => {
  const port = await freePort()
  const cmd = [...pin.server, process.execPath, ...argv(port)]
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd, stdio: "ignore" })
  servers.push({ label, child, port, sids: [], us: [] })
}
const ours = (port: number) => ["src/cli/main.ts", "serve", "--http", String(port), "--host", "127.0.0.1"]
await start("ours", ROOT, ours)
if (typeof flags["base"] === "string") await start("base", flags["base"], ours)
if (flags["no-raw"] !== true) await start("raw", join(ROOT, "bench", "peers"), (port) => ["raw-server.mjs", "--port", String(port), "--host", "127.0.0.1"])

const HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" }
const post = async (pool: Pool, message: unknown, sid?: string) => {
  const r = await pool.request({
    path: "/mcp",
    method: "POST",
    headers: sid === undefined ? HEADERS : { ...HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify(message)
  })
  return { status: r.statusCode, sid: r.headers["mcp-session-id"] as string | undefined, text: await r.body.text() }
}
const INIT = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "echoPaired", version: "1" } } }
for (const s of servers) {
  for (let attempt = 0; ; attempt++) {
    const pool = new Pool(`http://127.0.0.1:${s.port}`, { connections: CONCURRENCY, pipelining: 1 })
    try {
      await post(pool, INIT)
      s.pool = pool
      break
    } catch {
      await pool.close().catch(() => {})
      if (attempt > 150) throw new Error(`${s.label} did not start`)
      await sleep(100)
    }
  }
  for (let i = 0; i < 100; i++) {
    const r = await post(s.pool!, INIT)
    await post(s.pool!, { jsonrpc: "2.0", method: "notifications/initialized" }, r.sid)
    s.sids.push(r.sid!)
  }
}

let nextId = 1
const drive = async (s: Server, seconds: number): Promise<number> => {
  let n = 0, rr = 0
  const stopAt = performance.now() + seconds * 1000
  const worker = async () => {
    while (performance.now() < stopAt) {
      const r = await post(s.pool!, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "echo", arguments: { text: "hello" } } }, s.sids[rr++ % s.sids.length])
      if (r.status !== 200 || !r.text.includes("\"hello\"")) throw new Error(`${s.label}: ${r.status} ${r.text}`)
      n++
    }
  }
  const c0 = cpuNs(s.child.pid!)
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return (cpuNs(s.child.pid!) - c0) / 1000 / n
}

for (const s of servers) await drive(s, 2) // warm-up
for (let r = 0; r < ROUNDS; r++) {
  if (flags["simultaneous"] === true) {
    await Promise.all(servers.map((s) => drive(s, 0.3)))
    const us = await Promise.all(servers.map((s) => drive(s, WINDOW)))
    servers.forEach((s, i) => s.us.push(us[i]!))
  } else {
    for (const s of [...servers.slice(r % servers.length), ...servers.slice(0, r % servers.length)]) {
      await drive(s, 0.3)
      s.us.push(await drive(s, WINDOW))
    }
  }
}

const quantile = (a: ReadonlyArray<number>, p: number) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) * p)]!
const f = (n: number, d = 2) => n.toFixed(d)
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
process.stdout.write(`echo, ${ROUNDS} windows × ${WINDOW} s per server, ${flags["simultaneous"] ? "simultaneous" : "one after another"}, C=${CONCURRENCY}; ${pin.note}; load average ${load}\n\n`)
process.stdout.write("| server | µs/call, median | q25..q75 | min |\n|---|---:|---|---:|\n")
for (const s of servers) process.stdout.write(`| ${s.label} | ${f(quantile(s.us, 0.5))} | ${f(quantile(s.us, 0.25))}..${f(quantile(s.us, 0.75))} | ${f(Math.min(...s.us))} |\n`)
process.stdout.write("\n| ratio (per window) | median | q25..q75 |\n|---|---:|---|\n")
for (let i = 0; i < servers.length; i++) {
  for (let j = i + 1; j < servers.length; j++) {
    const ratios = servers[i]!.us.map((x, k) => x / servers[j]!.us[k]!)
    process.stdout.write(`| ${servers[i]!.label} / ${servers[j]!.label} | ${f(quantile(ratios, 0.5), 3)} | ${f(quantile(ratios, 0.25), 3)}..${f(quantile(ratios, 0.75), 3)} |\n`)
  }
}
for (const s of servers) await s.pool?.close()
stopAll()
await sleep(300)
process.exit(0)
