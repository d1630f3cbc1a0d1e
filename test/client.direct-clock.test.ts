/**
 * Clients made directly (not by a `connect*` helper) run their own timers on the
 * runtime's clock (issue 13, "one clock"): `ClientSession.connect`,
 * `ModernClient.create`, `HttpClientSession.connect`, `makeHttpClientTransport`
 * and `EraProber` default `clock` to their runtime's (`runtime` option, default the
 * process's). Here a `SimulatedClock` is given to the runtime only, and each one's
 * deadline fires on virtual time; the sockets are real where there are sockets.
 */
import { once } from "node:events"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { ClientSession } from "../src/client/ClientSession.ts"
import { EraProber } from "../src/client/EraProber.ts"
import { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { makeHttpClientTransport } from "../src/client/makeHttpClientTransport.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { RequestTimeout } from "../src/protocol/requestErrors.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { steppedTime } from "./support/steppedTime.ts"
import { testRuntime } from "./support/testRuntime.ts"
import { waitForTurns } from "./support/waitFor.ts"

/** A server whose `hold` tool never answers: only a deadline ends the call. */
const holdingServer = () =>
  new McpServer({ name: "direct-clock", version: "1.0.0" }).tool({ name: "hold", inputSchema: { type: "object" } }, () => new Promise(() => {}))

const { cleanups, use } = testRuntime()

/** A runtime on a `SimulatedClock` (given to nothing else) and a way to move its time. */
const virtual = () => {
  const sim = new SimulatedClock()
  const runtime = use(makeMcpRuntime({ clock: sim }))
  /** Move to `t` ms in 100 ms steps (a timer armed in one step fires on the next). */
  const advanceTo = steppedTime(sim)
  return { runtime, advanceTo }
}

/** `promise`'s settlement, readable at any time. */
const track = <T>(promise: Promise<T>) => {
  const state = { settled: false, value: undefined as unknown }
  const done = promise.then((v) => v as unknown, (e: unknown) => e)
  void done.then((v) => {
    state.settled = true
    state.value = v
  })
  return { state, done }
}

/** A raw HTTP MCP endpoint (legacy, JSON answers) that never answers DELETE: only the client's DELETE deadline ends a close. */
const deleteHoldingServer = async () => {
  const held: Array<ServerResponse> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "DELETE") return void held.push(res) // never answered
    if (req.method !== "POST") return void res.writeHead(405).end()
    let body = ""
    req.on("data", (c: Buffer) => (body += c))
    req.on("end", () => {
      const m = JSON.parse(body) as { id?: number; method: string }
      if (m.id === undefined) return void res.writeHead(202).end()
      res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s-1" })
      res.end(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "raw", version: "1" } } }))
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const r of held) r.destroy()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
  return { url, held }
}

