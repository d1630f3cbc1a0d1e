/**
 * Gateways side by side in strict alternation, SDK client: one call to each in turn, so every call
 * finds its gateway as cold as the others' (they slept while the rest were called). Per call: its
 * latency and the gateway process's main-thread CPU (`/proc/<pid>/schedstat`). Rows: ours (this
 * checkout), `--base CHECKOUT` (e.g. a worktree of main: before/after in one run), the SDK-built
 * gateway and the raw byte relay (`bench/peers/`), each its own process with its own demo child.
 *
 *   node bench/gatewayPaired.ts [--base CHECKOUT] [--tool slow1|echo] [--warmup N] [--rounds N] [--calls N] [--block N] [--cpu-prof DIR]
 *
 * `--perf-trace SECONDS`: `perf trace` (root) on every gateway process and its upstream child for the first
 * SECONDS of the rounds, printed as the critical path's two gaps per gateway (`bench/perfTraceGaps.ts`).
 *
 * `--legacy-upstream`: one more row, our gateway with its upstream pinned to the legacy era (`protocol: "legacy"`
 * in its config: an `initialize` session, 2025-11-25 requests), as the SDK-built gateway and the relay talk to it
 * (with `--base`, the base checkout's too).
 *
 * `--pinned-modern-upstream`: one more row, our gateway with its upstream pinned to 2026-07-28 (`protocol:
 * "2026-07-28"`: a `ModernClient` straight on the transport, no era probe, no shared-transport hub, no `Client`).
 *
 * `--cpu-prof DIR`: every gateway process (ours, base, SDK-built, relay) writes a V8 CPU profile there
 * as it exits (`<row>.cpuprofile`; summarize with `bench/cpuprof.ts`), profiled under the same alternation;
 * `--cpu-prof-interval US` samples every US µs (V8's default: 1000).
 *
 * Prints, per row, the median over rounds of each round's p50 latency and CPU µs per call (min..max),
 * and the p50 over *SDK direct* (the same SDK client on the demo's stdio, in the same rotation).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { median as medianOf, threadCpuNs } from "./lib.ts"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { descendantWith, gapsTable, startPerfTrace } from "./perfTraceGaps.ts"

const { nonNegative, values } = scriptArgs("Usage: node bench/gatewayPaired.ts [--base CHECKOUT] [--tool slow1|echo] [--warmup N] [--rounds N] [--calls N] [--block N] [--cpu-prof DIR [--cpu-prof-interval US]] [--perf-trace SECONDS] [--legacy-upstream] [--pinned-modern-upstream]", {
  base: { type: "string" },
  tool: { type: "string" },
  warmup: { type: "string" },
  rounds: { type: "string" },
  calls: { type: "string" },
  block: { type: "string" },
  "cpu-prof": { type: "string" },
  "cpu-prof-interval": { type: "string" },
  "perf-trace": { type: "string" },
  "legacy-upstream": { type: "boolean" },
  "pinned-modern-upstream": { type: "boolean" }
})
const LEGACY_UPSTREAM = (values as { readonly "legacy-upstream"?: boolean })["legacy-upstream"] === true
const PINNED_MODERN = (values as { readonly "pinned-modern-upstream"?: boolean })["pinned-modern-upstream"] === true
const PROF = (values as { readonly "cpu-prof"?: string })["cpu-prof"]
/** `--cpu-prof-interval US`: the profiles' sampling interval (V8's default 1000 µs resolves little of a call). */
const PROF_INTERVAL = nonNegative("cpu-prof-interval")
const profArgs = (name: string): Array<string> => PROF === undefined ? [] : ["--cpu-prof", ...(PROF_INTERVAL === undefined ? [] : ["--cpu-prof-interval", String(PROF_INTERVAL)]), "--cpu-prof-dir", PROF, "--cpu-prof-name", `${name}.cpuprofile`]
const BASE = (values as { readonly base?: string }).base
const TOOL = (values as { readonly tool?: string }).tool ?? "slow1"
const WARMUP = nonNegative("warmup") ?? 500
const ROUNDS = Math.max(1, nonNegative("rounds") ?? 6)
const CALLS = Math.max(1, nonNegative("calls") ?? 300)
/** `--block N`: N calls to a row back to back before the next row's (default 1: strict alternation, every call cold; larger: warm). */
const BLOCK = Math.max(1, nonNegative("block") ?? 1)
const PERF_TRACE_S = nonNegative("perf-trace")
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("..", import.meta.url))
const DEMO = { command: process.execPath, args: [MAIN, "serve", "--stdio", "--example", "demo"] }
const [toolName, args] = TOOL === "echo" ? ["echo", { text: "hi" }] : TOOL === "slow10" ? ["slow", { ms: 10 }] : ["slow", { ms: 1 }]

