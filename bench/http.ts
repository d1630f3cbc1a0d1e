/**
 * Streamable HTTP benchmark: mcp-actors vs the official SDK vs the raw-Node
 * ceiling, in one run, with the neutral driver `mcp-bench.mjs`:
 * session churn, echo calls, pings, idle sessions (heap per session, heap
 * after DELETE) and, for ours, idle expiry (heap after the idle timeout fired) and
 * modern (2026-07-28) echo: stateless `tools/call` POSTs, no session (driven by
 * bench/modern.ts; neither comparison server speaks that era, so its rows compare
 * with our legacy echo and the raw ceiling's).
 *
 *   node bench/http.ts [--rounds 3] [--duration 10] [--save] [--no-pin] [--profile]
 *                      [--suites churn,echo,ping,idle,expiry,modern] [--only ours,sdk,raw]
 *
 * Every measurement starts a fresh server (`node --expose-gc`, 127.0.0.1, pinned
 * to CPU 1) and stops it with SIGTERM afterwards. See bench/README.md.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { profileMarkdown, summarizeProfile } from "./cpuprof.ts"
import {
  codeNote, type Metric, type Ratio, type Result, type RunningServer, type ServerSpec, ROOT, div, freePort, log,
  machineNote, pinning, prepareDriver, ratioTable, resultSink, rotate, runDriver,
  sleep, snapshotCode, startServer, table
} from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const USAGE = `Usage: node bench/http.ts [options]

  --rounds N           rounds; each runs every suite on ours, SDK and ceiling, order rotated (default 3)
  --duration S         seconds per churn / calls measurement (default 10)
  --suites LIST        subset of churn,echo,ping,idle,expiry,modern (default all)
  --only LABELS        subset of ours,sdk,raw (default all)
  --sessions N         sessions for the calls suites (default 100)
  --idle-sessions N    sessions for the idle suites (default 1000)
  --idle-timeout MS    ours' --idle-timeout in the expiry suite (default 10000)
  --hold S             how long the expiry suite holds the sessions idle (default 12)
  --save               write the JSON lines and summary to bench/results/ (default: a temp dir)
  --no-pin             do not pin server/driver to CPUs with taskset
  --profile            afterwards, run ours once more per churn / echo / ping suite with --cpu-prof
                       and print the top frames
  --live               run our server from the working tree instead of a frozen copy
  --ours-args "ARGS"   extra arguments for our "serve --http" (e.g. "--metrics" to measure telemetry on)`

const { values: flags, nonNegative } = scriptArgs(USAGE, {
  rounds: { type: "string" }, duration: { type: "string" }, suites: { type: "string" }, only: { type: "string" }, sessions: { type: "string" }, "idle-sessions": { type: "string" },
  "idle-timeout": { type: "string" }, hold: { type: "string" }, save: { type: "boolean" }, "no-pin": { type: "boolean" }, profile: { type: "boolean" }, live: { type: "boolean" },
  "ours-args": { type: "string" }
})
const OURS_ARGS = ((flags["ours-args"] as string | undefined) ?? "").split(" ").filter((a) => a !== "")
const ROUNDS = nonNegative("rounds") ?? 3
const DURATION = nonNegative("duration") ?? 10
const SESSIONS = nonNegative("sessions") ?? 100
const IDLE_N = nonNegative("idle-sessions") ?? 1000
const IDLE_TIMEOUT = nonNegative("idle-timeout") ?? 10_000
const HOLD = nonNegative("hold") ?? 12
const ALL_SUITES = ["churn", "echo", "ping", "idle", "expiry", "modern"]
const SUITES = ((flags["suites"] as string | undefined)?.split(",") ?? ALL_SUITES).filter((s) => ALL_SUITES.includes(s))
const LABELS = ((flags["only"] as string | undefined)?.split(",") ?? ["ours", "sdk", "raw"]).filter((l) => ["ours", "sdk", "raw"].includes(l))
// The driver opens the sessions (~1-2 s), waits 3 s (heap per live session), then holds
// --hold s and probes: the timeout must fire after the first reading and before the probe.
if (IDLE_TIMEOUT < 6000 || IDLE_TIMEOUT / 1000 + 2 > HOLD + 3) {
  log(`note: the expiry suite wants 6000 ≤ --idle-timeout ≤ (--hold + 1) × 1000 ms; got ${IDLE_TIMEOUT} ms, hold ${HOLD} s`)
}

const driverDir = prepareDriver()
const pin = pinning(flags["no-pin"] === true)
const sink = resultSink("http", flags["save"] === true)
const PROBE = pathToFileURL(join(ROOT, "bench", "heap-probe.ts")).href
const code = snapshotCode(flags["live"] === true)
const codeOf = () => (code.live ? snapshotCode(true) : code)

interface StartOptions {
  readonly idleTimeoutMs?: number
  readonly nodeFlags?: ReadonlyArray<string>
}
const spec = async (label: string, o: StartOptions = {}): Promise<ServerSpec> => {
  const port = await freePort()
  const node = [...pin.server, process.execPath, "--expose-gc", ...(o.nodeFlags ?? [])]
  if (label === "ours") {
    const statsPort = await freePort()
    return {
      label,
      argv: [...node, "--import", PROBE, code.bin, "serve", "--http", String(port), "--host", "127.0.0.1",
        ...(o.idleTimeoutMs === undefined ? [] : ["--idle-timeout", String(o.idleTimeoutMs)]), ...OURS_ARGS],
      cwd: code.root,
      env: { MCP_BENCH_STATS_PORT: String(statsPort) },
      ready: { stdoutUrl: true },
      url: `http://127.0.0.1:${port}/mcp`,
      statsUrl: `http://127.0.0.1:${statsPort}/__stats`
    }
  }
  const stats = `http://127.0.0.1:${port}/__stats`
  return {
    label,
    argv: [...node, join(driverDir, label === "sdk" ? "sdk-server.mjs" : "raw-server.mjs"), "--port", String(port), "--host", "127.0.0.1"],
    cwd: driverDir,
    ready: { poll: stats },
    url: `http://127.0.0.1:${port}/mcp`,
    statsUrl: stats
  }
}

interface Suite {
  readonly name: string
  readonly labels: ReadonlyArray<string>
  readonly start: StartOptions
  readonly args: (srv: RunningServer) => ReadonlyArray<string>
  readonly timeoutMs: number
  /**
   * Driver runs against the same server (default 1). The memory suites run 2:
   * the first cycle also pays one-time costs (JIT code, inline caches, tables
   * growing), the second shows whether memory really returns to its baseline.
   */
  readonly cycles?: number
  /** The driver script, when not the neutral `mcp-bench.mjs`. */
  readonly script?: string
}
const SUITE_DEFS: Record<string, Suite> = {
  churn: {
    name: "churn", labels: LABELS, start: {}, timeoutMs: (DURATION + 60) * 1000,
    args: (s) => ["http-churn", "--url", s.url, "--concurrency", "32", "--duration", String(DURATION)]
  },
  echo: {
    name: "echo", labels: LABELS, start: {}, timeoutMs: (DURATION + 60) * 1000,
    args: (s) => ["http-calls", "--url", s.url, "--sessions", String(SESSIONS), "--concurrency", "64", "--duration", String(DURATION), "--method", "echo"]
  },
  ping: {
    name: "ping", labels: LABELS, start: {}, timeoutMs: (DURATION + 60) * 1000,
    args: (s) => ["http-calls", "--url", s.url, "--sessions", String(SESSIONS), "--concurrency", "64", "--duration", String(DURATION), "--method", "ping"]
  },
  idle: {
    name: "idle", labels: LABELS, start: {}, timeoutMs: 180_000, cycles: 2,
    args: (s) => ["http-idle", "--url", s.url, "--sessions", String(IDLE_N), ...(s.statsUrl ? ["--stats-url", s.statsUrl] : [])]
  },
  // ours only: the comparison servers never expire sessions
  expiry: {
    name: "expiry", labels: LABELS.filter((l) => l === "ours"), start: { idleTimeoutMs: IDLE_TIMEOUT }, timeoutMs: (HOLD + 180) * 1000, cycles: 2,
    args: (s) => ["http-idle", "--url", s.url, "--sessions", String(IDLE_N), "--hold", String(HOLD), ...(s.statsUrl ? ["--stats-url", s.statsUrl] : [])]
  },
  // ours only: modern echo, same concurrency as the echo suite (the SDK and the ceiling have no 2026-07-28 era)
  modern: {
    name: "modern", labels: LABELS.filter((l) => l === "ours"), start: {}, timeoutMs: (DURATION + 60) * 1000, script: join(ROOT, "bench", "modern.ts"),
    args: (s) => ["--drive", s.url, "--concurrency", "64", "--duration", String(DURATION)]
  }
}

