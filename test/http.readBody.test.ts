/**
 * Reading a POST body (src/transports/http/readBody.ts) over real sockets: a declared
 * body is complete when `Content-Length` bytes have arrived (one "data" listener, no
 * wait for the stream's end), a chunked one at its end, an empty one at once; a body
 * the client cuts off is never handed on, and the server keeps serving. Then the
 * same through the MCP endpoint: a body in two packets is answered like one.
 */
import { createServer, type IncomingMessage, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { readBodyInto, type TooLarge } from "../src/transports/http/readBody.ts"
import { ACCEPT_BOTH, openSession, post } from "./support/mcpHttp.ts"

/** What the server saw of one request: the body handed on (or not yet), and its request. */
interface Seen {
  readonly req: IncomingMessage
  body: string | TooLarge | undefined
  calls: number
  /** Set when `done` ran before the request listener returned. */
  syncDone: boolean
  /** Whether the request stream had ended when `done` ran. */
  endedAtDone: boolean | undefined
  readonly firstData: Promise<void>
  readonly handed: Promise<void>
  readonly closed: Promise<void>
}

describe("readBodyInto over a real socket", () => {
  let server: Server
  let port: number
  const seen: Array<Seen> = []
  let nextSeen: ((s: Seen) => void) | undefined

  beforeAll(async () => {
    server = createServer((req, res) => {
      let onFirst!: () => void, onHanded!: () => void, onClosed!: () => void
      const s: Seen = {
        req,
        body: undefined,
        calls: 0,
        syncDone: false,
        endedAtDone: undefined,
        firstData: new Promise((r) => (onFirst = r)),
        handed: new Promise((r) => (onHanded = r)),
        closed: new Promise((r) => (onClosed = r))
      }
      req.once("data", () => onFirst())
      req.once("close", () => onClosed())
      let inListener = true
      readBodyInto(req, 1000, (body) => {
        s.calls++
        s.body = body
        s.syncDone = inListener
        s.endedAtDone = req.readableEnded
        onHanded()
        res.writeHead(200, ["content-type", "text/plain"]).end(typeof body === "string" ? `got ${body.length}` : "too large")
      })
      inListener = false
      seen.push(s)
      nextSeen?.(s)
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  })

  const arrived = () => new Promise<Seen>((r) => (nextSeen = r))
  const open = (headers: Record<string, string | number>) => {
    let client!: ReturnType<typeof httpRequest>
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/", headers, agent: false }, (res) => {
        let body = ""
        res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode!, body }))
      })
      req.on("error", reject)
      client = req
    })
    return { client: () => client, answer }
  }

  it("a declared body in two packets is handed on whole, once, at the stream's end; no 'error' or 'close' listener", async () => {
    const body = JSON.stringify({ text: "x".repeat(300) })
    const half = Math.floor(body.length / 2)
    const got = arrived()
    const c = open({ "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    c.client().write(body.slice(0, half))
    const s = await got
    await s.firstData
    expect(s.calls).toBe(0) // half a body is not a body
    c.client().end(body.slice(half))
    await s.handed
    expect(s.body).toBe(body)
    expect(s.calls).toBe(1)
    expect(s.endedAtDone).toBe(true)
    // Our two listeners only (plus the test's own once("close")): a cut-off body needs none (see the last test).
    expect(s.req.listenerCount("error")).toBe(0)
    expect(s.req.listenerCount("close")).toBeLessThanOrEqual(1)
    expect((await c.answer).body).toBe(`got ${body.length}`)
  })

  it("a chunked body is handed on at its end, whole", async () => {
    const got = arrived()
    const c = open({ "content-type": "application/json", "transfer-encoding": "chunked" })
    c.client().write("[1,2,")
    const s = await got
    await s.firstData
    expect(s.calls).toBe(0)
    c.client().end("3]")
    await s.handed
    expect(s.body).toBe("[1,2,3]")
    expect(s.calls).toBe(1)
    expect(s.endedAtDone).toBe(true)
    expect((await c.answer).body).toBe("got 7")
  })

  it("Content-Length: 0 is an empty body; over the limit is TooLarge before any byte is read", async () => {
    const got = arrived()
    const c = open({ "content-type": "application/json", "content-length": 0 })
    c.client().end()
    const s = await got
    await s.handed
    expect(s.body).toBe("")
    expect((await c.answer).body).toBe("got 0")
    const got2 = arrived()
    const big = open({ "content-type": "application/json", "content-length": 5000, connection: "close" })
    big.client().write("{")
    const s2 = await got2
    expect(s2.body).toEqual({ _tag: "TooLarge", bytes: 5000 })
    expect(s2.syncDone).toBe(true)
    expect((await big.answer).body).toBe("too large")
  })

  it("a body the client cuts off is never handed on; the server goes on serving", async () => {
    const got = arrived()
    const c = open({ "content-type": "application/json", "content-length": 100 })
    c.answer.catch(() => {}) // the client's own socket error
    c.client().write("{\"half\":")
    const s = await got
    await s.firstData
    c.client().destroy()
    await s.closed
    expect(s.calls).toBe(0)
    expect(s.body).toBeUndefined()
    // The next request on a fresh connection is read and answered as usual.
    const got2 = arrived()
    const next = open({ "content-type": "application/json", "content-length": 2 })
    next.client().end("{}")
    await (await got2).handed
    expect((await next.answer).body).toBe("got 2")
  })
})

describe("the MCP endpoint reads a body in two packets like one", () => {
  let http: HttpServerHandle
  const errors: Array<unknown> = []
  beforeAll(async () => {
    http = await makeHttpServer(makeDemoServer(), { onError: (e) => errors.push(e) })
  })
  afterAll(async () => {
    await http.close({ drainMs: 0 })
  })

  it("tools/call echo split across two writes is answered 200 with the echo; a cut-off POST leaves no error and no harm", async () => {
    const s = await openSession(http.url)
    const body = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "split in two" } } })
    const u = new URL(http.url)
    const send = (cut: boolean) =>
      new Promise<{ status: number; body: string } | "cut">((resolve, reject) => {
        const req = httpRequest({
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: "POST",
          agent: false,
          headers: { ...s.headers, accept: ACCEPT_BOTH, "content-type": "application/json", "content-length": Buffer.byteLength(body) }
        }, (res) => {
          let text = ""
          res.setEncoding("utf8").on("data", (c: string) => (text += c)).on("end", () => resolve({ status: res.statusCode!, body: text }))
        })
        req.on("error", (e) => (cut ? resolve("cut") : reject(e)))
        // The second half goes once the first is on the wire (its own packet: Nagle is off).
        req.write(body.slice(0, 20), () => {
          if (cut) {
            req.destroy()
            resolve("cut")
          } else req.end(body.slice(20))
        })
      })
    const answered = await send(false)
    expect(answered).not.toBe("cut")
    const r = answered as { status: number; body: string }
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toMatchObject({ id: 7, result: { content: [{ type: "text", text: "split in two" }] } })
    expect(await send(true)).toBe("cut")
    // The session still serves, and nothing was reported as an error.
    const after = await post(http.url, { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "echo", arguments: { text: "after" } } }, s.headers)
    expect(after.status).toBe(200)
    expect(((await after.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text).toBe("after")
    expect(errors).toEqual([])
  })
})
