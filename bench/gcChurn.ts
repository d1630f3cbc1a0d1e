/**
 * Young-GC counters of HTTP session churn: what each scavenge keeps alive and promotes.
 *
 *   node bench/gcChurn.ts [--root DIR] [--concurrency 32] [--ops 8000] [--skip 6] [--port 0] [--inspect] [--serve-args="ARGS"]
 *                         [--calls legacy|modern [--tool slow] [--tool-args '{"ms":0}'] [--progress]] [-- NODE_FLAGS...]
 *
 * Starts `node --trace-gc-nvp src/cli/main.ts serve --http` from `--root` (default: this checkout;
 * give another checkout to compare), pinned to CPU 1, drives it with the neutral driver
 * (`bench/peers/mcp-bench.mjs http-churn`, initialize → initialized → DELETE) pinned to CPU 0, and
 * prints one JSON line: the medians over the scavenges after the first `--skip` (start-up) of
 * `new_space_survived` and `promoted` (KB), the scavenge pause (ms), sessions per scavenge, scavenge
 * pause per session (µs, steady state), full GCs, and the driver's server CPU µs per session.
 * `--inspect` serves the live inspector with nobody watching (`serve … --inspect 0`); `--serve-args=ARGS`
 * appends other arguments to `serve` (split at spaces; give it with `=`, as its value starts with a dash).
 * `--calls` churns calls instead of sessions: `tools/call` of `--tool` with `--tool-args`, `--concurrency`
 * at a time, on as many legacy sessions opened first (`legacy`) or as stateless 2026-07-28 requests
 * (`modern`); `--progress` asks for progress (the answer then comes as SSE). The default tool, `slow`
 * with 0 ms, answers in a later turn (an async handler); `echo` answers at once. "sessions" in the output
 * are then calls. This driver is ours (the neutral one has no modern era and no slow tool), run the same
 * way: its own process, pinned to CPU 0.
 * See docs/performance.md, "Why churned sessions survived the young GC".
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, openSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"

const { values, positionals } = parseArgs({
  options: {
    root: { type: "string", default: resolve(import.meta.dirname, "..") },
    concurrency: { type: "string", default: "32" },
    ops: { type: "string", default: "8000" },
    skip: { type: "string", default: "6" },
    port: { type: "string", default: String(47000 + Math.floor(Math.random() * 2000)) },
    inspect: { type: "boolean", default: false },
    "serve-args": { type: "string", default: "" },
    calls: { type: "string" },
    tool: { type: "string", default: "slow" },
    "tool-args": { type: "string", default: '{"ms":0}' },
    progress: { type: "boolean", default: false },
    /** (Internal: the calls driver, run by this script in its own process.) */
    "drive-calls": { type: "string" },
    pid: { type: "string" }
  },
  allowPositionals: true
})
if (values.calls !== undefined && values.calls !== "legacy" && values.calls !== "modern") throw new Error(`--calls takes legacy or modern, got ${values.calls}`)
if (values["drive-calls"] !== undefined) {
  console.log(JSON.stringify(await driveCalls(values["drive-calls"], values.calls === "modern", Number(values.concurrency), Number(values.ops), Number(values.pid))))
  process.exit(0)
}

/** `ops` calls, `concurrency` at a time; the server's CPU (utime + stime, /proc) per call. */
async function driveCalls(url: string, modern: boolean, concurrency: number, ops: number, pid: number): Promise<{ sessions: number; server_cpu_us_per_op: number }> {
  const { Agent, request } = await import("node:http")
  const target = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const post = (message: unknown, headers: Record<string, string>) => new Promise<{ readonly status: number; readonly sid: string | undefined }>((resolve, reject) => {
    const body = JSON.stringify(message)
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers: {
      "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": String(Buffer.byteLength(body)), ...headers
    } }, (res) => {
      res.resume()
      res.on("end", () => resolve({ status: res.statusCode ?? 0, sid: res.headers["mcp-session-id"] as string | undefined }))
    })
    req.on("error", reject)
    req.end(body)
  })
  const cpuUs = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / 100 // utime + stime, at USER_HZ 100
  }
  const params = (id: number) => ({ name: values.tool, arguments: JSON.parse(values["tool-args"]) as unknown, ...(modern || values.progress ? { _meta: {
    ...(modern ? { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } : {}),
    ...(values.progress ? { progressToken: id } : {})
  } } : {}) })
  const modernHeaders = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": values.tool }
  const sessions: Array<Record<string, string>> = []
  if (!modern) {
    for (let i = 0; i < concurrency; i++) {
      const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "gcChurn", version: "1" } } }, {})
      const headers = { "mcp-session-id": init.sid!, "mcp-protocol-version": "2025-11-25" }
      await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers)
      sessions.push(headers)
    }
  }
  let next = 0, failed = 0
  const worker = async (w: number) => {
    while (next < ops) {
      const id = ++next
      const r = await post({ jsonrpc: "2.0", id, method: "tools/call", params: params(id) }, modern ? modernHeaders : sessions[w]!)
      if (r.status !== 200) failed++
    }
  }
  const before = cpuUs()
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const cpu = cpuUs() - before
  agent.destroy()
  if (failed > 0) throw new Error(`${failed} of ${ops} calls failed`)
  return { sessions: ops, server_cpu_us_per_op: Number((cpu / ops).toFixed(1)) }
}

