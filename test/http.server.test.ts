/**
 * The Streamable HTTP server transport over raw HTTP (`fetch`, and `node:http`
 * where fetch hides a header): every status path of spec-digest §3.A (legacy)
 * and §3.B (2026-07-28), SSE streaming and resumability, idle reaping,
 * shutdown and leak checks. The server is the demo example plus a few tools
 * that expose what the handler saw.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { makeRegistryUnsafe, Registry } from "../src/runtime/Registry.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import type { ServerSession } from "../src/server/ServerSession.ts"
import { makeHttpServerScoped } from "../src/server/http/effect.ts"
import { makeHttpServer, type HttpServerHandle, type HttpServerOptions } from "../src/server/http/HttpServer.ts"
import { parseEventId } from "../src/transports/http/EventStore.ts"

/** Lets the `drop-first` handler answer (set while it waits). */
let releaseDropFirst: () => void = () => {}
/** Lets the `drop-me` handler go on after its drop (set while it waits). */
let releaseDropMe: () => void = () => {}
/** The `hold` tool's calls: each answers when the test calls its release. */
const held: Array<() => void> = []
import { condition } from "./support/condition.ts"
import { del, get, initializeRequest, openSession, post, rawRequest, SseReader } from "./support/mcpHttp.ts"
import { waitForTurns } from "./support/waitFor.ts"
import { serveCli } from "./support/cliServe.ts"

/** Every test tool reports here when it starts, ends or is aborted: the tests await these events (no polling). */
const toolEvents = condition()

/** A few event-loop turns (no real time): lets in-process callbacks already queued run. */
const turns = async (n = 10) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** What the test tools observed: the tags (`abortable`) or names (`slow`, `count`) of the calls. */
interface Observed {
  readonly started: Array<string>
  readonly aborted: Array<string>
  readonly finished: Array<string>
}
const observing = (): Observed => ({ started: [], aborted: [], finished: [] })

/** Resolves when `what` is next pushed to `list` (from now on), e.g. the next start of the `slow` tool. */
const next = (list: Array<string>, what: string): Promise<void> => {
  const seen = list.length
  return toolEvents.when(() => list.slice(seen).includes(what), what)
}

/** The demo's tool `name`, reporting its start and its end to `observed`. */
const observe = (server: McpServer, observed: Observed, name: string): McpServer => {
  const { definition, handler } = server.tools.get(name)!
  return server.tool(definition, async (args, ctx) => {
    observed.started.push(name)
    toolEvents.changed()
    try {
      return await handler(args, ctx)
    } finally {
      observed.finished.push(name)
      toolEvents.changed()
    }
  })
}

const makeTestServer = (observed: Observed, getHandle: () => HttpServerHandle): McpServer =>
  observe(observe(makeDemoServer(), observed, "slow"), observed, "count")
    .tool(
      { name: "abortable", description: "Wait until aborted or ms elapse", inputSchema: { type: "object", properties: { tag: { type: "string" }, ms: { type: "integer" } }, required: ["tag"] } },
      (args, ctx) =>
        new Promise((resolve) => {
          const tag = args.tag as string
          observed.started.push(tag)
          toolEvents.changed()
          const t = setTimeout(() => {
            observed.finished.push(tag)
            toolEvents.changed()
            resolve({ content: [{ type: "text", text: `finished ${tag}` }] })
          }, (args.ms as number | undefined) ?? 10_000)
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(t)
            observed.aborted.push(tag)
            toolEvents.changed()
            resolve({ content: [{ type: "text", text: "aborted" }] })
          })
        })
    )
    .tool(
      { name: "drop-me", description: "Report progress, have the server drop the POST stream, then finish", inputSchema: { type: "object", properties: {} } },
      async (_args, ctx) => {
        ctx.progress(1, 2, "before the drop")
        expect(getHandle().dropStream(ctx.sessionId!, ctx.requestId)).toBe(true)
        // Goes on when the test has read the dropped stream to its end (not after a real delay).
        await new Promise<void>((resolve) => {
          releaseDropMe = resolve
        })
        ctx.progress(2, 2, "after the drop")
        return { content: [{ type: "text", text: "delivered after resumption" }] }
      }
    )
    .tool(
      { name: "drop-first", description: "Have the server drop the POST stream before anything was sent, then finish", inputSchema: { type: "object", properties: {} } },
      async (_args, ctx) => {
        expect(getHandle().dropStream(ctx.sessionId!, ctx.requestId)).toBe(true)
        expect(getHandle().dropStream(ctx.sessionId!, ctx.requestId)).toBe(false)
        // Answers when the test says so (not after a real delay: the test first needs the resumed stream live).
        await new Promise<void>((resolve) => {
          releaseDropFirst = resolve
        })
        return { content: [{ type: "text", text: "answered on the resumed stream" }] }
      }
    )
    .tool(
      { name: "hold", description: "Answer when the test releases it", inputSchema: { type: "object", properties: {} } },
      () => new Promise((resolve) => (held.push(() => resolve({ content: [{ type: "text", text: "released" }] })), toolEvents.changed()))
    )
    .tool(
      { name: "ask", description: "Elicit from the client", inputSchema: { type: "object", properties: {} } },
      async (_args, ctx) => {
        const answer = await ctx.elicit({ mode: "form", message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } })
        return { content: [{ type: "text", text: JSON.stringify(answer) }] }
      }
    )

const startServer = async (options: HttpServerOptions = {}) => {
  const observed = observing()
  let handle!: HttpServerHandle
  const server = makeTestServer(observed, () => handle)
  handle = await makeHttpServer(server, { retryMs: 50, ...options })
  return { handle, server, observed, url: handle.url }
}

const rpcBody = async (res: Response) => (await res.json()) as { jsonrpc: string; id?: unknown; result?: any; error?: { code: number; message: string; data?: any } }

const MODERN = "2026-07-28"
const modernMeta = (extra: Record<string, unknown> = {}) => ({
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" },
  ...extra
})
const modernHeaders = (method: string, name?: string): Record<string, string> => ({
  "mcp-protocol-version": MODERN,
  "mcp-method": method,
  ...(name === undefined ? {} : { "mcp-name": name })
})

