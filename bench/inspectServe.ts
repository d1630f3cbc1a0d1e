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
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { ROOT, log, median, pinning, prepareDriver, rotate, runDriver, sleep } from "./lib.ts"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const ROUNDS = Number(opt("rounds", "3"))
const DURATION = Number(opt("duration", "5"))
const OTEL = args.includes("--otel")
const SUITES = opt("suites", "echo,churn").split(",")
const MAIN = join(ROOT, "src", "cli", "main.ts")
const driverDir = prepareDriver()
const pin = pinning(args.includes("--no-pin"))

let otlpBytes = 0
const receiver = createServer((req, res) => {
  req.on("data", (c: Buffer) => (otlpBytes += c.length))
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
})
await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r))
const otlpUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

interface Running { readonly pid: number; readonly url: string; readonly stop: () => Promise<void>; readonly feedLines: () => number }

const waitClose = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("close", () => r())))

const start = async (mode: string, otel: boolean): Promise<Running> => {
  const argv = [...pin.server, process.execPath, MAIN, "serve", "--http", "0",
    ...(mode === "off" ? [] : ["--inspect"]), ...(otel ? ["--otlp", otlpUrl] : [])]
  const srv = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
  let err = ""
  const ready = await new Promise<{ url: string; inspector?: string }>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`server did not start: ${err}`)), 30_000)
    srv.stderr!.setEncoding("utf8").on("data", (c: string) => {
      err += c
      const url = /serving Streamable HTTP on (\S+)/.exec(err)?.[1]
      const insp = /inspector on (\S+)/.exec(err)?.[1]
      if (url !== undefined && (mode === "off" || insp !== undefined)) {
        clearTimeout(t)
        ok({ url, ...(insp === undefined ? {} : { inspector: insp }) })
      }
    })
    srv.once("exit", (code) => fail(new Error(`server exited ${code}: ${err}`)))
  })
  srv.stdout!.resume()
  let lines = 0
  let feed: ChildProcess | undefined
  if (mode === "watched" || mode === "page") {
    feed = mode === "watched"
      ? spawn(process.execPath, [MAIN, "inspect", ready.inspector!, "--json"], { stdio: ["ignore", "pipe", "ignore"] })
      : spawn(process.execPath, ["-e", PAGE_FEED, ready.inspector!], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
    feed.stdout!.setEncoding("utf8").on("data", (c: string) => {
      for (let i = c.indexOf("\n"); i >= 0; i = c.indexOf("\n", i + 1)) lines++
    })
    // connected: the feed's first message (the snapshot) arrived
    for (let i = 0; i < 100 && lines === 0; i++) await sleep(100)
  }
  return {
    pid: srv.pid!, url: ready.url, feedLines: () => lines,
    stop: async () => {
      feed?.kill("SIGTERM")
      if (feed) await waitClose(feed)
      srv.kill("SIGTERM")
      await waitClose(srv)
    }
  }
}

/** The page's feed from another process: the lean WebSocket the page opens, one line out per message received. */
const PAGE_FEED = `
const { WebSocket } = require("ws");
const page = new URL(process.argv[1]);
const ws = new WebSocket("ws://" + page.host + "/feed?definitions=0&token=" + page.searchParams.get("token"), { origin: page.origin, perMessageDeflate: false });
ws.on("message", (d) => { const t = String(d); let n = 1; for (let i = t.indexOf("\\n"); i >= 0; i = t.indexOf("\\n", i + 1)) n++; process.stdout.write("\\n".repeat(n)) });
ws.on("close", () => process.exit(0));
process.on("SIGTERM", () => ws.terminate());
`

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
      const [mode, otel] = [label.replace("+otel", ""), label.endsWith("+otel")]
      log(`== round ${r}/${ROUNDS} ${suite} ${label}`)
      const srv = await start(mode, otel)
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
console.log(`\n${ROUNDS} rounds × ${DURATION} s; server CPU µs per op and rate: median [min – max]; overhead: per round against that round's "off" (OTel rows: "off+otel"), median [min – max]. OTLP bytes received: ${otlpBytes}.\n`)
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