/** Start a fresh server, run the driver against it (`cycles` times), stop it. */
const measure = async (suite: Suite, label: string, round: number, start: StartOptions = suite.start): Promise<Array<Result> | undefined> => {
  let srv: RunningServer
  try {
    srv = await startServer(await spec(label, start))
  } catch (e) {
    log(`    ${(e as Error).message}`)
    return undefined
  }
  const out: Array<Result> = []
  const { hash, head, live } = codeOf() // what this server process loaded (with --live: read right after it started)
  const cycles = suite.cycles ?? 1
  for (let cycle = 1; cycle <= cycles; cycle++) {
    if (cycles > 1) log(`   cycle ${cycle}/${cycles}`)
    const res = await runDriver(driverDir, pin, [...suite.args(srv), "--pid", String(srv.pid), "--label", label], suite.timeoutMs, suite.script)
    if (!res) {
      await srv.stop()
      return undefined
    }
    out.push({ ...res, suite: suite.name, round, cycle, last_cycle: cycle === cycles, pinned: pin.server.length > 0, code: { hash, head, live } })
  }
  await srv.stop()
  await sleep(1000)
  return out
}

log(`bench/http: ${ROUNDS} rounds × suites ${SUITES.join(", ")} × ${LABELS.join(", ")}; ${DURATION} s per churn/calls run`)
log(`bench/http: ${machineNote()}; ${pin.note}; results → ${sink.file}`)
log(`bench/http: our server runs from ${code.live ? "the working tree (--live)" : `a frozen copy, ${code.root}`} (code ${code.hash}, HEAD ${code.head ?? "?"})`)
const rounds: Array<Array<Result>> = []
let failed = false
for (let r = 0; r < ROUNDS; r++) {
  const round: Array<Result> = []
  for (const name of SUITES) {
    const suite = SUITE_DEFS[name]!
    for (const label of rotate(suite.labels, r)) {
      log(`== round ${r + 1}/${ROUNDS}  ${name}  ${label}`)
      const res = await measure(suite, label, r + 1)
      if (res) {
        round.push(...res)
        for (const x of res) sink.add(x)
      } else failed = true
    }
  }
  rounds.push(round)
}
const results = rounds.flat()