describe("Streamable HTTP server (legacy era): status paths", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>
  let healthy: { sid: string; headers: Record<string, string> }

  beforeAll(async () => {
    ctx = await startServer({ maxMessageBytes: 16 * 1024 })
    healthy = await openSession(ctx.url)
  })
  afterAll(async () => {
    await ctx.handle.close({ drainMs: 0 })
  })

  const expectHealthy = async () => {
    const res = await post(ctx.url, { jsonrpc: "2.0", id: "health", method: "tools/list" }, healthy.headers)
    expect(res.status).toBe(200)
    expect((await rpcBody(res)).result.tools.map((t: { name: string }) => t.name)).toContain("echo")
  }

  it("initialize → 200 JSON with a fresh ≥128-bit visible-ASCII Mcp-Session-Id; the URL is the /mcp endpoint", async () => {
    expect(ctx.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    const a = await post(ctx.url, initializeRequest())
    const b = await post(ctx.url, initializeRequest("2025-06-18"))
    expect(a.status).toBe(200)
    expect(a.headers.get("content-type")).toBe("application/json")
    const idA = a.headers.get("mcp-session-id")!
    const idB = b.headers.get("mcp-session-id")!
    for (const id of [idA, idB]) {
      expect(id).toMatch(/^[\x21-\x7e]+$/)
      expect(Buffer.from(id, "base64url").length).toBeGreaterThanOrEqual(16)
    }
    expect(idA).not.toBe(idB)
    expect((await rpcBody(a)).result.protocolVersion).toBe("2025-11-25")
    expect((await rpcBody(b)).result.protocolVersion).toBe("2025-06-18")
    expect(ctx.handle.session(idA)?.protocolVersion).toBe("2025-11-25")
    await del(ctx.url, { "mcp-session-id": idA })
    await del(ctx.url, { "mcp-session-id": idB })
  })

  it("a failed initialize (bad params) gets its error, no session id, and leaves no session", async () => {
    const before = ctx.handle.sessions
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25" } })
    expect(res.status).toBe(200)
    expect(res.headers.get("mcp-session-id")).toBeNull()
    expect((await rpcBody(res)).error?.code).toBe(ErrorCode.InvalidParams)
    await waitForTurns(() => ctx.handle.sessions === before, "the failed session to be released (in-process, after its answer)")
  })

  it("202 with no body for a notification and for a response", async () => {
    const n = await post(ctx.url, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }, healthy.headers)
    expect(n.status).toBe(202)
    expect(await n.text()).toBe("")
    const r = await post(ctx.url, { jsonrpc: "2.0", id: "not-ours", result: {} }, healthy.headers)
    expect(r.status).toBe(202)
    expect(await r.text()).toBe("")
  })

  it("400 BadRequest (-32012, no id) when Mcp-Session-Id is missing, 400 when it is malformed", async () => {
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list" })
    expect(res.status).toBe(400)
    const body = await rpcBody(res)
    expect(body.error?.code).toBe(ErrorCode.BadRequest) // its own code: -32000 is ConnectionClosed only
    expect(body.error?.code).toBe(-32012)
    expect("id" in body).toBe(false)
    const bad = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": "has space" })
    expect(bad.status).toBe(400)
    await expectHealthy()
  })

  it("404 -32001 for an unknown session, for every method", async () => {
    const headers = { "mcp-session-id": "AAAAAAAAAAAAAAAAAAAAAA" }
    const p = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, headers)
    expect(p.status).toBe(404)
    expect((await rpcBody(p)).error).toEqual({ code: -32001, message: "Session not found" })
    expect((await get(ctx.url, headers)).status).toBe(404)
    expect((await del(ctx.url, headers)).status).toBe(404)
  })

  it("400 for an unsupported MCP-Protocol-Version; another supported version or none is accepted (the session's version governs)", async () => {
    const unsupported = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { ...healthy.headers, "mcp-protocol-version": "1999-01-01" })
    expect(unsupported.status).toBe(400)
    expect((await rpcBody(unsupported)).error?.data?.supported).toContain("2025-11-25")
    // What conformance 0.1.16 sends on SDK-initialized 2025-11-25 sessions.
    const other = await post(ctx.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { ...healthy.headers, "mcp-protocol-version": "2025-03-26" })
    expect(other.status).toBe(200)
    const { "mcp-protocol-version": _, ...withoutVersion } = healthy.headers
    const absent = await post(ctx.url, { jsonrpc: "2.0", id: 3, method: "tools/list" }, withoutVersion)
    expect(absent.status).toBe(200)
  })

  it("versionHeaderMustMatch: 400 for a version header that differs from the negotiated version", async () => {
    const strict = await startServer({ versionHeaderMustMatch: true })
    try {
      const s = await openSession(strict.url)
      const mismatch = await post(strict.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, { ...s.headers, "mcp-protocol-version": "2025-06-18" })
      expect(mismatch.status).toBe(400)
      expect((await rpcBody(mismatch)).error?.message).toMatch(/negotiated version 2025-11-25/)
      expect((await get(strict.url, { ...s.headers, "mcp-protocol-version": "2025-03-26" })).status).toBe(400)
      expect((await post(strict.url, { jsonrpc: "2.0", id: 3, method: "tools/list" }, s.headers)).status).toBe(200)
    } finally {
      await strict.handle.close({ drainMs: 0 })
    }
  })

  it("400 -32700 for invalid JSON, 400 -32600 for invalid JSON-RPC", async () => {
    const parse = await post(ctx.url, "{ not json", healthy.headers)
    expect(parse.status).toBe(400)
    expect((await rpcBody(parse)).error?.code).toBe(-32700)
    for (const bad of [{ jsonrpc: "1.0", id: 1, method: "x" }, { jsonrpc: "2.0", id: null, method: "tools/list" }, 42, { jsonrpc: "2.0" }]) {
      const res = await post(ctx.url, bad, healthy.headers)
      expect(res.status).toBe(400)
      expect((await rpcBody(res)).error?.code).toBe(-32600)
    }
    await expectHealthy()
  })

  it("batches: 400 -32600 on 2025-06-18 and 2025-11-25; a JSON array on 2025-03-26; initialize is never batched", async () => {
    const batch = [{ jsonrpc: "2.0", id: "a", method: "ping" }, { jsonrpc: "2.0", id: "b", method: "tools/list" }]
    for (const version of ["2025-06-18", "2025-11-25"]) {
      const s = await openSession(ctx.url, version)
      const res = await post(ctx.url, batch, s.headers)
      expect(res.status).toBe(400)
      expect((await rpcBody(res)).error?.code).toBe(-32600)
      await del(ctx.url, s.headers)
    }
    const old = await openSession(ctx.url, "2025-03-26")
    const ok = await post(ctx.url, [...batch, { jsonrpc: "2.0", method: "notifications/roots/list_changed" }], old.headers)
    expect(ok.status).toBe(200)
    const answers = (await ok.json()) as Array<{ id: string; result: Record<string, unknown> }>
    expect(answers.map((a) => a.id).sort()).toEqual(["a", "b"])
    const onlyNotes = await post(ctx.url, [{ jsonrpc: "2.0", method: "notifications/roots/list_changed" }], old.headers)
    expect(onlyNotes.status).toBe(202)
    // An invalid item is answered in the array (JSON-RPC 2.0 §6), not by refusing the whole batch.
    const withInit = await post(ctx.url, [initializeRequest("2025-03-26", 9)], old.headers)
    expect(withInit.status).toBe(200)
    expect(await withInit.json()).toEqual([{ jsonrpc: "2.0", id: 9, error: { code: -32600, message: "Invalid Request: initialize must not be part of a batch" } }])
    await del(ctx.url, old.headers)
  })

  it("403 with a JSON-RPC error without id for a foreign Origin or Host; loopback origins pass", async () => {
    const origin = await post(ctx.url, initializeRequest(), { origin: "http://evil.example.com" })
    expect(origin.status).toBe(403)
    const body = await rpcBody(origin)
    expect(body.error?.code).toBe(-32005) // ErrorCode.Forbidden: its own code, no longer -32000
    expect("id" in body).toBe(false)
    const nullOrigin = await post(ctx.url, initializeRequest(), { origin: "null" })
    expect(nullOrigin.status).toBe(403)
    const host = await rawRequest(ctx.url, {
      method: "POST",
      headers: { host: "evil.example.com", accept: "application/json, text/event-stream", "content-type": "application/json" },
      body: JSON.stringify(initializeRequest())
    })
    expect(host.status).toBe(403)
    expect(JSON.parse(host.body).error.code).toBe(-32005)
    const good = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...healthy.headers, origin: "http://localhost:5173" })
    expect(good.status).toBe(200)
    const localHost = await rawRequest(ctx.url, {
      method: "POST",
      headers: { host: `localhost:${ctx.handle.port}`, accept: "application/json, text/event-stream", "content-type": "application/json", ...healthy.headers },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" })
    })
    expect(localHost.status).toBe(200)
  })

  it("404 on another path, 405 with Allow for other methods", async () => {
    expect((await fetch(ctx.url.replace("/mcp", "/other"))).status).toBe(404)
    const put = await fetch(ctx.url, { method: "PUT", headers: healthy.headers })
    expect(put.status).toBe(405)
    expect(put.headers.get("allow")).toBe("GET, POST, DELETE")
  })

  it("406 when Accept does not list both types (POST) or text/event-stream (GET); 415 for a non-JSON Content-Type", async () => {
    const jsonOnly = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...healthy.headers, accept: "application/json" })
    expect(jsonOnly.status).toBe(406)
    // fetch's default Accept is */*: a client that does not list the types explicitly is refused, as the spec words it.
    const wildcard = await fetch(ctx.url, { method: "POST", headers: { "content-type": "application/json", ...healthy.headers }, body: "{}" })
    expect(wildcard.status).toBe(406)
    const getJson = await get(ctx.url, { ...healthy.headers, accept: "application/json" })
    expect(getJson.status).toBe(406)
    const text = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...healthy.headers, "content-type": "text/plain" })
    expect(text.status).toBe(415)
    const charset = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...healthy.headers, "content-type": "application/json; charset=utf-8" })
    expect(charset.status).toBe(200)
  })

  it("413 for a body over maxMessageBytes, declared or chunked, without reading it all", async () => {
    const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x".repeat(64 * 1024) } } })
    const declared = await post(ctx.url, big, healthy.headers)
    expect(declared.status).toBe(413)
    expect(declared.headers.get("connection")).toBe("close")
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 32; i++) c.enqueue(new TextEncoder().encode("y".repeat(4096)))
        c.close()
      }
    })
    const chunked = await fetch(ctx.url, {
      method: "POST",
      headers: { accept: "application/json, text/event-stream", "content-type": "application/json", ...healthy.headers },
      body: chunks,
      duplex: "half"
    } as RequestInit)
    expect(chunked.status).toBe(413)
    await expectHealthy()
  })

  it("409 for a second standalone GET stream; the first keeps working", async () => {
    const s = await openSession(ctx.url)
    const first = await get(ctx.url, s.headers)
    expect(first.status).toBe(200)
    expect(first.headers.get("content-type")).toBe("text/event-stream")
    const second = await get(ctx.url, s.headers)
    expect(second.status).toBe(409)
    const reader = new SseReader(first)
    const priming = await reader.next()
    expect(priming?.id).toBeDefined()
    expect(priming?.retry).toBe(50)
    expect(priming?.data).toBe("")
    ctx.handle.session(s.sid)!.logMessage("info", "still here")
    const log = await reader.nextMessage()
    expect(log?.message.method).toBe("notifications/message")
    expect(log?.message.params.data).toBe("still here")
    await del(ctx.url, s.headers)
    expect(await reader.next()).toBeUndefined()
  })

  it("400 for a request id that is already in flight in the session", async () => {
    const s = await openSession(ctx.url)
    const started = next(ctx.observed.started, "slow")
    const slow = post(ctx.url, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "slow", arguments: { ms: 100 } } }, s.headers)
    await started
    expect(ctx.handle.session(s.sid)!.inFlightCount).toBe(1)
    const dup = await post(ctx.url, { jsonrpc: "2.0", id: 7, method: "ping" }, s.headers)
    expect(dup.status).toBe(400)
    expect((await rpcBody(dup)).id).toBe(7)
    const first = await slow
    expect((await rpcBody(first)).result.content[0].text).toBe("waited 100 ms")
    await del(ctx.url, s.headers)
  })

  it("other sessions are unaffected by all of the above", async () => {
    await expectHealthy()
  })
})

