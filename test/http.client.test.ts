/**
 * The Streamable HTTP client (legacy era): SSE parsing, then our client
 * against real servers — the official SDK server (stateful with SSE or JSON
 * answers, stateless), `@modelcontextprotocol/server-everything` in
 * streamableHttp mode, and our own server — then HTTP errors and an
 * unreachable server against small raw node:http servers. Every test that
 * opens a client checks that closing it releases every socket and timer.
 *
 * Session loss, SSE resumption and reconnect timing: http.client-recovery.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { callTool, McpClient } from "../src/client/effect.ts"
import { ConnectionLost, InitializeFailed, RpcError } from "../src/protocol/requestErrors.ts"
import type { Result } from "../src/client/ClientSession.ts"
import type { JsonRpcNotification } from "../src/protocol/jsonrpc.ts"
import { HttpError } from "../src/transports/http/client/errors.ts"
import { postMessage } from "../src/transports/http/client/HttpExchange.ts"
import { makeAgent } from "../src/transports/http/client/httpRequest.ts"
import { reconnectDelay } from "../src/transports/http/client/HttpClientTransport.ts"
import { parseSse, type SseEvent, SseParser } from "../src/transports/http/client/SseParser.ts"
import { type SdkHttpServer, startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { type ChildServer, settled, spawnEverything, spawnOurServer } from "./support/httpPeers.ts"

const textOf = (r: Result): string => ((r.content as ReadonlyArray<{ text?: string }>)[0]?.text ?? "")
const namesOf = (r: Result, key: string): Array<string> => (r[key] as ReadonlyArray<{ name: string }>).map((x) => x.name)

// ------------------------------------------------------------------ SSE parsing

describe("SseParser", () => {
  /** Feed `text` in pieces of `size` characters; collect events. */
  const feed = (text: string, size: number): { events: Array<SseEvent>; parser: SseParser } => {
    const parser = new SseParser()
    const events: Array<SseEvent> = []
    for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)))
    parser.end()
    return { events, parser }
  }

  it("parses id, event, multi-line data, retry and comments", () => {
    const comments: Array<string> = []
    const parser = new SseParser({ onComment: (c) => comments.push(c) })
    const events = parser.push(": keepalive\nid: 7\nevent: message\ndata: {\"a\":\ndata:  1}\nretry: 1500\n\n")
    expect(events).toEqual([{ type: "message", data: "{\"a\":\n 1}", lastEventId: "7" }])
    expect(parser.retryMs).toBe(1500)
    expect(comments).toEqual(["keepalive"])
  })

  it("gives the same events whatever the chunking and line endings (LF, CRLF, CR, a CR/LF split across chunks)", () => {
    const body = "id: 1\ndata: one\n\nevent: note\ndata: two\ndata: lines\n\ndata: three\n\n"
    const expected = [
      { type: "message", data: "one", lastEventId: "1" },
      { type: "note", data: "two\nlines", lastEventId: "1" },
      { type: "message", data: "three", lastEventId: "1" }
    ]
    for (const text of [body, body.replaceAll("\n", "\r\n"), body.replaceAll("\n", "\r")]) {
      for (const size of [1, 2, 3, 7, text.length]) expect(feed(text, size).events).toEqual(expected)
    }
  })

  it("drops a leading BOM, strips one space after the colon, and reads a field without a colon as empty", () => {
    const { events } = parseSse("\uFEFFdata:no-space\n\ndata:  two spaces\n\ndata\n\n")
    expect(events.map((e) => e.data)).toEqual(["no-space", " two spaces", ""])
  })

  it("keeps the last event id across events without one; an id with NUL is ignored; id-only blocks move the cursor", () => {
    const r = parseSse("id: a\ndata: 1\n\ndata: 2\n\nid: b\u0000c\ndata: 3\n\nid: z\n\n")
    expect(r.events.map((e) => [e.data, e.lastEventId])).toEqual([["1", "a"], ["2", "a"], ["3", "a"]])
    expect(r.lastEventId).toBe("z")
  })

  it("the priming event (id + empty data) dispatches an empty message and sets the cursor", () => {
    const r = parseSse("id: s1_0001\nretry: 500\ndata: \n\n")
    expect(r.events).toEqual([{ type: "message", data: "", lastEventId: "s1_0001" }])
    expect(r.retryMs).toBe(500)
  })

  it("ignores retry values that are not all digits, unknown fields, and an unterminated last block", () => {
    const r = parseSse("retry: 10s\nfoo: bar\ndata: kept\n\nretry: 20\ndata: lost")
    expect(r.events.map((e) => e.data)).toEqual(["kept"])
    expect(r.retryMs).toBe(20)
  })

  it("discards an event over maxEventBytes whole (reported once) and keeps parsing after it", () => {
    const sizes: Array<number> = []
    const parser = new SseParser({ maxEventBytes: 16, onOversized: (n) => sizes.push(n) })
    const events = [
      ...parser.push("data: 0123456789\ndata: 0123456789\n\n"),
      ...parser.push("data: " + "x".repeat(40)),
      ...parser.push("y".repeat(40) + "\n\ndata: ok\n\n")
    ]
    expect(events.map((e) => e.data)).toEqual(["ok"])
    expect(sizes).toHaveLength(2)
  })

  it("reports the start of a discarded event's data (whether it was a response), from complete lines or an unfinished one", () => {
    const heads: Array<string> = []
    const parser = new SseParser({ maxEventBytes: 16, onOversized: (_n, head) => heads.push(head) })
    parser.push("data: {\"id\":1,\ndata: \"result\":{\"x\":\"0123456789\"}}\n\n") // a complete line crosses the limit
    parser.push("event: message\ndata:{\"jsonrpc\":\"2.0\",\"method\":\"") // an unfinished line does
    parser.push("x".repeat(600) + "\"}\n\n")
    parser.push("data: " + "y".repeat(500) + "\n\n") // the head is cut to FRAME_EDGE_CHARS
    expect(heads).toEqual(['{"id":1,\n"result":{"x":"0123456789"}}', '{"jsonrpc":"2.0","method":"', "y".repeat(256)])
  })
})

