/**
 * `initialize` reads the client's address (`socket.remoteAddress`) only when a
 * per-address session cap needs it. Reading it caches `_peername` on the socket,
 * and sockets with and without that property have different shapes: once some
 * sockets had it, node's own response path (`end`, `onFinish`, socket timeouts)
 * went megamorphic for every later request on every socket (measured with
 * `perf`: the megamorphic loads in node's HTTP internals were 3× the raw
 * server's). The cap itself is tested in test/server.limits.test.ts.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { type HttpHandlerOptions, makeHttpHandler } from "../src/server/http/HttpServer.ts"
import { openSession, post } from "./support/mcpHttp.ts"

describe("initialize and the client's address", () => {
  let server: Server | undefined
  let close: (() => Promise<void>) | undefined
  afterEach(async () => {
    await close?.()
    server?.closeAllConnections()
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())))
    server = undefined
  })

  /** Our handler on a plain node server whose sockets count reads of `remoteAddress`. */
  const start = async (options: HttpHandlerOptions) => {
    const reads = { n: 0 }
    const h = makeHttpHandler(makeDemoServer(), options)
    close = () => h.close({ drainMs: 0 })
    const counted = new WeakSet<Socket>()
    server = createServer((req, res) => {
      const socket = req.socket
      if (!counted.has(socket)) {
        counted.add(socket)
        const proto = Object.getPrototypeOf(socket) as object
        const real = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(proto) as object, "remoteAddress")
          ?? Object.getOwnPropertyDescriptor(proto, "remoteAddress")
        Object.defineProperty(socket, "remoteAddress", {
          configurable: true,
          get() {
            reads.n++
            return real?.get?.call(socket)
          }
        })
      }
      h.handler(req, res)
    })
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
    return { url, reads }
  }

  const echo = async (url: string, headers: Record<string, string>) => {
    const r = await post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } }, headers)
    expect(r.status).toBe(200)
  }

  it("without a per-address cap, sessions open and serve without the address ever being read", async () => {
    const { url, reads } = await start({})
    for (let i = 0; i < 3; i++) await echo(url, (await openSession(url)).headers)
    expect(reads.n).toBe(0)
  })

  it("with a per-address cap, initialize reads it (and only initialize)", async () => {
    const { url, reads } = await start({ maxSessionsPerAddress: 5 })
    const s = await openSession(url)
    expect(reads.n).toBe(1)
    await echo(url, s.headers)
    await echo(url, s.headers)
    expect(reads.n).toBe(1)
  })
})