describe("Streamable HTTP server (legacy era): streams", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>
  beforeAll(async () => {
    ctx = await startServer({ keepAliveMs: 40 })
  })
  afterAll(async () => {
    await ctx.handle.close({ drainMs: 0 })
  })

  it("a call that reports progress is upgraded to SSE: priming event, progress, response last, then the stream ends", async () => {
    const s = await openSession(ctx.url)
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 3, stepMs: 1 }, _meta: { progressToken: "p" } } }, s.headers)
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    expect(res.headers.get("x-accel-buffering")).toBe("no")
    const events = await new SseReader(res).rest()
    expect(events[0]).toMatchObject({ data: "", retry: 50 })
    const messages = events.filter((e) => e.data).map((e) => JSON.parse(e.data!))
    expect(messages.map((m) => m.method ?? "response")).toEqual(["notifications/progress", "notifications/progress", "notifications/progress", "response"])
    expect(messages[3].result.structuredContent).toEqual({ counted: 3 })
    // Event ids are unique and name the stream (all the same POST stream here).
    const ids = events.map((e) => e.id).filter((id): id is string => id !== undefined)
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(ids.map((id) => parseEventId(id)!.stream)).size).toBe(1)
    await del(ctx.url, s.headers)
  })

  it("older sessions get no priming event (empty data) but still a retry field and event ids", async () => {
    const s = await openSession(ctx.url, "2025-06-18")
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 1, stepMs: 1 }, _meta: { progressToken: 1 } } }, s.headers)
    const events = await new SseReader(res).rest()
    expect(events[0]).toEqual({ retry: 50 })
    expect(events.some((e) => e.data === "")).toBe(false)
    expect(events.filter((e) => e.data).every((e) => e.id !== undefined)).toBe(true)
    await del(ctx.url, s.headers)
  })

  it("unrelated messages (list_changed) go on the GET stream only; keep-alive comments flow on idle streams", async () => {
    const s = await openSession(ctx.url)
    const stream = new SseReader(await get(ctx.url, s.headers))
    await stream.next() // priming
    ctx.server.tool({ name: `late-${s.sid.slice(0, 4)}`, description: "added later", inputSchema: { type: "object" } }, () => ({ content: [] }))
    const changed = await stream.nextMessage()
    expect(changed?.message).toEqual({ jsonrpc: "2.0", method: "notifications/tools/list_changed" })
    let comment: string | undefined
    for (let i = 0; i < 5 && comment === undefined; i++) comment = (await stream.next())?.comment
    expect(comment).toBe("keepalive")
    // A request's response never goes on the GET stream.
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 5, method: "ping" }, s.headers)
    expect(await rpcBody(res)).toEqual({ jsonrpc: "2.0", id: 5, result: {} })
    await del(ctx.url, s.headers)
    const rest = await stream.rest()
    expect(rest.filter((e) => e.data).length).toBe(0)
  })

  it("resumption of the GET stream replays only what that stream missed", async () => {
    const s = await openSession(ctx.url)
    const session = ctx.handle.session(s.sid)!
    const first = new SseReader(await get(ctx.url, s.headers))
    await first.next()
    session.logMessage("info", "one")
    const one = await first.nextMessage()
    expect(one?.message.params.data).toBe("one")
    expect(ctx.handle.dropStandaloneStream(s.sid)).toBe(true)
    expect(await first.rest()).toEqual([])
    session.logMessage("info", "two")
    session.logMessage("info", "three")
    // Events of a POST stream in between must not be replayed on the GET stream.
    const call = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 1, stepMs: 1 }, _meta: { progressToken: 1 } } }, s.headers)
    await new SseReader(call).rest()
    const resumed = new SseReader(await get(ctx.url, { ...s.headers, "last-event-id": one!.event.id! }))
    const two = await resumed.nextMessage()
    const three = await resumed.nextMessage()
    expect([two?.message.params.data, three?.message.params.data]).toEqual(["two", "three"])
    session.logMessage("info", "four")
    expect((await resumed.nextMessage())?.message.params.data).toBe("four")
    await del(ctx.url, s.headers)
  })

  it("a POST stream dropped by the server mid-call is resumed by GET + Last-Event-ID and delivers the response", async () => {
    const s = await openSession(ctx.url)
    const res = await post(ctx.url, { jsonrpc: "2.0", id: "r", method: "tools/call", params: { name: "drop-me", arguments: {}, _meta: { progressToken: "t" } } }, s.headers)
    const events = await new SseReader(res).rest()
    releaseDropMe() // the rest is sent while no stream is attached: stored for the resumption
    const last = events.filter((e) => e.id !== undefined).at(-1)!
    expect(events.filter((e) => e.data).map((e) => JSON.parse(e.data!).method)).toEqual(["notifications/progress"])
    const resumed = await get(ctx.url, { ...s.headers, "last-event-id": last.id! })
    expect(resumed.status).toBe(200)
    const replay = (await new SseReader(resumed).rest()).filter((e) => e.data).map((e) => JSON.parse(e.data!))
    expect(replay.map((m) => m.method ?? "response")).toEqual(["notifications/progress", "response"])
    expect(replay[1].result.content[0].text).toBe("delivered after resumption")
    // The stream is over and the client has everything: 204 (stop reconnecting).
    const again = await get(ctx.url, { ...s.headers, "last-event-id": last.id! })
    expect(again.status).toBe(200)
    const lastOfReplay = (await new SseReader(again).rest()).filter((e) => e.id).at(-1)!
    const done = await get(ctx.url, { ...s.headers, "last-event-id": lastOfReplay.id! })
    expect(done.status).toBe(204)
    const garbage = await get(ctx.url, { ...s.headers, "last-event-id": "not-an-id" })
    expect(garbage.status).toBe(400)
    await del(ctx.url, s.headers)
  })

  it("dropping a call's stream before anything was sent switches it to SSE with a priming event (SEP-1699 polling)", async () => {
    const s = await openSession(ctx.url)
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "drop-first", arguments: {} } }, s.headers)
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    const events = await new SseReader(res).rest()
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ data: "", retry: 50 })
    const resumed = await get(ctx.url, { ...s.headers, "last-event-id": events[0]!.id! })
    expect(resumed.status).toBe(200)
    // Resuming a stream that is still live: a second resumption of it conflicts.
    expect((await get(ctx.url, { ...s.headers, "last-event-id": events[0]!.id! })).status).toBe(409)
    releaseDropFirst()
    const replay = (await new SseReader(resumed).rest()).filter((e) => e.data).map((e) => JSON.parse(e.data!))
    expect(replay).toEqual([{ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "answered on the resumed stream" }] } }])
    await del(ctx.url, s.headers)
  })

  it("a connection the client drops is not a cancellation: the handler finishes, the response waits for resumption", async () => {
    const s = await openSession(ctx.url)
    const abort = new AbortController()
    const abortedBefore = ctx.observed.aborted.length // shared with the other tests of this server
    const finished = next(ctx.observed.finished, "count")
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 3, stepMs: 40 }, _meta: { progressToken: 1 } } }, s.headers, abort.signal)
    const reader = new SseReader(res)
    await reader.next() // priming
    const firstProgress = await reader.nextMessage()
    abort.abort()
    await finished
    await waitForTurns(() => ctx.handle.session(s.sid)!.inFlightCount === 0, "the finished call to settle")
    expect(ctx.observed.aborted.slice(abortedBefore)).toEqual([])
    const resumed = await get(ctx.url, { ...s.headers, "last-event-id": firstProgress!.event.id! })
    const replay = (await new SseReader(resumed).rest()).filter((e) => e.data).map((e) => JSON.parse(e.data!))
    expect(replay.at(-1).result.structuredContent).toEqual({ counted: 3 })
    expect(replay.slice(0, -1).map((m) => m.params.progress)).toEqual([2, 3])
    await del(ctx.url, s.headers)
  })

  it("sseMaxDurationMs closes long POST streams; the client resumes and gets the response", async () => {
    const polled = await startServer({ sseMaxDurationMs: 60 })
    try {
      const s = await openSession(polled.url)
      const res = await post(polled.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 2, stepMs: 80 }, _meta: { progressToken: 1 } } }, s.headers)
      let events = await new SseReader(res).rest()
      let lastId = events.filter((e) => e.id).at(-1)!.id!
      let response: Record<string, any> | undefined
      for (let i = 0; i < 10 && response === undefined; i++) {
        const r = await get(polled.url, { ...s.headers, "last-event-id": lastId })
        if (r.status === 204) break
        events = await new SseReader(r).rest()
        lastId = events.filter((e) => e.id).at(-1)?.id ?? lastId
        response = events.filter((e) => e.data).map((e) => JSON.parse(e.data!)).find((m) => "result" in m)
      }
      expect(response?.result.structuredContent).toEqual({ counted: 2 })
    } finally {
      await polled.handle.close({ drainMs: 0 })
    }
  })

  it("notifications/cancelled aborts the handler and ends the waiting POST without a response", async () => {
    const s = await openSession(ctx.url)
    const started = next(ctx.observed.started, "cancel-me")
    const pending = post(ctx.url, { jsonrpc: "2.0", id: 11, method: "tools/call", params: { name: "abortable", arguments: { tag: "cancel-me" } } }, s.headers)
    await started
    expect(ctx.handle.session(s.sid)!.inFlightCount).toBe(1)
    const ack = await post(ctx.url, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 11, reason: "user" } }, s.headers)
    expect(ack.status).toBe(202)
    const res = await pending
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    expect(await res.text()).toBe("")
    expect(ctx.observed.aborted).toContain("cancel-me")
    expect(ctx.handle.stats().pendingExchanges).toBe(0)
    await del(ctx.url, s.headers)
  })

  it("a server→client request made inside a handler travels on that call's SSE stream; the answer comes back by POST (202)", async () => {
    const res0 = await post(ctx.url, { ...initializeRequest(), params: { ...initializeRequest().params, capabilities: { elicitation: {} } } })
    const sid = res0.headers.get("mcp-session-id")!
    const headers = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }
    await post(ctx.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)
    const call = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {} } }, headers)
    const reader = new SseReader(call)
    const ask = await reader.nextMessage()
    expect(ask?.message.method).toBe("elicitation/create")
    const answer = await post(ctx.url, { jsonrpc: "2.0", id: ask!.message.id, result: { action: "accept", content: { name: "Ada" } } }, headers)
    expect(answer.status).toBe(202)
    const final = await reader.nextMessage()
    expect(JSON.parse(final!.message.result.content[0].text)).toEqual({ action: "accept", content: { name: "Ada" } })
    expect(await reader.next()).toBeUndefined()
    await del(ctx.url, headers)
  })

  it("DELETE cancels in-flight work, answers the waiting POST with -32000, ends the GET stream and frees the session", async () => {
    const s = await openSession(ctx.url)
    const stream = new SseReader(await get(ctx.url, s.headers))
    const started = next(ctx.observed.started, "deleted")
    const pending = post(ctx.url, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "abortable", arguments: { tag: "deleted" } } }, s.headers)
    await started
    expect(ctx.handle.session(s.sid)?.inFlightCount).toBe(1)
    const d = await del(ctx.url, s.headers)
    expect(d.status).toBe(200)
    const body = await rpcBody(await pending)
    expect(body.id).toBe(3)
    expect(body.error?.code).toBe(-32000)
    expect(ctx.observed.aborted).toContain("deleted")
    expect((await stream.rest()).filter((e) => e.data)).toEqual([])
    expect(ctx.handle.session(s.sid)).toBeUndefined()
    const after = await post(ctx.url, { jsonrpc: "2.0", id: 4, method: "ping" }, s.headers)
    expect(after.status).toBe(404)
    expect((await del(ctx.url, s.headers)).status).toBe(404)
  })
})

