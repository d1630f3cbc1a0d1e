/**
 * Young-GC counters of the gateway's per-call path: what each scavenge of the gateway process keeps
 * alive and promotes while a client churns calls through it.
 *
 *   node bench/gcGateway.ts [--root DIR] [--target gateway|bare] [--wire ws|http] [--client sdk|ours] [--concurrency 8]
 *                           [--ops 20000] [--skip 6] [--tool slow] [--tool-args '{"ms":0}'] [-- NODE_FLAGS...]
 *
 * `--target gateway` (default) starts `node --trace-gc-nvp src/cli/main.ts host CONFIG --serve-ws 0` from
 * `--root` (default: this checkout) with the demo server over stdio as its one upstream (as bench/host.ts
 * does), pinned to CPU 1; `--target bare` starts `serve --ws 0` instead (no gateway: the floor); `--wire http`:
 * `--serve-http 0` / `serve --http 0`, and the clients over Streamable HTTP (legacy sessions). A driver
 * process pinned to CPU 0 connects one client (`--client sdk`: the official SDK's over WebSocket; `ours`:
 * `connectWs`) and makes `--ops` calls of `--tool`, `--concurrency` in flight. Prints one JSON line: the
 * medians over the scavenges after that full GC (but its first; with `--no-full-gc`: after the first `--skip`) of `new_space_survived` and `promoted` (KB), the
 * scavenge pause (ms), calls per scavenge, scavenge pause per call (µs), full GCs, the target's CPU µs per
 * call (/proc, traced: direction only), and the series survived/promoted per scavenge.
 * See docs/performance.md, "The gateway's per-call path and the young GC".
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { summarizeGcTrace } from "./gcTrace.ts"

const { values, positionals } = parseArgs({
  options: {
    root: { type: "string", default: resolve(import.meta.dirname, "..") },
    target: { type: "string", default: "gateway" },
    wire: { type: "string", default: "ws" },
    client: { type: "string", default: "sdk" },
    concurrency: { type: "string", default: "8" },
    ops: { type: "string", default: "20000" },
    skip: { type: "string", default: "6" },
    "no-full-gc": { type: "boolean", default: false },
    tool: { type: "string", default: "slow" },
    "tool-args": { type: "string", default: '{"ms":0}' },
    /** (Internal: the driver, run by this script in its own process.) */
    drive: { type: "string" },
    pid: { type: "string" }
  },
  allowPositionals: true
})
if (values.target !== "gateway" && values.target !== "bare") throw new Error(`--target takes gateway or bare, got ${values.target}`)
if (values.wire !== "ws" && values.wire !== "http") throw new Error(`--wire takes ws or http, got ${values.wire}`)
if (values.client !== "sdk" && values.client !== "ours") throw new Error(`--client takes sdk or ours, got ${values.client}`)

if (values.drive !== undefined) {
  console.log(JSON.stringify(await drive(values.drive, Number(values.concurrency), Number(values.ops), Number(values.pid))))
  process.exit(0)
}

/** `ops` calls on one client, `concurrency` in flight; the target's CPU (utime + stime, /proc) per call. */
async function drive(url: string, concurrency: number, ops: number, pid: number): Promise<{ calls: number; server_cpu_us_per_op: number }> {
  const tool = values.target === "gateway" ? `demo__${values.tool}` : values.tool
  const args = JSON.parse(values["tool-args"]) as Record<string, unknown>
  let call: () => Promise<unknown>
  let close: () => Promise<unknown>
  if (values.client === "sdk") {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js")
    const client = new Client({ name: "gcGateway", version: "1.0.0" })
    if (values.wire === "ws") {
      const { WebSocketClientTransport } = await import("@modelcontextprotocol/sdk/client/websocket.js")
      await client.connect(new WebSocketClientTransport(new URL(url)))
    } else {
      const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js")
      await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    }
    call = () => client.callTool({ name: tool, arguments: args })
    close = () => client.close()
  } else {
    const { connectWs } = await import(resolve(import.meta.dirname, "../src/client/connectWs.ts"))
    const { connectHttp } = await import(resolve(import.meta.dirname, "../src/client/connectHttp.ts"))
    const client = values.wire === "ws" ? await connectWs(url) : await connectHttp(url)
    call = () => client.callTool(tool, args)
    close = () => client.close()
  }
  const cpuUs = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / 100 // utime + stime, at USER_HZ 100
  }
  let next = 0, failed = 0
  const fullGcAt = values["no-full-gc"] ? -1 : Math.floor(ops / 4)
  const worker = async () => {
    while (next < ops) {
      // A full GC in the target a quarter in (its preload calls gc() on SIGUSR2): the steady state of a
      // long-running process, whose long-lived tables have been moved to old space by one.
      if (next++ === fullGcAt) process.kill(pid, "SIGUSR2")
      const r = await call() as { isError?: boolean }
      if (r.isError === true) failed++
    }
  }
  const before = cpuUs()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const cpu = cpuUs() - before
  await close()
  if (failed > 0) throw new Error(`${failed} of ${ops} calls failed`)
  return { calls: ops, server_cpu_us_per_op: Number((cpu / ops).toFixed(1)) }
}

