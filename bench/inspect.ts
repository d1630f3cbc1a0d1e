/**
 * What the live inspector and OpenTelemetry cost, in one process and one run:
 * echo calls and session churn (connect, initialize, call, close) over the
 * in-memory transport, with inspection off, on with nobody watching, and on
 * with a feed client reading every message over a real WebSocket (as the page
 * does: `definitions=0`); each of the three again with OTel export on (spans
 * and metrics of server and client, exported over OTLP/HTTP to a receiver in
 * this process, flushed inside the measured window).
 *
 * Modes run interleaved round by round (the order rotates) so machine load
 * hits them alike. Each row gives the median over rounds and the overhead
 * against "off" (or "off + OTel"), computed per round against the same
 * round's baseline, as median [min–max]: on a loaded machine the spread is
 * the honest figure.
 *
 *   node bench/inspect.ts [--rounds 3] [--duration 2] [--modes off,unwatched,...]
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { parseArgs } from "node:util"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { type Inspector, startInspector } from "../src/inspect/InspectorServer.ts"
import { makeOtlpTelemetry } from "../src/observability/otlp.ts"
import type { Telemetry } from "../src/observability/Telemetry.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const { values } = parseArgs({ options: { rounds: { type: "string" }, duration: { type: "string" }, modes: { type: "string" } } })
const ROUNDS = Number(values.rounds ?? 3)
const DURATION_MS = Number(values.duration ?? 2) * 1000
const server = makeDemoServer()

const ALL_MODES = ["off", "unwatched", "watched", "off+otel", "unwatched+otel", "watched+otel"] as const
type Mode = (typeof ALL_MODES)[number]
const modes = (values.modes?.split(",") ?? [...ALL_MODES]) as ReadonlyArray<Mode>
for (const m of modes) if (!ALL_MODES.includes(m)) throw new Error(`unknown mode ${m}`)
const baselineOf = (m: Mode): Mode => (m.endsWith("+otel") ? "off+otel" : "off")

// An OTLP/HTTP receiver: reads and counts what is exported, answers 200.
let exported = 0
const receiver = createServer((req, res) => {
  req.on("data", (c: Buffer) => void (exported += c.length))
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end("{}")
  })
})
await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r))
const otlpUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

let telemetry: Telemetry | undefined

const withMode = async <A>(mode: Mode, run: () => Promise<A>): Promise<A> => {
  let inspector: Inspector | undefined
  let feed: WebSocket | undefined
  let received = 0
  if (mode.endsWith("+otel")) {
    telemetry = await makeOtlpTelemetry({ url: otlpUrl, serviceName: "bench", exportIntervalMs: 1_000 })
    server.telemetry = telemetry
  }
  if (!mode.startsWith("off")) {
    inspector = await startInspector({ retainEndedMs: 1_000, maxEnded: 50 })
    if (mode.startsWith("watched")) {
      feed = new WebSocket(`ws://127.0.0.1:${inspector.port}/feed?definitions=0&token=${inspector.token}`) // as the page does
      feed.on("message", () => void received++)
      await new Promise((r) => feed!.once("open", r))
    }
  }
  try {
    return await run()
  } finally {
    feed?.close()
    await inspector?.close()
    server.telemetry = undefined
    await telemetry?.close()
    telemetry = undefined
    if (mode.startsWith("watched") && received === 0) throw new Error("the feed client received nothing")
  }
}

const connect = async () => {
  const [c, s] = makeMemoryTransportPair()
  const session = serveTransport(server, s)
  const client = await ClientSession.connect(c, { keepalive: false, ...(telemetry === undefined ? {} : { telemetry }) })
  return { client, session }
}

interface Sample {
  readonly rate: number
  readonly cpu: number
}

/** Echo calls on 10 sessions, 8 in flight each, for DURATION_MS: calls/s and CPU µs per call. */
const echo = async (): Promise<Sample> => {
  const pairs = await Promise.all(Array.from({ length: 10 }, connect))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let calls = 0
  await Promise.all(pairs.flatMap(({ client }) =>
    Array.from({ length: 8 }, async () => {
      while (performance.now() - t0 < DURATION_MS) {
        await client.request("tools/call", { name: "echo", arguments: { text: "hello" } })
        calls++
      }
    })
  ))
  await telemetry?.flush()
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await Promise.all(pairs.map(({ client }) => client.close()))
  return { rate: calls / (elapsed / 1000), cpu: (cpu.user + cpu.system) / calls }
}

/** Sessions opened, used once and closed, 8 at a time: sessions/s and CPU µs per session. */
const churn = async (): Promise<Sample> => {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let sessions = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() - t0 < DURATION_MS) {
      const { client, session } = await connect()
      await client.request("tools/call", { name: "echo", arguments: { text: "x" } })
      await client.close()
      await session.ended
      sessions++
    }
  }))
  await telemetry?.flush()
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { rate: sessions / (elapsed / 1000), cpu: (cpu.user + cpu.system) / sessions }
}

const results = new Map<string, Array<Sample>>()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
// Warm up every path once.
for (const mode of modes) {
  await withMode(mode, echo)
  await withMode(mode, churn)
}
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order so no mode always runs first.
  const k = round % modes.length
  for (const mode of [...modes.slice(k), ...modes.slice(0, k)]) {
    for (const [name, run] of [["echo", echo], ["churn", churn]] as const) {
      const r = await withMode(mode, run)
      const key = `${name} ${mode}`
      results.set(key, [...(results.get(key) ?? []), r])
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${key}: ${r.rate.toFixed(0)}/s, ${r.cpu.toFixed(1)} µs CPU\n`)
    }
  }
}
receiver.close()

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`
/** Per-round overhead against the same round's baseline: median [min–max]. */
const overhead = (name: string, mode: Mode, field: "rate" | "cpu"): string => {
  const base = baselineOf(mode)
  if (mode === base || !modes.includes(base)) return ""
  const xs = results.get(`${name} ${mode}`)!
  const bs = results.get(`${name} ${base}`)!
  // For a rate, the overhead is how much longer each operation takes: base/x − 1.
  const ratios = xs.map((x, i) => (field === "cpu" ? x.cpu / bs[i]!.cpu : bs[i]!.rate / x.rate) - 1)
  return ` (${pct(median(ratios))} [${pct(Math.min(...ratios))} – ${pct(Math.max(...ratios))}])`
}
console.log(`${ROUNDS} rounds of ${DURATION_MS / 1000} s per mode and measure; overhead per round against "off" (OTel rows: against "off+otel"), median [min – max]. OTLP bytes received: ${exported}.\n`)
console.log("| mode | echo calls/s | echo CPU µs/call | churn sessions/s | churn CPU µs/session |")
console.log("|---|---|---|---|---|")
for (const mode of modes) {
  const cell = (name: string, field: "rate" | "cpu") => {
    const xs = results.get(`${name} ${mode}`)!.map((r) => r[field])
    return `${median(xs).toFixed(field === "rate" ? 0 : 1)}${overhead(name, mode, field)}`
  }
  console.log(`| ${mode} | ${cell("echo", "rate")} | ${cell("echo", "cpu")} | ${cell("churn", "rate")} | ${cell("churn", "cpu")} |`)
}
