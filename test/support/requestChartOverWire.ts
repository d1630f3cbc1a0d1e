/**
 * Model-based check that a client runs each request as the `outboundRequest` chart says
 * (machines/outboundRequest.ts): every `xstate/graph` path over response, error, progress,
 * cancel and deadline events is played against a scripted peer over a real WebSocket, and
 * the caller's outcome, the `notifications/cancelled` on the wire and the progress reports
 * must be those of a reference actor of the chart given the same events.
 *
 * Shared by the legacy client (`test/machines.outboundRequests.test.ts`) and the modern
 * client (`test/client.modern-chart.test.ts`): only how the peer answers the client's own
 * traffic and how a call is made differ.
 */
import { expect } from "vitest"
import { createActor, SimulatedClock } from "xstate"
import { getSimplePaths } from "xstate/graph"
import WebSocket, { WebSocketServer } from "ws"
import { type OutboundRequestInput, outboundRequestMachine, type OutboundRequestOutcome } from "../../machines/outboundRequest.ts"
import { afterEvent } from "./eventOnlyTwin.ts"

export const REQUEST_TIMEOUT = afterEvent("requestTimeout", "outboundRequest.pending.awaitingResponse")
export const pathInput: OutboundRequestInput = { requestId: 7, method: "tools/call", progressToken: 7, timeoutMs: 1_000, resetTimeoutOnProgress: true }

/** The chart's simple paths over the events a peer and a caller can cause (the first step, the start, dropped). */
export const requestPathsOverWire = (): ReadonlyArray<ReadonlyArray<{ readonly type: string }>> =>
  getSimplePaths(outboundRequestMachine, {
    events: [
      { type: "RESPONSE", result: { ok: true } },
      { type: "ERROR_RESPONSE", error: { code: -32602, message: "bad" } },
      { type: "PROGRESS", progress: 1 },
      { type: "PROGRESS", progress: 2, total: 2 },
      { type: "CANCEL", reason: "user" },
      REQUEST_TIMEOUT
    ] as never,
    input: pathInput
  }).map((p) => p.steps.map((s) => s.event).slice(1))

type Message = { readonly id?: number | string; readonly method?: string; readonly params?: { readonly requestId?: unknown } }

export interface ScriptedPeer {
  readonly url: string
  /** Requests the peer holds for the test to answer. */
  readonly held: Array<{ readonly id: number | string; readonly method: string }>
  /** Request ids of the `notifications/cancelled` it received. */
  readonly cancelled: Array<unknown>
  readonly send: (m: unknown) => void
  /** Wait (real socket I/O) until `check` holds. */
  readonly until: (check: () => boolean) => Promise<void>
}

/**
 * A scripted peer over WebSocket: `answer` replies to the client's own traffic (handshake,
 * round trips) and returns true; every other request is held, cancellations recorded.
 */
export const scriptedWsPeer = async (servers: Array<WebSocketServer>, answer: (m: Message, reply: (result: unknown) => void) => boolean): Promise<ScriptedPeer> => {
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
      const m = JSON.parse(String(data)) as Message
      if (answer(m, (result) => s.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result })))) {
        // answered by the script
      } else if (m.method === "notifications/cancelled") cancelled.push(m.params?.requestId)
      else if (m.id !== undefined && m.method !== undefined) held.push({ id: m.id, method: m.method })
      for (const w of waiters.splice(0)) w()
    })
  })
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
  const until = async (check: () => boolean) => {
    while (!check()) await new Promise<void>((r) => waiters.push(r))
  }
  return { url, held, cancelled, send: (m: unknown) => socket!.send(JSON.stringify(m)), until }
}

/** Close the peers a test opened (a failed path leaves its client connected). */
export const closePeers = async (servers: Array<WebSocketServer>): Promise<void> => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate()
    await new Promise((r) => s.close(r))
  }
}

export interface CallOptions {
  readonly timeoutMs: number
  readonly signal: AbortSignal
  readonly onProgress: (p: { readonly progress: number }) => void
}

/**
 * Play each path: the call goes out (`call`), the peer holds it, each event of the path is
 * caused on the wire (or by the caller's abort, or by the client's `clock`) and sent to the
 * reference actor, with a `wireRound` trip after each; then compare what the caller saw.
 * `after` runs extra checks per path (e.g. nothing left in flight).
 */
export const playRequestPaths = async (o: {
  readonly paths: ReadonlyArray<ReadonlyArray<{ readonly type: string }>>
  readonly peer: ScriptedPeer
  readonly clock: SimulatedClock
  readonly call: (options: CallOptions) => Promise<unknown>
  readonly wireRound: () => Promise<unknown>
  readonly after?: (label: string) => void
}): Promise<void> => {
  const { peer, clock, wireRound } = o
  for (const path of o.paths) {
    const label = path.map((e) => e.type).join(" → ")
    // The reference: an actor of the chart, on its own clock, with the same events.
    const refCancels: Array<unknown> = []
    const reference = createActor(
      outboundRequestMachine.provide({ actions: { sendCancelled: ({ context }) => void refCancels.push(context.requestId) } }),
      { clock: new SimulatedClock(), input: pathInput }
    ).start()
    const refProgress: Array<number> = []
    const abort = new AbortController()
    const progress: Array<number> = []
    const heldBefore = peer.held.length
    const cancelledBefore = peer.cancelled.length
    const call = o.call({ timeoutMs: 1_000, signal: abort.signal, onProgress: (p) => void progress.push(p.progress) })
      .then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error }))
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
    o.after?.(label)
    reference.stop()
  }
}
