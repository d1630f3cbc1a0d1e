/**
 * A Streamable HTTP `initialize` that the transport fails on its own, with the
 * connection (the transport) still alive: the POST's socket hung up before the
 * response (a server killed or restarting while it read the request). No answer
 * will ever come, so the handshake must fail at once with `InitializeFailed`,
 * not sit until the 60 s initialize deadline (found by the s23 reconnect soak:
 * a `connectHttp` racing a server restart hung for 60 s, one connect in ten).
 * A 503 without a JSON-RPC body and a JSON-RPC error answer are kept as guards
 * (the transport, resp. the chart, already ended those).
 *
 * Real sockets (the hang-up is the point); the client's clock is simulated and
 * never advanced, so only the failure itself can settle the connect: on the old
 * code the hang-up cases hang until the test's bound.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { connectHttp } from "../src/client/connectHttp.ts"
import { InitializeFailed } from "../src/client/errors.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"

const servers: Array<Server> = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise<void>((r) => s.close(() => r()))
  }
})

/** A server that treats every POST with `answer` (and counts them). */
const start = async (answer: (body: string, res: import("node:http").ServerResponse, socket: Socket) => void) => {
  const posts: Array<string> = []
  const server = createServer((req, res) => {
    let body = ""
    req.setEncoding("utf8").on("data", (c: string) => (body += c))
    req.on("end", () => {
      posts.push(body)
      answer(body, res, req.socket)
    })
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, posts }
}

/** The connect's outcome: "connected" or its error. No bound of its own: on the old code the hang-up cases hang until the test's timeout. */
const outcome = (p: Promise<unknown>): Promise<unknown> => p.then(() => "connected", (e: unknown) => e)

describe("HTTP client: an initialize the transport failed ends the handshake at once", () => {
  it.each(["legacy", "auto"] as const)("the initialize POST's socket hangs up before the response (era %s): InitializeFailed, not the 60 s deadline", async (era) => {
    const runtime = makeMcpRuntime()
    const clock = new SimulatedClock()
    const server = await start((body, _res, socket) => {
      // the probe (era auto) is answered 400 as an old server would; the initialize POST is hung up on
      if (body.includes("server/discover")) return _res.writeHead(400, { "content-type": "text/plain" }).end("unsupported")
      socket.destroy()
    })
    const result = await outcome(connectHttp(server.url, { era, clock, runtime }))
    expect(result).toBeInstanceOf(InitializeFailed)
    expect((result as InitializeFailed).message).toMatch(/could not initialize: initialize: connection lost before the answer .*socket hang up/)
    expect(server.posts.filter((p) => p.includes("\"initialize\""))).toHaveLength(1)
    // the failed client left nothing in the runtime
    expect(runtime.registry.size).toBe(0)
    await runtime.shutdown()
  })

  it("an error status with no JSON-RPC body (503 from a proxy): InitializeFailed carrying the status (the transport ends the connection: worked before, kept as a guard)", async () => {
    const runtime = makeMcpRuntime()
    const clock = new SimulatedClock()
    const server = await start((_body, res) => res.writeHead(503, { "content-type": "text/html" }).end("<h1>upstream restarting</h1>"))
    const result = await outcome(connectHttp(server.url, { era: "legacy", clock, runtime }))
    expect(result).toBeInstanceOf(InitializeFailed)
    expect((result as InitializeFailed).message).toMatch(/could not initialize: .*503/)
    expect(runtime.registry.size).toBe(0)
    await runtime.shutdown()
  })

  it("a JSON-RPC error answer still fails as InitializeError (the path that worked before)", async () => {
    const runtime = makeMcpRuntime()
    const clock = new SimulatedClock()
    const server = await start((body, res) => {
      const id = (JSON.parse(body) as { id: number }).id
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32600, message: "no" } }))
    })
    const result = await outcome(connectHttp(server.url, { era: "legacy", clock, runtime }))
    expect(result).toBeInstanceOf(InitializeFailed)
    expect((result as InitializeFailed).reason).toBe("InitializeError")
    await runtime.shutdown()
  })
})