describe("Streamable HTTP server: limits and auth", () => {
  it("503 with Retry-After once maxSessions sessions are live and none can be evicted (each has a client listening); room again after a DELETE", async () => {
    const { handle, url } = await startServer({ maxSessions: 2, retryAfterSeconds: 7 })
    const streams = new AbortController()
    try {
      const a = await openSession(url)
      const b = await openSession(url)
      // An open GET stream means a client is listening: such a session is never evicted.
      for (const s of [a, b]) expect((await get(url, s.headers, streams.signal)).status).toBe(200)
      const full = await post(url, initializeRequest())
      expect(full.status).toBe(503)
      expect(full.headers.get("retry-after")).toBe("7")
      expect((await post(url, { jsonrpc: "2.0", id: 1, method: "ping" }, a.headers)).status).toBe(200)
      await del(url, a.headers)
      expect((await post(url, initializeRequest())).status).toBe(200)
      expect(handle.stats().evicted).toBe(0)
    } finally {
      streams.abort()
      await handle.close({ drainMs: 0 })
    }
  })

  it("the auth hook sees every request, rejects as it likes, and binds a session to its principal (another principal gets 404)", async () => {
    const seen: Array<string> = []
    const { handle, url } = await startServer({
      authenticate: async (req) => {
        seen.push(`${req.method}`)
        const token = req.headers.authorization
        if (token === "Bearer alice" || token === "Bearer bob") return { principal: token.slice(7) }
        if (token === "Bearer web") return new Response("go away", { status: 401, headers: { "www-authenticate": "Bearer realm=web" } })
        return { status: 401, headers: { "www-authenticate": "Bearer" }, body: { error: "unauthorized" } }
      }
    })
    try {
      const anon = await post(url, initializeRequest())
      expect(anon.status).toBe(401)
      expect(anon.headers.get("www-authenticate")).toBe("Bearer")
      expect(await anon.json()).toEqual({ error: "unauthorized" })
      const web = await post(url, initializeRequest(), { authorization: "Bearer web" })
      expect(web.status).toBe(401)
      expect(await web.text()).toBe("go away")
      const alice = await openSession(url, "2025-11-25", { authorization: "Bearer alice" })
      const asBob = { ...alice.headers, authorization: "Bearer bob" }
      const stolen = await post(url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, asBob)
      expect(stolen.status).toBe(404)
      expect((await get(url, asBob)).status).toBe(404)
      expect((await del(url, asBob)).status).toBe(404)
      expect(handle.sessions).toBe(1)
      const own = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, alice.headers)
      expect(own.status).toBe(200)
      expect(seen.length).toBeGreaterThanOrEqual(8)
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("a client that leaves while a slow auth hook runs leaves no stream behind (a new GET is not refused with 409)", async () => {
    // While `gate` is set, the hook reports that it was entered and waits until the test opens the gate.
    let gate: { entered: () => void; open: Promise<void> } | undefined
    const { handle, url } = await startServer({ authenticate: () => gate === undefined ? undefined : (gate.entered(), gate.open.then(() => undefined)) })
    try {
      const s = await openSession(url)
      let entered!: () => void
      let open!: () => void
      const inHook = new Promise<void>((resolve) => (entered = resolve))
      gate = { entered, open: new Promise<void>((resolve) => (open = resolve)) }
      const abort = new AbortController()
      const gone = get(url, s.headers, abort.signal).catch(() => "aborted")
      await inHook // the GET is in the auth hook
      abort.abort()
      expect(await gone).toBe("aborted")
      gate = undefined
      open() // the hook answers after the client left
      await turns()
      expect(handle.stats().openStreams).toBe(0)
      const again = await get(url, s.headers)
      expect(again.status).toBe(200)
      await new SseReader(again).cancel()
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("a throwing auth hook answers 500 and reports the error; the server keeps serving", async () => {
    const errors: Array<unknown> = []
    const { handle, url } = await startServer({
      authenticate: (req) => {
        if (req.headers["x-boom"]) throw new Error("boom")
        return undefined
      },
      onError: (e) => errors.push(e)
    })
    try {
      expect((await post(url, initializeRequest(), { "x-boom": "1" })).status).toBe(500)
      expect(errors).toHaveLength(1)
      expect((await post(url, initializeRequest())).status).toBe(200)
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })
})

describe("Streamable HTTP server (modern era, 2026-07-28)", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>
  beforeAll(async () => {
    ctx = await startServer()
  })
  afterAll(async () => {
    await ctx.handle.close({ drainMs: 0 })
  })

  it("server/discover answers statelessly: versions, capabilities, serverInfo; no session is created or echoed", async () => {
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: modernMeta() } }, {
      ...modernHeaders("server/discover"),
      "mcp-session-id": "ignored-on-modern-requests"
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("mcp-session-id")).toBeNull()
    const body = await rpcBody(res)
    expect(body.result.supportedVersions).toContain(MODERN)
    expect(body.result.resultType).toBe("complete")
    expect(body.result._meta["io.modelcontextprotocol/serverInfo"].name).toBe("mcp-actors-demo")
    expect(ctx.handle.sessions).toBe(0)
  })

  it("tools/call with matching Mcp-Method/Mcp-Name; two clients may use the same id at once", async () => {
    const call = (text: string) =>
      post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text }, _meta: modernMeta() } }, modernHeaders("tools/call", "echo"))
    const [a, b] = await Promise.all([call("a"), call("b")])
    expect((await rpcBody(a)).result.content[0].text).toBe("a")
    expect((await rpcBody(b)).result.content[0].text).toBe("b")
    const encoded = await post(
      ctx.url,
      { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: "demo://greeting/Zoë", _meta: modernMeta() } },
      modernHeaders("resources/read", `=?base64?${Buffer.from("demo://greeting/Zoë").toString("base64")}?=`)
    )
    expect((await rpcBody(encoded)).result.contents[0].text).toBe("Hello, Zoë!")
  })

  it("400 -32020 when Mcp-Method is missing or differs, Mcp-Name is missing or differs, or the header version differs from _meta", async () => {
    const body = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: modernMeta() } }
    const cases: Array<Record<string, string>> = [
      { "mcp-protocol-version": MODERN, "mcp-name": "echo" },
      modernHeaders("tools/list", "echo"),
      modernHeaders("tools/call"),
      modernHeaders("tools/call", "log"),
      { ...modernHeaders("tools/call", "echo"), "mcp-protocol-version": "2025-11-25" }
    ]
    for (const headers of cases) {
      const res = await post(ctx.url, body, headers)
      expect(res.status).toBe(400)
      const r = await rpcBody(res)
      expect(r.error?.code).toBe(-32020)
      expect(r.id).toBe(1)
    }
    const noHeader = await post(ctx.url, body, { "mcp-method": "tools/call", "mcp-name": "echo" })
    expect(noHeader.status).toBe(400)
    expect((await rpcBody(noHeader)).error?.code).toBe(-32020)
  })

  it("400 -32602 when _meta lacks protocolVersion or clientCapabilities", async () => {
    for (const meta of [{ "io.modelcontextprotocol/clientCapabilities": {} }, { "io.modelcontextprotocol/protocolVersion": MODERN }]) {
      const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: meta } }, modernHeaders("tools/list"))
      expect(res.status).toBe(400)
      expect((await rpcBody(res)).error?.code).toBe(-32602)
    }
  })

  it("400 -32022 with the supported versions for an unsupported version (header or _meta)", async () => {
    const header = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: modernMeta() } }, { ...modernHeaders("tools/list"), "mcp-protocol-version": "2099-01-01" })
    expect(header.status).toBe(400)
    const h = await rpcBody(header)
    expect(h.error?.code).toBe(-32022)
    expect(h.error?.data).toMatchObject({ requested: "2099-01-01" })
    expect(h.error?.data.supported).toContain(MODERN)
    const legacyInMeta = await post(
      ctx.url,
      { jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: modernMeta({ "io.modelcontextprotocol/protocolVersion": "2025-11-25" }) } },
      { ...modernHeaders("tools/list"), "mcp-protocol-version": "2025-11-25" }
    )
    expect(legacyInMeta.status).toBe(400)
    expect((await rpcBody(legacyInMeta)).error?.code).toBe(-32022)
  })

  it("400 -32021 when the request needs a client capability _meta did not declare", async () => {
    const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: {}, _meta: modernMeta() } }, modernHeaders("tools/call", "ask"))
    expect(res.status).toBe(400)
    const body = await rpcBody(res)
    expect(body.error?.code).toBe(-32021)
    expect(body.error?.data.requiredCapabilities).toEqual({ elicitation: {} })
  })

  it("404 -32601 for methods that do not exist in 2026-07-28 (unknown, ping, initialize, logging/setLevel)", async () => {
    for (const method of ["nope/nothing", "ping", "initialize", "logging/setLevel"]) {
      const res = await post(ctx.url, { jsonrpc: "2.0", id: 1, method, params: { _meta: modernMeta() } }, modernHeaders(method))
      expect(res.status).toBe(404)
      expect((await rpcBody(res)).error?.code).toBe(-32601)
    }
  })

  it("405 for GET and DELETE with the 2026-07-28 version header; 202 for a notification", async () => {
    const g = await get(ctx.url, { "mcp-protocol-version": MODERN })
    expect(g.status).toBe(405)
    expect(g.headers.get("allow")).toBe("POST")
    expect((await del(ctx.url, { "mcp-protocol-version": MODERN })).status).toBe(405)
    const n = await post(ctx.url, { jsonrpc: "2.0", method: "notifications/whatever", params: { _meta: modernMeta() } }, modernHeaders("notifications/whatever"))
    expect(n.status).toBe(202)
  })

  it("progress makes an SSE response without event ids (no resumability), with X-Accel-Buffering: no", async () => {
    const res = await post(
      ctx.url,
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 2, stepMs: 1 }, _meta: modernMeta({ progressToken: "m" }) } },
      modernHeaders("tools/call", "count")
    )
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    expect(res.headers.get("x-accel-buffering")).toBe("no")
    const events = await new SseReader(res).rest()
    expect(events.every((e) => e.id === undefined && e.retry === undefined)).toBe(true)
    const messages = events.map((e) => JSON.parse(e.data!))
    expect(messages.map((m) => m.method ?? "response")).toEqual(["notifications/progress", "notifications/progress", "response"])
    expect(messages[2].result.resultType).toBe("complete")
  })

  it("closing the response stream cancels the request: the handler is aborted", async () => {
    const abort = new AbortController()
    const started = next(ctx.observed.started, "modern-close")
    const aborted = next(ctx.observed.aborted, "modern-close")
    const pending = post(
      ctx.url,
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "abortable", arguments: { tag: "modern-close" }, _meta: modernMeta() } },
      modernHeaders("tools/call", "abortable"),
      abort.signal
    )
    await started
    expect(ctx.handle.stats().modernInFlight).toBe(1)
    abort.abort()
    await expect(pending).rejects.toThrow()
    await aborted // the server sees the stream's close by socket I/O
    expect(ctx.handle.stats().modernInFlight).toBe(0)
  })
})

