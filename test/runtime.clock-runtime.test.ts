/**
 * One clock per runtime (issue 13, "every timer … comes from the runtime's
 * clock"): `makeMcpRuntime({ clock })` is the default clock of every owner in
 * the runtime. Here one `SimulatedClock` is given to the runtime and to nothing
 * else, and it drives an HTTP session's idle deadline, a WebSocket session's
 * handshake deadline and a client's request deadline; the sockets are real.
 *
 * Without the runtime clock, each owner defaults to the system clock: virtual
 * time then fires none of these deadlines ("never happened: …").
 */
import { once } from "node:events"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { SimulatedClock } from "xstate"
import type { Client } from "../src/client/Client.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { RequestTimeout } from "../src/protocol/requestErrors.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { openSession } from "./support/mcpHttp.ts"
import { steppedTime } from "./support/steppedTime.ts"
import { waitForTurns } from "./support/waitFor.ts"

/** A server whose `hold` tool never answers (the client's deadline has to end the call). */
const holdingServer = () =>
  new McpServer({ name: "clock", version: "1.0.0" }).tool(
    { name: "hold", inputSchema: { type: "object" } },
    () => new Promise(() => {})
  )

let runtime: McpRuntime | undefined
afterEach(async () => {
  await runtime?.shutdown({ drainMs: 0 })
  runtime = undefined
})

describe("the runtime's clock", () => {
  it("one SimulatedClock given to the runtime drives an HTTP idle deadline, a WebSocket handshake deadline and a client's request deadline", async () => {
    const sim = new SimulatedClock()
    runtime = makeMcpRuntime({ clock: sim })
    expect(runtime.clock).toBe(sim)
    /** Move the runtime's time to `t` (ms since start) in 100 ms steps (timers armed in a step fire on the next one). */
    const advanceTo = steppedTime(sim)

    // No clock anywhere but in the runtime.
    const http = await makeHttpServer(holdingServer(), { runtime, idleTimeoutMs: 20_000 })
    const ws = await makeWsServer(holdingServer(), { runtime })
    const { sid } = await openSession(http.url)
    const raw = new WebSocket(ws.url, "mcp") // connects, never initializes: the handshake deadline (10 s) ends it
    await once(raw, "open")
    const rawClosed = once(raw, "close")
    const client: Client = await connectWs(ws.url, { runtime, requestTimeoutMs: 5_000, keepalive: false })
    let settled = false
    const call = client.request("tools/call", { name: "hold", arguments: {} }).then(() => "answered", (e: unknown) => e)
    void call.finally(() => (settled = true))

    await advanceTo(4_900)
    expect(settled).toBe(false)
    await advanceTo(5_100)
    await waitForTurns(() => settled, "the client's request deadline (5 s of the runtime's time)")
    expect(await call).toBeInstanceOf(RequestTimeout)

    expect(raw.readyState).toBe(WebSocket.OPEN)
    await advanceTo(11_100) // 10 s, plus up to one second of the coarse clock's bucketing
    const [code] = await Promise.race([rawClosed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the handshake deadline never closed the socket")), 5_000))])
    expect(code).toBe(4408) // the handshake deadline's close code

    expect(http.session(sid)).toBeDefined()
    await advanceTo(19_000)
    expect(http.sessions).toBe(1)
    await advanceTo(22_000)
    await waitForTurns(() => http.sessions === 0, "the HTTP session's idle deadline (20 s of the runtime's time)")

    await client.close()
  }, 30_000)
})
