/**
 * The modern request's chart runs on message transports too, and its fast path agrees with it
 * (model-based, as test/modern.fastpath.test.ts does over HTTP).
 *
 * A 2026-07-28 request on a stdio, WebSocket or in-memory connection is run by the same driver
 * as over HTTP (`ModernRequestRun`, src/server/session/ModernRequestRun.ts), with the session as
 * its writer. Every simple path of the production-provided `modernRequest` machine that ends in a
 * final state and can happen on a message transport is turned into a scenario (a scripted tool,
 * the request, and what the client does meanwhile: read progress, send `notifications/cancelled`)
 * and driven over a real WebSocket and over the in-memory transport, with the fast path (the
 * default) and with the chart forced (`modernRequests: { chart: "always" }`). Both runs must give
 * the same wire (every message the client got, the sealed `requestState` masked), the same final
 * chart state, context and events, and those must be the path's own; pure paths must really take
 * the fast path. `SHUTDOWN` is HTTP's (a closing HTTP server answers open requests): a message
 * transport's session drains its requests and cancels what is left, which is checked apart.
 *
 * Also: an inspected connection shows one `modernRequest` actor per request, a child of that
 * connection's actor (the runtime's tree); and a real stdio server process answers pipelined
 * modern requests through the chart.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { afterEach, describe, expect, it } from "vitest"
import { type AnyActorRef, type InspectionEvent } from "xstate"
import { getSimplePaths } from "xstate/graph"
import WebSocket from "ws"
import type { ModernRequestEvent } from "../machines/modernRequest.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeScriptServer, modelEvents, type Script } from "./support/scriptedTool.ts"
import { type ModernRequestOptions, type ModernRequestSettled, runningModernRequest } from "../src/server/session/ModernRequestRun.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"

const MODERN = "2026-07-28"
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
  progressToken: "p"
}
const CANCEL_REASON = "cancelled by the test"

/** The events of the model, with the values the real session produces for them. */
const MODEL_EVENTS = modelEvents(CANCEL_REASON)

const makeServer = (hanging: () => void): McpServer => makeScriptServer("fastpath-messages", hanging)

const call = (id: number, params: Record<string, unknown>, meta: Record<string, unknown> = META) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "script", ...params, _meta: meta }
})

/** The sealed state embeds a fresh nonce: masked for comparison. */
const mask = (m: unknown): unknown => JSON.parse(JSON.stringify(m), (k, v) => (k === "requestState" && typeof v === "string" ? "<sealed>" : v))

type Message = Record<string, unknown>

/** The client end of one connection: what it sent and got, and a wait for the next message that matches. */
interface Peer {
  send(message: unknown): void
  /** Resolves with the first message (from now or already received, unconsumed) that matches. */
  next(match: (m: Message) => boolean): Promise<Message>
  readonly received: Array<Message>
  close(): Promise<void>
}

const peerOf = (send: (text: string) => void, close: () => Promise<void>) => {
  const received: Array<Message> = []
  const waiting: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void; from: number }> = []
  const peer: Peer & { frame(text: string): void } = {
    received,
    send: (m) => send(JSON.stringify(m)),
    next: (match) => {
      const hit = received.find(match)
      if (hit !== undefined) return Promise.resolve(hit)
      return new Promise((resolve) => waiting.push({ match, resolve, from: received.length }))
    },
    frame: (text) => {
      const m = JSON.parse(text) as Message
      received.push(m)
      for (const w of [...waiting]) {
        if (w.match(m)) {
          waiting.splice(waiting.indexOf(w), 1)
          w.resolve(m)
        }
      }
    },
    close
  }
  return peer
}

type Carrier = "ws" | "memory"

interface Served {
  readonly peer: Peer
  close(): Promise<void>
}

let cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined)
  cleanups = []
})

