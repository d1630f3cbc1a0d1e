/**
 * The gateway between eras, with the official SDK client (2025-11-25) in front
 * and a 2026-07-28 upstream behind:
 * - results reach the legacy client without the upstream's `resultType` and
 *   `_meta` server info (modern-only fields, and the upstream's, not the
 *   gateway's), other `_meta` entries kept;
 * - the client's `logging/setLevel` goes upstream with each call (a modern
 *   server sends no logs without a per-request level), so the upstream's logs
 *   reach the client, filtered at that level;
 * - the upstream is told only the input capabilities the client declared, so a
 *   sampling request the client cannot answer is never made: the upstream tool
 *   sees the capability error and carries on, instead of the whole call failing;
 *   with a client that declares sampling, the request reaches it and its answer
 *   gets back.
 * And each era's code for a resource nobody serves any more (the host dropped it, the
 * gateway's lists have not caught up): -32002 for the SDK client, -32602 for our modern
 * client, `data.uri` and the host's `UnknownName` in both; and an upstream's own resource
 * not found (legacy or 2026-07-28 upstream) in the code of the era of the client reading it,
 * with the upstream's message and data, while a plain invalid params passes through.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { type Gateway, type GatewayHttpHandle, HOST_ERROR_META, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { readFailure } from "../src/host/gatewayErrors.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { ErrorCode, McpError } from "../src/protocol/errors.ts"
import { META_SERVER_INFO } from "../src/protocol/modern.ts"
import { RpcError } from "../src/protocol/requestErrors.ts"
import { resourceNotFound } from "../src/server/dispatch.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { type GatewayOverWs, gatewayOverWs } from "./support/gatewayOverWs.ts"

const upstream = () =>
  new McpServer({ name: "modern-up", version: "2.0.0" })
    .tool({ name: "echo", inputSchema: { type: "object" } }, (args) => ({
      content: [{ type: "text", text: String(args.text) }],
      _meta: { "example.com/trace": "kept" }
    }))
    .tool({ name: "chatty", inputSchema: { type: "object" } }, (_args, ctx) => {
      ctx.log("debug", "too fine", "chatty")
      ctx.log("warning", { step: 1 }, "chatty")
      return { content: [{ type: "text", text: "said it" }] }
    })
    .tool({ name: "asks", inputSchema: { type: "object" } }, async (_args, ctx) => {
      const sample = await ctx.createMessage({ messages: [{ role: "user", content: { type: "text", text: "2+2?" } }], maxTokens: 5 }).then(
        (r) => `answered ${JSON.stringify((r as { content?: unknown }).content)}`,
        (e: unknown) => {
          if (typeof (e as { code?: unknown }).code !== "number") throw e // the MRTR ask itself
          return `refused (${(e as { code: number }).code})`
        }
      )
      return { content: [{ type: "text", text: `sampling ${sample}` }] }
    })

describe("gateway between eras: SDK client (2025-11-25) → gateway → 2026-07-28 upstream", { timeout: 60_000 }, () => {
  let server: WsServerHandle
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  const clients: Array<Client> = []

  beforeAll(async () => {
    server = await makeWsServer(upstream(), { port: 0 })
    host = await startHost({ mcpServers: { up: { url: server.url, protocol: "2026-07-28", keepalive: false } } }, { stateFile: false })
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })
  afterAll(async () => {
    for (const c of clients) await c.close()
    await http?.close()
    gateway?.close()
    await host?.close()
    await server?.close()
  })

  const connect = async (capabilities: Record<string, unknown> = {}) => {
    const client = new Client({ name: "sdk", version: "1.0.0" }, { capabilities })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    clients.push(client)
    return client
  }

  it("results carry no resultType and no upstream server info; other _meta entries stay", async () => {
    expect(host.status().find((s) => s.name === "up")).toMatchObject({ era: "modern" })
    const client = await connect()
    const result = await client.callTool({ name: "up__echo", arguments: { text: "hi" } })
    expect(result.content).toEqual([{ type: "text", text: "hi" }])
    expect(Object.hasOwn(result, "resultType")).toBe(false)
    expect(result._meta).toEqual({ "example.com/trace": "kept" })
    expect(JSON.stringify(result)).not.toContain(META_SERVER_INFO)
  })

  it("the client's log level goes upstream: the modern upstream's logs reach it, filtered at that level", async () => {
    const client = await connect()
    const logs: Array<{ level: string; data: unknown }> = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push({ level: n.params.level, data: n.params.data })
    })
    await client.setLoggingLevel("info")
    expect(await client.callTool({ name: "up__chatty", arguments: {} })).toMatchObject({ content: [{ text: "said it" }] })
    expect(logs).toEqual([{ level: "warning", data: { step: 1 } }])
  })

  it("sampling the client did not declare is never asked for: the upstream tool sees -32021 and finishes the call", async () => {
    const client = await connect()
    const result = await client.callTool({ name: "up__asks", arguments: {} })
    expect(result.isError).not.toBe(true)
    expect(result.content).toEqual([{ type: "text", text: "sampling refused (-32021)" }])
  })

  it("a client that declares sampling is asked (MRTR upstream → a request to the SDK client) and its answer gets back", async () => {
    const client = await connect({ sampling: {} })
    let asked = 0
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      asked++
      return { role: "assistant", content: { type: "text", text: "4" }, model: "m" }
    })
    const result = await client.callTool({ name: "up__asks", arguments: {} })
    expect(asked).toBe(1)
    expect(result.content).toEqual([{ type: "text", text: `sampling answered {"type":"text","text":"4"}` }])
  })
})

describe("gateway: a resource no upstream serves any more gets each era's code", { timeout: 30_000 }, () => {
  const upstream = new McpServer({ name: "up", version: "1.0.0" })
    .resource({ uri: "mem://going", name: "going" }, (uri) => ({ contents: [{ uri, text: "here" }] }))
    .resource({ uri: "mem://staying", name: "staying" }, (uri) => ({ contents: [{ uri, text: "here" }] }))
  let bench: GatewayOverWs

  // The host's catalog changes reach the gateway's lists after `coalesceMs`: a long one keeps the window open.
  beforeAll(async () => void (bench = await gatewayOverWs(upstream, { coalesceMs: 600_000 })))
  afterAll(async () => bench?.close())

  it("-32002 for a legacy client, -32602 for a modern one, both with data.uri and the host's UnknownName", async () => {
    const { host, gateway, http } = bench
    const legacy = new Client({ name: "sdk", version: "1.0.0" })
    await legacy.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    const modern = await connectHttp(http.url, { era: "modern" })
    try {
      expect(await legacy.readResource({ uri: "mem://going" })).toMatchObject({ contents: [{ text: "here" }] })
      // The host's listing event comes just before its catalog is rebuilt (in the same turn).
      const relisted = new Promise<void>((resolve) => {
        const off = host.on("listing", () => queueMicrotask(() => (off(), resolve())))
      })
      upstream.removeResource("mem://going")
      await relisted
      expect(host.owner("resource", "mem://going")).toBeUndefined()
      // The host no longer routes it; the gateway still lists it (its change has not come yet).
      expect(gateway.server.resources.has("mem://going")).toBe(true)
      const refused = { uri: "mem://going", [HOST_ERROR_META]: { _tag: "UnknownName", kind: "resource", name: "mem://going" } }
      await expect(legacy.readResource({ uri: "mem://going" })).rejects.toMatchObject({ code: -32002, data: refused })
      await expect(modern.readResource("mem://going")).rejects.toMatchObject({ code: -32602, data: refused })
      expect(await modern.readResource("mem://staying")).toMatchObject({ contents: [{ text: "here" }] })
    } finally {
      await legacy.close()
      await modern.close()
    }
  })
})

describe("gateway: an upstream's own resource not found reaches each client in its era's code", { timeout: 60_000 }, () => {
  // A template's handler says "not found" for an id it does not have, as its server's era says it
  // (`resourceNotFound`: -32002 legacy, -32602 modern, data.uri), with its own message and a field.
  const items = () =>
    new McpServer({ name: "items", version: "1.0.0" })
      .resourceTemplate({ uriTemplate: "mem://items/{id}", name: "item" }, (uri, vars, ctx) => {
        if (vars.id === "1") return { contents: [{ uri, text: "one" }] }
        if (vars.id === "other") throw new McpError(ErrorCode.InvalidParams, "see the other one", { uri: "mem://items/1" })
        if (vars.id === "bad") throw new McpError(ErrorCode.InvalidParams, "ids are numbers", { field: "id" })
        throw resourceNotFound(uri, ctx.era, { "example.com/why": "deleted" }, `item ${vars.id} was deleted`)
      })
  const notFound = { uri: "mem://items/7", "example.com/why": "deleted" }

  for (const protocol of ["legacy", "2026-07-28"] as const) {
    describe(`${protocol} upstream`, () => {
      let bench: GatewayOverWs
      let legacy: Client
      let modern: Awaited<ReturnType<typeof connectHttp>>
      beforeAll(async () => {
        bench = await gatewayOverWs(items(), { coalesceMs: 0, protocol })
        expect(bench.host.status().find((s) => s.name === "up")).toMatchObject({ era: protocol === "legacy" ? "legacy" : "modern" })
        legacy = new Client({ name: "sdk", version: "1.0.0" })
        await legacy.connect(new StreamableHTTPClientTransport(new URL(bench.http.url)))
        modern = await connectHttp(bench.http.url, { era: "modern" })
      })
      afterAll(async () => {
        await legacy?.close()
        await modern?.close()
        await bench?.close()
      })

      it("the SDK client (2025-11-25) gets -32002, the upstream's message and data, data.uri", async () => {
        expect(await legacy.readResource({ uri: "mem://items/1" })).toMatchObject({ contents: [{ text: "one" }] })
        const e = await legacy.readResource({ uri: "mem://items/7" }).catch((x: unknown) => x)
        expect(e).toMatchObject({ code: -32002, message: expect.stringContaining("item 7 was deleted") })
        expect((e as { data?: unknown }).data).toEqual(notFound)
      })

      it("our modern client (2026-07-28) gets -32602, the upstream's message and data, data.uri", async () => {
        expect(await modern.readResource("mem://items/1")).toMatchObject({ contents: [{ text: "one" }] })
        const e = await modern.readResource("mem://items/7").catch((x: unknown) => x)
        expect(e).toMatchObject({ _tag: "RpcError", code: -32602, message: "item 7 was deleted" })
        expect((e as { data?: unknown }).data).toEqual(notFound)
      })

      it("an upstream -32602 without data.uri, or with another URI, is invalid params: unchanged for both", async () => {
        for (const [id, message, data] of [["bad", "ids are numbers", { field: "id" }], ["other", "see the other one", { uri: "mem://items/1" }]] as const) {
          const fromLegacy = await legacy.readResource({ uri: `mem://items/${id}` }).catch((x: unknown) => x)
          expect(fromLegacy).toMatchObject({ code: -32602, message: expect.stringContaining(message) })
          expect((fromLegacy as { data?: unknown }).data).toEqual(data)
          const fromModern = await modern.readResource(`mem://items/${id}`).catch((x: unknown) => x)
          expect(fromModern).toMatchObject({ _tag: "RpcError", code: -32602, message, data })
        }
      })
    })
  }
})

describe("readFailure: an upstream error's data is peer-supplied", () => {
  const read = (e: RpcError, era: "legacy" | "modern") => {
    try {
      readFailure("mem://x", era)(e)
    } catch (thrown) {
      return thrown as McpError
    }
    throw new Error("readFailure returned")
  }
  const upstream = (code: number, data?: unknown) => new RpcError({ method: "resources/read", code, message: "nope", ...(data !== undefined ? { data } : {}) })

  it("-32002 with no data, an array, a string or null: the era's code with data { uri } only", () => {
    for (const data of [undefined, ["a"], "why", null]) {
      expect(read(upstream(-32002, data), "modern")).toMatchObject({ code: -32602, message: "nope", data: { uri: "mem://x" } })
      expect(read(upstream(-32002, data), "legacy").data).toEqual({ uri: "mem://x" })
    }
  })

  it("-32002 with another data.uri is still not found, for the URI read; a __proto__ field stays a plain field", () => {
    const data = JSON.parse('{"uri":"mem://y","__proto__":{"polluted":true},"n":1}') as unknown
    const e = read(upstream(-32002, data), "modern")
    expect(e.code).toBe(-32602)
    expect((e.data as Record<string, unknown>).uri).toBe("mem://x")
    expect((e.data as Record<string, unknown>).n).toBe(1)
    expect(Object.getPrototypeOf(e.data)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("-32602 counts only with its own data.uri the URI read (a string): otherwise it passes through", () => {
    expect(read(upstream(-32602, { uri: "mem://x" }), "legacy")).toMatchObject({ code: -32002, data: { uri: "mem://x" } })
    for (const data of [undefined, { uri: "mem://y" }, { uri: ["mem://x"] }, ["mem://x"], JSON.parse('{"__proto__":{"uri":"mem://x"}}')]) {
      const e = read(upstream(-32602, data), "legacy")
      expect(e.code).toBe(-32602)
      expect(e.data).toEqual(data)
    }
  })
})
