/**
 * The Streamable HTTP client when things go wrong on the server side:
 *
 * - SSE resumption: a POST stream closed before its answer is resumed with GET +
 *   `Last-Event-ID` after the server's `retry:` (the conformance `sse-retry`
 *   scenario: retry 500, closed after 50 ms, reconnect expected 450–700 ms
 *   later); attempts per outage are bounded and only progress resets them;
 *   the SDK server's own polling mode (`closeSSEStream`) is followed.
 * - Session loss (404): exactly one re-initialization for any number of
 *   concurrent failures; read-only / idempotent / list-get-read calls are
 *   replayed, others fail with `SessionLost`; a server that loses the new
 *   session at once ends the client instead of looping; the standalone stream
 *   notices a loss with no call in flight.
 * - A real restart: the SDK server is SIGKILLed and started again on the same
 *   port, with calls made after the restart and calls in flight across it.
 *
 * Real servers throughout (the SDK server in process or as a child process,
 * raw node:http servers where the server must misbehave precisely). Where a
 * test times the client's own delays (sse-retry), they run on a simulated
 * clock; no test sleeps to let something happen. Every client is closed and
 * leaves no socket or timer behind.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { condition } from "./support/condition.ts"
import { waitFor } from "./support/waitFor.ts"
import { SimulatedClock } from "xstate"
import { exchangeKey } from "../machines/httpClientConnection.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import type { HttpClientTransport } from "../src/transports/http/client/HttpClientTransport.ts"
import type { Result } from "../src/client/ClientSession.ts"
import { ConnectionLost, SessionClosed, SessionLost } from "../src/protocol/requestErrors.ts"
import { startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { sdkStats, settled, spawnSdkServer } from "./support/httpPeers.ts"

const textOf = (r: Result): string => ((r.content as ReadonlyArray<{ text?: string }>)[0]?.text ?? "")
const until = (f: () => boolean, ms = 3_000): Promise<void> => waitFor(f, { timeoutMs: ms, what: "condition" })
const settle = <A>(p: Promise<A>): Promise<{ ok: true; value: A } | { ok: false; error: unknown }> =>
  p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))

// ------------------------------------------------------------------ a scripted server

interface Rpc {
  readonly jsonrpc: "2.0"
  readonly id?: string | number
  readonly method?: string
  readonly params?: { readonly name?: string }
}
interface Seen {
  readonly at: number
  readonly method: string
  readonly rpc: string | undefined
  readonly sessionId: string | undefined
  readonly lastEventId: string | undefined
}

/**
 * A raw node:http MCP endpoint: `initialize` (a fresh session id each time,
 * JSON), notifications → 202, DELETE → 200; everything else goes to `onPost`
 * / `onGet`. Records every request with its arrival time.
 */
const scriptedServer = async (script: {
  readonly onPost: (rpc: Rpc, res: ServerResponse, req: IncomingMessage) => void
  readonly onGet: (req: IncomingMessage, res: ServerResponse) => void
  readonly rejectSessions?: () => boolean
}) => {
  const seen: Array<Seen> = []
  let sessions = 0
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const rpc = text === "" ? undefined : (JSON.parse(text) as Rpc)
      const sessionId = req.headers["mcp-session-id"] as string | undefined
      seen.push({ at: Date.now(), method: req.method!, rpc: rpc?.method, sessionId, lastEventId: req.headers["last-event-id"] as string | undefined })
      if (rpc?.method === "initialize") {
        sessions++
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": `s-${sessions}` })
        return res.end(JSON.stringify({
          jsonrpc: "2.0",
          id: rpc.id,
          result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "scripted", version: "1" } }
        }))
      }
      if (sessionId !== undefined && script.rejectSessions?.()) {
        res.writeHead(404, { "content-type": "application/json" })
        return res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" } }))
      }
      if (req.method === "DELETE") {
        res.writeHead(200)
        return res.end()
      }
      if (req.method === "GET") return script.onGet(req, res)
      if (rpc !== undefined && rpc.id === undefined) {
        res.writeHead(202)
        return res.end()
      }
      script.onPost(rpc!, res, req)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    seen,
    initializeCount: () => seen.filter((s) => s.rpc === "initialize").length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