/** A server on `carrier` with `modernRequests`, and a connected raw client. */
const serve = async (carrier: Carrier, server: McpServer, modernRequests: ModernRequestOptions, runtime?: McpRuntime): Promise<Served> => {
  const rt = runtime ?? makeMcpRuntime()
  if (runtime === undefined) cleanups.push(() => rt.shutdown({ drainMs: 0 }))
  if (carrier === "memory") {
    const [serverSide, clientSide] = makeMemoryTransportPair()
    const session = serveTransport(server, serverSide, { runtime: rt, modernRequests })
    const peer = peerOf((text) => clientSide.send(JSON.parse(text)), () => clientSide.close())
    clientSide.start({ onFrame: (text) => peer.frame(text), onOversized: () => {}, onClose: () => {} })
    cleanups.push(() => clientSide.close())
    return { peer, close: () => session.close({ drainMs: 0 }) }
  }
  const handle: WsServerHandle = await makeWsServer(server, { runtime: rt, session: { modernRequests } })
  cleanups.push(() => handle.close({ drainMs: 0 }))
  const ws = new WebSocket(handle.url)
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  const peer = peerOf((text) => ws.send(text), () => new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve()
    ws.once("close", () => resolve())
    ws.close()
  }))
  ws.on("message", (data) => peer.frame(String(data)))
  cleanups.push(() => peer.close())
  return { peer, close: () => handle.close({ drainMs: 0 }) }
}

const SCENARIO_ID = 7
const BARRIER_ID = 99

interface Run {
  readonly wire: Array<unknown>
  readonly settled: ModernRequestSettled
}

/** Drive one path's scenario on a fresh server over `carrier`, fast path or chart forced. */
const drive = async (carrier: Carrier, round: number, middle: number, first: ModernRequestEvent, last: ModernRequestEvent, chart: "lazy" | "always"): Promise<Run> => {
  let hung!: () => void
  const hanging = new Promise<void>((r) => (hung = r))
  const settled = new Map<number, ModernRequestSettled>()
  const waiters = new Map<number, (s: ModernRequestSettled) => void>()
  const { peer } = await serve(carrier, makeServer(() => hung()), {
    chart,
    settled: (s) => {
      settled.set(s.id as number, s)
      waiters.get(s.id as number)?.(s)
    }
  })
  const settledOf = (id: number): Promise<ModernRequestSettled> =>
    settled.has(id) ? Promise.resolve(settled.get(id)!) : new Promise((r) => waiters.set(id, r))
  const isResponse = (id: number) => (m: Message) => m.id === id && !("method" in m)
  const extra: Record<string, unknown> = {}
  if (round > 0) {
    peer.send(call(SCENARIO_ID - 1, { arguments: { prime: true, messages: 0, end: "result" } }))
    const primed = await peer.next(isResponse(SCENARIO_ID - 1))
    extra.requestState = (primed.result as { requestState: string }).requestState
  }
  const from = peer.received.length
  if (first.type === "INVALID") {
    // `_meta` names the modern version (so the request is modern) but lacks the client's capabilities.
    peer.send(call(SCENARIO_ID, { arguments: { messages: 0, end: "result" } }, { "io.modelcontextprotocol/protocolVersion": MODERN }))
    await peer.next(isResponse(SCENARIO_ID))
  } else {
    const end: Script["end"] = last.type === "ANSWERED" ? (last.outcome === "result" ? "result" : last.outcome === "error" ? "error" : "input") : "hang"
    peer.send(call(SCENARIO_ID, { arguments: { messages: middle, end }, ...extra }))
    if (last.type === "ANSWERED") await peer.next(isResponse(SCENARIO_ID))
    else {
      // DISCONNECTED: once the handler hangs (its progress sent and received), the client cancels.
      await hanging
      for (let n = 1; n <= middle; n++) await peer.next((m) => m.method === "notifications/progress" && (m.params as { progress: number }).progress === n)
      peer.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: SCENARIO_ID, reason: CANCEL_REASON } })
    }
  }
  const result = await settledOf(SCENARIO_ID)
  // Whatever the server still sends for the request (nothing, after a cancel) comes before the answer to a later request.
  peer.send({ jsonrpc: "2.0", id: BARRIER_ID, method: "server/discover", params: { _meta: META } })
  await peer.next(isResponse(BARRIER_ID))
  const wire = peer.received.slice(from).filter((m) => m.id !== BARRIER_ID).map(mask)
  return { wire, settled: result }
}

