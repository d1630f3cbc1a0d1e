/**
 * Modern-era (2026-07-28) echo over Streamable HTTP: stateless `tools/call echo` POSTs
 * (no session), `--concurrency` keep-alive loops for `--duration` seconds. Reports req/s,
 * p50/p99 latency and the server's CPU per call (user + system from /proc/<pid>/stat),
 * so a change to the modern request path (src/server/http/ModernRequest.ts) can be
 * measured before/after. Two modes:
 *
 *   node bench/modern.ts [--duration 5] [--concurrency 32] [--rounds 2] [--root DIR]…
 *       starts our server (`serve --http`) from each `--root` in turn, rows interleaved:
 *       `--root` a `git worktree` of main next to this tree measures both in one run;
 *
 *   node bench/modern.ts --drive URL [--pid PID] [--duration 5] [--concurrency 64] [--label L]
 *       drives a running server and prints ONE JSON line with the neutral driver's
 *       field names (`req_per_s`, `latency_ms`, `server_cpu_us_per_op`, …): the
 *       `modern` suite of bench/http.ts runs it next to the legacy echo suite.
 *
 *   --call progress   calls the demo's `count` (n=1, stepMs=0, a progress token) instead of
 *       `echo`: one progress notification, so the answer is an SSE stream (the progress is a
 *       pure self-transition of the request's chart: still no actor; see docs/architecture.md
 *       "The modern request's fast path"). Default `echo`.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { freePort, modernToolCall, processCpuMs, ROOT } from "./lib.ts"

const { values } = parseArgs({
  options: {
    duration: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" }, root: { type: "string", multiple: true },
    drive: { type: "string" }, pid: { type: "string" }, label: { type: "string" }, warmup: { type: "string" }, call: { type: "string" }
  }
})
const DURATION = Number(values.duration ?? 5)
const CONCURRENCY = Number(values.concurrency ?? (values.drive === undefined ? 32 : 64))
const WARMUP = Number(values.warmup ?? 2)
const ROUNDS = Number(values.rounds ?? 2)
const ROOTS = values.root ?? [ROOT]
const PROGRESS = values.call === "progress"
if (values.call !== undefined && values.call !== "echo" && !PROGRESS) throw new Error(`--call echo|progress, not ${values.call}`)

const TICKS = 100 // USER_HZ on Linux
const cpuMs = processCpuMs
/** CPU ms every core spent busy (for the noise column: what else ran meanwhile). */
const machineBusyMs = (): number => {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number)
  return ((f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * 1000) / TICKS
}

const body = (id: number) => modernToolCall(id, PROGRESS)
/** What the answer must contain. */
const EXPECTED = PROGRESS ? '"counted to 1"' : '"hello"'
const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2026-07-28",
  "mcp-method": "tools/call",
  "mcp-name": PROGRESS ? "count" : "echo"
}

const startServer = async (root: string) => {
  const port = await freePort()
  const child = spawn(process.execPath, [join(root, "src/cli/mcp-actors.cjs"), "serve", "--http", String(port), "--host", "127.0.0.1"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c))
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c))
  const deadline = Date.now() + 20_000
  while (!out.includes(`serving Streamable HTTP on http://127.0.0.1:${port}`)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { url: new URL(`http://127.0.0.1:${port}/mcp`), pid: child.pid!, stop: () => new Promise<void>((r) => { child.once("exit", () => r()); child.kill("SIGTERM") }) }
}

const post = (agent: Agent, url: URL, id: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const text = body(id)
    const req = request(url, { method: "POST", agent, headers: { ...HEADERS, "content-length": Buffer.byteLength(text) } }, (res) => {
      let data = ""
      res.setEncoding("utf8").on("data", (c: string) => (data += c)).on("end", () => {
        if (res.statusCode !== 200 || !data.includes(EXPECTED)) reject(new Error(`HTTP ${res.statusCode}: ${data.slice(0, 200)}`))
        else resolve(res.statusCode)
      })
    })
    req.on("error", reject)
    req.end(text)
  })