const sseHead = (res: ServerResponse) => res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
const resultEvent = (id: string | number | undefined, text: string, eventId: string) =>
  `id: ${eventId}\nevent: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text }] } })}\n\n`

// ------------------------------------------------------------------ resumption

describe("SSE resumption", () => {
  it("sse-retry: a POST stream closed 50 ms after its priming event (retry 500) is resumed by GET + Last-Event-ID 450–700 ms later (client clock)", async () => {
    // The delays are the client's timers: on a simulated clock, so a busy machine cannot stretch them.
    const clock = new SimulatedClock()
    let closedAt = 0
    let resumedAt = 0
    let pendingId: string | number | undefined
    let endPost!: () => void
    const primed = new Promise<void>((resolve) => {
      endPost = resolve
    })
    const raw = await scriptedServer({
      onPost: (rpc, res) => {
        pendingId = rpc.id
        sseHead(res)
        res.write("id: ev-1\nretry: 500\ndata: \n\n")
        void primed.then(() => {
          closedAt = clock.now()
          res.end()
        })
      },
      onGet: (req, res) => {
        if (req.headers["last-event-id"] === undefined) {
          res.writeHead(405)
          return res.end()
        }
        resumedAt = clock.now()
        sseHead(res)
        res.end(resultEvent(pendingId, "resumed", "ev-2"))
      }
    })
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(raw.url, { clock })
    const call = client.callTool("slow")
    const exchange = () => (client.transport as HttpClientTransport).connection.getSnapshot().children[exchangeKey(pendingId ?? -1)]
    const state = () => (exchange()?.getSnapshot() as { readonly value?: unknown } | undefined)?.value
    await until(() => state() === "posting" && pendingId !== undefined)
    clock.increment(50)
    endPost()
    await until(() => state() === "waitingToResume") // the end arrives by socket I/O
    clock.increment(449)
    expect(state()).toBe("waitingToResume")
    clock.increment(51)
    expect(state()).not.toBe("waitingToResume") // fired on the clock, in the increment: no real timer
    const result = await call
    expect(textOf(result)).toBe("resumed")
    const resumes = raw.seen.filter((s) => s.method === "GET" && s.lastEventId !== undefined)
    expect(resumes).toHaveLength(1)
    expect(resumes[0]!.lastEventId).toBe("ev-1")
    expect(resumes[0]!.sessionId).toBe("s-1")
    const delay = resumedAt - closedAt
    expect(delay).toBeGreaterThanOrEqual(450)
    expect(delay).toBeLessThanOrEqual(700)
    await client.close()
    await settled(baseline)
    await raw.close()
  })

  it("sse-retry on virtual time: the resumption waits for the chart's delay on the session's clock, not the wall clock", async () => {
    let pendingId: string | number | undefined
    const raw = await scriptedServer({
      onPost: (rpc, res) => {
        pendingId = rpc.id
        sseHead(res)
        res.end("id: ev-1\nretry: 500\ndata: \n\n") // primed, then closed at once
      },
      onGet: (req, res) => {
        if (req.headers["last-event-id"] === undefined) {
          res.writeHead(405)
          return res.end()
        }
        sseHead(res)
        res.end(resultEvent(pendingId, "resumed", "ev-2"))
      }
    })
    const clock = new SimulatedClock()
    const client = await connectHttp(raw.url, { clock })
    const call = client.callTool("slow")
    const exchange = () => (client.transport as HttpClientTransport).connection.getSnapshot().children[exchangeKey(pendingId ?? -1)]
    // The POST stream ended (real socket events): its exchange waits on the virtual clock.
    await until(() => (exchange()?.getSnapshot() as { readonly value?: unknown } | undefined)?.value === "waitingToResume")
    const state = () => (exchange()?.getSnapshot() as { readonly value?: unknown } | undefined)?.value
    clock.increment(499)
    expect(state()).toBe("waitingToResume")
    expect(raw.seen.filter((s) => s.method === "GET" && s.lastEventId !== undefined)).toHaveLength(0)
    clock.increment(1)
    // The resumption starts inside the increment: the delay is the clock's timer, not a real one.
    expect(state()).toBe("resuming")
    expect(textOf(await call)).toBe("resumed")
    const resumes = raw.seen.filter((s) => s.method === "GET" && s.lastEventId !== undefined)
    expect(resumes.map((r) => r.lastEventId)).toEqual(["ev-1"])
    await client.close()
    await raw.close()
  })

  it("attempts per outage are bounded and not reset by streams that connect and end with nothing new", async () => {
    const raw = await scriptedServer({
      onPost: (_rpc, res) => {
        sseHead(res)
        res.end("id: p-1\nretry: 20\ndata: \n\n")
      },
      onGet: (req, res) => {
        if (req.headers["last-event-id"] === undefined) {
          res.writeHead(405)
          return res.end()
        }
        sseHead(res)
        res.end() // a normal end, no events: not progress
      }
    })
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(raw.url, { reconnect: { maxAttempts: 3 } })
    const error = await client.callTool("never").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLost)
    expect((error as ConnectionLost).message).toMatch(/could not be resumed after 3 attempts/)
    expect(raw.seen.filter((s) => s.method === "GET" && s.lastEventId === "p-1")).toHaveLength(3)
    // The transport is still up: the next call works.
    await client.close()
    await settled(baseline)
    await raw.close()
  })

  it("progress (a new event id) resets the count: a server polling longer than maxAttempts still answers", async () => {
    let pendingId: string | number | undefined
    let polls = 0
    const raw = await scriptedServer({
      onPost: (rpc, res) => {
        pendingId = rpc.id
        sseHead(res)
        res.end("id: q-0\nretry: 10\ndata: \n\n")
      },
      onGet: (req, res) => {
        if (req.headers["last-event-id"] === undefined) {
          res.writeHead(405)
          return res.end()
        }
        polls++
        sseHead(res)
        // Five polls that each only move the cursor, then the answer.
        res.end(polls < 6 ? `id: q-${polls}\ndata: \n\n` : resultEvent(pendingId, "after polling", `q-${polls}`))
      }
    })
    const client = await connectHttp(raw.url, { reconnect: { maxAttempts: 2 } })
    expect(textOf(await client.callTool("poll"))).toBe("after polling")
    const cursors = raw.seen.filter((s) => s.method === "GET" && s.lastEventId !== undefined).map((s) => s.lastEventId)
    expect(cursors).toEqual(["q-0", "q-1", "q-2", "q-3", "q-4", "q-5"])
    await client.close()
    await raw.close()
  })

  it("a POST stream that ends before its answer without any event id cannot be resumed: ConnectionLost, no GET", async () => {
    const raw = await scriptedServer({
      onPost: (_rpc, res) => {
        sseHead(res)
        res.end(": just a comment\n\n")
      },
      onGet: (_req, res) => {
        res.writeHead(405)
        res.end()
      }
    })
    const client = await connectHttp(raw.url)
    const error = await client.callTool("lost").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLost)
    expect((error as ConnectionLost).message).toMatch(/no event id/)
    expect(raw.seen.filter((s) => s.method === "GET" && s.lastEventId !== undefined)).toHaveLength(0)
    await client.close()
    await raw.close()
  })

  it("follows the SDK server's polling mode (closeSSEStream + event store): the answer arrives on the resumed stream", async () => {
    const server = await startSdkHttpServer({ events: true, retryMs: 50 })
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url)
    expect(textOf(await client.callTool("slow", { ms: 200, closeStream: true }))).toBe("slept 200")
    // The standalone stream's GET has no cursor; the resumption's has the priming event's id.
    expect(server.stats.lastEventIds.length).toBeGreaterThanOrEqual(1)
    expect(server.stats.lastEventIds[0]).toMatch(/_\d{8}$/)
    await client.close()
    await settled(baseline)
    await server.close()
  })
})

