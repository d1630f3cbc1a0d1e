/**
 * Dual-era connect over Streamable HTTP (`connectAutoHttp`) and the modern
 * HTTP wire (`ModernHttpWire`), spec-digest §3.B.
 *
 * Servers:
 * - ours (`makeHttpServer`, dual-era on one endpoint), reached through a tiny
 *   recording proxy that keeps every request's method, headers, body, status
 *   and response type — so the tests see exactly what the wire sent and how
 *   it was answered (e.g. that progress came on an SSE stream);
 * - the official SDK server (`test/fixtures/sdk-http-server.ts`, legacy only,
 *   in-process, counting the methods it receives);
 * - scripted raw `node:http` servers for the probe's status/body table and
 *   for wire behaviour no real server produces on demand.
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest, Agent, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { connectAutoHttp, discoverOverHttp, type AutoHttpOptions } from "../src/client/connectAutoHttp.ts"
import { httpServerKey, MemoryEraCache } from "../src/client/EraCache.ts"
import { EraProber } from "../src/client/EraProber.ts"
import { ConnectionLost, RequestCancelled, RequestTimeout, RpcError } from "../src/protocol/requestErrors.ts"
import { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { MissingClientCapability } from "../src/client/modernErrors.ts"
import type { JsonRpcNotification } from "../src/protocol/jsonrpc.ts"
import { META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import type { ModernVersion } from "../src/protocol/versions.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { HttpError, HttpNetworkError } from "../src/transports/http/client/errors.ts"
import { decodeHeaderValue, encodeHeaderValue, httpStatusOf, ModernHttpWire, paramHeadersOf } from "../src/transports/http/client/ModernHttpWire.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { type SdkHttpServer, startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { settled } from "./support/httpPeers.ts"
import { condition } from "./support/condition.ts"
import { waitFor } from "./support/mcpHttp.ts"
import { waitForTurns } from "./support/waitFor.ts"

const MODERN = "2026-07-28"
const FUTURE = "2099-01-01" as ModernVersion
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ------------------------------------------------------------------ servers

interface Observed {
  readonly started: Array<string>
  readonly aborted: Array<string>
  /** Called by the tools at each start and abort: the tests await these events (no polling). */
  readonly changed: () => void
  readonly when: (check: () => boolean, what: string) => Promise<void>
}

const makeServer = (observed: Observed): McpServer =>
  new McpServer({ name: "http-era", version: "1.0.0" })
    .tool({ name: "whoami", description: "The era and version the handler saw" }, (_args, ctx) => ({
      content: [{ type: "text", text: `${ctx.era} ${ctx.protocolVersion}` }],
      structuredContent: { era: ctx.era, protocolVersion: ctx.protocolVersion, sessionId: ctx.sessionId ?? null, clientInfo: ctx.clientInfo ?? null }
    }))
    .tool(
      { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
      (args) => ({ content: [{ type: "text", text: String(args.text) }] })
    )
    .tool(
      { name: "count", description: "Progress and a log line per step", inputSchema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } },
      async (args, ctx) => {
        const n = args.n as number
        for (let i = 1; i <= n; i++) {
          ctx.progress(i, n, `step ${i}`)
          ctx.log("info", `step ${i}`)
          await sleep(5)
        }
        return { content: [{ type: "text", text: `counted ${n}` }] }
      }
    )
    .tool(
      { name: "abortable", description: "Wait until aborted", inputSchema: { type: "object", properties: { tag: { type: "string" } }, required: ["tag"] } },
      (args, ctx) =>
        new Promise((resolve) => {
          const tag = args.tag as string
          observed.started.push(tag)
          observed.changed()
          const t = setTimeout(() => resolve({ content: [{ type: "text", text: "finished" }] }), 10_000)
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(t)
            observed.aborted.push(tag)
            observed.changed()
            resolve({ content: [{ type: "text", text: "aborted" }] })
          })
        })
    )
    .tool({ name: "ask", description: "Needs elicitation" }, async (_args, ctx) => {
      await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } })
      return { content: [] }
    })
    .resource({ uri: "demo://grüße", name: "greeting", mimeType: "text/plain" }, (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: "hallo" }] }))
    .prompt({ name: "=?base64?literal?=", description: "A name that looks like the header sentinel" }, () => ({
      messages: [{ role: "user", content: { type: "text", text: "tricky" } }]
    }))

interface Seen {
  readonly method: string
  readonly headers: IncomingHttpHeaders
  readonly body: any
  status?: number
  contentType?: string
}

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  return (server.address() as AddressInfo).port
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

const parse = (text: string): unknown => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * A recording proxy in front of `target`: every request is kept (method,
 * headers, body; then the status and content type of the answer). The client
 * closing its response makes the proxy close the upstream one, so
 * cancellation-by-disconnect reaches the server as it would directly.
 */
