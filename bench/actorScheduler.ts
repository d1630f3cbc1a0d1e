/**
 * Session churn through the server session chart, in-process, with the lean
 * scheduler (src/runtime/ActorScheduler.ts) and with xstate's own, alternating
 * blocks so both see the same machine load; prints CPU µs per session (median
 * of the blocks) for each. One session = create the actor on the coarse clock
 * (as HttpServer does), handshake, a few requests and pings (each re-arms the
 * idle deadline), close, stop.
 *
 *   node bench/actorScheduler.ts [--sessions 4000] [--blocks 12]
 *
 * Why in-process: `bench/http.ts --suites churn` measures the same thing end to
 * end, but on a shared 2-core machine its noise (±100 % between runs) is far
 * larger than the few per cent at stake here.
 */
import { createActor } from "xstate"
import { legacyServerSessionMachine } from "../machines/legacyServerSession.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { makeCoarseClock } from "../src/runtime/CoarseClock.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { nonNegative } = scriptArgs("Usage: node bench/actorScheduler.ts [--sessions N] [--blocks N]", {
  sessions: { type: "string" },
  blocks: { type: "string" }
})
const SESSIONS = nonNegative("sessions") ?? 4_000
const BLOCKS = nonNegative("blocks") ?? 12

const clock = makeCoarseClock()
const logic = legacyServerSessionMachine
const params = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } }

const churn = (make: typeof createActor, n: number): number => {
  const start = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const actor = make(logic, { clock, input: { idleTimeoutMs: 30 * 60_000, handshakeTimeoutMs: 10_000, drainTimeoutMs: 1_000 } }).start()
    actor.send({ type: "INITIALIZE", id: 1, params })
    actor.send({ type: "INITIALIZED" })
    for (let r = 2; r < 6; r++) actor.send({ type: "REQUEST", id: r, method: "tools/call" })
    actor.send({ type: "PING", id: 6 })
    actor.send({ type: "CLOSE", reason: "bench", inFlight: 0 })
    actor.stop()
  }
  const used = process.cpuUsage(start)
  return (used.user + used.system) / n
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

// Warm both paths up (JIT) before measuring.
churn(createLeanActor as typeof createActor, 1_000)
churn(createActor, 1_000)
const lean: Array<number> = []
const plain: Array<number> = []
for (let b = 0; b < BLOCKS; b++) {
  // Alternate which goes first so neither always inherits the other's garbage.
  if (b % 2 === 0) {
    lean.push(churn(createLeanActor as typeof createActor, SESSIONS))
    plain.push(churn(createActor, SESSIONS))
  } else {
    plain.push(churn(createActor, SESSIONS))
    lean.push(churn(createLeanActor as typeof createActor, SESSIONS))
  }
}
const fmt = (xs: ReadonlyArray<number>) => `${median(xs).toFixed(1)} µs/session (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`
console.log(`${BLOCKS} blocks × ${SESSIONS} sessions, alternating`)
console.log(`lean scheduler:   ${fmt(lean)}`)
console.log(`xstate scheduler: ${fmt(plain)}`)
console.log(`lean / xstate:    ${(median(lean) / median(plain)).toFixed(3)}`)
clock.clearTimeout(clock.setTimeout(() => {}, 0))