// ------------------------------------------------------------------ tables
/** Memory suites run 2 cycles on one server: rows use the last cycle unless `cycle` is 1. */
const of = (suite: string, f: (r: Result) => unknown, cycle?: 1) => (r: Result): number | undefined => {
  if (r["suite"] !== suite) return undefined
  if (cycle === 1 ? r["cycle"] !== 1 : r["last_cycle"] === false) return undefined
  const v = f(r)
  return typeof v === "number" && Number.isFinite(v) ? v : undefined
}
const MB = 1024 * 1024
const heapBefore = (r: Result) => r["stats_before"]?.heapUsed as number | undefined
const heapAfterDel = (r: Result) => r["after_delete"]?.stats?.heapUsed as number | undefined
const retainedKb = (r: Result) => {
  const a = heapAfterDel(r), b = heapBefore(r)
  return a === undefined || b === undefined ? undefined : (a - b) / 1024 / Math.max(1, r["sessions_open"] ?? 1)
}
const count404 = (st: unknown) => (st && typeof st === "object" ? ((st as Record<string, number>)["404"] ?? 0) : undefined)

const callMetrics = (suite: string, what: string): Array<Metric> => [
  { name: `${what}: req/s`, pick: of(suite, (r) => r["req_per_s"]) },
  { name: `${what}: p50 ms`, pick: of(suite, (r) => r["latency_ms"]?.p50) },
  { name: `${what}: p99 ms`, pick: of(suite, (r) => r["latency_ms"]?.p99) },
  { name: `${what}: server CPU µs/req`, pick: of(suite, (r) => r["server_cpu_us_per_op"]) },
  { name: `${what}: server CPU %`, pick: of(suite, (r) => r["server_cpu_pct"]) },
  { name: `${what}: driver CPU %`, pick: of(suite, (r) => r["client_cpu_pct"]) },
  { name: `${what}: errors`, pick: of(suite, (r) => r["errors"]) },
  { name: `${what}: noise, other CPU % (100 = 1 core)`, pick: of(suite, (r) => r["other_cpu_pct"]) }
]
const metrics: ReadonlyArray<Metric> = [
  { name: "churn: sessions/s (C=32)", pick: of("churn", (r) => r["sessions_per_s"]) },
  { name: "churn: handshake p50 ms", pick: of("churn", (r) => r["handshake_ms"]?.p50) },
  { name: "churn: handshake p99 ms", pick: of("churn", (r) => r["handshake_ms"]?.p99) },
  { name: "churn: server CPU µs/session", pick: of("churn", (r) => r["server_cpu_us_per_op"]) },
  { name: "churn: server CPU %", pick: of("churn", (r) => r["server_cpu_pct"]) },
  { name: "churn: driver CPU %", pick: of("churn", (r) => r["client_cpu_pct"]) },
  { name: "churn: server RSS after MB", pick: of("churn", (r) => r["server_rss_kb_after"] / 1024) },
  { name: "churn: errors", pick: of("churn", (r) => r["errors"]) },
  { name: "churn: noise, other CPU % (100 = 1 core)", pick: of("churn", (r) => r["other_cpu_pct"]) },
  ...callMetrics("echo", `echo (N=${SESSIONS}, C=64)`),
  ...callMetrics("ping", `ping (N=${SESSIONS}, C=64)`),
  ...callMetrics("modern", "modern echo (no session, C=64)"),
  { name: `idle N=${IDLE_N}: heap KB/session (after GC)`, pick: of("idle", (r) => r["heap_kb_per_session"]) },
  { name: `idle N=${IDLE_N}: RSS KB/session`, pick: of("idle", (r) => r["kb_per_session"]) },
  { name: `idle N=${IDLE_N}: open server CPU µs/session`, pick: of("idle", (r) => r["open_server_cpu_us_per_session"]) },
  { name: `idle N=${IDLE_N}: heap before open MB (GC)`, pick: of("idle", (r) => heapBefore(r)! / MB) },
  { name: `idle N=${IDLE_N}: heap after DELETE all MB (GC)`, pick: of("idle", (r) => heapAfterDel(r)! / MB) },
  { name: `idle N=${IDLE_N}: heap retained after DELETE KB/session (2nd cycle)`, pick: of("idle", retainedKb) },
  { name: `idle N=${IDLE_N}: heap retained after DELETE KB/session (1st cycle)`, pick: of("idle", retainedKb, 1) },
  { name: `idle N=${IDLE_N}: RSS before open MB`, pick: of("idle", (r) => r["rss_kb"]?.before / 1024) },
  { name: `idle N=${IDLE_N}: RSS after DELETE all MB`, pick: of("idle", (r) => r["after_delete"]?.rss_kb / 1024) },
  { name: `idle N=${IDLE_N}: probes answered 404 after DELETE (of 20)`, pick: of("idle", (r) => count404(r["after_delete"]?.probe_status_after_delete)) },
  { name: `expiry (idle timeout ${IDLE_TIMEOUT} ms): heap KB/session before expiry`, pick: of("expiry", (r) => r["heap_kb_per_session"]) },
  { name: `expiry: probes answered 404 after ${HOLD} s idle (of 20)`, pick: of("expiry", (r) => count404(r["held"]?.probe_status)) },
  { name: "expiry: heap before open MB (GC)", pick: of("expiry", (r) => heapBefore(r)! / MB) },
  { name: "expiry: heap after expiry MB (GC)", pick: of("expiry", (r) => heapAfterDel(r)! / MB) },
  { name: "expiry: heap retained after expiry KB/session (2nd cycle)", pick: of("expiry", retainedKb) },
  { name: "expiry: heap retained after expiry KB/session (1st cycle)", pick: of("expiry", retainedKb, 1) },
  { name: "expiry: RSS after expiry MB", pick: of("expiry", (r) => r["after_delete"]?.rss_kb / 1024) }
]

