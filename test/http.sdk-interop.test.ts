/**
 * Interop: the official TypeScript SDK client (`@modelcontextprotocol/sdk`
 * 1.32.x, `Client` + `StreamableHTTPClientTransport`) against our Streamable
 * HTTP server (demo example, in process, port 0). A recording `fetch` shows
 * what the SDK hides: GET streams, `Last-Event-ID` resumptions, DELETE.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import {
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { ErrorCode, McpError } from "../src/protocol/errors.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import { makeHttpServer, type HttpServerHandle, type HttpServerOptions } from "../src/server/http/HttpServer.ts"
import { condition, whenChanged } from "./support/condition.ts"
import { post, waitFor } from "./support/mcpHttp.ts"

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

interface Recorded {
  readonly method: string
  readonly lastEventId: string | null
  readonly status: number
}

const textOf = (result: unknown): string => {
  const content = (result as { content: ReadonlyArray<{ type: string; text?: string }> }).content
  expect(content[0]?.type).toBe("text")
  return content[0]!.text!
}

const start = async (options: HttpServerOptions = {}) => {
  const aborted: Array<string> = []
  const { changed, when } = condition() // the tools report each abort (no polling)
  let handle!: HttpServerHandle
  const server: McpServer = makeDemoServer()
    .tool(
      { name: "wait-abort", description: "Wait until aborted", inputSchema: { type: "object", properties: {} } },
      (_args, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted.push(String(ctx.requestId))
            changed()
            resolve({ content: [] })
          })
        })
    )
    .tool(
      { name: "drop-me", description: "Progress, server drops the POST stream, more progress, answer", inputSchema: { type: "object", properties: {} } },
      async (_args, ctx) => {
        ctx.progress(1, 2)
        handle.dropStream(ctx.sessionId!, ctx.requestId) // synchronous: the stream is gone when it returns
        await new Promise<void>((resolve) => setImmediate(resolve)) // the rest comes on a later turn, stored for the resumption
        ctx.progress(2, 2)
        return { content: [{ type: "text", text: "survived the drop" }] }
      }
    )
    .tool(
      { name: "fail-late", description: "Progress, then a protocol error", inputSchema: { type: "object", properties: {} } },
      (_args, ctx) => {
        ctx.progress(1)
        throw new McpError(ErrorCode.InvalidParams, "failed after progress")
      }
    )
    .tool(
      { name: "ask-name", description: "Elicit a name", inputSchema: { type: "object", properties: {} } },
      async (_args, ctx) => {
        const r = await ctx.elicit({ mode: "form", message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } })
        return { content: [{ type: "text", text: `hello ${(r.content as { name: string }).name}` }] }
      }
    )
  handle = await makeHttpServer(server, { retryMs: 30, ...options })
  return { handle, server, aborted, when }
}

const connect = async (url: string, capabilities: Record<string, unknown> = {}) => {
  const requests: Array<Recorded> = []
  const errors: Array<Error> = []
  const { changed, when } = condition() // each request the SDK made, as it is answered
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: async (input, init) => {
      const res = await fetch(input, init)
      const headers = new Headers(init?.headers)
      requests.push({ method: init?.method ?? "GET", lastEventId: headers.get("last-event-id"), status: res.status })
      changed()
      return res
    },
    reconnectionOptions: { initialReconnectionDelay: 30, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1.5, maxRetries: 2 }
  })
  const client = new Client({ name: "sdk-http-interop", version: "1.0.0" }, { capabilities })
  transport.onerror = (e) => void errors.push(e)
  await client.connect(transport)
  // Protocol.connect replaced onerror with its own; keep recording behind it.
  const sdkOnError = transport.onerror
  transport.onerror = (e) => {
    errors.push(e)
    sdkOnError?.(e)
  }
  return { client, transport, requests, errors, when }
}

describe("SDK Client + StreamableHTTPClientTransport against our server", { shuffle: false }, () => { // one SDK session; the last test terminates it
  let ctx: Awaited<ReturnType<typeof start>>
  let sdk: Awaited<ReturnType<typeof connect>>

  beforeAll(async () => {
    ctx = await start()
    sdk = await connect(ctx.handle.url, { elicitation: {} })
  })
  afterAll(async () => {
    await sdk?.client.close()
    await ctx?.handle.close({ drainMs: 0 })
  })

  it("initializes: session id from the server, version 2025-11-25, serverInfo and instructions", () => {
    expect(sdk.transport.sessionId).toMatch(/^[\x21-\x7e]{22}$/)
    expect(sdk.transport.protocolVersion).toBe("2025-11-25")
    expect(sdk.client.getServerVersion()).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    expect(sdk.client.getInstructions()).toMatch(/demo server/)
    expect(ctx.handle.session(sdk.transport.sessionId!)?.stateName()).toMatch(/^operating/)
  })

  it("opens the standalone GET stream after initialized", async () => {
    await sdk.when(() => sdk.requests.some((r) => r.method === "GET" && r.status === 200), "the client's GET")
    expect(ctx.handle.stats().openStreams).toBe(1)
  })

  it("tools/list and tools/call echo", async () => {
    const { tools } = await sdk.client.listTools()
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "count", "log", "slow"]))
    expect(textOf(await sdk.client.callTool({ name: "echo", arguments: { text: "over http" } }))).toBe("over http")
  })

  it("progress notifications reach onprogress, in order, before the result", async () => {
    const seen: Array<number> = []
    const result = await sdk.client.callTool({ name: "count", arguments: { n: 4, stepMs: 2 } }, undefined, { onprogress: (p) => void seen.push(p.progress) })
    expect(seen).toEqual([1, 2, 3, 4])
    expect(result.structuredContent).toEqual({ counted: 4 })
  })

  it("a log sent during a call arrives on the call's stream", async () => {
    const logs: Array<unknown> = []
    sdk.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data))
    await sdk.client.setLoggingLevel("info")
    expect(textOf(await sdk.client.callTool({ name: "log", arguments: { message: "from the handler" } }))).toBe("logged: from the handler")
    expect(logs).toEqual(["from the handler"])
  })

  it("cancellation: aborting the call's AbortSignal sends notifications/cancelled and the handler sees the abort", async () => {
    const abort = new AbortController()
    const call = sdk.client.callTool({ name: "wait-abort", arguments: {} }, undefined, { signal: abort.signal })
    const session = ctx.handle.session(sdk.transport.sessionId!)!
    const inFlight = (n: number, what: string) => whenChanged((l) => session.subscribe(l), () => session.inFlightCount === n, what)
    await inFlight(1, "the call to start")
    abort.abort("user gave up")
    await expect(call).rejects.toThrow()
    await ctx.when(() => ctx.aborted.length === 1, "the handler to see the abort")
    expect(session.inFlightCount).toBe(0)
    await waitFor(() => ctx.handle.stats().pendingExchanges === 0, 10_000, "the exchange to end")
    // The demo's `slow` is cancellable the same way.
    const slowAbort = new AbortController()
    const slow = sdk.client.callTool({ name: "slow", arguments: { ms: 60_000 } }, undefined, { signal: slowAbort.signal })
    await inFlight(1, "slow to start")
    slowAbort.abort()
    await expect(slow).rejects.toThrow()
    await inFlight(0, "slow to be aborted")
  })

  it("server-initiated notifications arrive on the GET stream: list_changed after a new tool, a session log", async () => {
    let changed = 0
    const logs: Array<unknown> = []
    const heard = condition()
    sdk.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void (changed++, heard.changed()))
    sdk.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void (logs.push(n.params.data), heard.changed()))
    ctx.server.tool({ name: "added-later", description: "registered while connected", inputSchema: { type: "object" } }, () => ({ content: [{ type: "text", text: "late" }] }))
    ctx.handle.session(sdk.transport.sessionId!)!.logMessage("warning", "from the server")
    await heard.when(() => changed === 1 && logs.length === 1, "the GET stream notifications")
    expect(logs).toEqual(["from the server"])
    expect((await sdk.client.listTools()).tools.map((t) => t.name)).toContain("added-later")
  })

  it("elicitation from inside a handler: the request rides the call's SSE stream, the answer comes back by POST", async () => {
    sdk.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      expect(req.params.message).toBe("Your name?")
      return { action: "accept", content: { name: "Grace" } }
    })
    expect(textOf(await sdk.client.callTool({ name: "ask-name", arguments: {} }))).toBe("hello Grace")
  })

  it("resumes a POST stream the server dropped mid-call: GET + Last-Event-ID delivers the rest and the result", async () => {
    const seen: Array<number> = []
    const before = sdk.requests.length
    const result = await sdk.client.callTool({ name: "drop-me", arguments: {} }, undefined, { onprogress: (p) => void seen.push(p.progress) })
    expect(textOf(result)).toBe("survived the drop")
    expect(seen).toEqual([1, 2])
    const resumes = sdk.requests.slice(before).filter((r) => r.method === "GET" && r.lastEventId !== null)
    expect(resumes.length).toBeGreaterThanOrEqual(1)
    expect(resumes[0]!.status).toBe(200)
  })

  it("an error response on an SSE stream: the SDK resumes once, gets 204 for the finished stream, and stops", async () => {
    const before = sdk.requests.length
    await expect(sdk.client.callTool({ name: "fail-late", arguments: {} }, undefined, { onprogress: () => {} })).rejects.toThrow(/failed after progress/)
    // The SDK treats only *result* responses as final and reconnects after an error response.
    await sdk.when(() => sdk.requests.slice(before).some((r) => r.status === 204), "the resumption attempt")
    await sleep(150)
    const resumes = sdk.requests.slice(before).filter((r) => r.method === "GET" && r.lastEventId !== null)
    expect(resumes.map((r) => r.status)).toEqual([204])
  })

  it("terminateSession sends DELETE: the session, its streams and stored events are gone; the old id gets 404", async () => {
    const sid = sdk.transport.sessionId!
    await sdk.transport.terminateSession()
    expect(sdk.requests.at(-1)).toMatchObject({ method: "DELETE", status: 200 })
    expect(ctx.handle.session(sid)).toBeUndefined()
    expect(ctx.handle.stats()).toMatchObject({ sessions: 0, openStreams: 0, pendingExchanges: 0, storedSessions: 0 })
    expect(sdk.transport.sessionId).toBeUndefined()
    // The SDK forgot the id, so its next call has none: 400 (a session is required).
    await expect(sdk.client.listTools()).rejects.toThrow(/Mcp-Session-Id header is required/)
    expect(sdk.requests.at(-1)).toMatchObject({ method: "POST", status: 400 })
    const stale = await post(ctx.handle.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" })
    expect(stale.status).toBe(404)
  })
})

describe("SDK client with server-side SSE polling (sseMaxDurationMs)", () => {
  it("a call longer than the stream's maximum duration still completes through transparent resumption", async () => {
    const { handle } = await start({ sseMaxDurationMs: 50 })
    const sdk = await connect(handle.url)
    try {
      const seen: Array<number> = []
      const result = await sdk.client.callTool({ name: "count", arguments: { n: 3, stepMs: 40 } }, undefined, { onprogress: (p) => void seen.push(p.progress) })
      expect(result.structuredContent).toEqual({ counted: 3 })
      expect(seen).toEqual([1, 2, 3])
      expect(sdk.requests.filter((r) => r.method === "GET" && r.lastEventId !== null).length).toBeGreaterThanOrEqual(1)
    } finally {
      await sdk.client.close()
      await handle.close({ drainMs: 0 })
    }
    expect(handle.stats()).toMatchObject({ sessions: 0, openStreams: 0, keepAliveTimer: false })
  })

  it("several SDK clients share the server without seeing each other's traffic", async () => {
    const { handle } = await start()
    const clients = await Promise.all([0, 1, 2].map(() => connect(handle.url)))
    try {
      const texts = await Promise.all(clients.map((c, i) => c.client.callTool({ name: "echo", arguments: { text: `client ${i}` } })))
      expect(texts.map(textOf)).toEqual(["client 0", "client 1", "client 2"])
      expect(new Set(clients.map((c) => c.transport.sessionId)).size).toBe(3)
      expect(handle.sessions).toBe(3)
      await clients[0]!.transport.terminateSession()
      expect(textOf(await clients[1]!.client.callTool({ name: "echo", arguments: { text: "still fine" } }))).toBe("still fine")
    } finally {
      for (const c of clients) await c.client.close()
      await handle.close({ drainMs: 0 })
    }
  })
})
