/**
 * bench/inspectPaired.ts — the inspector's cost measured in paired slices, so
 * that the machine's own noise (other processes, CPU frequency, a neighbour's
 * build) falls on every mode alike.
 *
 * Why another bench besides `inspectServe.ts`: there, each mode is a fresh
 * server loaded for seconds in turn, and on a shared 2-core machine the "off"
 * server alone ranges ±40 % from run to run: a 3 % target cannot be seen
 * through that. Here one server per mode (`inspectServers.ts`: the real
 * `serve --http 0` process, each with its watcher) runs side by side for the
 * whole bench; the load goes to one at a time in short slices (a few hundred
 * ms), the modes rotated slice by slice, and each slice reads the loaded
 * server's CPU (every thread's `schedstat`, ns) before and after. A mode's
 * overhead is the median over slices of (its CPU per op / "off"'s in the same
 * rotation), reported with its quartiles and extremes.
 *
 * Load (this process, pinned to the driver's CPU; servers to the other):
 *   echo   `sessions` open sessions (legacy, initialized), `ops` `tools/call echo` per slice,
 *          `concurrency` in flight
 *   churn  per op: initialize → notifications/initialized → one echo call → DELETE
 *
 *   node bench/inspectPaired.ts [--suites echo,churn] [--modes off,idle,page,watched] [--slices 30]
 *     [--ops 2000] [--churn-ops 250] [--sessions 64] [--concurrency 32] [--otel] [--checkout DIR] [--no-pin]
 *     [--base DIR [--base-first]] [--reverse-start]
 *   (`--modes off,aa,idle`: `aa` is a second "off" process, the A/A control: what the instrument reads with no difference;
 *   `--checkout DIR`: run the servers from another checkout, e.g. a worktree at an older commit;
 *   `--base DIR`: every mode twice, also as `MODE@base` from that checkout, in the same rotation: before and after in one run;
 *   `--cpu-prof DIR`: each server writes a V8 CPU profile there (sampled every 100 µs), named after its pid: see the table's pids.)
 */
import { ChurnClient, parallel } from "./churnClient.ts"
import { type InspectServer, otlpReceiver, processCpuNs, startInspectServer } from "./inspectServers.ts"
import { log, median, pinning, pinSelf, quantile, rotate, signedPct } from "./lib.ts"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const SUITES = opt("suites", "echo,churn").split(",")
const OTEL = args.includes("--otel")
const BASE = args.includes("--base") ? opt("base", "") : undefined
const MODES = opt("modes", "off,idle,page,watched").split(",")
  .flatMap((m) => (OTEL ? [m, `${m}+otel`] : [m]))
  .flatMap((m) => (BASE === undefined ? [m] : [m, `${m}@base`]))
const SLICES = Number(opt("slices", "30"))
const OPS = Number(opt("ops", "2000"))
const CHURN_OPS = Number(opt("churn-ops", "250"))
const SESSIONS = Number(opt("sessions", "64"))
const C = Number(opt("concurrency", "32"))
const CHECKOUT = args.includes("--checkout") ? opt("checkout", "") : undefined
const PROF = args.includes("--cpu-prof") ? opt("cpu-prof", "") : undefined
/**
 * Start the `@base` servers first (default: this checkout's first). Why: two A/A batches (base = this code) put the
 * side started first ahead in 15 of 20 runs (a median 0.4–1.8 µs per churned session); a third, with the order
 * alternated, did not (+1.4 µs, 4 of 10). Whether or not start order matters, `inspectRepeat.ts` alternates it from
 * run to run, so that it would fall on both sides alike.
 */
const BASE_FIRST = args.includes("--base-first")
/**
 * Start the modes in reverse order (`idle` before `off`). Why: the same start-order effect falls on `off` against
 * `idle` within one checkout, where `off` always started first; `inspectRepeat.ts` alternates this from run to run.
 */
const REVERSE_START = args.includes("--reverse-start")
if (!MODES.includes("off")) throw new Error("--modes needs off (the baseline)")

const pin = pinning(args.includes("--no-pin"))
pinSelf(pin)

interface Target { readonly server: InspectServer; readonly client: ChurnClient; readonly sids: Array<string> }

const slice = async (suite: string, t: Target): Promise<{ cpuUs: number; rate: number }> => {
  const n = suite === "echo" ? OPS : CHURN_OPS
  const cpu0 = processCpuNs(t.server.pid)
  const w0 = performance.now()
  if (suite === "echo") await parallel(n, C, (i) => t.client.echo(t.sids[i % t.sids.length]!))
  else {
    await parallel(n, C, () => t.client.churn())
  }
  const wall = performance.now() - w0
  return { cpuUs: (processCpuNs(t.server.pid) - cpu0) / 1000 / n, rate: (n * 1000) / wall }
}