const root = resolve(values.root)
const dir = mkdtempSync(join(tmpdir(), "gc-gateway-"))
const log = join(dir, "nvp.log")
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0
const pinned = (cpu: number, args: Array<string>): [string, Array<string>] => hasTaskset ? ["taskset", ["-c", String(cpu), ...args]] : [args[0]!, args.slice(1)]
const main = join(root, "src/cli/main.ts")
writeFileSync(join(dir, "mcp.json"), JSON.stringify({ mcpServers: { demo: { command: process.execPath, args: [main, "serve", "--stdio", "--example", "demo"], keepalive: false } } }))

const targetArgs = values.target === "gateway"
  ? ["host", join(dir, "mcp.json"), "--json", `--serve-${values.wire}`, "0", "--state-file", join(dir, "state.json")]
  : ["serve", `--${values.wire}`, "0"]
const preload = `data:text/javascript,process.on("SIGUSR2",()=>{console.log("forced-full-gc");globalThis.gc()})`
const [cmd, args] = pinned(1, [process.execPath, "--trace-gc-nvp", "--expose-gc", "--import", preload, ...positionals, main, ...targetArgs])
const out = openSync(log, "w")
// stderr piped: it says where the target listens (`gateway on URL`, or the serve banner's URL).
const server = spawn(cmd, args, { cwd: root, stdio: ["ignore", out, "pipe"] })
const exited = new Promise((r) => server.once("exit", r))
let stderr = ""
const url = await new Promise<string>((resolve, reject) => {
  server.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    const m = /((?:ws|http):\/\/\S+\/mcp)\b/.exec(stderr)
    if (m !== null) resolve(m[1]!)
  })
  server.once("exit", (code) => reject(new Error(`the target exited with ${code}: ${stderr}`)))
})
const [dcmd, dargs] = pinned(0, [process.execPath, import.meta.filename, "--drive", url, "--target", values.target, "--wire", values.wire, "--client", values.client,
  "--concurrency", values.concurrency, "--ops", values.ops, "--pid", String(server.pid), ...(values["no-full-gc"] ? ["--no-full-gc"] : []), "--tool", values.tool, `--tool-args=${values["tool-args"]}`])
const driver = spawnSync(dcmd, dargs, { encoding: "utf8" })
server.kill("SIGTERM")
await exited
if (driver.status !== 0 || !driver.stdout.trim().startsWith("{")) {
  console.error(`gcGateway: the driver failed (status ${driver.status}): ${driver.stderr.trim()}\ntarget stderr:\n${stderr.split("\n").slice(-20).join("\n")}`)
  process.exit(1)
}
const result = JSON.parse(driver.stdout) as { calls: number; server_cpu_us_per_op: number }

const gc = summarizeGcTrace(readFileSync(log, "utf8"), result.calls, Number(values.skip))
console.log(JSON.stringify({
  root,
  target: values.target,
  wire: values.wire,
  client: values.client,
  workload: `${result.calls} calls of ${values.tool} ${values["tool-args"]}, ${values.concurrency} in flight`,
  scavenges: gc.scavenges,
  survivedKB: gc.survivedKB,
  promotedKB: gc.promotedKB,
  pauseMs: gc.pauseMs,
  callsPerScavenge: gc.unitsPerScavenge,
  scavengePauseUsPerCall: Number(gc.scavengePauseUsPerUnit.toFixed(2)),
  fullGcs: gc.fullGcs,
  fullGcsAfterForced: gc.fullGcsAfterForced,
  targetCpuUsPerCall: result.server_cpu_us_per_op,
  series: gc.series
}))