const children = new Set<ChildProcess>()
const own = (c: ChildProcess): ChildProcess => {
  children.add(c)
  c.once("exit", () => children.delete(c))
  return c
}
process.once("SIGINT", () => {
  for (const c of children) c.kill("SIGTERM")
  process.exit(130)
})

const runNs = (pid: number | undefined): number => (pid === undefined ? undefined : threadCpuNs(pid)) ?? 0
const median = (xs: ReadonlyArray<number>): number => medianOf(xs) ?? Number.NaN

const dir = mkdtempSync(join(tmpdir(), "bench-gwpaired-"))
writeFileSync(join(dir, "mcp.json"), JSON.stringify({ mcpServers: { demo: { ...DEMO, keepalive: false } } }))
writeFileSync(join(dir, "mcp-legacy.json"), JSON.stringify({ mcpServers: { demo: { ...DEMO, keepalive: false, protocol: "legacy" } } }))
writeFileSync(join(dir, "mcp-modern.json"), JSON.stringify({ mcpServers: { demo: { ...DEMO, keepalive: false, protocol: "2026-07-28" } } }))
const startOurs = async (name: string, main: string, config = "mcp.json"): Promise<{ readonly pid: number; readonly url: string }> => {
  const child = own(spawn(process.execPath, [...profArgs(name), main, "host", join(dir, config), "--json", "--serve-ws", "0", "--state-file", join(dir, `state-${name}.json`)], { stdio: ["ignore", "ignore", "pipe"] }))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (l) => {
      const m = /gateway on (\S+)/.exec(l)
      if (m !== null) resolve(m[1]!)
    })
    child.once("exit", (code) => reject(new Error(`host exited with ${code}`)))
  })
  return { pid: child.pid!, url }
}
const startPeer = async (file: string): Promise<{ readonly pid: number; readonly url: string }> => {
  const child = own(spawn(process.execPath, [...profArgs(file.replace(/\.mjs$/, "")), fileURLToPath(new URL(`./peers/${file}`, import.meta.url)), JSON.stringify(DEMO)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] }))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve)
    child.once("exit", (code) => reject(new Error(`${file} exited with ${code}`)))
  })
  return { pid: child.pid!, url }
}
const wsClient = async (url: string): Promise<Client> => {
  const c = new Client({ name: "bench-paired", version: "1.0.0" })
  await c.connect(new WebSocketClientTransport(new URL(url)))
  return c
}