// ------------------------------------------------------------------ the run
const receiver = await otlpReceiver()
log(`bench/inspectPaired: ${SUITES.join(",")} × ${MODES.join(", ")}; ${SLICES} slices (echo ${OPS} calls, churn ${CHURN_OPS} sessions each); ${pin.note}${CHECKOUT === undefined ? "" : `; servers from ${CHECKOUT}`}`)
const targets = new Map<string, Target>()
const ordered = REVERSE_START ? [...MODES].reverse() : MODES
const startOrder = BASE_FIRST ? [...ordered.filter((m) => m.endsWith("@base")), ...ordered.filter((m) => !m.endsWith("@base"))] : ordered
for (const mode of startOrder) {
  const checkout = mode.endsWith("@base") ? BASE : CHECKOUT
  const server = await startInspectServer(mode.replace("@base", ""), { prefix: pin.server, otlpUrl: receiver.url, ...(checkout === undefined ? {} : { checkout }),
    ...(PROF === undefined ? {} : { env: { ...process.env, NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --cpu-prof --cpu-prof-interval=100 --cpu-prof-dir=${PROF}` } }) })
  log(`  ${mode}: pid ${server.pid}`)
  const client = new ChurnClient(server.url, C)
  const sids: Array<string> = []
  await parallel(SESSIONS, C, async () => void sids.push(await client.open()))
  targets.set(mode, { server, client, sids })
}

interface Row { readonly suite: string; readonly mode: string; readonly slice: number; readonly cpuUs: number; readonly rate: number }
const rows: Array<Row> = []
const load0 = (await import("node:os")).loadavg()[0]!
for (const suite of SUITES) {
  // warm-up: two slices per mode, not counted (JIT, pools, the first sessions' allocations)
  for (let w = 0; w < 2; w++) for (const mode of MODES) await slice(suite, targets.get(mode)!)
  for (let s = 0; s < SLICES; s++) {
    for (const mode of rotate(MODES, s)) {
      const r = await slice(suite, targets.get(mode)!)
      rows.push({ suite, mode, slice: s, ...r })
    }
    if ((s + 1) % 10 === 0) log(`  ${suite}: ${s + 1}/${SLICES} slices`)
  }
}
const load1 = (await import("node:os")).loadavg()[0]!
const feeds = new Map([...targets].map(([mode, t]) => [mode, t.server.feedLines()]))
for (const t of targets.values()) {
  await t.client.pool.close()
  await t.server.stop()
}
receiver.close()

// ------------------------------------------------------------------ the table
const f1 = (x: number) => x.toFixed(1)
console.log(`\n${SLICES} paired slices per suite, modes rotated; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}. Server CPU µs per op (all threads): median [p25 – p75]; overhead: per slice against "off" in the same rotation (OTel rows: "off+otel", \`@base\` rows: "off@base"), median [p25 – p75] (min … max).\n`)
console.log("| suite | mode | server CPU µs/op | rate (/s), median | overhead vs off | feed lines |")
console.log("|---|---|---|---|---|---|")
for (const suite of SUITES) {
  for (const mode of MODES) {
    const mine = rows.filter((x) => x.suite === suite && x.mode === mode)
    const base = `off${mode.includes("+otel") ? "+otel" : ""}${mode.endsWith("@base") ? "@base" : ""}`
    const over = mine.flatMap((x) => {
      const b = rows.find((y) => y.suite === suite && y.mode === base && y.slice === x.slice)
      return b === undefined ? [] : [x.cpuUs / b.cpuUs - 1]
    })
    const cpu = mine.map((x) => x.cpuUs)
    const o = mode === base ? "—" : `**${signedPct(median(over)!)}** [${signedPct(quantile(over, 0.25))} – ${signedPct(quantile(over, 0.75))}] (${signedPct(Math.min(...over))} … ${signedPct(Math.max(...over))})`
    console.log(`| ${suite} | ${mode} | ${f1(median(cpu)!)} [${f1(quantile(cpu, 0.25))} – ${f1(quantile(cpu, 0.75))}] | ${Math.round(median(mine.map((x) => x.rate))!)} | ${o} | ${mode.startsWith("page") || mode.startsWith("watched") ? feeds.get(mode) : "—"} |`)
  }
}

// ------------------------------------------------------------------ added µs per op, and this checkout against --base
// The ratio above divides by `off`'s slice, whose own noise then moves every row alike. Per slice, the CPU a
// mode adds over `off` in µs per op, and (with --base) the same difference between the two checkouts' modes.
const at = (suite: string, mode: string, s: number) => rows.find((y) => y.suite === suite && y.mode === mode && y.slice === s)?.cpuUs
const us = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`
const spread = (xs: ReadonlyArray<number>) => xs.length === 0 ? "—" : `**${us(median(xs)!)}** [${us(quantile(xs, 0.25))} – ${us(quantile(xs, 0.75))}]`
console.log(`\nAdded server CPU µs per op over "off" of the same checkout, per slice: median [p25 – p75]${BASE === undefined ? "" : "; and this checkout's added µs minus base's, per slice"}.\n`)
console.log(`| suite | mode | added µs/op | ${BASE === undefined ? "" : "added µs/op, base | this − base |"}`)
console.log(`|---|---|---|${BASE === undefined ? "" : "---|---|"}`)
for (const suite of SUITES) {
  for (const mode of MODES) {
    if (mode.endsWith("@base") || mode.replace("+otel", "") === "off") continue
    const off = `off${mode.includes("+otel") ? "+otel" : ""}`
    const added = (m: string, o: string) => Array.from({ length: SLICES }, (_, s) => {
      const a = at(suite, m, s), b = at(suite, o, s)
      return a === undefined || b === undefined ? undefined : a - b
    })
    const mine = added(mode, off)
    const theirs = BASE === undefined ? [] : added(`${mode}@base`, `${off}@base`)
    const diff = mine.flatMap((x, s) => x === undefined || theirs[s] === undefined ? [] : [x - theirs[s]!])
    const defined = (xs: ReadonlyArray<number | undefined>) => xs.filter((x): x is number => x !== undefined)
    console.log(`| ${suite} | ${mode} | ${spread(defined(mine))} | ${BASE === undefined ? "" : `${spread(defined(theirs))} | ${spread(diff)} |`}`)
  }
}
