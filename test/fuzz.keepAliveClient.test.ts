/**
 * The HTTP fuzzer's keep-alive client (test/fuzz/KeepAliveClient.ts): a request
 * reset on a pooled socket that sat idle (the server closed it for idleness as
 * the request arrived) is retried once on a new connection; anything else stays
 * a failure. The peer is a raw TCP server that answers the first request on each
 * connection and resets the connection at the next one, as a server closing an
 * idle keep-alive connection does to a request it never read.
 */
import { createServer, type Server, type Socket } from "node:net"
import { afterEach, expect, it } from "vitest"
import { KeepAliveClient } from "./fuzz/KeepAliveClient.ts"

const servers: Array<Server> = []
const clients: Array<KeepAliveClient> = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
})

/** Answers the first request of each connection (while `answering(connection number)`), resets at any other. */
const listen = async (answering: (connection: number) => boolean = () => true): Promise<string> => {
  let connections = 0
  const server = createServer((socket: Socket) => {
    const connection = ++connections
    let text = ""
    let requests = 0
    socket.on("error", () => {})
    socket.on("data", (d) => {
      text += d.toString("latin1")
      while (text.includes("\r\n\r\n")) {
        text = text.slice(text.indexOf("\r\n\r\n") + 4)
        if (++requests === 1 && answering(connection)) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        else return void socket.resetAndDestroy()
      }
    })
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const address = server.address()
  return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/mcp`
}

const client = (staleMs: number): KeepAliveClient => {
  const c = new KeepAliveClient({ maxSockets: 4, timeoutMs: 10_000, staleMs })
  clients.push(c)
  return c
}

/** A first request, then (its socket back in the pool) a second one on the same socket. */
const twice = async (c: KeepAliveClient, url: string) => {
  const first = await c.request(url, "GET", undefined, {})
  await new Promise((r) => setImmediate(r))
  return [first, await c.request(url, "GET", undefined, {}).catch((e: Error) => e)] as const
}

it("retries a request reset on a pooled socket idle long enough to have been closed, once, on a new connection", async () => {
  const c = client(0)
  const [first, second] = await twice(c, await listen())
  expect(first).toMatchObject({ status: 200, body: "ok" })
  expect(second).toMatchObject({ status: 200, body: "ok" })
  expect(c.retries).toBe(1)
})

it("does not retry when the socket was not idle that long: the reset is reported, with the idle time", async () => {
  const c = client(60_000)
  const [, second] = await twice(c, await listen())
  expect(second).toBeInstanceOf(Error)
  expect((second as Error).message).toMatch(/ECONNRESET|socket hang up/)
  expect((second as Error).message).toMatch(/on a pooled socket idle for \d+ ms/)
  expect(c.retries).toBe(0)
})

it("reports a retry that fails too (a server that resets the request on any connection)", async () => {
  const c = client(0)
  const [, second] = await twice(c, await listen((n) => n === 1))
  expect(second).toBeInstanceOf(Error)
  expect((second as Error).message).toMatch(/retried on a new connection: .*(ECONNRESET|socket hang up)/)
  expect(c.retries).toBe(1)
})

it("does not retry a reset on a new connection", async () => {
  const c = client(0)
  const e = await c.request(await listen(() => false), "GET", undefined, {}).catch((e: Error) => e)
  expect(e).toBeInstanceOf(Error)
  expect((e as Error).message).not.toMatch(/pooled|retried/)
  expect(c.retries).toBe(0)
})
