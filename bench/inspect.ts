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
 *   node bench/inspect.ts [--rounds 3] [--duration 2] [--modes off,unwatched,...] [--measures echo,churn] [--registry]
 *
 * `--registry` registers each inspected server session in the inspector's registry, as
 * `serve --inspect` and `inspect: true` do (the inspector then also follows every session's
 * summary: side, peer, requests in flight, each change of which is an update).
 *
 * `--ab N` instead alternates short slices (200 ms) of "off" and "unwatched"
 * (then "off" and "watched") N times each, in the same process, and sums the
 * CPU of each side: on a machine whose load moves by the second, that cancels
 * much more of the noise than whole runs side by side. Echo runs on two sets
 * of sessions, each under its own runtime, one made before the inspector
 * started (never inspected), one after; churn starts and stops the inspector
 * around its inspected slices (outside the measured CPU).
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
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const { values } = parseArgs({ options: { rounds: { type: "string" }, duration: { type: "string" }, modes: { type: "string" }, ab: { type: "string" }, registry: { type: "boolean" }, measures: { type: "string" } } })
const MEASURES = values.measures?.split(",") ?? ["echo", "churn"]
const REGISTRY = values.registry === true
/** The running inspector (sessions made while it runs are registered with it under `--registry`). */
let current: Inspector | undefined
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
    current = inspector
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
    current = undefined
    await inspector?.close()
    server.telemetry = undefined
    await telemetry?.close()
    telemetry = undefined
    if (mode.startsWith("watched") && received === 0) throw new Error("the feed client received nothing")
  }
}

const connect = async (runtime?: McpRuntime) => {
  const [c, s] = makeMemoryTransportPair()
  const session = serveTransport(server, s, runtime === undefined ? {} : { runtime })
  if (REGISTRY && current !== undefined) {
    const unregister = current.registry.register(session)
    void session.ended.then(unregister)
  }
  const client = await ClientSession.connect(c, { keepalive: false, ...(telemetry === undefined ? {} : { telemetry }) })
  return { client, session }
}

interface Sample {
  readonly rate: number
  readonly cpu: number
}

