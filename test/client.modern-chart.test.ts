/**
 * `ModernClient` runs each request on the `outboundRequest` chart in its `requests` child
 * (`machines/outboundRequests.ts`). Model-based: every `xstate/graph` path of the chart over
 * response, error, progress, cancel and deadline events is played against a scripted modern
 * peer over a real WebSocket, on the client's `SimulatedClock`; the caller's outcome, the
 * cancellations on the wire and the progress reports must be those of an actor of the chart
 * given the same events.
 */
import { afterEach, describe, expect, it } from "vitest"
import { type AnyActorRef, createActor, SimulatedClock } from "xstate"
import { getSimplePaths } from "xstate/graph"
import WebSocket, { WebSocketServer } from "ws"
import { type OutboundRequestInput, outboundRequestMachine, type OutboundRequestOutcome } from "../machines/outboundRequest.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"
import { afterEvent } from "./support/eventOnlyTwin.ts"

const REQUEST_TIMEOUT = afterEvent("requestTimeout", "outboundRequest.pending.awaitingResponse")
const input: OutboundRequestInput = { requestId: 7, method: "tools/call", progressToken: 7, timeoutMs: 1_000, resetTimeoutOnProgress: true }

const paths = getSimplePaths(outboundRequestMachine, {
  events: [
    { type: "RESPONSE", result: { ok: true } },
    { type: "ERROR_RESPONSE", error: { code: -32602, message: "bad" } },
    { type: "PROGRESS", progress: 1 },
    { type: "PROGRESS", progress: 2, total: 2 },
    { type: "CANCEL", reason: "user" },
    REQUEST_TIMEOUT
  ] as never,
  input
}).map((p) => p.steps.map((s) => s.event).slice(1))

describe("ModernClient: each request follows the outboundRequest chart (in the requests child)", () => {
  const servers: Array<WebSocketServer> = []
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      for (const c of s.clients) c.terminate() // a failed path leaves its client connected
      await new Promise((r) => s.close(r))
    }
  })

  /** A scripted modern peer over WebSocket: answers `tools/list` at once, holds every `tools/call` for the test to answer. */
  const scriptedPeer = async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => "mcp" })
    servers.push(wss)
    await new Promise((r) => wss.once("listening", r))
    const held: Array<{ readonly id: number | string; readonly method: string }> = []
    const cancelled: Array<unknown> = []
    let socket: WebSocket | undefined
    const waiters: Array<() => void> = []
    wss.on("connection", (s) => {
      socket = s
      s.on("message", (data) => {
        const m = JSON.parse(String(data)) as { id?: number | string; method?: string; params?: { requestId?: unknown } }
        if (m.method === "tools/list") s.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { tools: [] } }))
        else if (m.method === "notifications/cancelled") cancelled.push(m.params?.requestId)
        else if (m.id !== undefined && m.method !== undefined) held.push({ id: m.id, method: m.method })
        for (const w of waiters.splice(0)) w()
      })
    })
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
    /** Wait (real socket I/O) until `check` holds. */
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise<void>((r) => waiters.push(r))
    }
    return { url, held, cancelled, send: (m: unknown) => socket!.send(JSON.stringify(m)), until }
  }

  it(`each of the chart's ${paths.length} paths: outcome, cancellations on the wire and progress reports are the chart's; no actor per request`, async () => {
    expect(paths.length).toBeGreaterThan(10)
    const peer = await scriptedPeer()
    const clock = new SimulatedClock()
    const transport = makeWsClientTransport({ url: peer.url })
    await transport.opened
    const actors: Array<string> = []
    const client = ModernClient.create(transport, {
      clock,
      inspect: (e) => {
        if (e.type === "@xstate.actor") actors.push((e.actorRef as AnyActorRef).id)
      }
    })
    const wireRound = () => client.request("tools/list") // a round trip: everything sent before it has reached the peer
    for (const path of paths) {
      const label = path.map((e) => e.type).join(" → ")
      // The reference: an actor of the chart, on its own clock, with the same events.
      const refCancels: Array<unknown> = []
      const reference = createActor(
        outboundRequestMachine.provide({ actions: { sendCancelled: ({ context }) => void refCancels.push(context.requestId) } }),
        { clock: new SimulatedClock(), input }
      ).start()
      const refProgress: Array<number> = []
      const abort = new AbortController()
      const progress: Array<number> = []
      const heldBefore = peer.held.length
      const cancelledBefore = peer.cancelled.length
      const call = client.callTool("slow", {}, {
        timeoutMs: 1_000,
        signal: abort.signal,
        onProgress: (p) => void progress.push(p.progress)
      }).then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error }))
      await peer.until(() => peer.held.length > heldBefore)
      const id = peer.held[peer.held.length - 1]!.id
      for (const event of path) {
        const before = reference.getSnapshot().context.lastProgress
        reference.send(event as never)
        const after = reference.getSnapshot().context.lastProgress
        if (after !== before && after !== undefined) refProgress.push(after.progress)
        const e = event as { type: string; result?: unknown; error?: unknown; progress?: number; total?: number; reason?: string }
        if (e.type === "RESPONSE") peer.send({ jsonrpc: "2.0", id, result: e.result })
        else if (e.type === "ERROR_RESPONSE") peer.send({ jsonrpc: "2.0", id, error: e.error })
        else if (e.type === "PROGRESS") peer.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: id, progress: e.progress, total: e.total } })
        else if (e.type === "CANCEL") abort.abort(e.reason)
        else if (e.type === REQUEST_TIMEOUT.type) clock.increment(1_000) // the request deadline, restarted by each advancing progress
        await wireRound()
      }
      const ref = reference.getSnapshot()
      if (ref.status === "active") {
        // The chart is still pending: so is the call. Settle it so the next path starts clean.
        peer.send({ jsonrpc: "2.0", id, result: { ok: true } })
      }
      const outcome = await call
      await wireRound()
      const expected = ref.status === "done" ? ref.output! : ({ _tag: "Settled", requestId: 7, result: { ok: true } } as OutboundRequestOutcome)
      switch (expected._tag) {
        case "Settled":
          expect(outcome, label).toEqual({ ok: true, result: expected.result })
          break
        case "Failed":
          expect(outcome.ok, label).toBe(false)
          expect((outcome as { error: { code: number } }).error.code, label).toBe(expected.error.code)
          break
        case "Cancelled":
          expect((outcome as { error: Error }).error?.constructor.name, label).toBe("RequestCancelled")
          break
        case "TimedOut":
          expect((outcome as { error: Error }).error?.constructor.name, label).toBe("RequestTimeout")
          break
        default:
          throw new Error(`unexpected outcome ${expected._tag} on ${label}`)
      }
      expect(peer.cancelled.slice(cancelledBefore), label).toEqual(refCancels.map(() => id))
      expect(progress, label).toEqual(refProgress)
      expect(client.inFlight, label).toBe(0)
      reference.stop()
    }
    // The client and its requests child: no actor was started for any request.
    expect(actors.length).toBe(2)
    expect(actors[1]).toBe("requests")
    await client.close()
    expect(client.chart.getSnapshot().status).toBe("done")
  })
})
