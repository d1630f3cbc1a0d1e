/**
 * A hostile Streamable HTTP server for the client tests (test/hostile.server-http.test.ts):
 * a real `node:http` server on 127.0.0.1, port 0. `initialize` and `tools/list` are
 * answered as a plain server would (JSON bodies, a session id); `tools/call` is answered
 * with the misbehaviour of the mode, named by the first path segment (`/<mode>/mcp`).
 * Raw responses that `node:http` refuses to write (a session id with a control character)
 * go straight to the socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface HostileHttpServer {
  readonly url: (mode: string) => string
  /** Requests received, by method (`POST initialize`, `GET`, `DELETE`, …). */
  readonly seen: Array<string>
  /** Open server-side sockets. */
  readonly connections: () => number
  close(): Promise<void>
}

const readJson = (req: IncomingMessage): Promise<any> =>
  new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")))
      } catch {
        resolve(undefined)
      }
    })
  })

const json = (res: ServerResponse, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(200, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const initResult = (id: unknown) => ({
  jsonrpc: "2.0",
  id,
  result: { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "hostile-http", version: "1.0.0" } }
})

export const startHostileHttpServer = async (): Promise<HostileHttpServer> => {
  const seen: Array<string> = []
  let sessions = 0
  const lostOnce = new Set<string>()
  const server: Server = createServer(async (req, res) => {
    const mode = (req.url ?? "/").split("/")[1] ?? ""
    if (req.method !== "POST") {
      seen.push(`${req.method ?? "?"} ${mode}`)
      // "get-404": the server forgets the session for its GET stream (every time).
      res.writeHead(req.method === "DELETE" ? 200 : mode === "get-404" ? 404 : 405).end()
      return
    }
    const m = await readJson(req)
    seen.push(`POST ${m?.method ?? "response"} ${mode}`)
    if (m?.method === "initialize") {
      const sid = `s${++sessions}`
      if (mode === "session-id-control") {
        // CR/LF cannot pass an HTTP parser; a control character in the value can.
        const body = JSON.stringify(initResult(m.id))
        req.socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nmcp-session-id: bad\x01id\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
        return
      }
      if (mode === "session-id-huge") return json(res, initResult(m.id), { "mcp-session-id": "x".repeat(12_000) })
      if (mode === "session-id-non-ascii") return json(res, initResult(m.id), { "mcp-session-id": "s\u00e9ssion" })
      return json(res, initResult(m.id), { "mcp-session-id": sid })
    }
    if (m?.id === undefined) {
      res.writeHead(202).end()
      return
    }
    if (mode === "lose-session") {
      // The session is lost (404) at the first request of each method; later ones are served.
      if (!lostOnce.has(m.method)) {
        lostOnce.add(m.method)
        res.writeHead(404).end()
        return
      }
    }
    if (m.method === "tools/list") return json(res, { jsonrpc: "2.0", id: m.id, result: { tools: [{ name: "echo", inputSchema: { type: "object" } }] } })
    const answer = { jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: "echo" }] } }
    switch (mode) {
      case "html":
        res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>")
        return
      case "empty-200":
        res.writeHead(200, { "content-type": "application/json" }).end()
        return
      case "sse-not-json":
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write("data: this is not json\n\n")
        res.end(`data: ${JSON.stringify(answer)}\n\n`)
        return
      case "sse-result-null":
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: m.id, result: null })}\n\n`)
        return // the stream stays open
      case "sse-never":
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(": keep\n\n")
        return
      case "sse-huge":
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${"x".repeat(6 * 1024 * 1024)}\n\n`)
        res.end(`data: ${JSON.stringify(answer)}\n\n`)
        return
      case "json-batch":
        return json(res, [answer])
      case "redirect":
        res.writeHead(307, { location: "http://127.0.0.1:1/elsewhere" }).end()
        return
      case "lose-session-always":
        res.writeHead(404).end()
        return
      default:
        return json(res, answer)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  let open = 0
  server.on("connection", (socket) => {
    open++
    socket.on("close", () => open--)
  })
  return {
    url: (mode) => `http://127.0.0.1:${port}/${mode}/mcp`,
    seen,
    connections: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
