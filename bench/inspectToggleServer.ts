/**
 * The server of `bench/inspectToggle.ts`: the demo example over Streamable HTTP (as `serve --http 0`), whose
 * inspector is started and closed on command, so that "off" and "unwatched" run in one process.
 *
 *   node bench/inspectToggleServer.ts [CHECKOUT]   prints the MCP URL; then reads lines from stdin:
 *     on    `startInspector()` (nobody watching), as `serve --inspect` starts it; the endpoint's `registry` option
 *           is the one it describes where that is not the runtime's (an older checkout's inspector made its own)
 *     off   the inspector closed, no `registry` option (as `serve` without `--inspect`)
 *     stat  nothing
 *   and answers each with one line: `ok MODE CHANGES GC_MS VIEWS` (the registry changes seen while it was on, the
 *   time V8's collector has taken so far: how much of the inspector's cost is the collector's, and the actors the
 *   inspector's model holds with a step recorded: 0 while on means it is not following the sessions, as at s29, below).
 */
import { createInterface } from "node:readline"
import { PerformanceObserver } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import type { Inspector } from "../src/inspect/InspectorServer.ts"
import type { RegistryUnsafe } from "../src/runtime/Registry.ts"

const root = (process.argv[2] ?? new URL("..", import.meta.url).pathname).replace(/\/+$/, "")
const from = <A>(path: string): Promise<A> => import(pathToFileURL(`${root}/${path}`).href) as Promise<A>
const { examples } = await from<typeof import("../examples/index.ts")>("examples/index.ts")
const { makeHttpServer } = await from<typeof import("../src/server/http/HttpServer.ts")>("src/server/http/HttpServer.ts")
const { startInspector } = await from<typeof import("../src/inspect/InspectorServer.ts")>("src/inspect/InspectorServer.ts")
const { defaultMcpRuntime } = await from<typeof import("../src/runtime/McpRuntime.ts")>("src/runtime/McpRuntime.ts")

let registry: RegistryUnsafe | undefined
let inspector: Inspector | undefined
let stopCounting: (() => void) | undefined
let changes = 0
let gcMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration
}).observe({ entryTypes: ["gc"] })
// Read by the endpoint at each session's registration and removal (it keeps this options object).
const options = {
  port: 0,
  host: "127.0.0.1",
  idleTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  get registry() {
    return registry
  }
}
const http = await makeHttpServer(examples["demo"]!.make(), options)
process.stdout.write(`${http.url}\n`)

for await (const line of createInterface({ input: process.stdin })) {
  if (line === "on" && inspector === undefined) {
    // As `serve --inspect` starts it: the registry it describes is the runtime's (a checkout before that made its
    // own, which the endpoint then listed each session in; an endpoint now skips the runtime's, which has them).
    // `INSPECT_RECORD` (set by inspectToggle.ts `--record`): `always` follows every session with nobody watching.
    inspector = await startInspector({ record: process.env.INSPECT_RECORD === "watched" ? "watched" : "always" })
    // The endpoint's `registry` option only where it is not the runtime's own (which lists every session already).
    registry = inspector.registry === defaultMcpRuntime().registry ? undefined : inspector.registry
    // Added and removed only (`updates: false`), as the inspector listens: following every session's updates
    // would charge "on" for what the inspector does not do (it did, until s29: +2.5 points).
    stopCounting = inspector.registry.subscribe(() => void changes++, { updates: false })
  } else if (line === "off" && inspector !== undefined) {
    stopCounting?.()
    await inspector.close()
    inspector = undefined
    registry = undefined
  }
  // Until s30 an inspector started after the endpoint saw none of its sessions (the registry's changes, not their charts):
  // the bench's "on" then ran no model at all.
  // (Actors whose record took a step: a model that made views but lost their actors records nothing.)
  const views = inspector === undefined ? 0 : [...inspector.model.actors()].filter((a) => a.record.size > 0).length
  process.stdout.write(`ok ${inspector === undefined ? "off" : "on"} ${changes} ${gcMs} ${views}\n`)
}
await inspector?.close()
await http.close({ drainMs: 0 })
