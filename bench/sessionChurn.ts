/**
 * HTTP session churn in-process, at the session level: what `HttpServer` does for one
 * churned session minus the sockets — a `ServerSession` whose chart is a child of an
 * HTTP listener node (coarse clock, handshake deadline), supervised (`runtime.adopt`),
 * `initialize`, `notifications/initialized`, then the client's DELETE (`transportClosed`)
 * down to `runtime.ended`. Prints CPU µs per session (median of the blocks).
 *
 *   node bench/sessionChurn.ts [--base DIR] [--sessions 3000] [--blocks 12]
 *
 * With `--base DIR` (another checkout, e.g. a detached worktree of main) both trees run
 * in this one process, blocks alternating, so both see the same machine load; xstate and
 * effect are shared (`node_modules`). Why in-process: on a loaded 2-core machine
 * `bench/http.ts --suites churn` moves ±50 % between runs, more than the change measured.
 */
import { resolve } from "node:path"
import { ROOT } from "./lib.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { values, nonNegative } = scriptArgs("Usage: node bench/sessionChurn.ts [--base DIR] [--sessions N] [--blocks N]", {
  base: { type: "string" },
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

const trees: Array<{ readonly label: string; readonly churn: Churn; readonly us: Array<number> }> = [
  { label: `this tree (${ROOT})`, churn: await load(ROOT), us: [] }
]
const base = values["base"] as string | undefined
if (base !== undefined) trees.push({ label: `base (${resolve(base)})`, churn: await load(resolve(base)), us: [] })
// JIT warm-up of each tree before measuring.
for (const t of trees) await t.churn(2_000)
for (let b = 0; b < BLOCKS; b++) {
  // Alternate which goes first so neither always inherits the other's garbage.
  for (const t of b % 2 === 0 ? trees : [...trees].reverse()) t.us.push(await t.churn(SESSIONS))
}
const fmt = (xs: ReadonlyArray<number>) => `${median(xs).toFixed(1)} µs/session (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`
console.log(`${BLOCKS} blocks × ${SESSIONS} sessions${trees.length > 1 ? ", alternating" : ""}`)
for (const t of trees) console.log(`${t.label}: ${fmt(t.us)}`)
if (trees.length > 1) {
  const ratios = trees[0]!.us.map((x, i) => x / trees[1]!.us[i]!)
  console.log(`this / base, per block pair: median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})`)
}
process.exit(0)