describe("Streamable HTTP server: lifetimes and leaks", () => {
  it("reaps idle sessions (idle counted from the last request finishing) and ends their GET stream", async () => {
    // The idle deadline on a simulated clock: the test moves time, the sockets stay real.
    const clock = new SimulatedClock()
    const { handle, url } = await startServer({ idleTimeoutMs: 300, clock })
    try {
      const s = await openSession(url)
      const stream = new SseReader(await get(url, s.headers))
      // A call longer than the idle timeout keeps the session: idle starts when it finishes.
      const call = post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "hold", arguments: {} } }, s.headers)
      await toolEvents.when(() => held.length === 1, "the held call to start")
      clock.increment(450)
      expect(handle.sessions).toBe(1)
      held.shift()!()
      expect((await rpcBody(await call)).result.content[0].text).toBe("released")
      clock.increment(299)
      await turns()
      expect(handle.sessions).toBe(1)
      clock.increment(1)
      await waitForTurns(() => handle.sessions === 0, "the idle session reaped at 300 ms of virtual time")
      // The GET stream ended with the session (rest() resolves), carrying nothing but its priming event.
      expect((await stream.rest()).filter((e) => e.data)).toEqual([])
      const after = await post(url, { jsonrpc: "2.0", id: 2, method: "ping" }, s.headers)
      expect(after.status).toBe(404)
      expect(handle.stats()).toEqual({ sessions: 0, hibernated: 0, openStreams: 0, pendingExchanges: 0, modernInFlight: 0, storedSessions: 0, keepAliveTimer: false, handshaking: 0, evicted: 0 })
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("close() drains in-flight calls, then refuses new ones with 503 and ends every stream", async () => {
    const { handle, url } = await startServer()
    const s = await openSession(url)
    const stream = new SseReader(await get(url, s.headers))
    const call = post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: { ms: 80 } } }, s.headers)
    await toolEvents.when(() => handle.session(s.sid)?.inFlightCount === 1, "the call")
    const closed = handle.close({ drainMs: 2000 })
    expect((await rpcBody(await call)).result.content[0].text).toBe("waited 80 ms")
    await closed
    expect((await stream.rest()).filter((e) => e.data)).toEqual([])
    expect(handle.stats().sessions).toBe(0)
    await expect(post(url, initializeRequest())).rejects.toThrow()
  })

  it("200 sessions with GET streams and SSE calls, all closed: tables, streams, stored events and timers are empty and the sessions are garbage", async () => {
    setFlagsFromString("--expose-gc")
    const gc = runInNewContext("gc") as () => void
    const registry = makeRegistryUnsafe()
    const { handle, url } = await startServer({ registry })
    const refs: Array<WeakRef<ServerSession>> = []
    const heap = () => {
      gc()
      gc()
      return process.memoryUsage().heapUsed
    }
    // Warm up code paths before taking the baseline.
    for (let i = 0; i < 10; i++) await del(url, (await openSession(url)).headers)
    const baseline = heap()
    const readers: Array<SseReader> = []
    const opened: Array<Record<string, string>> = []
    for (let i = 0; i < 200; i++) {
      const s = await openSession(url)
      opened.push(s.headers)
      refs.push(new WeakRef(handle.session(s.sid)!))
      if (i % 4 === 0) readers.push(new SseReader(await get(url, s.headers)))
      if (i % 10 === 0) {
        await new SseReader(await post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "count", arguments: { n: 2, stepMs: 0 }, _meta: { progressToken: 1 } } }, s.headers)).rest()
      }
    }
    expect(handle.sessions).toBe(200)
    expect(registry.size).toBe(200)
    expect(handle.stats().openStreams).toBe(50)
    // Half end by DELETE, the rest by shutdown.
    for (const headers of opened.slice(0, 100)) expect((await del(url, headers)).status).toBe(200)
    expect(handle.sessions).toBe(100)
    await handle.close({ drainMs: 0 })
    for (const r of readers) await r.rest()
    expect(handle.stats()).toEqual({ sessions: 0, hibernated: 0, openStreams: 0, pendingExchanges: 0, modernInFlight: 0, storedSessions: 0, keepAliveTimer: false, handshaking: 0, evicted: 0 })
    expect(registry.size).toBe(0)
    expect(registry.listenerCount).toBe(0)
    await turns()
    const after = heap()
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0)
    expect(after - baseline).toBeLessThan(2 * 1024 * 1024)
  }, 30_000)
})