const paths = getSimplePaths(runningModernRequest, {
  input: { id: SCENARIO_ID, method: "tools/call" },
  events: MODEL_EVENTS as Array<ModernRequestEvent>,
  serializeState: (s) => JSON.stringify([s.value, Math.min(s.context.messages, 1), s.context.round, s.context.errorCode, s.context.reason]) as never
})
const finalPaths = paths.filter((p) => p.state.status === "done")
const eventsOf = (path: (typeof finalPaths)[number]) => path.steps.map((s) => s.event as ModernRequestEvent).filter((e) => e.type !== ("xstate.init" as string))
/** What a message transport can do: everything but SHUTDOWN (HTTP's; see the test below). */
const messagePaths = finalPaths.filter((p) => !eventsOf(p).some((e) => e.type === "SHUTDOWN"))
const label = (events: ReadonlyArray<{ type: string }>) =>
  events.map((e) => e.type + ("round" in e ? String(e.round) : "outcome" in e ? `(${String(e.outcome)})` : "")).join(" → ")

for (const carrier of ["ws", "memory"] as const) {
  describe(`modern request over ${carrier === "ws" ? "a real WebSocket" : "the in-memory transport"}: the fast path and the chart agree on every chart path`, () => {
    it("the model has the paths this test drives", () => {
      expect(finalPaths.length).toBe(21)
      // Every first-round outcome a message transport can reach, INVALID included (the session reads `_meta` itself).
      expect(messagePaths.length).toBe(17)
      expect(new Set(messagePaths.map((p) => JSON.stringify(p.state.value)))).toEqual(new Set(['"responded"', '"awaitingInput"', '"failed"', '"cancelled"']))
      expect(messagePaths.some((p) => eventsOf(p)[0]!.type === "INVALID")).toBe(true)
    })

    for (const path of messagePaths) {
      const events = eventsOf(path)
      const first = events[0]!
      const middle = events.filter((e) => e.type === "MESSAGE").length
      const last = events[events.length - 1]!
      const round = first.type === "VALIDATED" ? first.round : 0
      it(`${label(events)} → ${JSON.stringify(path.state.value)}`, { timeout: 30_000 }, async () => {
        const fast = await drive(carrier, round, middle, first, last, "lazy")
        const forced = await drive(carrier, round, middle, first, last, "always")
        expect(fast.wire).toEqual(forced.wire)
        expect(fast.settled.value).toEqual(path.state.value)
        expect(forced.settled.value).toEqual(path.state.value)
        expect(fast.settled.context).toEqual(path.state.context)
        expect(forced.settled.context).toEqual(path.state.context)
        expect(fast.settled.events).toEqual(events)
        expect(forced.settled.events).toEqual(events)
        expect(forced.settled.ran).toBe("chart")
        // Related notifications (MESSAGE) are a pure self-transition: they do not start the actor.
        const pure = round === 0 && (first.type === "INVALID" || (last.type === "ANSWERED" && last.outcome !== "inputRequired"))
        expect(fast.settled.ran).toBe(pure ? "fast" : round > 0 ? "chart" : "lazy")
        // The scenario's own sanity: the wire matches the path's end.
        const responses = fast.wire.filter((m) => (m as Message).id === SCENARIO_ID)
        if (last.type === "DISCONNECTED") expect(responses).toEqual([])
        else expect(responses).toHaveLength(1)
        expect(fast.wire.filter((m) => (m as Message).method === "notifications/progress")).toHaveLength(middle)
        if (first.type === "INVALID") expect(responses[0]).toMatchObject({ error: { code: ErrorCode.InvalidParams } })
      })
    }
  })
}

