/**
 * Issue 13: "a fast path that answers a request without an actor step stays allowed only
 * where the chart's transition for it is a pure self-transition, and a test proves the fast
 * path and the chart agree (model-based: `xstate/graph` paths run against the
 * production-provided machine over a real transport)".
 *
 * The server session's fast path: in `operating`, `ServerSession` dispatches a request
 * itself instead of sending `REQUEST` to its chart (docs/architecture.md, "The hot path");
 * the chart's transition there is the targetless `REQUEST / dispatch`. Here every shortest
 * `xstate/graph` path of `legacyServerSessionMachine` is played over a real WebSocket
 * against `serveTransport` (the production session, running `runtimeServerMachine`), with
 * the deadlines on a `SimulatedClock`. After each step the session's state must be the
 * chart's, and each answer must be what the chart's transition does (respondInitialize,
 * reject with its code, dispatch, replyPong). The inspection hub shows which requests
 * reached the chart: none in `operating` (the fast path), every one elsewhere.
 *
 * Facts the runtime supplies and the wire cannot choose: CLOSE carries "nothing in
 * flight" (every request here is answered before the next step), and a `closing` session
 * with nothing in flight is `DRAINED` at once (`ServerSession._beginDrain`), so the
 * reference takes DRAINED right after entering `closing`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AnyActorRef, initialTransition, type InspectionEvent, SimulatedClock, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import WebSocket, { WebSocketServer } from "ws"
import { type LegacyServerSessionInput, legacyServerSessionMachine as machine } from "../machines/legacyServerSession.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { ServerSession } from "../src/server/ServerSession.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsTransport, WS_SUBPROTOCOL } from "../src/transports/wsTransport.ts"
import { afterEvent } from "./support/eventOnlyTwin.ts"

const HANDSHAKE_MS = 1_000
const IDLE_MS = 1_000
const DRAIN_MS = 300
const base: LegacyServerSessionInput = { handshakeTimeoutMs: HANDSHAKE_MS, idleTimeoutMs: IDLE_MS, drainTimeoutMs: DRAIN_MS }
const inputs: ReadonlyArray<LegacyServerSessionInput> = [base, { ...base, earlyRequests: "accept" }]

const HANDSHAKE_1 = afterEvent("handshakeTimeout", "legacyServerSession.awaitingInitialize")
const HANDSHAKE_2 = afterEvent("handshakeTimeout", "legacyServerSession.awaitingInitialized")
const IDLE = afterEvent("idleTimeout", "legacyServerSession.operating")
const DELAY: Readonly<Record<string, number>> = { [HANDSHAKE_1.type]: HANDSHAKE_MS, [HANDSHAKE_2.type]: HANDSHAKE_MS, [IDLE.type]: IDLE_MS }

const validParams = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "model", version: "1.0.0" } }
/** The events a peer (or the server's owner, or the clock) can cause; ids are renumbered when played. */
const events = [
  { type: "INITIALIZE", id: 0, params: validParams },
  { type: "INITIALIZE", id: 0, params: {} },
  { type: "INITIALIZED" },
  { type: "REQUEST", id: 0, method: "tools/call" },
  { type: "PING", id: 0 },
  { type: "CLOSE", reason: "closed by the test", inFlight: 0 },
  { type: "TRANSPORT_CLOSED", reason: "peer closed" },
  HANDSHAKE_1,
  HANDSHAKE_2,
  IDLE
]

type Wire = { readonly id?: number; readonly result?: { readonly protocolVersion?: string; readonly content?: ReadonlyArray<{ readonly text: string }> }; readonly error?: { readonly code: number } }
type Step = { readonly type: string; readonly id?: number; readonly params?: unknown; readonly [k: string]: unknown }
type Action = { readonly type: string; readonly params?: { readonly id?: number; readonly code?: number } }

const echo = () =>
  new McpServer({ name: "model", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )

let runtime: McpRuntime
let wss: WebSocketServer
let url: string
/** The session serving the connection that opened last. */
let current: { session: ServerSession; clock: SimulatedClock } | undefined
let clockForNext: SimulatedClock
let inputForNext: LegacyServerSessionInput
/** `REQUEST` events that reached a session's chart, by session id. */
const chartRequests = new Map<string, Array<number>>()
let stopWatching: (() => void) | undefined

beforeAll(async () => {
  stopWatching = inspection.subscribe((e: InspectionEvent) => {
    if (e.type !== "@xstate.event" || e.event.type !== "REQUEST") return
    const id = (e.actorRef as AnyActorRef).id
    chartRequests.set(id, [...(chartRequests.get(id) ?? []), (e.event as unknown as { id: number }).id])
  }, { kinds: ["@xstate.event"] })
  runtime = makeMcpRuntime()
  const server = echo()
  wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => WS_SUBPROTOCOL })
  await new Promise((resolve) => wss.once("listening", resolve))
  url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
  wss.on("connection", (socket) => {
    const clock = clockForNext
    const session = serveTransport(server, makeWsTransport(socket as never, { clock, heartbeatMs: 0 }), {
      runtime,
      clock,
      ...inputForNext,
      progressBarrier: () => false
    })
    current = { session, clock }
  })
})

afterAll(async () => {
  stopWatching?.()
  for (const c of wss.clients) c.terminate()
  await new Promise((resolve) => wss.close(resolve))
  await runtime.shutdown({ drainMs: 0 })
})