describe("makeHttpServerScoped (Effect)", () => {
  it("listens while the scope is open, lists sessions in the Registry service, and closes with the scope", async () => {
    const observed = observing()
    let handle!: HttpServerHandle
    const server = makeTestServer(observed, () => handle)
    const seen = await Effect.runPromise(
      Effect.gen(function*() {
        const registry = yield* Registry
        const inside = yield* Effect.scoped(
          Effect.gen(function*() {
            handle = yield* makeHttpServerScoped(server, { drainMs: 0 })
            const s = yield* Effect.promise(() => openSession(handle.url))
            return { sid: s.sid, registered: (yield* registry.list).map((i) => i.id), url: handle.url }
          })
        )
        return { ...inside, afterClose: yield* registry.size }
      }).pipe(Effect.provide(Registry.layer))
    )
    expect(seen.registered).toEqual([seen.sid])
    expect(seen.afterClose).toBe(0)
    expect(handle.stats().sessions).toBe(0)
    await expect(post(seen.url, initializeRequest())).rejects.toThrow()
  })

  it("fails with HttpServerError when the port is taken", async () => {
    const first = await makeHttpServer(makeDemoServer())
    try {
      const exit = await Effect.runPromiseExit(Effect.scoped(makeHttpServerScoped(makeDemoServer(), { port: first.port })))
      expect(exit._tag).toBe("Failure")
      expect(JSON.stringify(exit)).toMatch(/HttpServerError/)
    } finally {
      await first.close()
    }
  })
})

describe("mcp-actors serve --http", () => {
  it("prints the endpoint URL, serves it, and exits by itself after SIGTERM", async () => {
    const { child, exited, url: printed } = serveCli("--http")
    try {
      const url = await printed
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
      const s = await openSession(url)
      const res = await post(url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "cli" } } }, s.headers)
      expect((await rpcBody(res)).result.content[0].text).toBe("cli")
      const stream = new SseReader(await get(url, s.headers))
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
      await stream.rest()
    } finally {
      child.kill("SIGKILL")
    }
  }, 20_000)
})
