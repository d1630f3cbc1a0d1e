/**
 * Both clients send a request before its chart starts (the server starts on it while the client does
 * its bookkeeping: the gateway's upstream calls, docs/performance.md "Where the gateway's cold path
 * goes"). A transport of a user's may answer, fail or close inside `send`, before the chart exists:
 * `OutboundRequests.sending` keeps what happened for the chart, so the caller still gets its outcome
 * at once (not at its deadline, not never).
 *
 * The transports here deliver synchronously (our own all deliver on a later turn or microtask). The
 * server is our `McpServer`, whose sync tool answers inside the frame that carries the call.
 */
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { ClientSession } from "../src/client/ClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { encode, type JsonRpcMessage, type RequestId } from "../src/protocol/jsonrpc.ts"
import { ConnectionLost, RequestTimeout } from "../src/protocol/requestErrors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import type { ClientTransportHandlers, Transport, TransportHandlers } from "../src/transports/Transport.ts"

/** What the client side does with a `tools/call` it sends (anything else goes to the server). */
type OnCall = (id: RequestId, handlers: ClientTransportHandlers, deliver: () => void) => void

/** A transport pair that delivers inside `send`; `onCall` decides what a `tools/call` meets. */
const syncPair = (onCall: OnCall) => {
  let client: ClientTransportHandlers | undefined
  let server: TransportHandlers | undefined
  const base = { kind: "memory" as const, authoritativeLiveness: true, close: async () => {} }
  const clientSide: Transport = {
    ...base,
    start: (h) => void (client = h as ClientTransportHandlers),
    send: (m: JsonRpcMessage) => {
      const deliver = () => server!.onFrame(encode(m))
      if ("method" in m && m.method === "tools/call" && "id" in m) onCall(m.id, client!, deliver)
      else deliver()
    }
  }
  const serverSide: Transport = { ...base, start: (h) => void (server = h), send: (m) => client!.onFrame(encode(m)) }
  return { clientSide, serverSide }
}

const echoServer = (): McpServer =>
  new McpServer({ name: "sync", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )

type Connect = (transport: Transport, clock: SimulatedClock) => Promise<{ callTool(name: string, args: Record<string, unknown>): Promise<unknown> }>
const clients: ReadonlyArray<readonly [string, Connect]> = [
  ["ClientSession (legacy)", (t, clock) => ClientSession.connect(t, { clock, requestTimeoutMs: 5_000 })],
  ["ModernClient (2026-07-28)", async (t, clock) => {
    const c = ModernClient.create(t, { clock, requestTimeoutMs: 5_000 })
    await c.discover()
    return c
  }]
]

/** The call's settled state after the microtasks of this turn (no timer ran: the clock is simulated). */
const settledNow = async (p: Promise<unknown>) => {
  const state: { settled: boolean; value?: unknown; error?: unknown } = { settled: false }
  p.then((value) => Object.assign(state, { settled: true, value }), (error) => Object.assign(state, { settled: true, error }))
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
  return state
}

describe.each(clients)("%s: a transport that acts inside send", (_name, connect) => {
  it("answered inside send: the caller gets the answer", async () => {
    const { clientSide, serverSide } = syncPair((_id, _h, deliver) => deliver())
    serveTransport(echoServer(), serverSide)
    const clock = new SimulatedClock()
    const client = await connect(clientSide, clock)
    const state = await settledNow(client.callTool("echo", { text: "inside" }))
    expect(state.error).toBeUndefined()
    expect(state.value).toMatchObject({ content: [{ type: "text", text: "inside" }] })
  })

  it("closed inside send: the caller gets ConnectionLost at once", async () => {
    const { clientSide, serverSide } = syncPair((_id, h) => h.onClose({ expected: false, reason: "wire cut inside send" }))
    serveTransport(echoServer(), serverSide)
    const clock = new SimulatedClock()
    const client = await connect(clientSide, clock)
    const state = await settledNow(client.callTool("echo", { text: "x" }))
    expect(state.settled).toBe(true)
    expect(state.error).toBeInstanceOf(ConnectionLost)
  })

  it("a send that throws rejects that call only, and the next call is answered", async () => {
    let throwOnce = true
    const { clientSide, serverSide } = syncPair((_id, _h, deliver) => {
      if (throwOnce) {
        throwOnce = false
        throw new Error("send threw")
      }
      deliver()
    })
    serveTransport(echoServer(), serverSide)
    const clock = new SimulatedClock()
    const client = await connect(clientSide, clock)
    const first = await settledNow(client.callTool("echo", { text: "x" }))
    expect((first.error as Error | undefined)?.message).toBe("send threw")
    const second = await settledNow(client.callTool("echo", { text: "again" }))
    expect(second.value).toMatchObject({ content: [{ type: "text", text: "again" }] })
  })
})

// A message transport fails one request through `onRequestFailed`, which only the legacy session takes (ModernClient's wires have their own).
describe("ClientSession: a transport that fails the request inside send", () => {
  it("failed inside send: the caller gets the transport's error at once, not at its deadline", async () => {
    const failure = new Error("refused by the transport")
    const { clientSide, serverSide } = syncPair((id, h) => h.onRequestFailed(id, failure))
    serveTransport(echoServer(), serverSide)
    const clock = new SimulatedClock()
    const client = await ClientSession.connect(clientSide, { clock, requestTimeoutMs: 5_000 })
    const state = await settledNow(client.callTool("echo", { text: "x" }))
    expect(state.settled).toBe(true)
    expect(state.error).toBe(failure)
    expect(state.error).not.toBeInstanceOf(RequestTimeout)
  })
})
