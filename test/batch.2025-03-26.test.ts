/**
 * JSON-RPC batches (issue 8, part 7). Only 2025-03-26 has them
 * ("MUST support receiving JSON-RPC batches", 2025-03-26/basic/index.mdx); the
 * answer is one array (JSON-RPC 2.0 §6) holding the response of each request
 * and an error per invalid item — one line on stdio, one frame on WebSocket,
 * one JSON body (or one SSE stream) on Streamable HTTP; notifications produce
 * nothing, and an all-notification batch is not answered (202 on HTTP). Any
 * other version refuses a batch with one -32600 (no id), and runs none of it.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { openSession, post } from "./support/mcpHttp.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

type Json = Record<string, any>

const init = (version: string) => ({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "b", version: "1" } } })
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" }
const echo = (id: number, text: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } })

/** A mixed batch and the array it must be answered with (in item order). */
const MIXED = [
  echo(1, "one"),
  { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
  { jsonrpc: "2.0", id: 2, method: "ping" },
  // A slower request: its answer still lands in the same array.
  { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "slow", arguments: { ms: 30 } } },
  { jsonrpc: "2.0", id: 4, method: "initialize", params: init("2025-03-26").params },
  { jsonrpc: "2.0", id: 5 },
  { jsonrpc: "2.0", id: 1, method: "ping" },
  // Refused for being initialize before its params are looked at (fuzz seed 424242, path 246).
  { jsonrpc: "2.0", id: 6, method: "initialize", params: [[[]]] }
]
const checkMixed = (answer: unknown): void => {
  expect(Array.isArray(answer)).toBe(true)
  const a = answer as Array<Json>
  expect(a.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 1, 6])
  expect(a[0]!.result).toEqual({ content: [{ type: "text", text: "one" }] })
  expect(a[1]!.result).toEqual({})
  expect(a[2]!.result).toEqual({ content: [{ type: "text", text: "waited 30 ms" }] })
  expect(a[3]!.error).toEqual({ code: ErrorCode.InvalidRequest, message: "Invalid Request: initialize must not be part of a batch" })
  expect(a[4]!.error?.code).toBe(ErrorCode.InvalidRequest)
  expect(a[5]!.error).toEqual({ code: ErrorCode.InvalidRequest, message: "Invalid Request: request id 1 is already in flight" })
  expect(a[6]!.error).toEqual({ code: ErrorCode.InvalidRequest, message: "Invalid Request: initialize must not be part of a batch" })
}

/** A frame peer: every frame parsed, in arrival order. */
const framePeer = (write: (text: string) => void) => {
  const frames: Array<unknown> = []
  let wake: (() => void) | undefined
  return {
    frames,
    push: (text: string) => {
      frames.push(JSON.parse(text))
      wake?.()
    },
    send: (m: unknown) => write(JSON.stringify(m)),
    /** Wait for the first frame (from `from` on) matching `pred`. */
    /** Woken by each frame; the timer only bounds a failure. */
    next(pred: (f: any) => boolean, from = 0, ms = 15_000): Promise<any> {
      return new Promise((resolve, reject) => {
        const look = () => {
          const f = frames.slice(from).find(pred)
          if (f === undefined) return
          clearTimeout(bound)
          wake = undefined
          resolve(f)
        }
        const bound = setTimeout(() => {
          wake = undefined
          reject(new Error(`no matching frame; got ${JSON.stringify(frames)}`))
        }, ms)
        wake = look
        look()
      })
    }
  }
}
type FramePeer = ReturnType<typeof framePeer>

/** The scenario every message transport must pass. */
const scenario = async (peer: FramePeer, version: string): Promise<void> => {
  peer.send(init(version))
  // The first answer waits for a process start-up on the stdio run (slow on a busy machine).
  await peer.next((f) => f.id === "init", 0, 60_000)
  peer.send(INITIALIZED)
  if (version !== "2025-03-26") {
    const from = peer.frames.length
    peer.send([echo(10, "never"), { jsonrpc: "2.0", id: 11, method: "ping" }])
    const refused = await peer.next((f) => !Array.isArray(f) && f.id === null, from)
    expect(refused.error.code).toBe(ErrorCode.InvalidRequest)
    expect(refused.error.message).toMatch(/batches are not supported in protocol version/)
    peer.send({ jsonrpc: "2.0", id: "after", method: "ping" })
    await peer.next((f) => f.id === "after", from)
    // None of the batch ran, and its refusal was the only answer.
    expect(peer.frames.slice(from)).toEqual([refused, { jsonrpc: "2.0", id: "after", result: {} }])
    return
  }
  let from = peer.frames.length
  peer.send(MIXED)
  checkMixed(await peer.next(Array.isArray, from))
  // All notifications: no answer at all (a ping afterwards is the first thing back).
  from = peer.frames.length
  peer.send([{ jsonrpc: "2.0", method: "notifications/roots/list_changed" }, { jsonrpc: "2.0", method: "notifications/whatever" }])
  peer.send({ jsonrpc: "2.0", id: "after", method: "ping" })
  await peer.next((f) => f.id === "after", from)
  expect(peer.frames.slice(from)).toEqual([{ jsonrpc: "2.0", id: "after", result: {} }])
  // A cancelled request leaves the array without its response; the rest still arrives together.
  from = peer.frames.length
  peer.send([{ jsonrpc: "2.0", id: 20, method: "tools/call", params: { name: "slow", arguments: { ms: 60_000 } } }, echo(21, "kept")])
  peer.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 20, reason: "test" } })
  const partial = await peer.next(Array.isArray, from)
  expect(partial).toEqual([{ jsonrpc: "2.0", id: 21, result: { content: [{ type: "text", text: "kept" }] } }])
  // Progress of a batched request goes out on its own, before the array.
  from = peer.frames.length
  peer.send([{ jsonrpc: "2.0", id: 30, method: "tools/call", params: { name: "count", arguments: { n: 2, stepMs: 1 }, _meta: { progressToken: "p" } } }])
  const counted = await peer.next(Array.isArray, from)
  // (2025-03-26 predates structuredContent: the text content carries the result.)
  expect(counted).toEqual([{ jsonrpc: "2.0", id: 30, result: { content: [{ type: "text", text: "counted to 2" }] } }])
  const progress = peer.frames.slice(from).filter((f: any) => f.method === "notifications/progress")
  expect(progress.map((p: any) => p.params.progress)).toEqual([1, 2])
  expect(peer.frames.indexOf(counted)).toBeGreaterThan(peer.frames.indexOf(progress[1]))
}