const val = (round: ReadonlyArray<Result>, suite: string, label: string, f: (r: Result) => unknown): number | undefined => {
  const r = round.find((x) => x["suite"] === suite && x.label === label && x["last_cycle"] !== false)
  const v = r === undefined ? undefined : f(r)
  return typeof v === "number" && Number.isFinite(v) ? v : undefined
}
const rps = (r: Result) => r["req_per_s"]
const cpu = (r: Result) => r["server_cpu_us_per_op"]
const targets: ReadonlyArray<Ratio> = [
  { name: "churn sessions/s, ours / SDK", perRound: (x) => div(val(x, "churn", "ours", (r) => r["sessions_per_s"]), val(x, "churn", "sdk", (r) => r["sessions_per_s"])), target: { op: ">=", value: 4, text: "≥ 4×" } },
  { name: "churn server CPU µs/session, ours", perRound: (x) => val(x, "churn", "ours", cpu), target: { op: "<=", value: 220, text: "≤ 220 µs" } },
  { name: "churn server CPU per session, SDK / ours", perRound: (x) => div(val(x, "churn", "sdk", cpu), val(x, "churn", "ours", cpu)) },
  { name: "churn server CPU per session, ceiling / ours", perRound: (x) => div(val(x, "churn", "raw", cpu), val(x, "churn", "ours", cpu)) },
  { name: "echo req/s, ours / SDK", perRound: (x) => div(val(x, "echo", "ours", rps), val(x, "echo", "sdk", rps)), target: { op: ">=", value: 2.5, text: "≥ 2.5×" } },
  { name: "echo server CPU µs/call, ours", perRound: (x) => val(x, "echo", "ours", cpu), target: { op: "<=", value: 55, text: "≤ 55 µs" } },
  { name: "echo server CPU per call, SDK / ours", perRound: (x) => div(val(x, "echo", "sdk", cpu), val(x, "echo", "ours", cpu)) },
  { name: "echo req/s, ours / ceiling", perRound: (x) => div(val(x, "echo", "ours", rps), val(x, "echo", "raw", rps)) },
  { name: "modern echo server CPU µs/call, ours", perRound: (x) => val(x, "modern", "ours", cpu) },
  { name: "modern echo server CPU per call, ours modern / ours legacy echo", perRound: (x) => div(val(x, "modern", "ours", cpu), val(x, "echo", "ours", cpu)), target: { op: "<=", value: 1, text: "≤ 1× (issue 13)" } },
  { name: "modern echo server CPU per call, ours modern / ceiling's legacy echo", perRound: (x) => div(val(x, "modern", "ours", cpu), val(x, "echo", "raw", cpu)) },
  { name: "modern echo req/s, ours modern / ours legacy echo", perRound: (x) => div(val(x, "modern", "ours", rps), val(x, "echo", "ours", rps)) },
  { name: "ping req/s, ours / SDK", perRound: (x) => div(val(x, "ping", "ours", rps), val(x, "ping", "sdk", rps)), target: { op: ">=", value: 2.5, text: "≥ 2.5×" } },
  { name: "ping server CPU µs/call, ours", perRound: (x) => val(x, "ping", "ours", cpu), target: { op: "<=", value: 55, text: "≤ 55 µs" } },
  { name: "ping server CPU per call, SDK / ours", perRound: (x) => div(val(x, "ping", "sdk", cpu), val(x, "ping", "ours", cpu)) },
  { name: "ping req/s, ours / ceiling", perRound: (x) => div(val(x, "ping", "ours", rps), val(x, "ping", "raw", rps)) },
  { name: "idle heap KB/session, ours", perRound: (x) => val(x, "idle", "ours", (r) => r["heap_kb_per_session"]), target: { op: "<=", value: 5, text: "≤ 5 KB" } },
  { name: "heap retained after DELETE (2nd cycle), ours, KB/session", perRound: (x) => val(x, "idle", "ours", retainedKb), target: { op: "<=", value: 0.5, text: "≈ 0 (≤ 0.5 KB)" } },
  { name: "heap retained after idle expiry (2nd cycle), ours, KB/session", perRound: (x) => val(x, "expiry", "ours", retainedKb), target: { op: "<=", value: 0.5, text: "≈ 0 (≤ 0.5 KB)" } },
  { name: "sessions expired (probes 404 of 20), ours", perRound: (x) => val(x, "expiry", "ours", (r) => count404(r["held"]?.probe_status)), target: { op: ">=", value: 20, text: "20 / 20" } }
]

