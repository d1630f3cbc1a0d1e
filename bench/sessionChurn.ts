/**
 * HTTP session churn in-process, at the session level: what `HttpServer` does for one
 * churned session minus the sockets — a `ServerSession` whose chart is a child of an
 * HTTP listener node (coarse clock, handshake deadline), supervised (`runtime.adopt`),
 * `initialize`, `notifications/initialized`, then the client's DELETE (`transportClosed`)
 * down to `runtime.ended`. Prints CPU µs per session (mean and median of the blocks).
 *
 *   node bench/sessionChurn.ts [--sessions 3000] [--blocks 12]
 *
 * To compare two trees, run it from each checkout in turn (base, yours, base, yours …):
 * two trees loaded into one process were not comparable (an A/A run of one tree loaded
 * twice read 0.78×). Why in-process: on a loaded 2-core machine `bench/http.ts --suites
 * churn` moves ±50 % between runs, more than the change measured; here it is less.
 */
import { ROOT } from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { nonNegative } = scriptArgs("Usage: node bench/sessionChurn.ts [--sessions N] [--blocks N]", {
  sessions: { type: "string" },
  blocks: { type: "string" }
})
const SESSIONS = nonNegative("sessions") ?? 3_000
const BLOCKS = nonNegative("blocks") ?? 12

type Churn = (n: number) => Promise<number>

/** One tree's session lifecycle, as `HttpServer` drives it. */
const load = async (root: string): Promise<Churn> => {
  const { McpServer } = await import(`${root}/src/server/McpServer.ts`)
  const { ServerSession } = await import(`${root}/src/server/ServerSession.ts`)
  const { makeMcpRuntime } = await import(`${root}/src/runtime/McpRuntime.ts`)
  const { makeCoarseClock } = await import(`${root}/src/runtime/CoarseClock.ts`)
  const server = new McpServer({ name: "bench", version: "1" })
  const runtime = makeMcpRuntime()
  const listener = runtime.openListener({ kind: "http" })
  // HttpServer's session options (its defaults), shared by every session of the server.
  const options = {
    actorParent: listener.actor,
    idleTimeoutMs: 30 * 60_000,
    handshakeTimeoutMs: 10_000,
    clock: makeCoarseClock({ base: runtime.clock }),
    transport: "http",
    send: () => {
      throw new Error("sent through the owner")
    }
  }
  const params = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } }
  const release = (s: { transportClosed(c: unknown): void }) => s.transportClosed({ expected: true, reason: "server shut down" })
  let answered = 0
  return async (n) => {
    const start = process.cpuUsage()
    for (let i = 0; i < n; i++) {
      let session: { id: string } | undefined
      const owner = {
        deliver: () => void answered++,
        dropStream: () => false,
        sessionReleased: (end: unknown) => runtime.ended(session!.id, end),
        sessionReady: () => {}
      }
      const s = new ServerSession(server, options, owner)
      session = s
      runtime.adopt(s, listener, release)
      s.receive({ jsonrpc: "2.0", id: 1, method: "initialize", params })
      s.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
      s.transportClosed({ expected: true, reason: "terminated by the client (DELETE)" })
      // Let the released sessions' microtasks run, as the event loop does between requests.
      if (i % 32 === 31) await new Promise((r) => setImmediate(r))
    }
    await new Promise((r) => setImmediate(r))
    const used = process.cpuUsage(start)
    if (runtime.registry.size !== 0) throw new Error(`${root}: ${runtime.registry.size} sessions left`)
    if (answered === 0) throw new Error(`${root}: initialize was never answered`)
    return (used.user + used.system) / n
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const churn = await load(ROOT)
await churn(2_000) // JIT warm-up
const us: Array<number> = []
for (let b = 0; b < BLOCKS; b++) us.push(await churn(SESSIONS))
// The mean too: a block with a major GC costs far more than one without, so the median alone can mislead.
const mean = us.reduce((a, b) => a + b, 0) / us.length
console.log(`${BLOCKS} blocks × ${SESSIONS} sessions, ${ROOT}: mean ${mean.toFixed(1)}, median ${median(us).toFixed(1)} µs/session (min ${Math.min(...us).toFixed(1)}, max ${Math.max(...us).toFixed(1)})`)
process.exit(0)
