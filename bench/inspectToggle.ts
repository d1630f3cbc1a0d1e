/**
 * bench/inspectToggle.ts — the unwatched inspector's cost under session churn, read inside ONE server process:
 * the inspector is started and closed between slices (`inspectToggleServer.ts`), and each "on" slice is paired
 * with the "off" slice next to it in the same process.
 *
 * Why: `inspectPaired.ts` compares an `off` and an `idle` server, two processes, and a process's own luck (where
 * its heap and code land) moves a churned session's CPU by several µs from one process to the next (identical
 * code read 0–16 % single runs, docs/performance.md, s27). Here both modes share the process, its heap and its JIT,
 * so what differs between two neighbouring slices is the inspector. What it does not see: the JIT state of a
 * process that never inspected (one that toggles has compiled both paths), and the inspector's start-up.
 *
 *   node bench/inspectToggle.ts [--slices 60] [--churn-ops 1500] [--concurrency 32] [--processes 2] [--checkout DIR] [--base DIR] [--no-pin]
 *
 * `--base DIR`: every other process runs that checkout instead (process 1 this one, process 2 the base, …), in the
 * same turns: two checkouts under the same load, each read against itself.
 *
 * Per slice: the server's CPU per churned session (all threads, `/proc/PID/task/*\/schedstat`). Printed per process
 * and over all: the median of each pair's overhead (on ÷ off − 1) and of its added µs per session, with quartiles.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"
import { ChurnClient, parallel } from "./churnClient.ts"
import { processCpuNs } from "./inspectServers.ts"
import { log, median, pinning, pinSelf, quantile, signedPct } from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { values, nonNegative } = scriptArgs("Usage: node bench/inspectToggle.ts [--slices N] [--churn-ops N] [--concurrency N] [--processes N] [--checkout DIR] [--base DIR] [--record always|watched] [--no-pin]", {
  slices: { type: "string" },
  "churn-ops": { type: "string" },
  concurrency: { type: "string" },
  processes: { type: "string" },
  checkout: { type: "string" },
  base: { type: "string" },
  record: { type: "string" },
  "no-pin": { type: "boolean" }
})
const SLICES = nonNegative("slices") ?? 60
const OPS = nonNegative("churn-ops") ?? 1500
const C = nonNegative("concurrency") ?? 32
const PROCESSES = nonNegative("processes") ?? 2
const CHECKOUT = (values as { readonly checkout?: string }).checkout
const BASE = (values as { readonly base?: string }).base
/**
 * The inspector's `record` while "on" (default `always`: every session followed with nobody watching, the model's
 * cost; `watched`, the inspector server's default, follows nothing while nobody watches: its model holds no step).
 */
const RECORD = (values as { readonly record?: string }).record ?? "always"
if (RECORD !== "always" && RECORD !== "watched") throw new Error(`--record takes always or watched, got ${RECORD}`)
/** Process `i`'s checkout (undefined: this one). */
const checkoutOf = (i: number): string | undefined => (BASE !== undefined && i % 2 === 1 ? BASE : CHECKOUT)
const pin = pinning((values as { readonly "no-pin"?: boolean })["no-pin"] === true)
pinSelf(pin)

/** What the server tells after each command: its registry changes seen while on, its collector's ms so far, the actors its inspector's model holds. */
interface Status { readonly changes: number; readonly gcMs: number; readonly views: number }
interface Server { readonly pid: number; readonly url: string; readonly set: (mode: "on" | "off") => Promise<Status>; readonly stat: () => Promise<Status>; readonly stop: () => Promise<void> }

const startServer = async (checkout: string | undefined): Promise<Server> => {
  const script = fileURLToPath(new URL("./inspectToggleServer.ts", import.meta.url))
  const argv = [...pin.server, process.execPath, script, ...(checkout === undefined ? [] : [checkout])]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, INSPECT_RECORD: RECORD } })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async (): Promise<string> => {
    const r = await lines.next()
    if (r.done === true) throw new Error("the toggle server exited")
    return r.value
  }
  const url = await next()
  const command = async (line: string): Promise<Status & { readonly mode: string | undefined }> => {
    child.stdin!.write(`${line}\n`)
    const [ok, mode, changes, gcMs, views] = (await next()).split(" ")
    if (ok !== "ok") throw new Error(`the toggle server did not take "${line}"`)
    return { mode, changes: Number(changes), gcMs: Number(gcMs), views: Number(views ?? 0) }
  }
  return {
    pid: child.pid!,
    url,
    set: async (mode) => {
      const status = await command(mode)
      if (status.mode !== mode) throw new Error(`the toggle server did not turn ${mode}`)
      return status
    },
    stat: () => command("stat"),
    stop: () => new Promise<void>((done) => {
      child.once("close", () => done())
      child.stdin!.end()
    })
  }
}

/** One slice in `mode`: the server's CPU µs per churned session, and its collector's µs per session. */
const slice = async (server: Server, client: ChurnClient, mode: "on" | "off"): Promise<{ cpu: number; gc: number; changes: number; views: number }> => {
  const before = await server.set(mode)
  const cpu0 = processCpuNs(server.pid)
  await parallel(OPS, C, () => client.churn())
  const cpu = (processCpuNs(server.pid) - cpu0) / 1000 / OPS
  const after = await server.stat()
  return { cpu, gc: ((after.gcMs - before.gcMs) * 1000) / OPS, changes: after.changes - before.changes, views: after.views }
}