const labelsHead = LABELS.map((l) => (l === "ours" ? "ours (mcp-actors)" : l === "sdk" ? "SDK 1.32.2" : "raw ceiling"))
const mainTable = table(results, LABELS, metrics.filter((m) => results.some((r) => m.pick(r) !== undefined)))
  .replace(/^\| metric \|.*$/m, `| metric (median (min..max) of ${ROUNDS}) | ${labelsHead.join(" | ")} |`)
const rt = ratioTable(rounds, targets.filter((t) => rounds.some((x) => t.perRound(x) !== undefined)))
const summary = [
  `Streamable HTTP: ${machineNote()}; ${pin.note}; ${ROUNDS} rounds, ${DURATION} s per churn/calls run; fresh server per measurement; ${codeNote(results.filter((r) => r.label === "ours"))}.`,
  "",
  mainTable,
  "",
  rt.text.replace("ratio (median of per-round ratios; min..max)", "measure (median over rounds of per-round values; min..max)")
].join("\n")
process.stdout.write(summary + "\n")
writeFileSync(sink.file.replace(/\.jsonl$/, ".md"), summary + "\n")

if (flags["profile"] === true) {
  for (const name of ["churn", "echo", "ping"].filter((s) => SUITES.includes(s))) {
    const dir = mkdtempSync(join(tmpdir(), `mcp-actors-prof-${name}-`))
    log(`== profile: ours, ${name}, with --cpu-prof → ${dir}`)
    await measure(SUITE_DEFS[name]!, "ours", 0, { nodeFlags: ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "250"] })
    const prof = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
    if (prof.length === 0) log("no .cpuprofile written (did the server exit cleanly on SIGTERM?)")
    for (const f of prof) {
      const s = summarizeProfile(join(dir, f), { from: /src\/transports\/http\// })
      process.stdout.write(`\n## CPU profile of ours, ${name} (${join(dir, f)})\n\n${profileMarkdown(s)}\n`)
    }
  }
}

const cn = codeNote(results.filter((r) => r.label === "ours"))
if (cn.startsWith("**")) log(`WARNING: ${cn.replaceAll("**", "")}`)
if (rt.missed.length > 0) log(`targets missed: ${rt.missed.join("; ")}${flags["profile"] ? "" : " — run with --profile to see where the time goes"}`)
log(`results: ${sink.file}`)
if (failed) process.exitCode = 1
