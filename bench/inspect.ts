/**
 * What the live inspector costs, in one process and one run: echo calls and
 * session churn (connect, initialize, call, close) over the in-memory
 * transport, with inspection off, on with nobody watching, and on with a feed
 * client reading every message over a real WebSocket. Modes are interleaved
 * round by round so machine load hits them alike; the table gives the median
 * and the overhead against "off".
 *
 *   node bench/inspect.ts [--rounds 5] [--duration 2]
 */
import { parseArgs } from "node:util"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { type Inspector, startInspector } from "../src/inspect/InspectorServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const { values } = parseArgs({ options: { rounds: { type: "string" }, duration: { type: "string" } } })
const ROUNDS = Number(values.rounds ?? 5)
const DURATION_MS = Number(values.duration ?? 2) * 1000
const server = makeDemoServer()

type Mode = "off" | "unwatched" | "watched"

const withMode = async <A>(mode: Mode, run: () => Promise<A>): Promise<A> => {
  let inspector: Inspector | undefined
  let feed: WebSocket | undefined
  let received = 0
  if (mode !== "off") {
    inspector = await startInspector({ retainEndedMs: 1_000, maxEnded: 50 })
    if (mode === "watched") {
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
    if (mode === "watched" && received === 0) throw new Error("the feed client received nothing")
  }
}

const connect = async () => {
  const [c, s] = makeMemoryTransportPair()
  const session = serveTransport(server, s)
  const client = await ClientSession.connect(c, { keepalive: false })
  return { client, session }
}

/** Echo calls on 10 sessions, 8 in flight each, for DURATION_MS: calls/s and CPU µs per call. */
const echo = async (): Promise<{ rate: number; cpu: number }> => {
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
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await Promise.all(pairs.map(({ client }) => client.close()))
  return { rate: calls / (elapsed / 1000), cpu: (cpu.user + cpu.system) / calls }
}

/** Sessions opened, used once and closed, 8 at a time: sessions/s and CPU µs per session. */
const churn = async (): Promise<{ rate: number; cpu: number }> => {
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
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { rate: sessions / (elapsed / 1000), cpu: (cpu.user + cpu.system) / sessions }
}

const modes: ReadonlyArray<Mode> = ["off", "unwatched", "watched"]
const results = new Map<string, Array<{ rate: number; cpu: number }>>()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
// Warm up every path once.
for (const mode of modes) await withMode(mode, echo)
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order so no mode always runs first.
  for (const mode of [...modes.slice(round % 3), ...modes.slice(0, round % 3)]) {
    for (const [name, run] of [["echo", echo], ["churn", churn]] as const) {
      const r = await withMode(mode, run)
      const key = `${name} ${mode}`
      results.set(key, [...(results.get(key) ?? []), r])
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${key}: ${r.rate.toFixed(0)}/s, ${r.cpu.toFixed(1)} µs CPU\n`)
    }
  }
}
console.log(`| measure (median of ${ROUNDS} rounds) | off | unwatched | watched |`)
console.log("|---|---|---|---|")
for (const name of ["echo", "churn"]) {
  const unit = name === "echo" ? "calls" : "sessions"
  const rate = (m: Mode) => median(results.get(`${name} ${m}`)!.map((r) => r.rate))
  const cpu = (m: Mode) => median(results.get(`${name} ${m}`)!.map((r) => r.cpu))
  const pct = (x: number, base: number) => `${x >= base ? "+" : ""}${((x / base - 1) * 100).toFixed(1)} %`
  console.log(`| ${name}: ${unit}/s | ${rate("off").toFixed(0)} | ${rate("unwatched").toFixed(0)} (${pct(rate("unwatched"), rate("off"))}) | ${rate("watched").toFixed(0)} (${pct(rate("watched"), rate("off"))}) |`)
  console.log(`| ${name}: CPU µs per ${unit.slice(0, -1)} | ${cpu("off").toFixed(1)} | ${cpu("unwatched").toFixed(1)} (${pct(cpu("unwatched"), cpu("off"))}) | ${cpu("watched").toFixed(1)} (${pct(cpu("watched"), cpu("off"))}) |`)
}
