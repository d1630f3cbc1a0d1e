/**
 * Last words over WebSocket (docs/reliability.md, "Last words and close ordering (s24)"),
 * on real sockets:
 * - our server shutting down: replies already written (still in the socket's buffers) reach
 *   the client before the 1001 close, not cut by the final terminate;
 * - our client against a scripted peer that answers and at once closes (close frame, FIN,
 *   destroy): the answer is delivered, the close after it; a peer that closes without
 *   answering fails the call at once with ConnectionLost.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket, { WebSocketServer } from "ws"
import { connectWs } from "../src/client/connectWs.ts"
import { ConnectionLost } from "../src/protocol/requestErrors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

describe("WebSocket server shutdown: replies already written reach the client before the close", () => {
  it("4 replies of 3 MB in the socket's buffers when close() starts: all arrive, then 1001", () => bigRepliesAtShutdown(4, 0), 30_000)

  // 48 MB: more than loopback's kernel buffers take in, so most of it is still the server's to send.
  it("16 replies of 3 MB read slowly (200 ms after each: ≈ 3 s, beyond the 2 s close deadline): all arrive, then 1001", () => bigRepliesAtShutdown(16, 200), 30_000)
})

const READER = fileURLToPath(new URL("./fixtures/slow-ws-reader.mjs", import.meta.url))

/**
 * `count` replies of 3 MB wait unread in the server's buffers when it shuts down; the client, a
 * process of its own, then reads them, pausing `paceMs` after each (its pace, not the test's).
 */
const bigRepliesAtShutdown = async (count: number, paceMs: number) => {
  let answered = 0
  let allAnswered!: () => void
  const answeredAll = new Promise<void>((resolve) => (allAnswered = resolve))
  const big = "x".repeat(3_000_000)
  const server = new McpServer({ name: "big", version: "1" }).tool({ name: "big" }, () => {
    if (++answered === count) allAnswered()
    return { content: [{ type: "text", text: big }] }
  })
  const handle: WsServerHandle = await makeWsServer(server, { port: 0 })
  cleanup.push(() => handle.close({ drainMs: 0 }))

  const reader = spawn(process.execPath, [READER, handle.url, String(count), String(paceMs)], { stdio: ["pipe", "pipe", "inherit"] })
  cleanup.push(async () => void reader.kill())
  const lines = createInterface({ input: reader.stdout })[Symbol.asyncIterator]()
  expect((await lines.next()).value).toBe("sent")
  await answeredAll
  await new Promise<void>((resolve) => setImmediate(resolve)) // the last reply handed to the socket
  const closing = handle.close({ drainMs: 1_000 })
  reader.stdin.end("go\n") // the reader starts reading
  const { ids, code } = JSON.parse((await lines.next()).value as string) as { ids: Array<unknown>; code: number }
  // Before: the server terminated every socket once its session ended, cutting what was still buffered (1006);
  // then the transport's close deadline, 2 s after the close whatever the reader was doing, cut a slow one (11 of 16).
  expect(code).toBe(1001)
  expect(ids).toEqual(Array.from({ length: count + 1 }, (_, i) => i))
  await closing
}

type PeerEnd = "close" | "terminate" | "fin"

/** A scripted legacy peer: answers initialize; answers tools/call (or not) and at once ends the connection as `end` says. */
const scriptedPeer = async (end: PeerEnd, answer: boolean) => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => "mcp" })
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()))
  cleanup.push(() => new Promise((resolve) => wss.close(resolve)))
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { protocolVersion?: string } }
      if (m.method === "initialize") {
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "peer", version: "1" } } }))
      }
      if (m.method !== "tools/call") return
      if (answer) {
        ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "last log" } }))
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: "last words" }] } }))
      }
      if (end === "close") ws.close(1000, "done")
      else if (end === "terminate") ws.terminate()
      else (ws as unknown as { _socket: { end(): void } })._socket.end()
    })
  })
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}/mcp`
}

describe.each<PeerEnd>(["close", "terminate", "fin"])("our WebSocket client, a peer that answers and ends the connection at once (%s)", (end) => {
  it("the answer and the log before it are delivered; the session ends after them", async () => {
    const logs: Array<unknown> = []
    const client = await connectWs(await scriptedPeer(end, true), { onNotification: (n) => void logs.push(n.params?.data) })
    cleanup.push(() => client.close())
    const result = await client.callTool("anything", {})
    expect(result.content).toEqual([{ type: "text", text: "last words" }])
    expect(logs).toEqual(["last log"])
  })

  it("without an answer, the call fails at once with ConnectionLost", async () => {
    const client = await connectWs(await scriptedPeer(end, false))
    cleanup.push(() => client.close())
    const started = performance.now()
    const error = await client.callTool("anything", {}, { timeoutMs: 60_000 }).catch((e: unknown) => e)
    expect(performance.now() - started).toBeLessThan(5_000) // on the socket's end, not the call's deadline
    expect(error).toBeInstanceOf(ConnectionLost)
    expect((error as ConnectionLost).method).toBe("tools/call")
  })
})