describe("a directly made client's timers run on its runtime's clock", () => {
  it("ClientSession.connect: the request deadline and the close drain deadline fire on virtual time", async () => {
    const { runtime, advanceTo } = virtual()
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(holdingServer(), serverSide, { runtime })
    const session = await ClientSession.connect(clientSide, { runtime, requestTimeoutMs: 5_000, keepalive: false })
    const call = track(session.request("tools/call", { name: "hold", arguments: {} }))
    await advanceTo(4_900)
    expect(call.state.settled).toBe(false)
    await advanceTo(5_100)
    await waitForTurns(() => call.state.settled, "the request deadline (5 s of the runtime's time)")
    expect(call.state.value).toBeInstanceOf(RequestTimeout)

    // The drain deadline of close() is the session's own timer (not a chart delay).
    void session.request("tools/call", { name: "hold", arguments: {} }, { timeoutMs: 600_000 }).catch(() => {})
    const closed = track(session.close({ drainMs: 1_000 }))
    await advanceTo(5_900)
    expect(closed.state.settled).toBe(false)
    await advanceTo(6_300)
    await waitForTurns(() => closed.state.settled, "the close drain deadline (1 s of the runtime's time)")
  })

  it("ModernClient.create: the request deadline fires on virtual time", async () => {
    const { runtime, advanceTo } = virtual()
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(holdingServer(), serverSide, { runtime })
    const client = ModernClient.create(clientSide, { runtime, requestTimeoutMs: 5_000 })
    const call = track(client.callTool("hold"))
    await advanceTo(4_900)
    expect(call.state.settled).toBe(false)
    await advanceTo(5_100)
    await waitForTurns(() => call.state.settled, "the modern request deadline (5 s of the runtime's time)")
    expect(call.state.value).toBeInstanceOf(RequestTimeout)
    await client.close({ drainMs: 0 })
  })

  it("HttpClientSession.connect: the request deadline and its transport's DELETE deadline fire on virtual time (real sockets)", async () => {
    const { runtime, advanceTo } = virtual()
    const http = await makeHttpServer(holdingServer(), { runtime })
    cleanups.push(() => http.close())
    const session = await HttpClientSession.connect(http.url, { runtime, requestTimeoutMs: 5_000, keepalive: false, standaloneStream: false })
    const call = track(session.request("tools/call", { name: "hold", arguments: {} }))
    await advanceTo(4_900)
    expect(call.state.settled).toBe(false)
    await advanceTo(5_100)
    await waitForTurns(() => call.state.settled, "the HTTP session's request deadline (5 s of the runtime's time)")
    expect(call.state.value).toBeInstanceOf(RequestTimeout)
    await session.close({ drainMs: 0 })

    // The transport's own timer: the DELETE sent by close() is bounded on the runtime's clock.
    const raw = await deleteHoldingServer()
    const other = await HttpClientSession.connect(raw.url, { runtime, keepalive: false, standaloneStream: false })
    const closed = track(other.close({ drainMs: 0 }))
    await waitForTurns(() => raw.held.length === 1, "the DELETE reaching the server", 1_000_000)
    await advanceTo(6_900)
    expect(closed.state.settled).toBe(false)
    await advanceTo(7_300)
    await waitForTurns(() => closed.state.settled, "the DELETE deadline (2 s of the runtime's time)")
  })

  it("makeHttpClientTransport: the DELETE deadline of close() fires on virtual time (a real server that never answers DELETE)", async () => {
    const { runtime, advanceTo } = virtual()
    const { url, held } = await deleteHoldingServer()
    const transport = makeHttpClientTransport({ url, runtime, standaloneStream: false })
    const frames: Array<string> = []
    transport.start({ onFrame: (t) => frames.push(t), onOversized: () => {}, onClose: () => {} })
    transport.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } })
    await waitForTurns(() => frames.length === 1 && transport.sessionId === "s-1", "the initialize answer over the socket", 1_000_000)
    const closed = track(transport.close())
    await waitForTurns(() => held.length === 1, "the DELETE reaching the server", 1_000_000)
    await advanceTo(1_900)
    expect(closed.state.settled).toBe(false) // the DELETE deadline (2 s) has not passed on the runtime's clock
    await advanceTo(2_200)
    await waitForTurns(() => closed.state.settled, "the DELETE deadline (2 s of the runtime's time)")
  })

  it("EraProber: the probe deadline fires on virtual time and the verdict is legacy (Timeout)", async () => {
    const { runtime, advanceTo } = virtual()
    const prober = new EraProber({ sendDiscover: () => new Promise(() => {}), probeTimeoutMs: 3_000, runtime })
    const verdict = track(prober.verdict())
    await advanceTo(2_900)
    expect(verdict.state.settled).toBe(false)
    await advanceTo(3_100)
    await waitForTurns(() => verdict.state.settled, "the probe deadline (3 s of the runtime's time)")
    expect(verdict.state.value).toMatchObject({ era: "legacy", basis: { _tag: "Timeout", timeoutMs: 3_000 } })
    prober.stop()
  })
})