const round1 = (x: number) => Math.round(x * 10) / 10

/** Warm up, then `CONCURRENCY` loops for `DURATION` s against `url`; the server's CPU from /proc when `pid` is known. */
const drive = async (url: URL, pid: number | undefined) => {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  try {
    // Warm-up (JIT, sockets).
    const warm = Date.now() + WARMUP * 1_000
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => { let n = i; while (Date.now() < warm) await post(agent, url, n += CONCURRENCY) }))
    const latencies: Array<number> = []
    let errors = 0
    const cpu0 = pid === undefined ? 0 : cpuMs(pid)
    const busy0 = machineBusyMs()
    const own0 = process.cpuUsage()
    const t0 = performance.now()
    const end = t0 + DURATION * 1_000
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => {
      let n = 1_000_000 + i
      while (performance.now() < end) {
        const s = performance.now()
        try {
          await post(agent, url, n += CONCURRENCY)
          latencies.push(performance.now() - s)
        } catch {
          errors++
        }
      }
    }))
    const seconds = (performance.now() - t0) / 1_000
    const cpu = pid === undefined ? 0 : cpuMs(pid) - cpu0
    const own = process.cpuUsage(own0)
    const ownMs = (own.user + own.system) / 1_000
    const other = machineBusyMs() - busy0 - ownMs - cpu
    latencies.sort((a, b) => a - b)
    const q = (p: number) => round1(100 * (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN)) / 100
    return {
      requests: latencies.length,
      req_per_s: round1(latencies.length / seconds),
      latency_ms: { p50: q(0.5), p99: q(0.99) },
      errors,
      client_cpu_pct: round1((100 * ownMs) / 1_000 / seconds),
      other_cpu_pct: round1(Math.max(0, (100 * other) / 1_000 / seconds)),
      ...(pid === undefined ? {} : { server_cpu_pct: round1((100 * cpu) / 1_000 / seconds), server_cpu_us_per_op: round1((cpu * 1_000) / Math.max(1, latencies.length)) })
    }
  } finally {
    agent.destroy()
  }
}

if (values.drive !== undefined) {
  const pid = values.pid === undefined ? undefined : Number(values.pid)
  process.stderr.write(`modern ${PROGRESS ? "progress" : "echo"} ${values.drive} C=${CONCURRENCY} warmup=${WARMUP}s duration=${DURATION}s\n`)
  const r = await drive(new URL(values.drive), pid)
  process.stderr.write(`  ${r.req_per_s} req/s  p50=${r.latency_ms.p50}ms p99=${r.latency_ms.p99}ms errors=${r.errors}` +
    (r.server_cpu_us_per_op === undefined ? "" : `  server cpu=${r.server_cpu_pct}% (${r.server_cpu_us_per_op} us/req)`) + "\n")
  process.stdout.write(JSON.stringify({ url: values.drive, method: PROGRESS ? "modern-progress" : "modern-echo", concurrency: CONCURRENCY, label: values.label, ...r }) + "\n")
} else {
  console.log(`modern ${PROGRESS ? "count (one progress)" : "echo"}: ${ROUNDS} rounds × ${DURATION} s, concurrency ${CONCURRENCY}; roots: ${ROOTS.join(", ")}`)
  for (let r = 1; r <= ROUNDS; r++) {
    for (const root of r % 2 === 1 ? ROOTS : [...ROOTS].reverse()) {
      const server = await startServer(root)
      try {
        const m = await drive(server.url, server.pid)
        console.log(`round ${r} ${root}: ${m.req_per_s.toFixed(0)} req/s, p50 ${m.latency_ms.p50.toFixed(2)} ms, p99 ${m.latency_ms.p99.toFixed(2)} ms, server CPU ${m.server_cpu_us_per_op!.toFixed(1)} µs/call, errors ${m.errors}`)
      } finally {
        await server.stop()
      }
    }
  }
}