// ------------------------------------------------------------------ session loss

describe("session loss (404)", () => {
  it("10 concurrent calls failing with 404 cause exactly one re-initialization, then all are replayed", async () => {
    const server = await startSdkHttpServer({ noGet: true })
    const baseline = process.getActiveResourcesInfo()
    const reinits: Array<number> = []
    const client = await connectHttp(server.url, { onReinitialize: (e) => reinits.push(e.generation) })
    const firstSession = client.sessionId
    await client.listTools() // learns that echo is read-only
    await server.forgetSessions()
    const texts = Array.from({ length: 10 }, (_, i) => `call ${i}`)
    const results = await Promise.all(texts.map((text) => client.callTool("echo", { text })))
    expect(results.map(textOf)).toEqual(texts)
    expect(server.stats.notFound).toBe(10)
    expect(server.stats.initialize).toBe(2)
    expect(reinits).toEqual([2])
    expect(client.generation).toBe(2)
    expect(client.sessionId).not.toBe(firstSession)
    await client.close()
    await settled(baseline)
    await server.close()
  })

  it("replays read-only, idempotent and list/get/read calls; a call with no such hint fails with SessionLost", async () => {
    const server = await startSdkHttpServer({ noGet: true })
    const client = await connectHttp(server.url)
    await client.listTools() // learns the annotations
    await server.forgetSessions()
    const [echo, put, list, read, prompt, increment] = await Promise.all([
      settle(client.callTool("echo", { text: "read-only" })),
      settle(client.callTool("put", { key: "k", value: "v" })),
      settle(client.listTools()),
      settle(client.readResource("test://hello")),
      settle(client.getPrompt("greet", { name: "Ada" })),
      settle(client.callTool("increment"))
    ])
    expect(echo.ok && textOf(echo.value)).toBe("read-only")
    expect(put.ok && textOf(put.value)).toBe("k=v")
    expect(list.ok).toBe(true)
    expect(read.ok).toBe(true)
    expect(prompt.ok).toBe(true)
    expect(increment.ok).toBe(false)
    expect(!increment.ok && increment.error).toBeInstanceOf(SessionLost)
    expect(!increment.ok && (increment.error as SessionLost).message).toMatch(/not replayed/)
    expect(server.stats.increments).toBe(0)
    expect(server.stats.initialize).toBe(2)
    // The session is fine afterwards: the unsafe call can be retried by the caller.
    expect(textOf(await client.callTool("increment"))).toBe("1")
    await client.close()
    await server.close()
  })

  it("a server that loses the new session at once: the replay fails with SessionLost, the client ends, no loop", async () => {
    const raw = await scriptedServer({
      rejectSessions: () => true,
      onPost: () => {},
      onGet: () => {}
    })
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(raw.url, { standaloneStream: false })
    // connect resolves before `initialized` is answered; its 404 starts the one re-initialization allowed,
    // whose own `initialized` gets a 404 again: the waiting call fails and the client gives up.
    const error = await client.listTools().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionLost)
    const end = await client.ended
    expect(end.expected).toBe(false)
    expect(end.reason).toMatch(/giving up|re-initializing failed/)
    // No loop: once the ended client's sockets are all gone, no third initialize can still be on its way.
    await settled(baseline)
    expect(raw.initializeCount()).toBe(2)
    expect(await client.ping().catch((e: unknown) => e)).toBeInstanceOf(SessionClosed)
    await client.close()
    await settled(baseline)
    await raw.close()
  })

  it("reinitialize: false — the session ends with the loss and the call fails with SessionLost", async () => {
    const server = await startSdkHttpServer({ noGet: true })
    const client = await connectHttp(server.url, { reinitialize: false })
    await server.forgetSessions()
    expect(await client.callTool("echo", { text: "x" }).catch((e: unknown) => e)).toBeInstanceOf(SessionLost)
    expect((await client.ended).expected).toBe(false)
    expect(server.stats.initialize).toBe(1)
    await client.close()
    await server.close()
  })

  it("the standalone stream notices the loss with no call in flight and re-initializes right away", async () => {
    const server = await startSdkHttpServer({})
    const baseline = process.getActiveResourcesInfo()
    const reinits: Array<number> = []
    const reinitialized = condition()
    const client = await connectHttp(server.url, { onReinitialize: (e) => (reinits.push(e.generation), reinitialized.changed()) })
    await server.when(() => server.stats.gets === 1, "the client's GET")
    await server.forgetSessions() // ends the GET stream; its reconnection gets 404
    await reinitialized.when(() => reinits.length === 1, "the re-initialization")
    expect(server.stats.initialize).toBe(2)
    expect(server.stats.notFound).toBe(1)
    expect(textOf(await client.callTool("increment"))).toBe("1") // not replayed: sent on the new session
    await client.close()
    await settled(baseline)
    await server.close()
  })
})

