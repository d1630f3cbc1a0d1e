/**
 * Last words over Streamable HTTP (docs/reliability.md, "Last words and close ordering (s24)"),
 * on real sockets:
 * - our server shutting down: a response already ended but still on its way (10 MB to a
 *   client that had not read it yet) arrives whole, not cut by closing every connection;
 * - our client against a scripted server that answers and ends the response at once (the
 *   answer and the end in one write, or the socket ended or destroyed right after the last
 *   event): the answer is delivered; a stream that ends without one fails the call at once.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { ConnectionLost } from "../src/protocol/requestErrors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const initialize = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }

const post = (url: string, body: object, headers: Record<string, string> = {}) =>
  new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } }, resolve)
    req.on("error", reject)
    req.end(JSON.stringify(body))
  })

const readAll = (res: IncomingMessage) =>
  new Promise<{ readonly bytes: number; readonly how: string }>((resolve) => {
    let bytes = 0
    res.on("data", (chunk: Buffer) => (bytes += chunk.length))
    res.on("end", () => resolve({ bytes, how: "end" }))
    res.on("error", (e) => resolve({ bytes, how: `error: ${e.message}` }))
    res.resume()
  })

describe("HTTP server shutdown: a response already written reaches its client before the connection closes", () => {
  it("a 10 MB answer not yet read when close() starts arrives whole", async () => {
    const big = "x".repeat(10_000_000)
    let answered!: () => void
    const answeredOnce = new Promise<void>((resolve) => (answered = resolve))
    const server = new McpServer({ name: "big", version: "1" }).tool({ name: "big" }, () => {
      answered()
      return { content: [{ type: "text", text: big }] }
    })
    const http = await makeHttpServer(server, { port: 0 })
    cleanup.push(() => http.close({ drainMs: 0 }))
    const init = await post(http.url, initialize)
    const headers = { "mcp-session-id": String(init.headers["mcp-session-id"]), "mcp-protocol-version": "2025-11-25" }
    await readAll(init)
    await readAll(await post(http.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers))
    const res = await post(http.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "big" } }, headers)
    res.pause() // not read yet: most of the answer waits in the server's buffers
    await answeredOnce
    await new Promise<void>((resolve) => setImmediate(resolve)) // the answer handed to the response
    const closing = http.close({ drainMs: 1_000 })
    const body = await readAll(res)
    await closing
    // Before: every connection was destroyed once the sessions had closed (≈ 3.9 of 10 MB arrived, "aborted").
    expect(body.how).toBe("end")
    expect(body.bytes).toBeGreaterThan(10_000_000)
  }, 30_000)
})

type Ending = "end together" | "end socket" | "destroy socket"

/** A scripted legacy server: JSON for initialize, 202 for notifications, an SSE answer to tools/call ended as `ending` says. */
const scriptedServer = async (ending: Ending, answer: boolean) => {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ""
    req.setEncoding("utf8").on("data", (d: string) => (body += d)).on("end", () => {
      if (req.method !== "POST") return void res.writeHead(req.method === "DELETE" ? 200 : 405).end()
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { protocolVersion?: string } }
      if (m.method === "initialize") {
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "s1" })
        return void res.end(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "scripted", version: "1" } } }))
      }
      if (m.id === undefined) return void res.writeHead(202).end()
      const log = `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "last log" } })}\n\n`
      const reply = `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: "last words" }] } })}\n\n`
      res.writeHead(200, { "content-type": "text/event-stream" })
      const events = answer ? log + reply : log
      if (ending === "end together") return void res.end(events)
      res.write(events)
      // Without the chunked terminator: the client sees the connection end mid-response.
      if (ending === "end socket") res.socket?.destroySoon()
      else process.nextTick(() => res.socket?.destroy())
    })
  })
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  cleanup.push(() => {
    http.closeAllConnections()
    return new Promise((resolve) => http.close(resolve))
  })
  return `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`
}

describe.each<Ending>(["end together", "end socket", "destroy socket"])("our HTTP client, a POST stream that ends right after its last event (%s)", (ending) => {
  it("the answer and the log before it are delivered", async () => {
    const logs: Array<unknown> = []
    const client = await connectHttp(await scriptedServer(ending, true), { standaloneStream: false, onNotification: (n) => void logs.push(n.params?.data) })
    cleanup.push(() => client.close())
    const result = await client.callTool("anything", {})
    expect(result.content).toEqual([{ type: "text", text: "last words" }])
    expect(logs).toEqual(["last log"])
  })

  it("without an answer (and no event id to resume), the call fails at once with ConnectionLost", async () => {
    const client = await connectHttp(await scriptedServer(ending, false), { standaloneStream: false })
    cleanup.push(() => client.close())
    const started = performance.now()
    const error = await client.callTool("anything", {}, { timeoutMs: 60_000 }).catch((e: unknown) => e)
    expect(performance.now() - started).toBeLessThan(5_000) // on the stream's end, not the call's deadline
    expect(error).toBeInstanceOf(ConnectionLost)
  })
})
