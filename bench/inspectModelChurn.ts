/**
 * bench/inspectModelChurn.ts — the inspector model's own cost per churned session, in one process:
 * what an unwatched (or watched) inspector does for a session that registers, runs a few chart steps
 * (initialize, initialized, one call's request and answer), ends and leaves the registry, against the
 * same loop with no inspector. The chart is a small stand-in (every event a step); the session handle
 * tells its end as a server session does (`endedWith`). Rounds alternate off / on; median per session.
 *
 *   node bench/inspectModelChurn.ts [--sessions 2000] [--rounds 60] [--watched] [--cpu-prof] (run with node --cpu-prof)
 */
import { createActor, setup } from "xstate"
import { InspectorModel } from "../src/inspect/InspectorModel.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import type { SessionEnd, SessionHandle, SessionInfo } from "../src/runtime/SessionHandle.ts"
import { inspection } from "../src/runtime/inspection.ts"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const SESSIONS = Number(opt("sessions", "2000"))
const ROUNDS = Number(opt("rounds", "60"))
const WATCHED = args.includes("--watched")

const chart = setup({ types: {} as { events: { type: string; [k: string]: unknown } } }).createMachine({
  id: "churnSession",
  initial: "awaitingInitialize",
  context: { closeReason: undefined as string | undefined },
  states: {
    awaitingInitialize: { on: { INITIALIZE: "initializing" } },
    initializing: { on: { INITIALIZED: "operating" } },
    operating: { on: { REQUEST: "busy", CLOSE: "closed" } },
    busy: { on: { RESPONSE: "operating" } },
    closed: { type: "final" }
  }
})

let n = 0
const handleOf = (id: string) => {
  const h = {
    id,
    endedWith: undefined as SessionEnd | undefined,
    info: (): SessionInfo => ({ id, role: "server", era: "legacy", protocolVersion: "2025-06-18", state: "operating", transport: "http", peer: { name: "bench", version: "1" }, inFlight: 0, startedAt: 0 }),
    subscribe: () => () => undefined,
    get ended(): Promise<SessionEnd> {
      return Promise.resolve(h.endedWith ?? { expected: true, reason: "x" })
    },
    close: async () => undefined
  }
  return h as SessionHandle & typeof h
}

const registry = makeRegistryUnsafe()
const session = () => {
  const id = `s-${n++}`
  const h = handleOf(id)
  const entry = { handle: h, unsubscribe: undefined, live: false }
  registry.add(entry)
  const actor = createActor(chart, { id, inspect: inspection.observer })
  actor.start()
  actor.send({ type: "INITIALIZE", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18" } })
  actor.send({ type: "INITIALIZED" })
  actor.send({ type: "REQUEST", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } })
  actor.send({ type: "RESPONSE", id: 1 })
  h.endedWith = { expected: true, reason: "terminated by the client (DELETE)" }
  actor.send({ type: "CLOSE" })
  registry.remove(entry)
}

const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const run = (): number => {
  const t0 = cpu()
  for (let i = 0; i < SESSIONS; i++) session()
  return (cpu() - t0) / SESSIONS
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

const off: Array<number> = []
const on: Array<number> = []
// Warm-up (JIT, the first ended views).
run()
for (let r = 0; r < ROUNDS; r++) {
  off.push(run())
  const model = new InspectorModel({ registry })
  const stop = WATCHED ? model.subscribe(() => undefined, { events: false, snapshots: () => undefined }) : undefined
  on.push(run())
  stop?.()
  model.close()
}
const d = on.map((x, i) => x - off[i]!)
const q = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!
console.log(`sessions ${SESSIONS} × ${ROUNDS}: off ${median(off).toFixed(2)} µs, ${WATCHED ? "watched" : "unwatched"} ${median(on).toFixed(2)} µs; model +${median(d).toFixed(2)} µs/session [${q(d, 0.25).toFixed(2)} – ${q(d, 0.75).toFixed(2)}]`)