// ------------------------------------------------------------------ a real restart

describe("the SDK server killed and restarted on the same port", () => {
  it("calls after the restart: one re-initialization, safe calls succeed, the unsafe one gets SessionLost", async () => {
    let server = await spawnSdkServer(["--no-get"])
    const port = new URL(server.url).port
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url, { reconnect: { initialDelayMs: 50, maxAttempts: 8 } })
    try {
      await client.listTools()
      expect(textOf(await client.callTool("echo", { text: "before" }))).toBe("before")
      await server.kill()
      server = await spawnSdkServer(["--port", port, "--no-get"])
      const [echo, put, list, increment] = await Promise.all([
        settle(client.callTool("echo", { text: "after" })),
        settle(client.callTool("put", { key: "a", value: "b" })),
        settle(client.listTools()),
        settle(client.callTool("increment"))
      ])
      expect(echo.ok && textOf(echo.value)).toBe("after")
      expect(put.ok && textOf(put.value)).toBe("a=b")
      expect(list.ok).toBe(true)
      expect(!increment.ok && increment.error).toBeInstanceOf(SessionLost)
      const stats = await sdkStats(server.url)
      expect(stats.initialize).toBe(1)
      expect(stats.notFound).toBe(4)
      expect(stats.increments).toBe(0)
      expect(client.generation).toBe(2)
    } finally {
      await client.close()
      await server.stop()
    }
    await settled(baseline)
  }, 20_000)

  it("calls in flight across the kill (resumable streams): the read-only one is replayed, the other gets SessionLost; one re-initialization", async () => {
    let server = await spawnSdkServer(["--events", "--retry", "50"])
    const port = new URL(server.url).port
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url, { reconnect: { initialDelayMs: 50, maxAttempts: 8 } })
    try {
      await client.listTools()
      // Each tool reports progress 0 as it starts, after its stream's priming event: then both are running and resumable.
      let started = 0
      let bothStarted!: () => void
      const running = new Promise<void>((resolve) => (bothStarted = resolve))
      const onProgress = () => void (++started === 2 && bothStarted())
      const slow = settle(client.callTool("slow", { ms: 600 }, { onProgress }))
      const write = settle(client.callTool("slow_write", { ms: 600 }, { onProgress }))
      await running
      await server.kill()
      server = await spawnSdkServer(["--port", port, "--events", "--retry", "50"])
      const [s, w] = await Promise.all([slow, write])
      expect(s.ok && textOf(s.value)).toBe("slept 600")
      expect(!w.ok && w.error).toBeInstanceOf(SessionLost)
      const stats = await sdkStats(server.url)
      expect(stats.initialize).toBe(1)
      expect(stats.increments).toBe(0)
      expect(client.generation).toBe(2)
    } finally {
      await client.close()
      await server.stop()
    }
    await settled(baseline)
  }, 20_000)
})