const root = resolve(values.root)
const serveArgs = [...(values.inspect ? ["--inspect", "0"] : []), ...values["serve-args"].split(" ").filter(Boolean)]
const port = values.port
const log = join(mkdtempSync(join(tmpdir(), "gc-churn-")), "nvp.log")
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0
const pinned = (cpu: number, args: Array<string>): [string, Array<string>] => hasTaskset ? ["taskset", ["-c", String(cpu), ...args]] : [args[0]!, args.slice(1)]

const [cmd, args] = pinned(1, [process.execPath, "--trace-gc-nvp", ...positionals, "src/cli/main.ts", "serve", "--http", port, ...serveArgs])
const out = openSync(log, "w")
const server = spawn(cmd, args, { cwd: root, stdio: ["ignore", out, out] })
const exited = new Promise((r) => server.once("exit", r))
await new Promise((r) => setTimeout(r, 2000))
const url = `http://127.0.0.1:${port}/mcp`
const [dcmd, dargs] = values.calls !== undefined
  ? pinned(0, [process.execPath, import.meta.filename, "--drive-calls", url, "--calls", values.calls, "--concurrency", values.concurrency, "--ops", values.ops,
    "--pid", String(server.pid), "--tool", values.tool, `--tool-args=${values["tool-args"]}`, ...(values.progress ? ["--progress"] : [])])
  : pinned(0, [process.execPath, join(root, "bench/peers/mcp-bench.mjs"), "http-churn", "--url", url,
    "--concurrency", values.concurrency, "--duration", "60", "--warmup", "1", "--max-ops", values.ops, "--pid", String(server.pid)])
const driver = spawnSync(dcmd, dargs, { encoding: "utf8" })
server.kill("SIGTERM")
await exited
if (driver.status !== 0 || !driver.stdout.trim().startsWith("{")) {
  // (A server that did not start, e.g. its port taken: say so, with what it printed.)
  console.error(`gcChurn: the driver failed (status ${driver.status}): ${driver.stderr.trim()}\nserver log (${log}):\n${readFileSync(log, "utf8").split("\n").filter((l) => !l.includes("pause=")).slice(-20).join("\n")}`)
  process.exit(1)
}
const result = JSON.parse(driver.stdout) as { sessions: number; server_cpu_us_per_op: number }

const gcs = readFileSync(log, "utf8").split("\n").filter((l) => l.includes("pause=")).map((l) =>
  Object.fromEntries(l.trim().split(/\s+/).map((x) => x.split("=")).filter((x) => x.length === 2)) as Record<string, string>)
const scavenges = gcs.filter((g) => g.gc === "s")
const steady = scavenges.slice(Number(values.skip))
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN
const allocatedPerSession = scavenges.reduce((a, g) => a + Number(g.allocated), 0) / result.sessions
const steadySessions = steady.reduce((a, g) => a + Number(g.allocated), 0) / allocatedPerSession
console.log(JSON.stringify({
  root,
  serveArgs: serveArgs.join(" "),
  workload: values.calls === undefined ? "session churn" : `${values.calls} calls of ${values.tool} ${values["tool-args"]}${values.progress ? " with progress" : ""}`,
  scavenges: steady.length,
  survivedKB: Math.round(median(steady.map((g) => Number(g.new_space_survived))) / 1024),
  promotedKB: Math.round(median(steady.map((g) => Number(g.promoted))) / 1024),
  pauseMs: median(steady.map((g) => Number(g.pause))),
  sessionsPerScavenge: Math.round(median(steady.map((g) => Number(g.allocated))) / allocatedPerSession),
  scavengePauseUsPerSession: Number((steady.reduce((a, g) => a + Number(g.pause), 0) * 1000 / steadySessions).toFixed(1)),
  fullGcs: gcs.length - scavenges.length,
  serverCpuUsPerSession: result.server_cpu_us_per_op,
  sessions: result.sessions,
  series: scavenges.map((g) => `${Math.round(Number(g.new_space_survived) / 1024)}/${Math.round(Number(g.promoted) / 1024)}`).join(" ")
}))
