/**
 * stdio benchmark: mcp-actors vs the official SDK vs the raw-Node ceiling, in
 * one run, with the neutral driver `mcp-bench.mjs stdio-calls` (sequential
 * phase, then `--inflight` requests pipelined; `tools/call echo` by default).
 *
 *   node bench/stdio.ts [--rounds 3] [--duration 10] [--inflight 64]
 *                       [--method echo|ping|list] [--save] [--no-pin] [--profile]
 *
 * See bench/README.md. Exit code 0 even when a target is missed (the verdict
 * is printed); 1 if a measurement failed.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { profileMarkdown, summarizeProfile } from "./cpuprof.ts"
import {
  codeNote, type Metric, type Ratio, type Result, div, log, machineNote, pick, pinning, prepareDriver,
  ratioTable, resultSink, rotate, runDriver, shellJoin, sleep, snapshotCode, table
} from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const USAGE = `Usage: node bench/stdio.ts [options]

  --rounds N        rounds; each runs ours, SDK and ceiling once, order rotated (default 3)
  --duration S      seconds per phase (sequential, then pipelined) (default 10)
  --inflight N      requests in flight in the pipelined phase (default 64)
  --method M        echo | ping | list (default echo)
  --save            write the JSON lines and summary to bench/results/ (default: a temp dir)
  --no-pin          do not pin server/driver to CPUs with taskset
  --profile         afterwards, run ours once more under pipelined load with --cpu-prof
                    and print the top frames
  --only LABELS     comma-separated subset of ours,sdk,raw
  --live            run our server from the working tree instead of a frozen copy`

const { values: flags, nonNegative } = scriptArgs(USAGE, {
  rounds: { type: "string" }, duration: { type: "string" }, inflight: { type: "string" }, method: { type: "string" }, save: { type: "boolean" },
  "no-pin": { type: "boolean" }, profile: { type: "boolean" }, only: { type: "string" }, live: { type: "boolean" }
})
const ROUNDS = nonNegative("rounds") ?? 3
const DURATION = nonNegative("duration") ?? 10
const INFLIGHT = nonNegative("inflight") ?? 64
const METHOD = (flags["method"] as string | undefined) ?? "echo"

const driverDir = prepareDriver()
const pin = pinning(flags["no-pin"] === true)
const sink = resultSink("stdio", flags["save"] === true)
const code = snapshotCode(flags["live"] === true)
const codeOf = () => (code.live ? snapshotCode(true) : code)

const SERVERS: Record<string, ReadonlyArray<string>> = {
  ours: [process.execPath, code.bin, "serve", "--stdio"],
  sdk: [process.execPath, join(driverDir, "sdk-stdio-server.mjs")],
  raw: [process.execPath, join(driverDir, "raw-stdio-server.mjs")]
}
const LABELS = ((flags["only"] as string | undefined)?.split(",") ?? ["ours", "sdk", "raw"]).filter((l) => l in SERVERS)

const driverArgs = (label: string, serverArgv: ReadonlyArray<string>, duration = DURATION, extra: ReadonlyArray<string> = []) => [
  "stdio-calls", "--cmd", shellJoin([...pin.server, ...serverArgv]), "--duration", String(duration),
  "--inflight", String(INFLIGHT), "--method", METHOD, "--label", label, ...extra
]
const driverTimeout = (DURATION * 2 + 60) * 1000

log(`bench/stdio: ${ROUNDS} rounds × ${LABELS.join(", ")}; ${DURATION} s sequential + ${DURATION} s pipelined(${INFLIGHT}); method ${METHOD}`)
log(`bench/stdio: ${machineNote()}; ${pin.note}; results → ${sink.file}`)
log(`bench/stdio: our server runs from ${code.live ? "the working tree (--live)" : `a frozen copy, ${code.root}`} (code ${code.hash}, HEAD ${code.head ?? "?"})`)

const rounds: Array<Array<Result>> = []
let failed = false
for (let r = 0; r < ROUNDS; r++) {
  const round: Array<Result> = []
  for (const label of rotate(LABELS, r)) {
    log(`== round ${r + 1}/${ROUNDS}  ${label}`)
    const { hash, head, live } = codeOf() // what the server about to be spawned loads
    const res = await runDriver(driverDir, pin, driverArgs(label, SERVERS[label]!), driverTimeout)
    if (res) {
      const tagged = { ...res, round: r + 1, pinned: pin.server.length > 0, code: { hash, head, live } }
      round.push(tagged)
      sink.add(tagged)
    } else failed = true
    await sleep(1000)
  }
  rounds.push(round)
}
const results = rounds.flat()

const us = (ms: unknown) => (typeof ms === "number" ? ms * 1000 : undefined)
const metrics: ReadonlyArray<Metric> = [
  { name: "sequential: req/s", pick: (r) => r.sequential?.req_per_s },
  { name: "sequential: p50 µs", pick: (r) => us(r.sequential?.latency_ms?.p50) },
  { name: "sequential: p99 µs", pick: (r) => us(r.sequential?.latency_ms?.p99) },
  { name: "sequential: server CPU µs/call", pick: (r) => r.sequential?.server_cpu_us_per_op },
  { name: `pipelined(${INFLIGHT}): req/s`, pick: (r) => r.pipelined?.req_per_s },
  { name: `pipelined(${INFLIGHT}): p50 ms`, pick: (r) => r.pipelined?.latency_ms?.p50 },
  { name: `pipelined(${INFLIGHT}): p99 ms`, pick: (r) => r.pipelined?.latency_ms?.p99 },
  { name: `pipelined(${INFLIGHT}): server CPU µs/call`, pick: (r) => r.pipelined?.server_cpu_us_per_op },
  { name: `pipelined(${INFLIGHT}): server CPU %`, pick: (r) => r.pipelined?.server_cpu_pct },
  { name: `pipelined(${INFLIGHT}): driver CPU %`, pick: (r) => r.pipelined?.client_cpu_pct },
  { name: "server RSS at end MB", pick: (r) => (typeof r.server_rss_kb_end === "number" ? r.server_rss_kb_end / 1024 : undefined) },
  { name: "errors (both phases)", pick: (r) => (r.sequential?.errors ?? 0) + (r.pipelined?.errors ?? 0) },
  { name: "noise: other CPU % (100 = 1 core), sequential", pick: (r) => r.sequential?.other_cpu_pct },
  { name: "noise: other CPU % (100 = 1 core), pipelined", pick: (r) => r.pipelined?.other_cpu_pct }
]
const pipeRps = (round: ReadonlyArray<Result>, l: string) => pick(round, l)?.pipelined?.req_per_s as number | undefined
const pipeCpu = (round: ReadonlyArray<Result>, l: string) => pick(round, l)?.pipelined?.server_cpu_us_per_op as number | undefined
const seqP50 = (round: ReadonlyArray<Result>, l: string) => pick(round, l)?.sequential?.latency_ms?.p50 as number | undefined
const seqRps = (round: ReadonlyArray<Result>, l: string) => pick(round, l)?.sequential?.req_per_s as number | undefined
const ratios: ReadonlyArray<Ratio> = [
  { name: "pipelined req/s, ours / SDK", perRound: (x) => div(pipeRps(x, "ours"), pipeRps(x, "sdk")), target: { op: ">=", value: 2.5, text: "≥ 2.5×" } },
  { name: "pipelined req/s, ours / ceiling", perRound: (x) => div(pipeRps(x, "ours"), pipeRps(x, "raw")), target: { op: ">=", value: 0.4, text: "≥ 0.40" } },
  { name: "sequential p50, ours / ceiling", perRound: (x) => div(seqP50(x, "ours"), seqP50(x, "raw")), target: { op: "<=", value: 1.5, text: "≤ 1.5×" } },
  { name: "server CPU per pipelined call, SDK / ours (CPU-efficiency ×)", perRound: (x) => div(pipeCpu(x, "sdk"), pipeCpu(x, "ours")) },
  { name: "server CPU per pipelined call, ceiling / ours (fraction of ceiling by CPU)", perRound: (x) => div(pipeCpu(x, "raw"), pipeCpu(x, "ours")) },
  { name: "sequential req/s, ours / SDK", perRound: (x) => div(seqRps(x, "ours"), seqRps(x, "sdk")) },
  { name: "sequential req/s, ours / ceiling", perRound: (x) => div(seqRps(x, "ours"), seqRps(x, "raw")) }
]

const labelsHead = LABELS.map((l) => (l === "ours" ? "ours (mcp-actors)" : l === "sdk" ? "SDK 1.32.2" : "raw ceiling"))
const main = table(results, LABELS, metrics).replace(/^\| metric \|.*$/m, `| metric (median (min..max) of ${ROUNDS}) | ${labelsHead.join(" | ")} |`)
const rt = ratioTable(rounds, ratios)
const summary = [
  `stdio, method ${METHOD}: ${machineNote()}; ${pin.note}; ${ROUNDS} rounds × ${DURATION} s per phase; ${codeNote(results.filter((r) => r.label === "ours"))}.`,
  "",
  main,
  "",
  rt.text
].join("\n")
process.stdout.write(summary + "\n")
writeFileSync(sink.file.replace(/\.jsonl$/, ".md"), summary + "\n")

if (flags["profile"] === true) {
  // The driver's warm-up phase is pipelined and unrecorded: a long warm-up with a
  // near-zero recorded duration gives a profile of the pipelined path only.
  const dir = mkdtempSync(join(tmpdir(), "mcp-actors-prof-"))
  const argv = [process.execPath, "--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "250", code.bin, "serve", "--stdio"]
  log(`== profile: ours, ${DURATION} s pipelined(${INFLIGHT}) with --cpu-prof → ${dir}`)
  await runDriver(driverDir, pin, driverArgs("ours-profile", argv, 0.05, ["--warmup", String(DURATION)]), driverTimeout)
  await sleep(500)
  const prof = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
  if (prof.length === 0) log("no .cpuprofile written (did the server exit cleanly on stdin EOF?)")
  for (const f of prof) process.stdout.write(`\n## CPU profile of ours under pipelined load (${join(dir, f)})\n\n${profileMarkdown(summarizeProfile(join(dir, f), { from: /src\/server\// }))}\n`)
}

const cn = codeNote(results.filter((r) => r.label === "ours"))
if (cn.startsWith("**")) log(`WARNING: ${cn.replaceAll("**", "")}`)
if (rt.missed.length > 0) log(`targets missed: ${rt.missed.join("; ")} — run with --profile to see where the time goes`)
log(`results: ${sink.file}`)
if (failed) process.exitCode = 1
