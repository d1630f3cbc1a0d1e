/**
 * bench/inspectServe.ts — the inspector's cost in the production layout (issue 11):
 * the real `mcp-actors serve --http 0` process, load from a separate driver process
 * (the neutral `mcp-bench.mjs`), and the SERVER process's CPU per call / per session
 * (utime+stime from /proc/<pid>/stat, read by the driver with --pid). Modes:
 *   off       no inspector
 *   idle      --inspect, nobody watching
 *   page      --inspect and a page's feed (`/feed?definitions=0`, the lean feed the page reads,
 *             from another process with a browser's Origin): what "a page open" costs
 *   watched   --inspect and a feed client (`mcp-actors inspect URL --json`, another
 *             process) reading every message (the full, Stately-format feed)
 * and the same three with `--otlp URL` (a local receiver that counts bytes, answers 200).
 * Modes are interleaved within each round (rotated), a fresh server per run.
 *
 *   node bench/inspectServe.ts [--rounds 3] [--duration 5] [--otel] [--suites echo,churn] [--modes off,idle,page,watched]
 */
import { startInspectServer, otlpReceiver } from "./inspectServers.ts"
import { log, median, pinning, prepareDriver, rotate, runDriver, sleep } from "./lib.ts"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const ROUNDS = Number(opt("rounds", "3"))
const DURATION = Number(opt("duration", "5"))
const OTEL = args.includes("--otel")
const SUITES = opt("suites", "echo,churn").split(",")
const driverDir = prepareDriver()
const pin = pinning(args.includes("--no-pin"))
const receiver = await otlpReceiver()

const SUITE_ARGS: Record<string, (url: string) => Array<string>> = {
  echo: (url) => ["http-calls", "--url", url, "--sessions", "100", "--concurrency", "64", "--duration", String(DURATION), "--method", "echo"],
  churn: (url) => ["http-churn", "--url", url, "--concurrency", "32", "--duration", String(DURATION)]
}

interface Row { suite: string; mode: string; round: number; cpuUs: number; rate: number; feed: number }
const rows: Array<Row> = []
const MODES = opt("modes", "off,idle,page,watched").split(",").flatMap((m) => (OTEL ? [m, `${m}+otel`] : [m]))
if (!MODES.includes("off")) throw new Error("--modes needs off (the baseline)")
log(`bench/inspectServe: ${ROUNDS} rounds × ${SUITES.join(",")} × ${MODES.join(", ")}; ${DURATION} s per run; ${pin.note}`)
for (let r = 1; r <= ROUNDS; r++) {
  for (const suite of SUITES) {
    for (const label of rotate(MODES, r - 1)) {
      log(`== round ${r}/${ROUNDS} ${suite} ${label}`)
      const srv = await startInspectServer(label, { prefix: pin.server, otlpUrl: receiver.url })
      const res = await runDriver(driverDir, pin, [...SUITE_ARGS[suite]!(srv.url), "--pid", String(srv.pid), "--label", label], (DURATION + 60) * 1000)
      const feed = srv.feedLines()
      await srv.stop()
      if (res === undefined) continue
      rows.push({
        suite, mode: label, round: r, cpuUs: Number(res["server_cpu_us_per_op"]),
        rate: Number(res["req_per_s"] ?? res["sessions_per_s"]), feed
      })
      await sleep(500)
    }
  }
}
receiver.close()

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(1))
const spread = (xs: Array<number>) => `${f1(median(xs))} [${f1(Math.min(...xs))} – ${f1(Math.max(...xs))}]`
const pct = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)} %`
console.log(`\n${ROUNDS} rounds × ${DURATION} s; server CPU µs per op and rate: median [min – max]; overhead: per round against that round's "off" (OTel rows: "off+otel"), median [min – max]. OTLP bytes received: ${receiver.bytes()}.\n`)
console.log("| suite | mode | server CPU µs/op | rate (/s) | CPU overhead vs off | feed lines |")
console.log("|---|---|---|---|---|---|")
for (const suite of SUITES) {
  for (const mode of MODES) {
    const mine = rows.filter((x) => x.suite === suite && x.mode === mode)
    if (mine.length === 0) continue
    const base = mode.endsWith("+otel") ? "off+otel" : "off"
    const over = mine.flatMap((x) => {
      const b = rows.find((y) => y.suite === suite && y.mode === base && y.round === x.round)
      return b === undefined ? [] : [(x.cpuUs / b.cpuUs - 1) * 100]
    })
    const o = over.length === 0 || mode === base ? "—" : `${pct(median(over)!)} [${pct(Math.min(...over))} – ${pct(Math.max(...over))}]`
    console.log(`| ${suite} | ${mode} | ${spread(mine.map((x) => x.cpuUs))} | ${spread(mine.map((x) => x.rate))} | ${o} | ${mode.startsWith("watched") || mode.startsWith("page") ? Math.round(median(mine.map((x) => x.feed))!) : "—"} |`)
  }
}
