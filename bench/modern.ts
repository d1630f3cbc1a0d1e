/**
 * Modern-era (2026-07-28) echo over Streamable HTTP: stateless `tools/call echo` POSTs
 * against our server (`serve --http`, a child process), `--concurrency` keep-alive
 * loops for `--duration` seconds. Reports req/s, p50/p99 latency and the server's CPU
 * per call (user + system from /proc/<pid>/stat), so a change to the modern request
 * path (src/server/http/ModernRequest.ts) can be measured before/after:
 *
 *   node bench/modern.ts [--duration 5] [--concurrency 32] [--rounds 2] [--root DIR]
 *
 * `--root` runs the server from another checkout (e.g. a `git worktree` of main) so
 * both sides are measured in the same run on the same machine.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { freePort, ROOT } from "./lib.ts"

const { values } = parseArgs({
  options: { duration: { type: "string" }, concurrency: { type: "string" }, rounds: { type: "string" }, root: { type: "string", multiple: true } }
})
const DURATION = Number(values.duration ?? 5)
const CONCURRENCY = Number(values.concurrency ?? 32)
const ROUNDS = Number(values.rounds ?? 2)
const ROOTS = values.root ?? [ROOT]

const TICKS = 100 // USER_HZ on Linux
const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS
}

const body = (id: number) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: {
      name: "echo",
      arguments: { text: "hello" },
      _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    }
  })
const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2026-07-28",
  "mcp-method": "tools/call",
  "mcp-name": "echo"
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
  while (!out.includes(`:${port}`)) {
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
        if (res.statusCode !== 200 || !data.includes('"hello"')) reject(new Error(`HTTP ${res.statusCode}: ${data.slice(0, 200)}`))
        else resolve(res.statusCode)
      })
    })
    req.on("error", reject)
    req.end(text)
  })

const measure = async (root: string) => {
  const server = await startServer(root)
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  try {
    // Warm-up (JIT, sockets).
    const warm = Date.now() + 1_000
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => { let n = i; while (Date.now() < warm) await post(agent, server.url, n += CONCURRENCY) }))
    const latencies: Array<number> = []
    let errors = 0
    const cpu0 = cpuMs(server.pid)
    const t0 = performance.now()
    const end = t0 + DURATION * 1_000
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, i) => {
      let n = 1_000_000 + i
      while (performance.now() < end) {
        const s = performance.now()
        try {
          await post(agent, server.url, n += CONCURRENCY)
          latencies.push(performance.now() - s)
        } catch {
          errors++
        }
      }
    }))
    const seconds = (performance.now() - t0) / 1_000
    const cpu = cpuMs(server.pid) - cpu0
    latencies.sort((a, b) => a - b)
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN
    return { calls: latencies.length, reqPerS: latencies.length / seconds, p50: q(0.5), p99: q(0.99), serverCpuUsPerCall: (cpu * 1_000) / Math.max(1, latencies.length), errors }
  } finally {
    agent.destroy()
    await server.stop()
  }
}

console.log(`modern echo: ${ROUNDS} rounds × ${DURATION} s, concurrency ${CONCURRENCY}; roots: ${ROOTS.join(", ")}`)
for (let r = 1; r <= ROUNDS; r++) {
  for (const root of r % 2 === 1 ? ROOTS : [...ROOTS].reverse()) {
    const m = await measure(root)
    console.log(`round ${r} ${root}: ${m.reqPerS.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${m.serverCpuUsPerCall.toFixed(1)} µs/call, errors ${m.errors}`)
  }
}