log(`bench/inspectToggle: ${PROCESSES} server process(es), ${SLICES} slice pairs of ${OPS} churned sessions each, ${C} at a time; ${pin.note}${CHECKOUT === undefined ? "" : `; server from ${CHECKOUT}`}${BASE === undefined ? "" : `; every other process from ${BASE}`}`)
const load0 = (await import("node:os")).loadavg()[0]!
const servers = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => startServer(checkoutOf(i))))
const clients = servers.map((s) => new ChurnClient(s.url, C))
/** Per process: each pair's [off, on] µs per session, and the same for the collector alone. */
const pairs: Array<Array<readonly [number, number]>> = servers.map(() => [])
const gcPairs: Array<Array<readonly [number, number]>> = servers.map(() => [])
let registered = 0
/** Per process: "on" slices after which the inspector's model held no actor (it did not follow the sessions). */
const blind = servers.map(() => 0)
// Warm-up: both modes twice in each process, not counted.
for (let i = 0; i < servers.length; i++) {
  for (let w = 0; w < 2; w++) {
    await slice(servers[i]!, clients[i]!, "off")
    await slice(servers[i]!, clients[i]!, "on")
  }
}
for (let s = 0; s < SLICES; s++) {
  // The processes take turns slice by slice; within a pair, which mode goes first alternates.
  for (let i = 0; i < servers.length; i++) {
    const order: ReadonlyArray<"off" | "on"> = s % 2 === 0 ? ["off", "on"] : ["on", "off"]
    const cpu = { off: 0, on: 0 }
    const gc = { off: 0, on: 0 }
    for (const mode of order) {
      const r = await slice(servers[i]!, clients[i]!, mode)
      cpu[mode] = r.cpu
      gc[mode] = r.gc
      if (mode === "on") {
        registered += r.changes
        if (r.views === 0) blind[i]!++
      }
    }
    pairs[i]!.push([cpu.off, cpu.on])
    gcPairs[i]!.push([gc.off, gc.on])
  }
  if ((s + 1) % 10 === 0) log(`  ${s + 1}/${SLICES} slice pairs`)
}
const load1 = (await import("node:os")).loadavg()[0]!
for (const c of clients) await c.pool.close()
for (const s of servers) await s.stop()
// Each churned session is registered and removed while its slice is on: the registry (hence the model) saw them.
if (registered < SLICES * PROCESSES * OPS * 2) throw new Error(`the inspector saw ${registered} registry changes, expected ${SLICES * PROCESSES * OPS * 2}: the toggle did not take`)
// A checkout before s30 (a `--base`) has an inspector that follows no session started after its endpoint: say so.
for (let i = 0; i < servers.length; i++) {
  if (blind[i]! > 0) log(`  process ${i + 1} (${checkoutOf(i) ?? "this checkout"}): its inspector's model held no actor after ${blind[i]} of ${SLICES} "on" slices: "on" ran no model there`)
}
// Only a `--base` process may be blind (an older checkout): one of this checkout's fails the bench, with a base or without.
if (RECORD === "always" && blind.some((n, i) => n > 0 && !(BASE !== undefined && i % 2 === 1))) throw new Error("the inspector followed no session while on: the bench would read the plumbing, not the model")
// Watched, nobody watching: the inspector must follow nothing (a read lists the live sessions, with no step).
if (RECORD === "watched" && blind.some((n, i) => n < SLICES && !(BASE !== undefined && i % 2 === 1))) throw new Error("--record watched: the inspector followed sessions nobody watched")

const us = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(2)}`
const row = (name: string, ps: ReadonlyArray<readonly [number, number]>) => {
  const over = ps.map(([off, on]) => on / off - 1)
  const added = ps.map(([off, on]) => on - off)
  const within = over.filter((x) => x <= 0.03).length
  console.log(`| ${name} | ${median(ps.map(([off]) => off))!.toFixed(1)} | ${median(ps.map(([, on]) => on))!.toFixed(1)} | **${signedPct(median(over)!)}** [${signedPct(quantile(over, 0.25))} – ${signedPct(quantile(over, 0.75))}] | ${us(median(added)!)} [${us(quantile(added, 0.25))} – ${us(quantile(added, 0.75))}] | ${within} of ${ps.length} |`)
}
console.log(`\nload average ${load0.toFixed(1)} → ${load1.toFixed(1)}; server CPU µs per churned session (all threads), median; per pair of neighbouring slices: overhead (on ÷ off − 1) and added µs, median [p25 – p75]; pairs ≤ 3 %.\n`)
console.log("| process | off µs | unwatched µs | overhead | added µs | pairs ≤ 3 % |")
console.log("|---|---|---|---|---|---|")
const label = (i: number) => `${i + 1}${BASE === undefined ? "" : i % 2 === 1 ? " (base)" : " (this)"}`
pairs.forEach((ps, i) => row(`${label(i)}, pid ${servers[i]!.pid}`, ps))
if (BASE !== undefined) {
  row("all this", pairs.filter((_, i) => i % 2 === 0).flat())
  row("all base", pairs.filter((_, i) => i % 2 === 1).flat())
} else if (pairs.length > 1) row("all", pairs.flat())
console.log(`\nOf which the collector (V8's \`gc\` performance entries, main thread pauses), µs per churned session:\n`)
console.log("| process | off µs | unwatched µs | overhead | added µs | pairs ≤ 3 % |")
console.log("|---|---|---|---|---|---|")
gcPairs.forEach((ps, i) => row(label(i), ps))
if (BASE !== undefined) {
  row("all this", gcPairs.filter((_, i) => i % 2 === 0).flat())
  row("all base", gcPairs.filter((_, i) => i % 2 === 1).flat())
} else if (gcPairs.length > 1) row("all", gcPairs.flat())
