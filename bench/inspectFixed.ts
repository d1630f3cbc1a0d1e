/**
 * The inspector's cost over a fixed amount of work, one process per run: N echo calls on 10
 * sessions (8 in flight each), or N churned sessions (8 at a time), after N/4 of warm-up, with
 * inspection `off`, `unwatched` (inspector started before the sessions) or `watched` (a feed
 * client as the page: `definitions=0`). Prints one JSON line: CPU µs per operation, and the
 * collections in the measured window (count, pause µs per operation).
 *
 *   node bench/inspectFixed.ts MODE echo|churn N
 *   node --trace-gc-nvp bench/inspectFixed.ts …   # @@START / @@END mark the measured window in the trace
 *
 * Why besides `bench/inspect.ts --ab`: `--ab` runs both sides in one heap, so the collections the
 * inspected side causes are partly charged to the uninspected one; one process per mode is charged
 * all of its own (docs/performance.md, "Third pass"). Run modes interleaved, several rounds.
 */
import { PerformanceObserver } from "node:perf_hooks"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { type Inspector, startInspector } from "../src/inspect/InspectorServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const [mode = "unwatched", measure = "echo", nText = "30000"] = process.argv.slice(2)
if (!["off", "unwatched", "watched"].includes(mode) || !["echo", "churn"].includes(measure)) {
  console.error("usage: node bench/inspectFixed.ts off|unwatched|watched echo|churn N")
  process.exit(2)
}
const N = Number(nText)
const server = makeDemoServer()
let inspector: Inspector | undefined
let feed: WebSocket | undefined
let received = 0
if (mode !== "off") {
  inspector = await startInspector({ retainEndedMs: 1_000, maxEnded: 50 })
  if (mode === "watched") {
    feed = new WebSocket(`ws://127.0.0.1:${inspector.port}/feed?definitions=0&token=${inspector.token}`)
    feed.on("message", () => void received++)
    await new Promise((r) => feed!.once("open", r))
  }
}
const connect = async () => {
  const [c, s] = makeMemoryTransportPair()
  const session = serveTransport(server, s, {})
  const client = await ClientSession.connect(c, { keepalive: false })
  return { client, session }
}
type Pair = Awaited<ReturnType<typeof connect>>
const echo = async (pairs: ReadonlyArray<Pair>, n: number) => {
  let left = n
  await Promise.all(pairs.flatMap(({ client }) =>
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await client.request("tools/call", { name: "echo", arguments: { text: "hello" } })
    })
  ))
}
const churn = async (n: number) => {
  let left = n
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (left-- > 0) {
      const { client, session } = await connect()
      await client.request("tools/call", { name: "echo", arguments: { text: "x" } })
      await client.close()
      await session.ended
    }
  }))
}
let pairs: ReadonlyArray<Pair> = []
if (measure === "echo") {
  pairs = await Promise.all(Array.from({ length: 10 }, () => connect()))
  await echo(pairs, Math.max(200, N / 4))
} else await churn(Math.max(50, N / 4))

let gcMs = 0
let gcs = 0
const count = (entries: ReadonlyArray<{ readonly duration: number }>) => {
  for (const e of entries) {
    gcMs += e.duration
    gcs++
  }
}
const observer = new PerformanceObserver((list) => count(list.getEntries()))
observer.observe({ entryTypes: ["gc"] })
process.stdout.write("@@START\n")
const cpu0 = process.cpuUsage()
if (measure === "echo") await echo(pairs, N)
else await churn(N)
const cpu = process.cpuUsage(cpu0)
process.stdout.write("@@END\n")
await new Promise<void>((r) => setImmediate(r))
count(observer.takeRecords())
observer.disconnect()
console.log(JSON.stringify({ mode, measure, N, cpuPerOp: +((cpu.user + cpu.system) / N).toFixed(1), gcs, gcPauseUsPerOp: +((gcMs * 1000) / N).toFixed(2), feedMessages: received }))
await Promise.all(pairs.map(({ client }) => client.close()))
feed?.close()
await inspector?.close()
process.exit(0)
