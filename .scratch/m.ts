import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { eraProbeMachine, keepaliveMachine, legacyClientSessionMachine, legacyServerSessionMachine, listenStreamMachine, outboundRequestMachine } from "../machines/index.ts"

{
// Pure steps: the next snapshot and the named actions to perform; nothing runs.
const [s0] = initialTransition(legacyServerSessionMachine, { idleTimeoutMs: 60_000 })
const [s1, actions] = transition(legacyServerSessionMachine, s0, {
  type: "INITIALIZE", id: 1,
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "host", version: "1.0.0" } }
})
console.log(s1.value)                                                 // "awaitingInitialized"
console.log(actions.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
const [s2, a2] = transition(legacyServerSessionMachine, s1, { type: "INITIALIZED" })
console.log(s2.value, a2.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
}
{
const clock = new SimulatedClock()
const actor = createActor(
  keepaliveMachine.provide({ actions: { sendPing: () => console.log("ping"), pingMissed: () => console.log("missed") } }),
  { clock, input: { pingIntervalMs: 1_000, pingTimeoutMs: 200, maxMisses: 2 } }
).start()
clock.increment(1_000)                            // "ping"
actor.send({ type: "PONG" })
clock.increment(1_000)                            // "ping"
clock.increment(200)                              // "missed"
console.log(actor.getSnapshot().value, actor.getSnapshot().context.misses)   // "idle" 1
clock.increment(1_200)
console.log(actor.getSnapshot().status, actor.getSnapshot().output)
}
{
const clock = new SimulatedClock()
const request = createActor(
  outboundRequestMachine.provide({ actions: { sendCancelled: () => console.log("sent notifications/cancelled") } }),
  { clock, input: { requestId: 7, method: "tools/call", timeoutMs: 5_000, resetTimeoutOnProgress: true } }
).start()
clock.increment(4_000)
request.send({ type: "PROGRESS", progress: 1, total: 2 })   // restarts the 5 s deadline
clock.increment(4_000)
console.log(request.getSnapshot().value)                    // { pending: "awaitingResponse" }
clock.increment(1_000)                                      // "sent notifications/cancelled"
console.log(request.getSnapshot().output)                   // { _tag: "TimedOut", requestId: 7, deadline: "request", … }
}
{
const [s0, a0] = initialTransition(eraProbeMachine, {})
console.log(s0.value, a0.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
const [s1, a1] = transition(eraProbeMachine, s0, { type: "PROBE_ERROR", code: -32601 })
console.log(s1.value, s1.context.era, s1.context.basis, a1.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
const [t1] = transition(eraProbeMachine, s0, { type: "DISCOVER_RESULT", supportedVersions: ["2026-07-28"] })
console.log(t1.value, t1.context.protocolVersion)
const [c0, ca] = initialTransition(eraProbeMachine, { cachedEra: "legacy" })
console.log(c0.value, ca.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
}
{
const clock = new SimulatedClock()
const stream = createActor(
  listenStreamMachine.provide({ actions: { sendListen: () => console.log("listen"), cancelListen: () => console.log("cancel") } }),
  { clock, input: { baseDelayMs: 500, maxAttempts: 3 } }
).start()                                                     // "listen"
stream.send({ type: "ACKNOWLEDGED", filter: { toolsListChanged: true } })
stream.send({ type: "LOST", reason: "connection reset" })
console.log(stream.getSnapshot().value)                       // "waiting"
clock.increment(500)                                          // "listen" (a new request id)
console.log(stream.getSnapshot().value)
stream.send({ type: "CLOSE" })
console.log(stream.getSnapshot().value, stream.getSnapshot().status)
}
{
const [s0, a0] = initialTransition(legacyClientSessionMachine, { keepalive: false })
console.log(s0.value, a0.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
const [s1, a1] = transition(legacyClientSessionMachine, s0, { type: "TRANSPORT_READY" })
console.log(s1.value, a1.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
const [s2, a2] = transition(legacyClientSessionMachine, s1, {
  type: "INITIALIZE_RESULT", protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "notes", version: "1.0.0" }
})
console.log(s2.value, s2.hasTag("ready"), a2.filter((a) => !a.type.startsWith("xstate.")).map((a) => a.type))
}
