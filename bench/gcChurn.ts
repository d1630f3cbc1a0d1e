/**
 * Young-GC counters of HTTP session churn: what each scavenge keeps alive and promotes.
 *
 *   node bench/gcChurn.ts [--root DIR] [--concurrency 32] [--ops 8000] [--skip 6] [--port 0] [--inspect] [--serve-args="ARGS"] [-- NODE_FLAGS...]
 *
 * Starts `node --trace-gc-nvp src/cli/main.ts serve --http` from `--root` (default: this checkout;
 * give another checkout to compare), pinned to CPU 1, drives it with the neutral driver
 * (`bench/peers/mcp-bench.mjs http-churn`, initialize → initialized → DELETE) pinned to CPU 0, and
 * prints one JSON line: the medians over the scavenges after the first `--skip` (start-up) of
 * `new_space_survived` and `promoted` (KB), the scavenge pause (ms), sessions per scavenge, scavenge
 * pause per session (µs, steady state), full GCs, and the driver's server CPU µs per session.
 * `--inspect` serves the live inspector with nobody watching (`serve … --inspect 0`); `--serve-args=ARGS`
 * appends other arguments to `serve` (split at spaces; give it with `=`, as its value starts with a dash).
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
    "serve-args": { type: "string", default: "" }
  },
  allowPositionals: true
})
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
const [dcmd, dargs] = pinned(0, [process.execPath, join(root, "bench/peers/mcp-bench.mjs"), "http-churn", "--url", `http://127.0.0.1:${port}/mcp`,
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