interface Row {
  readonly name: string
  readonly pid: number | undefined
  readonly call: () => Promise<unknown>
  readonly p50: Array<number>
  readonly cpu: Array<number>
}
const main = async () => {
  const rows: Array<Row> = []
  const add = (name: string, pid: number | undefined, call: () => Promise<unknown>) => rows.push({ name, pid, call, p50: [], cpu: [] })
  const direct = new Client({ name: "bench-paired-direct", version: "1.0.0" })
  await direct.connect(new StdioClientTransport({ ...DEMO, stderr: "ignore" }))
  add("SDK direct", undefined, () => direct.callTool({ name: toolName, arguments: args }))
  const oursGw = await startOurs("ours", MAIN)
  const oursC = await wsClient(oursGw.url)
  add("ours", oursGw.pid, () => oursC.callTool({ name: `demo__${toolName}`, arguments: args }))
  if (LEGACY_UPSTREAM) {
    const legacyGw = await startOurs("ours-legacy-upstream", MAIN, "mcp-legacy.json")
    const legacyC = await wsClient(legacyGw.url)
    add("ours, legacy upstream", legacyGw.pid, () => legacyC.callTool({ name: `demo__${toolName}`, arguments: args }))
  }
  if (PINNED_MODERN) {
    const pinned = await startOurs("ours-pinned-modern-upstream", MAIN, "mcp-modern.json")
    const pinnedC = await wsClient(pinned.url)
    add("ours, pinned modern upstream", pinned.pid, () => pinnedC.callTool({ name: `demo__${toolName}`, arguments: args }))
  }
  if (BASE !== undefined) {
    const base = await startOurs("base", join(BASE, "src/cli/main.ts"))
    const baseC = await wsClient(base.url)
    add("base", base.pid, () => baseC.callTool({ name: `demo__${toolName}`, arguments: args }))
    if (LEGACY_UPSTREAM) {
      const baseLegacy = await startOurs("base-legacy-upstream", join(BASE, "src/cli/main.ts"), "mcp-legacy.json")
      const baseLegacyC = await wsClient(baseLegacy.url)
      add("base, legacy upstream", baseLegacy.pid, () => baseLegacyC.callTool({ name: `demo__${toolName}`, arguments: args }))
    }
  }
  const sdkGw = await startPeer("sdk-gateway.mjs")
  const sdkGwC = await wsClient(sdkGw.url)
  add("SDK-built", sdkGw.pid, () => sdkGwC.callTool({ name: `demo__${toolName}`, arguments: args }))
  const relay = await startPeer("raw-relay.mjs")
  const relayC = await wsClient(relay.url)
  add("raw relay", relay.pid, () => relayC.callTool({ name: toolName, arguments: args }))

  for (let i = 0; i < WARMUP; i++) for (const r of rows) await r.call()
  const load0 = loadavg()[0]!
  // perf trace on each gateway and its upstream child, for the rounds' first PERF_TRACE_S seconds.
  const traces: Array<{ readonly name: string; readonly gateway: string; readonly upstream: string | undefined; readonly procs: Array<ChildProcess> }> = []
  if (PERF_TRACE_S !== undefined) {
    for (const r of rows) {
      if (r.pid === undefined) continue
      const up = descendantWith(r.pid, ["serve", "--stdio"])
      const file = (what: string) => join(dir, `perf-${r.name.replace(/\W+/g, "-")}-${what}.txt`)
      const procs = [startPerfTrace(r.pid, file("gateway"))]
      if (up !== undefined) procs.push(startPerfTrace(up, file("upstream")))
      traces.push({ name: r.name, gateway: file("gateway"), upstream: up === undefined ? undefined : file("upstream"), procs })
    }
    setTimeout(() => {
      for (const t of traces) for (const p of t.procs) p.kill("SIGINT")
    }, PERF_TRACE_S * 1000).unref()
  }
  for (let round = 0; round < ROUNDS; round++) {
    const lat = rows.map(() => [] as Array<number>)
    const cpu = rows.map(() => 0)
    for (let i = 0; i < CALLS; i += BLOCK) {
      for (const [k, r] of rows.entries()) {
        for (let j = 0; j < BLOCK; j++) {
          const c0 = runNs(r.pid)
          const t0 = process.hrtime.bigint()
          await r.call()
          const t1 = process.hrtime.bigint()
          cpu[k]! += runNs(r.pid) - c0
          lat[k]!.push(Number(t1 - t0) / 1000)
        }
      }
    }
    for (const [k, r] of rows.entries()) {
      r.p50.push(median(lat[k]!))
      r.cpu.push(cpu[k]! / lat[k]!.length / 1000)
    }
  }
  const load1 = loadavg()[0]!
  const fmt = (xs: ReadonlyArray<number>) => `${Math.round(median(xs))} (${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))})`
  const directP50 = rows[0]!.p50
  console.log(`gateway pairs, ${TOOL}: ${WARMUP} warm-up calls per row, ${ROUNDS} rounds × ${CALLS} calls in ${BLOCK === 1 ? "strict alternation" : `blocks of ${BLOCK}`}; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`)
  console.log("| row | p50 µs | added p50 over SDK direct, µs | added % | gateway CPU µs/call |")
  console.log("|---|---:|---:|---:|---:|")
  for (const r of rows) {
    const added = r.p50.map((p, i) => p - directP50[i]!)
    const pct = r.p50.map((p, i) => (100 * (p - directP50[i]!)) / directP50[i]!)
    console.log(`| ${r.name} | ${fmt(r.p50)} | ${r === rows[0] ? "—" : fmt(added)} | ${r === rows[0] ? "—" : `+${fmt(pct)} %`} | ${r.pid === undefined ? "—" : fmt(r.cpu)} |`)
  }
  // Paired: each round's difference to *ours* (same round, same load), median over rounds (min..max).
  const ours = rows[1]!
  for (const r of rows.slice(2)) {
    const dp = r.p50.map((p, i) => p - ours.p50[i]!)
    const dc = r.cpu.map((c, i) => c - ours.cpu[i]!)
    console.log(`${r.name} − ours, paired by round: p50 ${fmt(dp)} µs, gateway CPU ${fmt(dc)} µs/call`)
  }
  if (traces.length > 0) {
    for (const t of traces) for (const p of t.procs) p.kill("SIGINT")
    await Promise.all(traces.flatMap((t) => t.procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once("exit", r))))))
    const read = (f: string) => {
      try {
        return readFileSync(f, "utf8")
      } catch {
        return ""
      }
    }
    console.log(`\nperf trace, the rounds' first ${PERF_TRACE_S} s: µs per call, median (quartiles)`)
    console.log(gapsTable(traces.map((t) => ({ name: t.name, gateway: read(t.gateway), upstream: t.upstream === undefined ? undefined : read(t.upstream) }))))
  }
  for (const c of [direct, oursC]) await c.close()
  for (const c of children) c.kill("SIGTERM")
  rmSync(dir, { recursive: true, force: true })
}
await main()
process.exit(0)
