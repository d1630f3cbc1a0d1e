/**
 * The gateway's upstream hop on its own, per era: our client (in this process) calls the demo
 * server (`serve --stdio --example demo`, a child) over stdio, once in the 2026-07-28 era (a
 * `ModernClient`: per-request `_meta`) and once in the legacy era (an `initialize` session),
 * alternating call by call, with the call options the host passes upstream (a progress callback,
 * `resetTimeoutOnProgress`, an abort signal, log level `debug`, the answerable input capabilities)
 * and a client declaring what the host's does (roots, sampling, elicitation handlers). Per row
 * and round: the p50 latency, this process's main-thread CPU per call around the call (client side)
 * and the child's CPU per call over the round (server side), both from `/proc/<pid>/schedstat`.
 *
 *   node bench/modernUpstream.ts [--base CHECKOUT] [--tool slow1|echo] [--warmup N] [--rounds N] [--calls N] [--cpu-prof DIR]
 *
 * `--base CHECKOUT`: two more rows, that checkout's client (imported into this process: its own
 * module instances) against that checkout's demo server: before/after in one run.
 * `--cpu-prof DIR`: every demo child writes a V8 CPU profile there as it exits
 * (`<row>-server.cpuprofile`), and this process too (`node --cpu-prof` on the command line).
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs"
import { HOST_CLIENT_OPTIONS, hostCallOptions } from "./hostCallOptions.ts"
import { median as medianOf, threadCpuNs } from "./lib.ts"
import { loadavg } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { nonNegative, values } = scriptArgs("Usage: node bench/modernUpstream.ts [--base CHECKOUT] [--tool slow1|echo] [--warmup N] [--rounds N] [--calls N] [--cpu-prof DIR]", {
  base: { type: "string" },
  tool: { type: "string" },
  warmup: { type: "string" },
  rounds: { type: "string" },
  calls: { type: "string" },
  "cpu-prof": { type: "string" }
})
const BASE = (values as { readonly base?: string }).base
const PROF = (values as { readonly "cpu-prof"?: string })["cpu-prof"]
const TOOL = (values as { readonly tool?: string }).tool ?? "slow1"
const WARMUP = nonNegative("warmup") ?? 500
const ROUNDS = Math.max(1, nonNegative("rounds") ?? 8)
const CALLS = Math.max(1, nonNegative("calls") ?? 300)
const ROOT = fileURLToPath(new URL("..", import.meta.url))
const [toolName, args] = TOOL === "echo" ? ["echo", { text: "hi" }] : ["slow", { ms: 1 }]
if (PROF !== undefined) mkdirSync(PROF, { recursive: true })

interface CallClient {
  request(method: string, params?: Record<string, unknown>, options?: object): Promise<unknown>
  close(): Promise<void>
}
type Connect = (options: object) => Promise<CallClient>

const threadNs = (pid: number | "self"): number => threadCpuNs(pid) ?? 0
const median = (xs: ReadonlyArray<number>): number => medianOf(xs) ?? Number.NaN

/** This process's children (pids): the demo child a connect spawned is the one not there before. */
const childPids = (): Set<number> => {
  const out = new Set<number>()
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "latin1")
      // "pid (comm) state ppid …": comm may hold spaces and parentheses.
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid) out.add(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

interface Row {
  readonly name: string
  readonly client: CallClient
  readonly pid: number
  readonly p50: Array<number>
  readonly clientUs: Array<number>
  readonly serverUs: Array<number>
}

/** What the host's upstream client is given (src/host/ServerConnection.ts `clientOptions`): its input handlers make it declare roots, sampling and elicitation. */
const clientOptions = (root: string, era: "modern" | "legacy", name: string) => ({
  command: process.execPath,
  args: [...(PROF === undefined ? [] : ["--cpu-prof", "--cpu-prof-interval", "50", "--cpu-prof-dir", PROF, "--cpu-prof-name", `${name}-server.cpuprofile`]), join(root, "src/cli/main.ts"), "serve", "--stdio", "--example", "demo"],
  stderr: "ignore",
  era,
  ...HOST_CLIENT_OPTIONS
})

/** The host's per-call options. */
const callOptions = hostCallOptions

const main = async () => {
  const rows: Array<Row> = []
  const add = async (name: string, root: string, era: "modern" | "legacy") => {
    const mod = await import(pathToFileURL(join(root, "src/index.ts")).href) as { readonly connectStdio: Connect }
    const before = childPids()
    const client = await mod.connectStdio(clientOptions(root, era, name))
    const pid = [...childPids()].find((p) => !before.has(p))
    if (pid === undefined) throw new Error(`${name}: no child pid`)
    rows.push({ name, client, pid, p50: [], clientUs: [], serverUs: [] })
  }
  await add("modern", ROOT, "modern")
  await add("legacy", ROOT, "legacy")
  if (BASE !== undefined) {
    await add("base modern", BASE, "modern")
    await add("base legacy", BASE, "legacy")
  }
  const params = { name: toolName, arguments: args }
  for (let i = 0; i < WARMUP; i++) for (const r of rows) await r.client.request("tools/call", params, callOptions())
  const load: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    // The order within a rotation changes every round (nobody always follows the same row).
    const order = rows.map((_, i) => rows[(i + round) % rows.length]!)
    const lat = order.map(() => new Array<number>())
    const cpu = order.map(() => 0)
    const server0 = order.map((r) => threadNs(r.pid))
    for (let c = 0; c < CALLS; c++) {
      for (let i = 0; i < order.length; i++) {
        const r = order[i]!
        const options = callOptions()
        const c0 = threadNs("self")
        const t0 = process.hrtime.bigint()
        await r.client.request("tools/call", params, options)
        const t1 = process.hrtime.bigint()
        cpu[i]! += threadNs("self") - c0
        lat[i]!.push(Number(t1 - t0) / 1000)
      }
    }
    order.forEach((r, i) => {
      r.p50.push(median(lat[i]!))
      r.clientUs.push(cpu[i]! / CALLS / 1000)
      r.serverUs.push((threadNs(r.pid) - server0[i]!) / CALLS / 1000)
    })
    load.push(loadavg()[0]!)
  }
  const q = (xs: ReadonlyArray<number>) => {
    const s = [...xs].sort((a, b) => a - b)
    return `${median(s).toFixed(0)} (${s[0]!.toFixed(0)}..${s[s.length - 1]!.toFixed(0)})`
  }
  console.log(`tool ${toolName} ${JSON.stringify(args)}, ${ROUNDS} rounds × ${CALLS} calls per row (strict alternation), warmup ${WARMUP}; load ${Math.min(...load).toFixed(1)}..${Math.max(...load).toFixed(1)}`)
  console.log("| row | p50 µs | client CPU µs/call | server CPU µs/call |")
  console.log("|---|---:|---:|---:|")
  for (const r of rows) console.log(`| ${r.name} | ${q(r.p50)} | ${q(r.clientUs)} | ${q(r.serverUs)} |`)
  // Paired by round: modern − legacy of the same checkout.
  const pairs = (a: Row, b: Row) => {
    const d = (xa: ReadonlyArray<number>, xb: ReadonlyArray<number>) => q(xa.map((x, i) => x - xb[i]!))
    return `| ${a.name} − ${b.name} | ${d(a.p50, b.p50)} | ${d(a.clientUs, b.clientUs)} | ${d(a.serverUs, b.serverUs)} |`
  }
  console.log("| **paired by round** | | | |")
  console.log(pairs(rows[0]!, rows[1]!))
  if (rows.length === 4) {
    console.log(pairs(rows[2]!, rows[3]!))
    console.log(pairs(rows[0]!, rows[2]!))
    console.log(pairs(rows[1]!, rows[3]!))
  }
  await Promise.all(rows.map((r) => r.client.close()))
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