/** Echo calls on 10 sessions, 8 in flight each, for DURATION_MS: calls/s and CPU µs per call. */
const echo = async (): Promise<Sample> => {
  const pairs = await Promise.all(Array.from({ length: 10 }, () => connect()))
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

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`

if (values.ab !== undefined) {
  const N = Number(values.ab)
  const SLICE_MS = 200
  /** One event-loop turn (timers and sockets run). */
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
  type Pair = Awaited<ReturnType<typeof connect>>
  const echoSlice = async (pairs: ReadonlyArray<Pair>) => {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let calls = 0
    await Promise.all(pairs.flatMap(({ client }) =>
      Array.from({ length: 8 }, async () => {
        while (performance.now() - t0 < SLICE_MS) {
          await client.request("tools/call", { name: "echo", arguments: { text: "hello" } })
          // The memory transport answers in microtasks: without a turn now and then, the inspector's
          // flush timer and its feed socket (in this process) would never run inside a slice.
          if (++calls % 64 === 0) await turn()
        }
      })
    ))
    const cpu = process.cpuUsage(cpu0)
    return { cpu: cpu.user + cpu.system, ops: calls }
  }
  const churnSlice = async () => {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    let sessions = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (performance.now() - t0 < SLICE_MS) {
        const { client, session } = await connect()
        await client.request("tools/call", { name: "echo", arguments: { text: "x" } })
        await client.close()
        await session.ended
        if (++sessions % 16 === 0) await turn()
      }
    }))
    const cpu = process.cpuUsage(cpu0)
    return { cpu: cpu.user + cpu.system, ops: sessions }
  }
  const startWatching = async (watched: boolean) => {
    const inspector = await startInspector({ retainEndedMs: 1_000, maxEnded: 50 })
    current = inspector
    let feed: WebSocket | undefined
    let received = 0
    if (watched) {
      feed = new WebSocket(`ws://127.0.0.1:${inspector.port}/feed?definitions=0&token=${inspector.token}`)
      feed.on("message", () => void received++)
      await new Promise((r) => feed!.once("open", r))
    }
    return {
      stop: async () => {
        feed?.close()
        current = undefined
        await inspector.close()
        if (watched && received === 0) throw new Error("the feed client received nothing")
      }
    }
  }
  type Tally = { cpu: number; ops: number }
  const report = (name: string, a: Array<Tally>, b: Array<Tally>) => {
    const sum = (xs: Array<Tally>) => xs.reduce((s, x) => ({ cpu: s.cpu + x.cpu, ops: s.ops + x.ops }), { cpu: 0, ops: 0 })
    const A = sum(a)
    const B = sum(b)
    const ratios = a.map((x, i) => (b[i]!.cpu / b[i]!.ops) / (x.cpu / x.ops) - 1).sort((p, q) => p - q)
    const q = (f: number) => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))]!
    console.log(`| ${name} | ${(A.cpu / A.ops).toFixed(1)} | ${(B.cpu / B.ops).toFixed(1)} | **${pct((B.cpu / B.ops) / (A.cpu / A.ops) - 1)}** | ${pct(q(0.5))} [${pct(q(0.25))} – ${pct(q(0.75))}] |`)
  }
  console.log(`${N} alternations of ${SLICE_MS} ms slices per pair (order alternating); CPU µs per operation summed over all slices; per-slice-pair overhead as median [interquartile range].\n`)
  console.log("| measure | off µs/op | inspected µs/op | overhead (sums) | per pair: median [IQR] |")
  console.log("|---|---|---|---|---|")
  for (const watched of [false, true]) {
    const mode = watched ? "watched" : "unwatched"
    // Echo: one set of sessions made before the inspector (never inspected), one after.
    const runtimeA = makeMcpRuntime()
    const pairsA = await Promise.all(Array.from({ length: 10 }, () => connect(runtimeA)))
    const watching = await startWatching(watched)
    const runtimeB = makeMcpRuntime()
    const pairsB = await Promise.all(Array.from({ length: 10 }, () => connect(runtimeB)))
    await echoSlice(pairsA)
    await echoSlice(pairsB)
    const ea: Array<Tally> = []
    const eb: Array<Tally> = []
    for (let i = 0; i < N; i++) {
      if (i % 2 === 0) {
        ea.push(await echoSlice(pairsA))
        eb.push(await echoSlice(pairsB))
      } else {
        eb.push(await echoSlice(pairsB))
        ea.push(await echoSlice(pairsA))
      }
    }
    await Promise.all([...pairsA, ...pairsB].map(({ client }) => client.close()))
    await watching.stop()
    await Promise.all([runtimeA.shutdown(), runtimeB.shutdown()])
    report(`echo, ${mode}`, ea, eb)
    // Churn: the inspector runs only around the inspected slices.
    const ca: Array<Tally> = []
    const cb: Array<Tally> = []
    const inspected = async () => {
      const w = await startWatching(watched)
      const r = await churnSlice()
      await w.stop()
      return r
    }
    await churnSlice()
    await inspected()
    for (let i = 0; i < N; i++) {
      if (i % 2 === 0) {
        ca.push(await churnSlice())
        cb.push(await inspected())
      } else {
        cb.push(await inspected())
        ca.push(await churnSlice())
      }
    }
    report(`churn, ${mode}`, ca, cb)
  }
  receiver.close()
  process.exit(0)
}

const results = new Map<string, Array<Sample>>()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
// Warm up every path once.
for (const mode of modes) {
  if (MEASURES.includes("echo")) await withMode(mode, echo)
  if (MEASURES.includes("churn")) await withMode(mode, churn)
}
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order so no mode always runs first.
  const k = round % modes.length
  for (const mode of [...modes.slice(k), ...modes.slice(0, k)]) {
    for (const [name, run] of [["echo", echo], ["churn", churn]] as const) {
      if (!MEASURES.includes(name)) continue
      const r = await withMode(mode, run)
      const key = `${name} ${mode}`
      results.set(key, [...(results.get(key) ?? []), r])
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${key}: ${r.rate.toFixed(0)}/s, ${r.cpu.toFixed(1)} µs CPU\n`)
    }
  }
}
receiver.close()
/** Per-round overhead against the same round's baseline: median [min–max]. */
const overhead = (name: string, mode: Mode, field: "rate" | "cpu"): string => {
  const base = baselineOf(mode)
  if (mode === base || !modes.includes(base) || !MEASURES.includes(name)) return ""
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
    const rs = results.get(`${name} ${mode}`)
    if (rs === undefined) return "–"
    const xs = rs.map((r) => r[field])
    return `${median(xs).toFixed(field === "rate" ? 0 : 1)}${overhead(name, mode, field)}`
  }
  console.log(`| ${mode} | ${cell("echo", "rate")} | ${cell("echo", "cpu")} | ${cell("churn", "rate")} | ${cell("churn", "cpu")} |`)
}