describe("reconnectDelay", () => {
  const options = { initialDelayMs: 250, maxDelayMs: 5_000, factor: 2, maxAttempts: 5 }
  it("starts at the server's retry (else the initial delay) and grows, capped, never below retry", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelay(n, undefined, options))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000])
    expect([1, 2, 3].map((n) => reconnectDelay(n, 500, options))).toEqual([500, 1000, 2000])
    expect([1, 2].map((n) => reconnectDelay(n, 30_000, options))).toEqual([30_000, 30_000])
  })
})

// ------------------------------------------------------------------ the SDK server, in process

describe("against the official SDK server (stateful, SSE answers)", () => {
  let server: SdkHttpServer
  beforeAll(async () => {
    server = await startSdkHttpServer({})
  })
  afterAll(() => server.close())

  it("initializes, sends the session id and version headers, lists/calls/reads/prompts, gets notifications, and DELETEs on close", async () => {
    const baseline = process.getActiveResourcesInfo()
    // The server is shared with the next test: its counters are read from where this test starts.
    const before = { sessions: server.sessionCount(), gets: server.stats.gets, deletes: server.stats.deletes, initialize: server.stats.initialize }
    const notifications: Array<JsonRpcNotification> = []
    const client = await connectHttp(server.url, { onNotification: (n) => notifications.push(n) })
    expect(client.sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(client.protocolVersion).toBe("2025-11-25")
    expect(client.serverInfo?.name).toBe("sdk-http-fixture")
    expect(server.sessionCount()).toBe(before.sessions + 1)
    // The standalone stream is opened once `initialized` is accepted.
    await server.when(() => server.stats.gets === before.gets + 1, "the client's GET")
    expect(server.stats.lastHeaders.GET).toMatchObject({ accept: "text/event-stream", "mcp-session-id": client.sessionId, "mcp-protocol-version": "2025-11-25" })

    expect(namesOf(await client.listTools(), "tools")).toEqual(expect.arrayContaining(["echo", "put", "increment", "slow", "log"]))
    expect(server.stats.lastHeaders.POST).toMatchObject({
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": client.sessionId,
      "mcp-protocol-version": "2025-11-25"
    })
    expect(textOf(await client.callTool("echo", { text: "hello over http" }))).toBe("hello over http")
    expect(textOf(await client.callTool("log", { text: "a log line" }))).toBe("logged")
    expect(notifications.map((n) => n.params?.data)).toContain("a log line")
    const read = await client.readResource("test://hello")
    expect((read.contents as ReadonlyArray<{ text: string }>)[0]!.text).toBe("hello world")
    expect(namesOf(await client.listPrompts(), "prompts")).toEqual(["greet"])
    const prompt = await client.getPrompt("greet", { name: "Ada" })
    expect((prompt.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe("Hello, Ada!")
    expect(await client.ping()).toEqual({})
    // A tool error is a result, not an exception.
    const bad = await client.callTool("echo", { text: 42 })
    expect(bad.isError).toBe(true)

    await client.close()
    expect(await client.ended).toMatchObject({ expected: true })
    expect(server.stats.deletes).toBe(before.deletes + 1)
    expect(server.stats.initialize).toBe(before.initialize + 1)
    await server.when(() => server.sessionCount() === before.sessions, "the session to close")
    await settled(baseline)
  })

  it("concurrent calls each get their own answer", async () => {
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url)
    const texts = Array.from({ length: 20 }, (_, i) => `call ${i}`)
    const results = await Promise.all(texts.map((text) => client.callTool("echo", { text })))
    expect(results.map(textOf)).toEqual(texts)
    await client.close()
    await settled(baseline)
  })
})

describe("against the official SDK server (stateful, JSON answers)", () => {
  let server: SdkHttpServer
  beforeAll(async () => {
    server = await startSdkHttpServer({ json: true })
  })
  afterAll(() => server.close())

  it("reads application/json answers", async () => {
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url)
    expect(client.sessionId).toBeDefined()
    expect(textOf(await client.callTool("echo", { text: "json" }))).toBe("json")
    expect(namesOf(await client.listTools(), "tools")).toContain("echo")
    expect(textOf(await client.callTool("put", { key: "k", value: "v" }))).toBe("k=v")
    await client.close()
    expect(server.stats.deletes).toBe(1)
    await settled(baseline)
  })
})

describe("against the official SDK server (stateless)", () => {
  let server: SdkHttpServer
  beforeAll(async () => {
    server = await startSdkHttpServer({ stateless: true })
  })
  afterAll(() => server.close())

  it("works without a session id; the 405 to GET means no standalone stream; no DELETE without a session", async () => {
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(server.url)
    expect(client.sessionId).toBeUndefined()
    expect(textOf(await client.callTool("echo", { text: "stateless" }))).toBe("stateless")
    expect(namesOf(await client.listPrompts(), "prompts")).toEqual(["greet"])
    await server.when(() => server.stats.gets === 1, "the client's GET")
    await client.close()
    expect(server.stats.gets).toBe(1) // 405: not retried
    expect(server.stats.deletes).toBe(0)
    expect(server.stats.lastHeaders.POST?.["mcp-session-id"]).toBeUndefined()
    expect(server.stats.lastHeaders.POST?.["mcp-protocol-version"]).toBe("2025-11-25")
    await settled(baseline)
  })
})

describe("postMessage (the single exchange a sessionless client builds on)", () => {
  it("classifies an SSE answer, and a 400 whose body is a JSON-RPC error (for the modern-era fallback check)", async () => {
    const server = await startSdkHttpServer({})
    const agent = makeAgent(new URL(server.url))
    const init = await postMessage(new URL(server.url), {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
    }, { agent })
    expect(init._tag).toBe("Stream")
    expect(init.headers["mcp-session-id"]).toBeDefined()
    if (init._tag === "Stream") {
      const events = []
      for await (const e of init.stream) events.push(JSON.parse(e.data))
      expect(events).toMatchObject([{ id: 1, result: { protocolVersion: "2025-11-25" } }])
      expect(init.stream.endedBy).toBe("end")
    }
    const rejected = await postMessage(new URL(server.url), { jsonrpc: "2.0", id: 2, method: "tools/list" }, { agent })
    expect(rejected).toMatchObject({ _tag: "Rejected", status: 400, rpcError: { code: -32000 } })
    agent.destroy()
    await server.close()
  })
})

// ------------------------------------------------------------------ server-everything and our server, as child processes

describe("against @modelcontextprotocol/server-everything (streamableHttp)", () => {
  let everything: ChildServer
  beforeAll(async () => {
    everything = await spawnEverything()
  }, 20_000)
  afterAll(() => everything.stop())

  it("lists and calls tools (with progress), reads resources, gets prompts, answers sampling over HTTP", async () => {
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(everything.url, {
      onSampling: (params) => ({
        role: "assistant",
        model: "mcp-actors-test-model",
        content: { type: "text", text: `SAMPLED ${String((params?.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).length}` }
      })
    })
    expect(client.serverInfo?.name).toMatch(/everything/)
    expect(client.sessionId).toBeDefined()
    const tools = namesOf(await client.listTools(), "tools")
    expect(tools).toEqual(expect.arrayContaining(["echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request"]))
    expect(textOf(await client.callTool("echo", { message: "over http" }))).toBe("Echo: over http")
    expect(textOf(await client.callTool("get-sum", { a: 2, b: 40 }))).toBe("The sum of 2 and 40 is 42.")

    const progress: Array<number> = []
    const long = await client.callTool("trigger-long-running-operation", { duration: 0.3, steps: 3 }, { onProgress: (p) => progress.push(p.progress) })
    expect(textOf(long)).toMatch(/completed/i)
    expect(progress).toEqual([1, 2, 3])

    // A server→client request on the POST stream; our answer goes back as its own POST.
    const sampled = await client.callTool("trigger-sampling-request", { prompt: "tell me a joke", maxTokens: 10 })
    expect(textOf(sampled)).toContain("mcp-actors-test-model")

    const resources = (await client.listResources()).resources as ReadonlyArray<{ uri: string }>
    expect(resources.length).toBeGreaterThan(0)
    const read = await client.readResource(resources[0]!.uri)
    expect((read.contents as ReadonlyArray<{ uri: string }>)[0]!.uri).toBe(resources[0]!.uri)
    const dynamic = await client.readResource("demo://resource/dynamic/text/7")
    expect((dynamic.contents as ReadonlyArray<{ text: string }>)[0]!.text).toMatch(/^Resource 7: /)
    const missing = await client.readResource("demo://resource/nope").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(RpcError)

    expect(namesOf(await client.listPrompts(), "prompts")).toEqual(expect.arrayContaining(["simple-prompt", "args-prompt"]))
    const args = await client.getPrompt("args-prompt", { city: "Lyon", state: "Rhône" })
    expect((args.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe("What's weather in Lyon, Rhône?")

    await client.close()
    expect(await client.ended).toMatchObject({ expected: true })
    await settled(baseline)
  }, 20_000)
})

describe("against our own server (mcp-actors serve --http)", () => {
  let ours: ChildServer
  beforeAll(async () => {
    ours = await spawnOurServer()
  }, 20_000)
  afterAll(() => ours.stop())

  it("initializes, calls tools with progress, reads a resource, gets a prompt, completes", async () => {
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(ours.url)
    expect(client.serverInfo?.name).toBe("mcp-actors-demo")
    expect(client.sessionId).toBeDefined()
    expect(textOf(await client.callTool("echo", { text: "hi ours" }))).toBe("hi ours")
    const progress: Array<number> = []
    const counted = await client.callTool("count", { n: 3, stepMs: 5 }, { onProgress: (p) => progress.push(p.progress) })
    expect(counted.structuredContent).toEqual({ counted: 3 })
    expect(progress).toEqual([1, 2, 3])
    const read = await client.readResource("demo://readme")
    expect((read.contents as ReadonlyArray<{ text: string }>)[0]!.text).toBe("mcp-actors demo server")
    const prompt = await client.getPrompt("greet", { name: "Grace" })
    expect((prompt.messages as ReadonlyArray<{ content: { text: string } }>)[0]!.content.text).toBe("Please greet Grace.")
    const completion = await client.complete({ type: "ref/prompt", name: "greet" }, { name: "name", value: "A" })
    expect(completion.completion).toMatchObject({ values: ["Ada", "Alan"] })
    await client.close()
    await settled(baseline)
  }, 20_000)
})

// ------------------------------------------------------------------ HTTP errors, against a raw server

type Handler = (req: IncomingMessage, res: ServerResponse, body: { method?: string; id?: unknown; params?: { name?: string } } | undefined) => void

/** A raw node:http server that answers `initialize` itself and hands everything else to `handler`. */
const rawServer = async (handler: Handler, initialize?: (res: ServerResponse, id: unknown) => void): Promise<{ url: string; server: Server; seen: Array<{ method: string; headers: IncomingMessage["headers"]; rpc?: string }>; close: () => Promise<void> }> => {
  const seen: Array<{ method: string; headers: IncomingMessage["headers"]; rpc?: string }> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const body = text === "" ? undefined : JSON.parse(text)
      seen.push({ method: req.method!, headers: req.headers, ...(body?.method ? { rpc: body.method } : {}) })
      if (body?.method === "initialize") {
        if (initialize) return initialize(res, body.id)
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "raw-session-1" })
        return res.end(JSON.stringify({
          jsonrpc: "2.0",
          id: body.id,
          result: { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1" } }
        }))
      }
      if (req.method === "POST" && body !== undefined && !("id" in body && "method" in body)) {
        res.writeHead(202)
        return res.end()
      }
      if (req.method === "GET" || req.method === "DELETE") {
        res.writeHead(405, { allow: "POST" })
        return res.end()
      }
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
  return {
    url,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

describe("HTTP errors", () => {
  it("an error status with a JSON-RPC body is that RpcError; without one, a typed HttpError; the transport stays up", async () => {
    const raw = await rawServer((_req, res, body) => {
      const name = body?.params?.name
      if (name === "rpc400") {
        res.writeHead(400, { "content-type": "application/json" })
        return res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32602, message: "bad params", data: { field: "x" } } }))
      }
      if (name === "plain500") {
        res.writeHead(500, { "content-type": "text/plain" })
        return res.end("boom")
      }
      if (name === "html200") {
        res.writeHead(200, { "content-type": "text/html" })
        return res.end("<p>not mcp</p>")
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ jsonrpc: "2.0", id: body?.id, result: { content: [{ type: "text", text: "fine" }] } }))
    })
    const baseline = process.getActiveResourcesInfo()
    const client = await connectHttp(raw.url)
    expect(client.protocolVersion).toBe("2025-06-18")

    const rpc = await client.callTool("rpc400").catch((e: unknown) => e)
    expect(rpc).toBeInstanceOf(RpcError)
    expect(rpc).toMatchObject({ code: -32602, message: "bad params", data: { field: "x" } })

    const plain = await client.callTool("plain500").catch((e: unknown) => e)
    expect(plain).toBeInstanceOf(HttpError)
    expect(plain).toMatchObject({ _tag: "HttpError", method: "tools/call", status: 500, body: "boom" })

    const html = await client.callTool("html200").catch((e: unknown) => e)
    expect(html).toBeInstanceOf(HttpError)
    expect((html as HttpError).status).toBe(200)

    expect(textOf(await client.callTool("ok"))).toBe("fine")
    // Every POST after initialize carried the session id and the negotiated version.
    const posts = raw.seen.filter((s) => s.method === "POST" && s.rpc !== "initialize")
    expect(posts.length).toBeGreaterThanOrEqual(5)
    for (const p of posts) {
      expect(p.headers["mcp-session-id"]).toBe("raw-session-1")
      expect(p.headers["mcp-protocol-version"]).toBe("2025-06-18")
    }
    expect(raw.seen.find((s) => s.rpc === "initialize")!.headers["mcp-session-id"]).toBeUndefined()
    await client.close() // DELETE answered 405: ignored
    expect(raw.seen.filter((s) => s.method === "DELETE")).toHaveLength(1)
    await settled(baseline)
    await raw.close()
  })

  it("initialize answered with an error status fails the connection at once with InitializeFailed", async () => {
    const raw = await rawServer(() => {}, (res) => {
      res.writeHead(503, { "content-type": "text/plain" })
      res.end("try later")
    })
    const started = Date.now()
    const error = await connectHttp(raw.url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InitializeFailed)
    expect((error as InitializeFailed).message).toMatch(/HTTP 503.*try later/)
    expect(Date.now() - started).toBeLessThan(1_000)
    await raw.close()
  })

  it("an invalid Mcp-Session-Id (not visible ASCII) fails the connection", async () => {
    const raw = await rawServer(() => {}, (res, id) => {
      res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "has space" })
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "raw", version: "1" } } }))
    })
    const error = await connectHttp(raw.url).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InitializeFailed)
    expect((error as InitializeFailed).message).toMatch(/invalid Mcp-Session-Id/)
    await raw.close()
  })
})