/** A raw WebSocket peer: what it received, by id, and whether the server closed it. */
const connect = async () => {
  const received = new Map<number, Wire>()
  let closed = false
  const waiters: Array<() => void> = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  const ws = new WebSocket(url, WS_SUBPROTOCOL)
  ws.on("message", (data) => {
    const m = JSON.parse(String(data)) as Wire
    if (typeof m.id === "number") received.set(m.id, m)
    wake()
  })
  ws.on("close", () => {
    closed = true
    wake()
  })
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject))
  // Real socket I/O: woken by each frame or the close, no polling.
  const until = async (check: () => boolean) => {
    while (!check()) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  const send = (m: unknown) => ws.send(JSON.stringify(m))
  return { ws, received, until, send, get closed() { return closed } }
}

describe("server session: the fast path and the chart agree (xstate/graph paths over a real WebSocket)", () => {
  for (const input of inputs) {
    // Every transition: the shortest path to each reachable state (and context), then each
    // event once from there, self-transitions (the fast path's `REQUEST / dispatch`) included.
    const prefixes = getShortestPaths(machine, { events: events as never, input })
      .map((p) => p.steps.map((s) => s.event as Step).filter((e) => e.type !== "xstate.init"))
    const paths = prefixes.flatMap((prefix) => events.map((e) => [...prefix, e as Step]))

    it(`earlyRequests ${input.earlyRequests ?? "reject"}: ${paths.length} paths (${prefixes.length} reachable snapshots × ${events.length} events); state and every answer as the chart says; requests in operating answered without a chart step`, async () => {
      expect(prefixes.length).toBeGreaterThanOrEqual(5) // awaitingInitialize, awaitingInitialized, operating, closed (+ contexts)
      let fastPathServed = 0
      let chartServed = 0
      for (const path of paths) {
        const label = path.map((e) => e.type).join(" → ")
        clockForNext = new SimulatedClock()
        inputForNext = input
        current = undefined
        const peer = await connect()
        await peer.until(() => current !== undefined)
        const { session, clock } = current!
        let [model] = initialTransition(machine, input)
        let nextId = 0
        for (const step of path) {
          if (model.status !== "active") break // the chart ended: nothing more reaches it
          // A deadline exists only in its state: advancing the clock elsewhere would fire another one.
          if (step.type in DELAY && !step.type.endsWith(`.legacyServerSession.${String(model.value)}`)) continue
          const before = model.value
          const id = ++nextId
          let wireEvent: Step = step
          if (step.type === "INITIALIZE") {
            wireEvent = { ...step, id }
            peer.send({ jsonrpc: "2.0", id, method: "initialize", params: step.params })
          } else if (step.type === "REQUEST") {
            wireEvent = { ...step, id }
            peer.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: `r${id}` } } })
          } else if (step.type === "PING") {
            wireEvent = { ...step, id }
            peer.send({ jsonrpc: "2.0", id, method: "ping" })
          } else if (step.type === "INITIALIZED") peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
          else if (step.type === "CLOSE") void session.close({ reason: "closed by the test" })
          else if (step.type === "TRANSPORT_CLOSED") peer.ws.close()
          else clock.increment(DELAY[step.type]!)
          // The reference: the chart's own transition, and DRAINED for a `closing` with nothing in flight.
          const [next, actions] = transition(machine, model, wireEvent as never)
          model = next.value === "closing" ? transition(machine, next, { type: "DRAINED" })[0] : next
          const mine = (actions as ReadonlyArray<Action>).filter((a) => a.params?.id === id)
          if (step.id !== undefined) {
            // A request: exactly one answering action, and the answer on the wire is its.
            expect(mine.map((a) => a.type), label).toHaveLength(1)
            await peer.until(() => peer.received.has(id) || peer.closed)
            const answer = peer.received.get(id)
            const action = mine[0]!
            if (action.type === "respondInitialize") expect(answer?.result?.protocolVersion, `${label}: initialize`).toBe(next.context.protocolVersion)
            else if (action.type === "reject") expect(answer?.error?.code, `${label}: ${step.type} rejected`).toBe(action.params!.code)
            else if (action.type === "replyPong") expect(answer?.result, `${label}: pong`).toEqual({})
            else if (action.type === "dispatch") expect(answer?.result?.content?.[0]?.text, `${label}: dispatched`).toBe(`r${id}`)
            else throw new Error(`${label}: unexpected answering action ${action.type}`)
            if (step.type === "REQUEST") {
              const reachedChart = (chartRequests.get(session.id) ?? []).includes(id)
              // In operating the session answers without a chart step; elsewhere the chart decides.
              expect(reachedChart, `${label}: REQUEST ${id} in ${String(before)} reached the chart`).toBe(before !== "operating")
              if (reachedChart) chartServed++
              else fastPathServed++
            }
          } else if (model.status === "active") {
            // No answer of its own: a ping round trip (a pure self-transition of the chart) orders it.
            const barrier = ++nextId
            peer.send({ jsonrpc: "2.0", id: barrier, method: "ping" })
            await peer.until(() => peer.received.has(barrier) || peer.closed)
            expect(peer.closed, `${label}: the server closed the connection after ${step.type}; the chart is ${String(model.value)}`).toBe(false)
            model = transition(machine, model, { type: "PING", id: barrier } as never)[0]
          }
          if (model.status !== "active") await peer.until(() => peer.closed)
          expect(session.stateName(), `${label}: after ${step.type}`).toBe(String(model.value))
        }
        if (!peer.closed) {
          peer.ws.close()
          await peer.until(() => peer.closed)
        }
        await session.ended
      }
      expect(fastPathServed, "paths with a request in operating").toBeGreaterThan(0)
      expect(chartServed, "paths with a request outside operating").toBeGreaterThan(0)
      expect(runtime.registry.size).toBe(0)
    }, 120_000)
  }
})
