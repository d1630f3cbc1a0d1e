/**
 * The HTTP client transport's `maxMessageBytes` holds on both of its streams: an SSE
 * event over the limit in a POST's answer and in the standalone GET stream is
 * discarded whole and reported through the transport's `onOversized`, and the
 * stream goes on (the next event is delivered). A real local server, real sockets.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { makeHttpClientTransport } from "../src/client/makeHttpClientTransport.ts"

const LIMIT = 256
const big = (id: number) => JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x".repeat(LIMIT), id } })

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Answers initialize with an SSE stream (an oversized event, then the answer) and the GET with an oversized event, then a small one. */
const oversizingServer = async () => {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "POST") {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        const msg = JSON.parse(body) as { id?: number }
        if (msg.id === undefined) return void res.writeHead(202).end()
        res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "s-1" })
        res.end(`data: ${big(1)}\n\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: {} })}\n\n`)
      })
    } else if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.write(`data: ${big(2)}\n\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/tools/list_changed" })}\n\n`)
    } else res.writeHead(200).end()
  })
  server.listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", () => resolve()))
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`)
}

describe("HttpClientTransport: maxMessageBytes", () => {
  it("an oversized SSE event in a POST's answer and in the standalone GET stream is reported and skipped; the next event of each arrives", async () => {
    const url = await oversizingServer()
    const transport = makeHttpClientTransport({ url, maxMessageBytes: LIMIT })
    cleanups.push(() => transport.close())
    const oversized: Array<number> = []
    const frames: Array<string> = []
    let notified: () => void = () => {}
    const listChanged = new Promise<void>((resolve) => (notified = resolve))
    transport.start({
      onFrame: (t) => {
        frames.push(t)
        if (t.includes("list_changed")) notified()
      },
      onOversized: (bytes) => oversized.push(bytes),
      onClose: () => {}
    })
    transport.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } })
    transport.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await listChanged // the GET stream's second event: the standalone stream went past its oversized first one
    expect(frames.some((t) => t.includes('"id":1') && t.includes('"result"'))).toBe(true)
    expect(frames.some((t) => t.includes("x".repeat(LIMIT)))).toBe(false)
    expect(oversized).toHaveLength(2)
    for (const n of oversized) expect(n).toBeGreaterThan(LIMIT)
  }, 30_000)
})

/**
 * A server that answers `initialize` and then answers every other request per `answer`: the answer
 * may be over the client's limit, as a JSON body or as an SSE event on a stream it keeps open.
 */
const answeringServer = async (answer: (id: number, res: ServerResponse) => void) => {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST") return void res.writeHead(405).end()
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      const msg = JSON.parse(body) as { id?: number; method: string }
      if (msg.id === undefined) return void res.writeHead(202).end()
      if (msg.method === "initialize") {
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s-1" })
        return void res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "h", version: "1" } } }))
      }
      answer(msg.id, res)
    })
  })
  server.listen(0, "127.0.0.1")
  await new Promise<void>((resolve) => server.once("listening", () => resolve()))
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`)
}
const bigResult = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "x".repeat(LIMIT * 4) }] } })
const sseOpen = (res: ServerResponse, ...events: ReadonlyArray<string>) => {
  res.writeHead(200, { "content-type": "text/event-stream" })
  res.write(events.map((e) => `data: ${e}\n\n`).join(""))
}

describe("an answer over maxMessageBytes fails its request at once, not at its deadline", () => {
  it.each([
    ["an SSE event on a stream the server keeps open", (id: number, res: ServerResponse) => sseOpen(res, bigResult(id))],
    ["an SSE event split over lines and writes", (id: number, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream" })
      const text = bigResult(id)
      res.write(`data: ${text.slice(0, 100)}\ndata: ${text.slice(100, 300)}`)
      setImmediate(() => res.write(`${text.slice(300)}\n\n`))
    }],
    ["a JSON body", (id: number, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(bigResult(id))
    }]
  ])("legacy HTTP client: %s", async (_name, answer) => {
    const { connectHttp } = await import("../src/client/connectHttp.ts")
    const client = await connectHttp(await answeringServer(answer), { maxMessageBytes: LIMIT })
    cleanups.push(() => client.close())
    // The deadline is far: the call must fail on the oversized answer itself.
    await expect(client.callTool("t", {}, { timeoutMs: 120_000 })).rejects.toMatchObject({
      code: -32600,
      message: expect.stringMatching(/^invalid response from the server: \d+ bytes, over the client's maxMessageBytes$/)
    })
  })

  it("an oversized notification on the request's stream is skipped; the answer after it arrives", async () => {
    const { connectHttp } = await import("../src/client/connectHttp.ts")
    const url = await answeringServer((id, res) => sseOpen(res, big(1), JSON.stringify({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "fine" }] } })))
    const client = await connectHttp(url, { maxMessageBytes: LIMIT })
    cleanups.push(() => client.close())
    expect(await client.callTool("t", {}, { timeoutMs: 120_000 })).toEqual({ content: [{ type: "text", text: "fine" }] })
  })

  it("modern exchange: an oversized response event ends the exchange with NoResponse, naming the size", async () => {
    const { exchangeModern } = await import("../src/transports/http/client/ModernHttpWire.ts")
    const url = await answeringServer((id, res) => sseOpen(res, bigResult(id)))
    const invalid: Array<string> = []
    const reply = await exchangeModern(url, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "t", arguments: {} } }, {
      maxMessageBytes: LIMIT,
      onInvalid: (text) => invalid.push(text)
    })
    expect(reply).toMatchObject({ _tag: "NoResponse", status: 200, lost: false, reason: expect.stringMatching(/^the response \(\d+ bytes\) exceeds maxMessageBytes$/) })
    expect(invalid).toEqual([expect.stringContaining("tools/call: dropped an oversized SSE event")])
  })
})
