/**
 * bench/inspectModelSynthetic.ts — the inspector model alone, per churned session, with no actor
 * and no server: a fake inspection hub hands the model what a churned HTTP session gives it (its
 * actor, four snapshots: init, initialize, initialized, the call; then its end), and a real registry
 * registers and removes the session (its handle tells its end, as a server session does). Nobody
 * watching. Measures the model's CPU per session (ns), median of rounds with quartiles: quiet enough
 * to compare two checkouts' models (`--root DIR` imports the model from another checkout).
 *
 *   node bench/inspectModelSynthetic.ts [--sessions 20000] [--rounds 15] [--root DIR]
 */
import { pathToFileURL } from "node:url"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const SESSIONS = Number(opt("sessions", "20000"))
const ROUNDS = Number(opt("rounds", "15"))
const ROOT = pathToFileURL(`${opt("root", new URL("..", import.meta.url).pathname)}/`.replace(/\/+$/, "/"))

const { InspectorModel } = await import(new URL("src/inspect/InspectorModel.ts", ROOT).href) as typeof import("../src/inspect/InspectorModel.ts")
const { makeRegistryUnsafe } = await import(new URL("src/runtime/Registry.ts", ROOT).href) as typeof import("../src/runtime/Registry.ts")

type Listener = (e: unknown) => void
let listener: Listener = () => undefined
const hub = {
  observer: undefined,
  listenerCount: 1,
  subscribe: (l: Listener) => {
    listener = l
    const stop = (() => undefined) as (() => void) & { want: (k: unknown) => void }
    stop.want = () => undefined
    return stop
  }
}
const logic = { id: "legacyServerSession" }
const parent = { sessionId: "x:1" }
let n = 0
const registry = makeRegistryUnsafe()
const events = [
  { type: "REQUEST", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "b", version: "1" } } },
  { type: "NOTIFICATION", method: "notifications/initialized" },
  { type: "REQUEST", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } },
  { type: "RESPONSE", id: 1 }
]
const session = () => {
  const id = `session-${n}`
  const ref = { sessionId: `x:${n++ + 10}`, id, logic, _parent: parent }
  const handle = {
    id,
    endedWith: undefined as undefined | { expected: boolean; reason: string },
    info: () => ({ id, role: "server" as const, era: "legacy" as const, protocolVersion: "2025-06-18", state: "closed", transport: "http" as const, peer: { name: "b", version: "1" }, inFlight: 0, startedAt: 0 }),
    subscribe: () => () => undefined,
    get ended() {
      return new Promise<never>(() => undefined)
    },
    close: async () => undefined
  }
  listener({ type: "@xstate.actor", actorRef: ref, rootId: "x:0" })
  listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event: { type: "xstate.init" }, snapshot: { status: "active", value: "awaitingInitialize", context: {} } })
  const entry = { handle, unsubscribe: undefined, live: false }
  registry.add(entry)
  for (const event of events) listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event, snapshot: { status: "active", value: "operating", context: {} } })
  handle.endedWith = { expected: true, reason: "terminated by the client (DELETE)" }
  listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event: { type: "xstate.stop" }, snapshot: { status: "stopped", value: "operating", context: {} } })
  registry.remove(entry)
}

const model = new InspectorModel({ registry, hub: hub as never })
const cpu = () => process.cpuUsage().user * 1000
const per: Array<number> = []
for (let r = 0; r < ROUNDS + 2; r++) {
  const t0 = cpu()
  for (let i = 0; i < SESSIONS; i++) session()
  if (r >= 2) per.push((cpu() - t0) / SESSIONS)
}
model.close()
per.sort((a, b) => a - b)
const q = (p: number) => per[Math.floor((per.length - 1) * p)]!.toFixed(0)
console.log(`${ROOT.pathname}: ${q(0.5)} ns/session [${q(0.25)} – ${q(0.75)}] (${ROUNDS} rounds of ${SESSIONS})`)