// ------------------------------------------------------------------ an unreachable server

describe("an unreachable server", () => {
  /** A port nobody listens on (bound, then released). */
  const deadPort = async (): Promise<number> => {
    const s = createServer()
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))
    const port = (s.address() as AddressInfo).port
    await new Promise<void>((resolve) => s.close(() => resolve()))
    return port
  }

  it("connect retries a refused connection with backoff, then fails with InitializeFailed", async () => {
    const port = await deadPort()
    const baseline = process.getActiveResourcesInfo()
    const started = Date.now()
    const error = await connectHttp(`http://127.0.0.1:${port}/mcp`, { reconnect: { initialDelayMs: 20, maxAttempts: 3 } }).catch((e: unknown) => e)
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(InitializeFailed)
    expect((error as InitializeFailed).message).toMatch(/unreachable \(4 attempts\).*ECONNREFUSED/)
    // 20 + 40 + 80 ms of backoff between the four attempts.
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1_000)
    await settled(baseline)
  })

  it("a server that goes away for good ends the session (expected: false) and fails the call with ConnectionLost", async () => {
    const server = await startSdkHttpServer({})
    const client = await connectHttp(server.url, { reconnect: { initialDelayMs: 20, maxAttempts: 2 } })
    await server.when(() => server.stats.gets === 1, "the client's GET")
    await server.close()
    const error = await client.callTool("echo", { text: "anyone?" }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLost)
    const end = await client.ended
    expect(end.expected).toBe(false)
    expect(end.reason).toMatch(/unreachable/)
    await client.close()
  })
})

// ------------------------------------------------------------------ Effect

describe("McpClient.layerHttp", () => {
  it("provides a connected client for the scope and closes it (DELETE) with the layer", async () => {
    const server = await startSdkHttpServer({})
    const baseline = process.getActiveResourcesInfo()
    const result = await Effect.runPromise(callTool("echo", { text: "from effect" }).pipe(Effect.provide(McpClient.layerHttp(server.url))))
    expect(textOf(result)).toBe("from effect")
    expect(server.stats.deletes).toBe(1)
    await settled(baseline)
    await server.close()
  })
})