describe("modern request over a message transport: the session's end and the actor tree", () => {
  it("a session closed with a modern request hanging cancels it through its chart (no SHUTDOWN answer on a message transport)", async () => {
    for (const chart of ["lazy", "always"] as const) {
      let hung!: () => void
      const hanging = new Promise<void>((r) => (hung = r))
      let done!: (s: ModernRequestSettled) => void
      const settled = new Promise<ModernRequestSettled>((r) => (done = r))
      const served = await serve("memory", makeServer(() => hung()), { chart, settled: (s) => done(s) })
      served.peer.send(call(SCENARIO_ID, { arguments: { messages: 1, end: "hang" } }))
      await hanging
      await served.close()
      const s = await settled
      expect(s.value).toBe("cancelled")
      expect(s.context.reason).toBe("session closed")
      expect(s.ran).toBe(chart === "always" ? "chart" : "lazy")
      expect(served.peer.received.filter((m) => m.id === SCENARIO_ID)).toEqual([])
    }
  })

  it("an inspected WebSocket connection shows one modernRequest actor per request, a child of that connection's actor", async () => {
    const actors: Array<AnyActorRef> = []
    const stop = inspection.subscribe((e: InspectionEvent) => {
      if (e.type === "@xstate.actor") actors.push(e.actorRef as AnyActorRef)
    })
    const seen: Array<ModernRequestSettled> = []
    try {
      const runtime = makeMcpRuntime()
      cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
      const one = await serve("ws", makeServer(() => {}), { settled: (s) => void seen.push(s) }, runtime)
      const two = await serve("ws", makeServer(() => {}), { settled: (s) => void seen.push(s) }, runtime)
      for (const [peer, ids] of [[one.peer, [1, 2]], [two.peer, [3]]] as const) {
        for (const id of ids) {
          peer.send(call(id, { arguments: { messages: id === 2 ? 1 : 0, end: "result" } }))
          await peer.next((m) => m.id === id && !("method" in m))
        }
      }
    } finally {
      stop()
    }
    // Inspected: every request ran as its chart from the start.
    expect(seen.map((s) => [s.id, s.ran, s.value])).toEqual([[1, "chart", "responded"], [2, "chart", "responded"], [3, "chart", "responded"]])
    const requests = actors.filter((a) => chartOf(a) === "modernRequest")
    expect(requests).toHaveLength(3)
    const parents = requests.map((a) => parentOf(a))
    for (const p of parents) expect(p && chartOf(p)).toBe("connection")
    // Requests 1 and 2 came on one connection, request 3 on another.
    expect(parents[0]).toBe(parents[1])
    expect(parents[2]).not.toBe(parents[0])
    // The connections are the WebSocket listener's children (one tree from the runtime's root).
    for (const p of parents) expect(chartOf(parentOf(p!)!)).toBe("listener")
    for (const a of requests) expect(a.getSnapshot().value).toBe("responded")
  })
})

describe("modern requests over a real stdio server process", () => {
  it("pipelined modern calls are all answered, in any order, with progress before each response (the demo server's count tool)", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ["src/cli/mcp-actors.cjs", "serve", "--stdio"], { stdio: ["pipe", "pipe", "inherit"] })
    cleanups.push(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r))
        child.kill()
        await exited
      }
    })
    const lines = createInterface({ input: child.stdout! })
    const received: Array<Message> = []
    const N = 20
    const all = new Promise<void>((resolve) => {
      lines.on("line", (line) => {
        received.push(JSON.parse(line) as Message)
        if (received.filter((m) => "result" in m || "error" in m).length === N) resolve()
      })
    })
    for (let id = 1; id <= N; id++) {
      const params = id % 2 === 0
        ? { name: "count", arguments: { n: 1, stepMs: 0 }, _meta: { ...META, progressToken: `p${id}` } }
        : { name: "echo", arguments: { text: `t${id}` }, _meta: META }
      child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params })}\n`)
    }
    await all
    const responses = received.filter((m) => "result" in m || "error" in m)
    expect(responses.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: N }, (_, i) => i + 1))
    expect(responses.filter((r) => "error" in r)).toEqual([])
    for (let id = 2; id <= N; id += 2) {
      const progress = received.findIndex((m) => m.method === "notifications/progress" && (m.params as { progressToken: string }).progressToken === `p${id}`)
      const response = received.findIndex((m) => m.id === id)
      expect(progress).toBeGreaterThanOrEqual(0)
      expect(progress).toBeLessThan(response)
    }
    child.stdin!.end()
  })
})