describe("batches over message transports", () => {
  for (const version of ["2025-03-26", "2025-11-25"]) {
    it(`memory, ${version}`, async () => {
      const [client, server] = makeMemoryTransportPair()
      const session = serveTransport(makeDemoServer(), server)
      // The memory pair carries values: send each frame as its parsed JSON.
      const peer = framePeer((t) => client.send(JSON.parse(t)))
      client.start({ onFrame: peer.push, onOversized: () => {}, onClose: () => {} })
      await scenario(peer, version)
      expect(session.inFlightCount).toBe(0)
      await session.close()
    })
  }

  it("stdio (the real CLI process): one array line per batch on 2025-03-26; one -32600 on 2025-06-18", async () => {
    for (const version of ["2025-03-26", "2025-06-18"]) {
      const child = spawn(process.execPath, [BIN, "serve", "--stdio"], { cwd: CWD })
      const peer = framePeer((t) => void child.stdin.write(`${t}\n`))
      createInterface({ input: child.stdout }).on("line", peer.push)
      try {
        await scenario(peer, version)
      } finally {
        child.kill("SIGKILL")
      }
    }
  }, 90_000)

  it("WebSocket: one array frame per batch", async () => {
    const ws = await makeWsServer(makeDemoServer())
    try {
      const socket = new WebSocket(ws.url, ["mcp"])
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve())
        socket.once("error", reject)
      })
      const peer = framePeer((t) => socket.send(t))
      socket.on("message", (d) => peer.push(d.toString()))
      await scenario(peer, "2025-03-26")
      socket.close()
    } finally {
      await ws.close({ drainMs: 0 })
    }
  }, 30_000)
})

describe("batches over Streamable HTTP (2025-03-26)", () => {
  it("one JSON array body, or one SSE stream carrying progress then every response; 202 for notifications only", async () => {
    const http = await makeHttpServer(makeDemoServer())
    try {
      const { headers } = await openSession(http.url, "2025-03-26")
      const json = await post(http.url, [echo(1, "one"), { jsonrpc: "2.0", method: "notifications/roots/list_changed" }, { jsonrpc: "2.0", id: 2, method: "ping" }], headers)
      expect(json.status).toBe(200)
      expect(json.headers.get("content-type")).toMatch(/application\/json/)
      expect(await json.json()).toEqual([
        { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "one" }] } },
        { jsonrpc: "2.0", id: 2, result: {} }
      ])
      const sse = await post(http.url, [
        { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "count", arguments: { n: 2, stepMs: 1 }, _meta: { progressToken: "p" } } },
        { jsonrpc: "2.0", id: 4, method: "ping" }
      ], headers)
      expect(sse.headers.get("content-type")).toMatch(/text\/event-stream/)
      const events = (await sse.text()).split("\n").filter((l) => l.startsWith("data: ") && l.length > 6).map((l) => JSON.parse(l.slice(6)) as Json)
      expect(events.filter((e) => e.method === "notifications/progress").map((e) => e.params.progress)).toEqual([1, 2])
      expect(events.filter((e) => e.method === undefined).map((e) => e.id).sort()).toEqual([3, 4])
      // The mixed batch of the message transports: the same array, as one JSON body.
      const mixed = await post(http.url, MIXED, headers)
      expect(mixed.status).toBe(200)
      const answer = (await mixed.json()) as Array<Json>
      // Refused items lead the array here (they are known before any request runs); the content is the same.
      const byOrder = [...answer].sort((a, b) => MIXED.findIndex((m) => "id" in m && m.id === a.id) - MIXED.findIndex((m) => "id" in m && m.id === b.id))
      expect(answer).toHaveLength(7)
      expect(byOrder.filter((m) => m.result !== undefined).map((m) => m.id)).toEqual([1, 2, 3])
      expect(answer.filter((m) => m.error !== undefined).map((m) => m.error.message)).toEqual([
        "Invalid Request: initialize must not be part of a batch",
        "Invalid Request: a response needs exactly one of result and error",
        "Invalid Request: request id 1 is already in flight",
        "Invalid Request: initialize must not be part of a batch"
      ])
      const notes = await post(http.url, [{ jsonrpc: "2.0", method: "notifications/roots/list_changed" }], headers)
      expect(notes.status).toBe(202)
      expect(http.stats().pendingExchanges).toBe(0)
    } finally {
      await http.close({ drainMs: 0 })
    }
  })
})