const startProxy = async (target: string, refuse?: (seen: Seen) => { readonly status: number; readonly body: unknown } | undefined) => {
  const t = new URL(target)
  const seen: Array<Seen> = []
  const agent = new Agent({ keepAlive: false })
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const entry: Seen = { method: req.method ?? "?", headers: { ...req.headers }, body: parse(text) }
      seen.push(entry)
      const refusal = refuse?.(entry)
      if (refusal !== undefined) {
        const body = JSON.stringify(refusal.body)
        entry.status = refusal.status
        res.writeHead(refusal.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
        return void res.end(body)
      }
      const up = httpRequest({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers, agent }, (ur) => {
        entry.status = ur.statusCode
        entry.contentType = ur.headers["content-type"]
        res.writeHead(ur.statusCode ?? 502, ur.headers)
        ur.pipe(res)
      })
      up.on("error", () => res.destroy())
      res.on("close", () => {
        if (!res.writableFinished) up.destroy()
      })
      up.end(text)
    })
  })
  const port = await listen(server)
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`,
    seen,
    posts: (method: string) => seen.filter((s) => s.method === "POST" && s.body?.method === method),
    close: async () => {
      await closeServer(server)
      agent.destroy()
    }
  }
}
type Proxy = Awaited<ReturnType<typeof startProxy>>

/** A raw server answering each POST with `script` (it sees method, headers and the parsed body). */
const startScripted = async (script: (seen: Seen, res: ServerResponse) => void) => {
  const seen: Array<Seen> = []
  const closed: Array<unknown> = []
  const { changed, when } = condition()
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const entry: Seen = { method: req.method ?? "?", headers: { ...req.headers }, body: parse(Buffer.concat(chunks).toString("utf8")) }
      seen.push(entry)
      res.on("close", () => {
        if (!res.writableFinished) (closed.push(entry.body?.id), changed())
      })
      script(entry, res)
    })
  })
  const port = await listen(server)
  return { url: `http://127.0.0.1:${port}/mcp`, seen, closed, when, close: () => closeServer(server) }
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body)
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const sse = (res: ServerResponse, blocks: ReadonlyArray<string>, end = true) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  for (const b of blocks) res.write(b)
  if (end) res.end()
}
const event = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`

const discoverResult = { resultType: "complete", supportedVersions: [MODERN], capabilities: { tools: {} }, _meta: { "io.modelcontextprotocol/serverInfo": { name: "scripted", version: "1" } } }

// ------------------------------------------------------------------ our server

describe("connectAutoHttp against our dual-era server", () => {
  let handle: HttpServerHandle
  let proxy: Proxy
  const observed: Observed = { started: [], aborted: [], ...condition() }
  const connect = (o: AutoHttpOptions = {}) => connectAutoHttp(proxy.url, { cache: new MemoryEraCache(), clientInfo: { name: "http-era-client", version: "1.0.0" }, ...o })

  beforeAll(async () => {
    handle = await makeHttpServer(makeServer(observed))
    proxy = await startProxy(handle.url)
  })
  afterAll(async () => {
    await proxy.close()
    await handle.close({ drainMs: 0 })
  })

  it("probes with a modern POST server/discover → modern; tools/call reaches the handler as a modern request", async () => {
    const before = proxy.seen.length
    const client = await connect()
    expect(client.era).toBe("modern")
    expect(client.client).toBeInstanceOf(ModernClient)
    expect(client.verdict).toMatchObject({ era: "modern", protocolVersion: MODERN, basis: { _tag: "DiscoverResult" }, fromCache: false })
    expect(client.probes).toBe(1)
    expect(client.serverInfo).toEqual({ name: "http-era", version: "1.0.0" })
    expect(client.serverCapabilities).toHaveProperty("tools")

    const r = await client.callTool("whoami")
    expect(r.structuredContent).toEqual({ era: "modern", protocolVersion: MODERN, sessionId: null, clientInfo: { name: "http-era-client", version: "1.0.0" } })
    expect((await client.callTool("echo", { text: "héllo" })).content).toEqual([{ type: "text", text: "héllo" }])
    await client.close()

    const mine = proxy.seen.slice(before)
    expect(mine.map((s) => [s.method, s.body?.method, s.status])).toEqual([
      ["POST", "server/discover", 200],
      ["POST", "tools/call", 200],
      ["POST", "tools/call", 200]
    ])
    const probe = mine[0]!
    expect(probe.headers["mcp-protocol-version"]).toBe(MODERN)
    expect(probe.headers["mcp-method"]).toBe("server/discover")
    expect(probe.headers.accept).toContain("application/json")
    expect(probe.headers.accept).toContain("text/event-stream")
    expect(probe.body.params._meta[META_PROTOCOL_VERSION]).toBe(MODERN)
    expect(mine[1]!.headers["mcp-name"]).toBe("whoami")
    // Sessionless: no session id anywhere, no GET stream, no DELETE on close.
    expect(mine.some((s) => s.headers["mcp-session-id"] !== undefined)).toBe(false)
    expect(handle.sessions).toBe(0)
  })

  it("closing releases every socket (the probe's and the wire's pools)", async () => {
    // Sockets of earlier tests first finish closing, so the baseline holds none.
    await waitFor(() => !process.getActiveResourcesInfo().includes("TCPSocketWrap"), 10_000, "earlier sockets to close")
    const baseline = process.getActiveResourcesInfo()
    // Directly, not through the proxy (which answers `connection: close`): keep-alive sockets stay pooled until close.
    const client = await connectAutoHttp(handle.url, { cache: new MemoryEraCache() })
    await client.callTool("count", { n: 2 })
    await client.callTool("echo", { text: "pooled" })
    expect(client.era).toBe("modern")
    await client.close()
    await settled(baseline, 2_000)
  })

  it("every header the wire sends matches the body, so the server never answers -32020 (sentinel-encoded Mcp-Name included)", async () => {
    const before = proxy.seen.length
    const client = await connect()
    await client.listTools()
    const read = await client.readResource("demo://grüße")
    expect(read.contents).toEqual([{ uri: "demo://grüße", mimeType: "text/plain", text: "hallo" }])
    const prompt = await client.getPrompt("=?base64?literal?=")
    expect(prompt.messages).toHaveLength(1)
    await client.callTool("echo", { text: "x" })
    await client.close()

    const posts = proxy.seen.slice(before)
    expect(posts.map((s) => s.body.method)).toEqual(["server/discover", "tools/list", "resources/read", "prompts/get", "tools/call"])
    for (const s of posts) {
      expect(s.method).toBe("POST")
      expect(s.status).toBe(200)
      expect(s.headers["mcp-protocol-version"]).toBe(s.body.params._meta[META_PROTOCOL_VERSION])
      expect(s.headers["mcp-method"]).toBe(s.body.method)
      const named = s.body.method === "resources/read" ? s.body.params.uri : ["tools/call", "prompts/get"].includes(s.body.method) ? s.body.params.name : undefined
      if (named === undefined) expect(s.headers["mcp-name"]).toBeUndefined()
      else expect(decodeHeaderValue(s.headers["mcp-name"] as string)).toBe(named)
    }
    // Non-ASCII and sentinel-looking values travel Base64-encoded.
    expect(posts[2]!.headers["mcp-name"]).toBe(`=?base64?${Buffer.from("demo://grüße").toString("base64")}?=`)
    expect(posts[3]!.headers["mcp-name"]).toBe(`=?base64?${Buffer.from("=?base64?literal?=").toString("base64")}?=`)
  })

  it("progress and request-scoped logs arrive on the SSE response stream before the result", async () => {
    const notifications: Array<JsonRpcNotification> = []
    const client = await connect({ logLevel: "info", onNotification: (n) => notifications.push(n) })
    const timeline: Array<string> = []
    const before = proxy.seen.length
    const r = await client.callTool("count", { n: 3 }, { onProgress: (p) => timeline.push(`progress ${p.progress}/${p.total}`) })
    timeline.push("result")
    expect(r.content).toEqual([{ type: "text", text: "counted 3" }])
    expect(timeline).toEqual(["progress 1/3", "progress 2/3", "progress 3/3", "result"])
    expect(notifications.filter((n) => n.method === "notifications/message").map((n) => n.params?.data)).toEqual(["step 1", "step 2", "step 3"])
    const call = proxy.seen.slice(before).find((s) => s.body?.method === "tools/call")!
    expect(call.contentType).toMatch(/^text\/event-stream/)
    expect(call.body.params._meta.progressToken).toBeDefined()
    await client.close()
  })

  it("cancellation closes the response stream: the handler's signal aborts, and no notifications/cancelled is sent", async () => {
    // Request deadlines on a simulated clock: the timeout below expires when the test moves time.
    const clock = new SimulatedClock()
    const client = await connect({ clock })
    const before = proxy.seen.length
    const ac = new AbortController()
    const call = client.callTool("abortable", { tag: "by-signal" }, { signal: ac.signal })
    await observed.when(() => observed.started.includes("by-signal"), "the handler to start")
    ac.abort()
    await expect(call).rejects.toBeInstanceOf(RequestCancelled)
    await observed.when(() => observed.aborted.includes("by-signal"), "the handler's signal to abort")

    // A timeout cancels the same way.
    const timed = client.callTool("abortable", { tag: "by-timeout" }, { timeoutMs: 150 })
    const outcome = timed.then(() => "answered", (e: unknown) => e)
    await observed.when(() => observed.started.includes("by-timeout"), "the timed handler to start")
    clock.increment(149)
    expect(observed.aborted.includes("by-timeout")).toBe(false)
    clock.increment(1)
    expect(await outcome).toBeInstanceOf(RequestTimeout)
    await observed.when(() => observed.aborted.includes("by-timeout"), "the timed-out handler to abort")
    await waitForTurns(() => handle.stats().modernInFlight === 0, "the server to drop both requests (in-process, after their aborts)")

    const mine = proxy.seen.slice(before)
    expect(mine.map((s) => s.body?.method)).toEqual(["tools/call", "tools/call"])
    expect(mine.every((s) => s.method === "POST")).toBe(true)
    expect(proxy.seen.some((s) => s.body?.method === "notifications/cancelled" || s.headers["mcp-method"] === "notifications/cancelled")).toBe(false)
    // The client is still usable after a cancelled request.
    expect((await client.callTool("echo", { text: "after" })).content).toEqual([{ type: "text", text: "after" }])
    await client.close()
  })

  it("a missing client capability is the typed -32021 error (HTTP 400), and the server is confirmed modern", async () => {
    const client = await connect()
    const before = proxy.seen.length
    const e = await client.callTool("ask").catch((x: unknown) => x)
    expect(e).toBeInstanceOf(MissingClientCapability)
    expect((e as MissingClientCapability).requiredCapabilities).toEqual(["elicitation"])
    expect(proxy.seen.slice(before).map((s) => s.status)).toEqual([400])
    expect(client.era).toBe("modern")
    await client.close()
  })

  it("an unknown method is 404 + -32601: an RpcError with the server's code (and status 404)", async () => {
    const client = await connect()
    const e = await client.request("nope/nothing").catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RpcError)
    expect((e as RpcError).code).toBe(-32601)
    expect(httpStatusOf(e)).toBe(404)
    expect(client.era).toBe("modern")
    await client.close()
  })

  it("a 400 -32022 probe means modern: the client retries with a version from `supported`, header and _meta in step", async () => {
    const before = proxy.seen.length
    const client = await connect({ modernVersions: [FUTURE, MODERN] })
    expect(client.era).toBe("modern")
    expect(client.verdict).toMatchObject({ era: "modern", protocolVersion: MODERN, retry: true, basis: { _tag: "ModernError", code: -32022, httpStatus: 400 } })
    expect(client.protocolVersion).toBe(MODERN)
    expect((await client.callTool("whoami")).structuredContent).toMatchObject({ era: "modern", protocolVersion: MODERN })
    await client.close()
    const mine = proxy.seen.slice(before)
    expect(mine.map((s) => [s.body.method, s.headers["mcp-protocol-version"], s.status])).toEqual([
      ["server/discover", FUTURE, 400],
      ["server/discover", MODERN, 200],
      ["tools/call", MODERN, 200]
    ])
  })

  it("ModernClient over ModernHttpWire: a -32022 on tools/call is retried once with a supported version (new id)", async () => {
    const wire = new ModernHttpWire({ url: proxy.url })
    const client = ModernClient.create(wire, { protocolVersions: [FUTURE, MODERN] })
    const before = proxy.seen.length
    const r = await client.callTool("whoami")
    expect(r.structuredContent).toMatchObject({ era: "modern", protocolVersion: MODERN })
    const mine = proxy.seen.slice(before)
    expect(mine.map((s) => [s.headers["mcp-protocol-version"], s.body.params._meta[META_PROTOCOL_VERSION], s.status])).toEqual([
      [FUTURE, FUTURE, 400],
      [MODERN, MODERN, 200]
    ])
    expect(mine[0]!.body.id).not.toEqual(mine[1]!.body.id)
    await client.close()
    expect(wire.inFlight).toBe(0)
  })

  it("caches the verdict by origin: the second connect sends no probe", async () => {
    const cache = new MemoryEraCache()
    const discovers = () => proxy.posts("server/discover").length
    const before = discovers()
    const first = await connect({ cache })
    expect(first.probes).toBe(1)
    await first.close()
    expect(cache.get(httpServerKey(proxy.url))).toEqual({ era: "modern", protocolVersion: MODERN })
    expect(discovers()).toBe(before + 1)

    const second = await connect({ cache })
    expect(second.era).toBe("modern")
    expect(second.probes).toBe(0)
    expect(second.verdict).toMatchObject({ fromCache: true, basis: { _tag: "Cached" } })
    expect((await second.callTool("whoami")).structuredContent).toMatchObject({ era: "modern" })
    await second.close()
    expect(discovers()).toBe(before + 1)
  })

  it("a cached legacy verdict that the server refuses (initialize rejected) is re-probed once → modern", async () => {
    // The same server behind a front that refuses legacy traffic, as a modern-only server would.
    const modernOnly = await startProxy(handle.url, (s) =>
      s.headers["mcp-protocol-version"] === MODERN
        ? undefined
        : { status: 400, body: { jsonrpc: "2.0", id: s.body?.id, error: { code: -32022, message: "Unsupported protocol version", data: { supported: [MODERN], requested: "2025-11-25" } } } })
    try {
      const cache = new MemoryEraCache()
      cache.set(httpServerKey(modernOnly.url), { era: "legacy" })
      const diagnostics: Array<string> = []
      const client = await connectAutoHttp(modernOnly.url, { cache, onDiagnostic: (t) => diagnostics.push(t) })
      expect(client.era).toBe("modern")
      expect(client.verdict).toMatchObject({ basis: { _tag: "DiscoverResult" }, fromCache: false })
      expect(client.probes).toBe(1)
      expect(cache.get(httpServerKey(modernOnly.url))).toEqual({ era: "modern", protocolVersion: MODERN })
      expect(modernOnly.seen.map((s) => s.body?.method)).toEqual(["initialize", "server/discover"])
      expect(diagnostics.some((d) => d.includes("cached legacy verdict failed"))).toBe(true)
      expect((await client.callTool("whoami")).structuredContent).toMatchObject({ era: "modern" })
      await client.close()
    } finally {
      await modernOnly.close()
    }
  })
})

// ------------------------------------------------------------------ the SDK server (legacy only)

describe("connectAutoHttp against the official SDK server (legacy only)", () => {
  let sdk: SdkHttpServer
  beforeAll(async () => {
    sdk = await startSdkHttpServer()
  })
  afterAll(async () => {
    await sdk.close()
  })
  const count = (method: string) => sdk.stats.methods.filter((m) => m === method).length

  it("probe → 400 with a non-modern body → legacy: initialize through connectHttp, calls work", async () => {
    const before = sdk.stats.methods.length
    const client = await connectAutoHttp(sdk.url, { cache: new MemoryEraCache() })
    expect(client.era).toBe("legacy")
    expect(client.client).toBeInstanceOf(HttpClientSession)
    expect(client.verdict).toMatchObject({ era: "legacy", fromCache: false, basis: { _tag: "OtherError", code: -32000, httpStatus: 400 } })
    expect(client.protocolVersion).toBe("2025-11-25")
    expect(client.serverInfo).toMatchObject({ name: "sdk-http-fixture" })
    expect((await client.callTool("echo", { text: "hi" })).content).toEqual([{ type: "text", text: "hi" }])
    expect(((await client.readResource("test://hello")).contents as ReadonlyArray<{ text: string }>)[0]!.text).toBe("hello world")
    expect(((await client.getPrompt("greet", { name: "Ada" })).messages as Array<unknown>)).toHaveLength(1)
    expect(sdk.stats.methods.slice(before, before + 3)).toEqual(["server/discover", "initialize", "notifications/initialized"])
    await client.close()
  })

  it("caches the legacy verdict: the second connect sends no probe", async () => {
    const cache = new MemoryEraCache()
    const before = count("server/discover")
    const first = await connectAutoHttp(sdk.url, { cache })
    await first.close()
    expect(count("server/discover")).toBe(before + 1)
    const second = await connectAutoHttp(sdk.url, { cache })
    expect(second.era).toBe("legacy")
    expect(second.probes).toBe(0)
    expect(second.verdict.fromCache).toBe(true)
    expect((await second.callTool("echo", { text: "again" })).content).toEqual([{ type: "text", text: "again" }])
    await second.close()
    expect(count("server/discover")).toBe(before + 1)
  })

  it("a cached modern verdict for this legacy server: the first call fails over → re-probe → legacy, and the refused call is re-sent", async () => {
    const cache = new MemoryEraCache()
    cache.set(httpServerKey(sdk.url), { era: "modern", protocolVersion: MODERN })
    await waitFor(() => !process.getActiveResourcesInfo().includes("TCPSocketWrap"), 10_000, "earlier sockets to close")
    const baseline = process.getActiveResourcesInfo()
    const diagnostics: Array<string> = []
    const client = await connectAutoHttp(sdk.url, { cache, onDiagnostic: (t) => diagnostics.push(t) })
    expect(client.era).toBe("modern")
    expect(client.probes).toBe(0)
    const before = sdk.stats.methods.length
    const r = await client.callTool("echo", { text: "via legacy" })
    expect(r.content).toEqual([{ type: "text", text: "via legacy" }])
    expect(client.era).toBe("legacy")
    expect(client.client).toBeInstanceOf(HttpClientSession)
    expect(client.probes).toBe(1)
    expect(client.verdict).toMatchObject({ era: "legacy", fromCache: false, basis: { _tag: "OtherError", httpStatus: 400 } })
    expect(cache.get(httpServerKey(sdk.url))).toEqual({ era: "legacy" })
    // The modern tools/call was refused with 400 (not run), so it was sent again on the legacy session.
    expect(sdk.stats.methods.slice(before)).toEqual(["tools/call", "server/discover", "initialize", "notifications/initialized", "tools/call"])
    expect(diagnostics.some((d) => d.includes("probing again"))).toBe(true)
    // Once only: later calls go straight to the legacy session.
    await client.callTool("echo", { text: "next" })
    expect(client.probes).toBe(1)
    const deletes = sdk.stats.deletes
    await client.close()
    expect(sdk.stats.deletes).toBe(deletes + 1) // the legacy session is ended with DELETE
    // The abandoned modern client, the probe and the legacy session leave no socket behind.
    await settled(baseline, 2_000)
  })
})

// ------------------------------------------------------------------ the probe's decision table

describe("discoverOverHttp + EraProber: what a probe answer means", () => {
  const probe = async (script: (seen: Seen, res: ServerResponse) => void, probeTimeoutMs?: number) => {
    const server = await startScripted(script)
    try {
      const prober = new EraProber({ sendDiscover: discoverOverHttp(server.url), ...(probeTimeoutMs !== undefined ? { probeTimeoutMs } : {}) })
      const verdict = await prober.verdict()
      prober.stop()
      return { verdict, server }
    } finally {
      await server.close()
    }
  }
  const rpcError = (code: number, data?: unknown) => ({ jsonrpc: "2.0", id: null, error: { code, message: `error ${code}`, ...(data !== undefined ? { data } : {}) } })

  it.each([
    ["400, empty body", 400, undefined, { _tag: "OtherError", code: undefined, httpStatus: 400 }],
    ["400, a legacy server's -32000", 400, rpcError(-32000), { _tag: "OtherError", code: -32000, httpStatus: 400 }],
    ["400, a JSON-RPC body with an unrelated code", 400, rpcError(-32600), { _tag: "OtherError", code: -32600, httpStatus: 400 }],
    ["404, plain text", 404, "Not Found", { _tag: "OtherError", code: undefined, httpStatus: 404 }],
    ["404, -32601 (server/discover unknown)", 404, rpcError(-32601), { _tag: "OtherError", code: -32601, httpStatus: 404 }],
    ["405, empty body", 405, undefined, { _tag: "OtherError", code: undefined, httpStatus: 405 }],
    ["200, a JSON-RPC error for the request", 200, { jsonrpc: "2.0", id: "probe-1", error: { code: -32601, message: "Method not found" } }, { _tag: "OtherError", code: -32601, httpStatus: 200 }]
  ] as const)("%s → legacy", async (_name, status, body, basis) => {
    const { verdict } = await probe((_s, res) => json(res, status, body))
    expect(verdict.era).toBe("legacy")
    expect(verdict.basis).toEqual(basis)
  })

  it.each([
    ["-32020 HeaderMismatch", -32020],
    ["-32021 MissingRequiredClientCapability", -32021]
  ] as const)("400 with %s → modern (a recognised modern body, whatever else)", async (_name, code) => {
    const { verdict } = await probe((_s, res) => json(res, 400, rpcError(code)))
    expect(verdict.era).toBe("modern")
    expect(verdict.basis).toEqual({ _tag: "ModernError", code, httpStatus: 400 })
  })

  it("400 with -32022 naming a version we speak → modern, retry with it; naming none of ours → legacy", async () => {
    const ok = await probe((_s, res) => json(res, 400, rpcError(-32022, { supported: [FUTURE, MODERN], requested: MODERN })))
    expect(ok.verdict).toMatchObject({ era: "modern", retry: true, protocolVersion: MODERN, basis: { _tag: "ModernError", code: -32022, httpStatus: 400 } })
    const none = await probe((_s, res) => json(res, 400, rpcError(-32022, { supported: [FUTURE] })))
    expect(none.verdict).toMatchObject({ era: "legacy", basis: { _tag: "NoMutualModernVersion", serverSupported: [FUTURE] } })
  })

  it("a DiscoverResult as JSON or on an SSE stream (after a notification) → modern; the probe carries the modern headers", async () => {
    const asJson = await probe((s, res) => json(res, 200, { jsonrpc: "2.0", id: s.body.id, result: discoverResult }))
    expect(asJson.verdict).toMatchObject({ era: "modern", basis: { _tag: "DiscoverResult" }, protocolVersion: MODERN })
    expect(asJson.verdict.discover).toMatchObject({ supportedVersions: [MODERN] })
    const seen = asJson.server.seen[0]!
    expect(seen.headers).toMatchObject({ "mcp-protocol-version": MODERN, "mcp-method": "server/discover" })
    expect(seen.headers["mcp-session-id"]).toBeUndefined()
    expect(seen.body.params._meta[META_PROTOCOL_VERSION]).toBe(MODERN)

    const asSse = await probe((s, res) =>
      sse(res, [": keep-alive\n\n", event({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "hi" } }), event({ jsonrpc: "2.0", id: s.body.id, result: discoverResult })]))
    expect(asSse.verdict).toMatchObject({ era: "modern", basis: { _tag: "DiscoverResult" } })
  })

  it("no answer within probeTimeoutMs → legacy, and the probe's POST is closed", async () => {
    // The probe's deadline on a simulated clock: it expires when the test moves time, once the POST has arrived.
    const clock = new SimulatedClock()
    let arrived!: () => void
    const posted = new Promise<void>((resolve) => (arrived = resolve))
    const server = await startScripted(() => arrived())
    try {
      const prober = new EraProber({ sendDiscover: discoverOverHttp(server.url), probeTimeoutMs: 150, clock })
      const verdict = prober.verdict()
      let decided = false
      void verdict.then(() => (decided = true))
      await posted
      clock.increment(149)
      for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve))
      expect(decided).toBe(false)
      clock.increment(1)
      expect(await verdict).toMatchObject({ era: "legacy", basis: { _tag: "Timeout", timeoutMs: 150 } })
      prober.stop()
      await server.when(() => server.closed.length === 1, "the probe's request to be closed")
    } finally {
      await server.close()
    }
  })

  it("an unreachable server: connectAutoHttp rejects with HttpNetworkError (no verdict is cached)", async () => {
    const server = await startScripted(() => {})
    await server.close()
    const cache = new MemoryEraCache()
    const e = await connectAutoHttp(server.url, { cache }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(HttpNetworkError)
    expect((e as HttpNetworkError).reachedServer).toBe(false)
    expect(cache.size).toBe(0)
  })
})

// ------------------------------------------------------------------ the wire against scripted servers

describe("ModernHttpWire", () => {
  const result = (id: unknown, value: Record<string, unknown> = { resultType: "complete", content: [] }) => ({ jsonrpc: "2.0", id, result: value })

  it("SSE: notifications before the response reach the client; keep-alives, stray responses and server requests do not", async () => {
    const server = await startScripted((s, res) =>
      sse(res, [
        ": keep-alive\n\n",
        event({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "first" } }),
        event({ jsonrpc: "2.0", id: "other", result: {} }),
        event({ jsonrpc: "2.0", id: 99, method: "elicitation/create", params: {} }),
        event(result(s.body.id, { resultType: "complete", content: [{ type: "text", text: "done" }] }))
      ], false))
    const notes: Array<JsonRpcNotification> = []
    const diagnostics: Array<string> = []
    const client = ModernClient.create(new ModernHttpWire({ url: server.url }), { onNotification: (n) => notes.push(n), onDiagnostic: (t) => diagnostics.push(t) })
    // The server never ends its stream: the response alone ends the exchange.
    const r = await client.callTool("t")
    expect(r.content).toEqual([{ type: "text", text: "done" }])
    expect(notes.map((n) => n.params?.data)).toEqual(["first"])
    expect(diagnostics.some((d) => d.includes("another request id"))).toBe(true)
    expect(diagnostics.some((d) => d.includes("elicitation/create"))).toBe(true)
    await client.close()
    await server.close()
  })

  it("failures of one request are typed and leave the wire usable: HttpError, ConnectionLost, HttpNetworkError", async () => {
    const server = await startScripted((s, res) => {
      const name = s.body.params?.name
      if (name === "plain500") return json(res, 500, "boom")
      if (name === "accepted") return json(res, 202, undefined)
      if (name === "cut") return sse(res, [event({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x" } })])
      if (name === "legacy400") return json(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Bad Request: No valid session ID provided" } })
      json(res, 200, result(s.body.id))
    })
    const wire = new ModernHttpWire({ url: server.url })
    const client = ModernClient.create(wire)
    const e500 = await client.callTool("plain500").catch((x: unknown) => x)
    expect(e500).toBeInstanceOf(HttpError)
    expect((e500 as HttpError).status).toBe(500)
    expect(httpStatusOf(e500)).toBe(500)
    const e202 = await client.callTool("accepted").catch((x: unknown) => x)
    expect(e202).toBeInstanceOf(HttpError)
    expect((e202 as HttpError).status).toBe(202)
    await expect(client.callTool("cut")).rejects.toBeInstanceOf(ConnectionLost)
    const e400 = await client.callTool("legacy400").catch((x: unknown) => x)
    expect(e400).toBeInstanceOf(RpcError)
    expect((e400 as RpcError).code).toBe(-32000)
    expect(httpStatusOf(e400)).toBe(400)
    // Still usable.
    expect((await client.callTool("fine")).resultType).toBe("complete")
    expect(wire.inFlight).toBe(0)
    await client.close()
    await server.close()

    const gone = ModernClient.create(new ModernHttpWire({ url: server.url }))
    const eNet = await gone.callTool("anything").catch((x: unknown) => x)
    expect(eNet).toBeInstanceOf(HttpNetworkError)
    expect((eNet as HttpNetworkError).reachedServer).toBe(false)
    await gone.close()
  })

  it("x-mcp-header: invalid tool definitions are dropped from tools/list; valid ones are mirrored into Mcp-Param-* headers", async () => {
    const tools = [
      {
        name: "execute_sql",
        inputSchema: {
          type: "object",
          properties: {
            region: { type: "string", "x-mcp-header": "Region" },
            query: { type: "string" },
            opts: { type: "object", properties: { dryRun: { type: "boolean", "x-mcp-header": "Dry-Run" }, limit: { type: "integer", "x-mcp-header": "Limit" } } }
          }
        }
      },
      { name: "plain", inputSchema: { type: "object", properties: { a: { type: "string" } } } },
      { name: "in_items", inputSchema: { type: "object", properties: { list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } } } },
      { name: "duplicate", inputSchema: { type: "object", properties: { a: { type: "string", "x-mcp-header": "Key" }, b: { type: "string", "x-mcp-header": "key" } } } },
      { name: "float", inputSchema: { type: "object", properties: { n: { type: "number", "x-mcp-header": "N" } } } },
      { name: "bad_token", inputSchema: { type: "object", properties: { a: { type: "string", "x-mcp-header": "Has Space" } } } }
    ]
    const server = await startScripted((s, res) => {
      if (s.body.method === "tools/list") return json(res, 200, result(s.body.id, { resultType: "complete", tools }))
      json(res, 200, result(s.body.id))
    })
    const diagnostics: Array<string> = []
    const wire = new ModernHttpWire({ url: server.url, onDiagnostic: (t) => diagnostics.push(t) })
    const client = ModernClient.create(wire)
    const listed = await client.listTools()
    expect((listed.tools as ReadonlyArray<{ name: string }>).map((t) => t.name)).toEqual(["execute_sql", "plain"])
    expect(diagnostics.filter((d) => d.startsWith("tools/list: excluded tool")).length).toBe(4)
    expect(wire.paramHeadersFor("execute_sql")).toEqual([
      { name: "Region", path: ["region"] },
      { name: "Dry-Run", path: ["opts", "dryRun"] },
      { name: "Limit", path: ["opts", "limit"] }
    ])

    await client.callTool("execute_sql", { region: "us-west1", query: "SELECT 1", opts: { dryRun: false, limit: 42 } })
    await client.callTool("execute_sql", { region: "Grüße", query: "x", opts: { dryRun: null } })
    await client.callTool("plain", { a: "z" })
    const calls = server.seen.filter((s) => s.body.method === "tools/call")
    expect(calls[0]!.headers).toMatchObject({ "mcp-param-region": "us-west1", "mcp-param-dry-run": "false", "mcp-param-limit": "42", "mcp-name": "execute_sql" })
    expect(calls[1]!.headers["mcp-param-region"]).toBe(encodeHeaderValue("Grüße"))
    expect(calls[1]!.headers["mcp-param-dry-run"]).toBeUndefined() // null → omitted
    expect(calls[1]!.headers["mcp-param-limit"]).toBeUndefined() // absent → omitted
    expect(Object.keys(calls[2]!.headers).some((h) => h.startsWith("mcp-param-"))).toBe(false)
    await client.close()
    await server.close()
  })

  it("header values: plain ASCII as is, anything else in the Base64 sentinel (spec's encoding examples)", () => {
    expect(encodeHeaderValue("us-west1")).toBe("us-west1")
    expect(encodeHeaderValue("Hello, 世界")).toBe("=?base64?SGVsbG8sIOS4lueVjA==?=")
    expect(encodeHeaderValue(" padded ")).toBe("=?base64?IHBhZGRlZCA=?=")
    expect(encodeHeaderValue("line1\nline2")).toBe("=?base64?bGluZTEKbGluZTI=?=")
    expect(encodeHeaderValue("=?base64?literal?=")).toBe("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=")
    expect(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=")).toBe("Hello, 世界")
    expect(paramHeadersOf({ type: "object", "x-mcp-header": "Root" })).toMatchObject({ ok: false })
    expect(paramHeadersOf({ type: "object", properties: { a: { oneOf: [{ type: "string", "x-mcp-header": "A" }] } } })).toMatchObject({ ok: false })
    expect(paramHeadersOf({ type: "object", properties: { a: { type: ["string", "null"], "x-mcp-header": "A" } } })).toEqual({ ok: true, headers: [{ name: "A", path: ["a"] }] })
  })
})
