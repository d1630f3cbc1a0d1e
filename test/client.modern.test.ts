/**
 * ModernClient (2026-07-28) against our own dual-era server: over the memory
 * transport (virtual time: xstate `SimulatedClock` through the `clock`
 * option) and over stdio (`node src/cli/main.ts serve --stdio`, real time).
 * Scripted peers cover answers our server never gives (unknown `resultType`,
 * `input_required`).
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import type { ClientSession } from "../src/client/ClientSession.ts"
import type { McpClientLike } from "../src/client/connectAuto.ts"
import {
  CapabilityNotSupported,
  ConnectionLost,
  RequestCancelled,
  RequestTimeout,
  RpcError,
  SessionClosed,
  UnsupportedProtocolVersion
} from "../src/protocol/requestErrors.ts"
import { ModernClient, type ModernClientOptions } from "../src/client/ModernClient.ts"
import { InputRequired, InvalidResult, MissingClientCapability } from "../src/client/modernErrors.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { decodeText, errorResponse, type JsonRpcNotification, type JsonRpcRequest, result as makeResult } from "../src/protocol/jsonrpc.ts"
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION, META_SERVER_INFO } from "../src/protocol/modern.ts"
import type { ModernVersion } from "../src/protocol/versions.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair, type MemoryTransport } from "../src/transports/memory.ts"
import { makeStdioClientTransport } from "../src/transports/stdioClient.ts"
import { waitForTurns } from "./support/waitFor.ts"
import { flush, tap, track, versionOf } from "./support/wireTap.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

/** A version from the future that our server does not speak. */
const FUTURE = "2099-01-01" as ModernVersion

// Both eras' clients offer the same surface (a compile-time check).
export const modernIsClientLike = (c: ModernClient): McpClientLike => c
export const legacyIsClientLike = (c: ClientSession): McpClientLike => c

/** A server with tools that report what the handler saw of the request. */
const makeServer = () => {
  const held: Array<RequestContext> = []
  const releases = new Map<string, () => void>()
  const server = new McpServer({ name: "modern-test", version: "2.0.0", instructions: "try whoami" })
    .tool({ name: "whoami", description: "What the server saw of this request" }, (_args, ctx) => ({
      content: [{ type: "text", text: "seen" }],
      structuredContent: {
        era: ctx.era,
        protocolVersion: ctx.protocolVersion,
        clientInfo: ctx.clientInfo,
        clientCapabilities: ctx.clientCapabilities,
        sessionId: ctx.sessionId ?? null,
        meta: ctx.meta
      }
    }))
    .tool(
      { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
      (args) => ({ content: [{ type: "text", text: args.text as string }] })
    )
    .tool({ name: "hold", description: "Stay in flight until released or cancelled" }, (_args, ctx) =>
      new Promise((_resolve, reject) => {
        held.push(ctx)
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
      }))
    .tool(
      { name: "delayed", inputSchema: { type: "object", properties: { tag: { type: "string" } } } },
      (args, ctx) =>
        new Promise((resolve) => {
          // Released by the test through `release`.
          releases.set(args.tag as string, () => resolve({ content: [{ type: "text", text: `tag ${args.tag as string}` }] }))
        })
    )
    .tool({ name: "ask", description: "Needs elicitation from the client" }, async (_args, ctx) => {
      await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } })
      return { content: [{ type: "text", text: "answered" }] }
    })
    .tool({ name: "steps", description: "Reports three progress steps, then answers" }, (_args, ctx) => {
      ctx.progress(1, 3)
      ctx.progress(1, 3) // not an advance: never reported
      ctx.progress(2, 3)
      ctx.progress(3, 3)
      return { content: [{ type: "text", text: "stepped" }] }
    })
    .tool({ name: "log", description: "Logs at info" }, (_args, ctx) => {
      ctx.log("info", "hello log", "test")
      return { content: [{ type: "text", text: "logged" }] }
    })
  return { server, held, releases }
}

const setup = (options: ModernClientOptions = {}) => {
  const clock = new SimulatedClock()
  const { server, held, releases } = makeServer()
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const serverSession = serveTransport(server, serverSide)
  const transport = tap(clientSide)
  const client = ModernClient.create(transport, { clock, clientInfo: { name: "modern-test-client", version: "9.9.9" }, ...options })
  const tick = async (ms: number) => {
    clock.increment(ms)
    await flush()
  }
  return { client, transport, serverSession, held, releases, clock, tick }
}

describe("ModernClient over memory, against our server", () => {
  it("sends no handshake; every request carries _meta (version, capabilities, clientInfo) and the server serves it as modern", async () => {
    const { client, transport, serverSession } = setup({ capabilities: { extensions: { "com.example/x": {} } } })
    const r = await client.callTool("whoami")
    expect(r.structuredContent).toEqual({
      era: "modern",
      protocolVersion: "2026-07-28",
      clientInfo: { name: "modern-test-client", version: "9.9.9" },
      clientCapabilities: { extensions: { "com.example/x": {} } },
      sessionId: null,
      meta: {
        [META_PROTOCOL_VERSION]: "2026-07-28",
        [META_CLIENT_CAPABILITIES]: { extensions: { "com.example/x": {} } },
        [META_CLIENT_INFO]: { name: "modern-test-client", version: "9.9.9" }
      }
    })
    expect(r.resultType).toBe("complete")
    expect(client.serverInfo).toEqual({ name: "modern-test", version: "2.0.0" })
    expect(transport.methods()).toEqual(["tools/call"]) // no initialize, no initialized, no ping
    expect(serverSession.info().era).toBe("modern")
    expect(client.info()).toMatchObject({ role: "client", era: "modern", protocolVersion: "2026-07-28", transport: "memory", inFlight: 0 })
    await client.close()
  })

  it("the same method surface as ClientSession: tools, resources, prompts, completion", async () => {
    const clock = new SimulatedClock()
    const { makeDemoServer } = await import("../examples/demo.ts")
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(makeDemoServer(), serverSide)
    const client = ModernClient.create(clientSide, { clock })
    expect(((await client.listTools()).tools as ReadonlyArray<{ name: string }>).map((t) => t.name)).toContain("echo")
    expect((await client.callTool("echo", { text: "hi" })).content).toEqual([{ type: "text", text: "hi" }])
    expect((await client.listResources()).resources).toHaveLength(1)
    expect((await client.listResourceTemplates()).resourceTemplates).toHaveLength(1)
    expect((await client.readResource("demo://greeting/Ada")).contents).toEqual([{ uri: "demo://greeting/Ada", mimeType: "text/plain", text: "Hello, Ada!" }])
    expect(((await client.listPrompts()).prompts as Array<{ name: string }>).map((p) => p.name)).toEqual(["greet"])
    expect((await client.getPrompt("greet", { name: "Ada" })).messages).toHaveLength(1)
    expect((await client.complete({ type: "ref/prompt", name: "greet" }, { name: "name", value: "a" })).completion).toMatchObject({ values: ["Ada", "Alan"] })
    // A missing resource is -32602 in the modern era.
    await expect(client.readResource("demo://nope")).rejects.toMatchObject({ _tag: "RpcError", code: ErrorCode.InvalidParams })
    expect("ping" in client).toBe(false)
    await client.close()
  })

  it("discover() records versions, capabilities, instructions and server info; then unadvertised methods fail locally", async () => {
    const { client, transport } = setup()
    // Before discover nothing is known: the request goes out and the server refuses it.
    await expect(client.listPrompts()).rejects.toMatchObject({ _tag: "RpcError", code: ErrorCode.MethodNotFound })
    const d = await client.discover()
    expect(d.supportedVersions).toContain("2026-07-28")
    expect(client.discovered).toMatchObject({ capabilities: { tools: { listChanged: true } }, instructions: "try whoami", serverInfo: { name: "modern-test" } })
    expect(client.instructions).toBe("try whoami")
    const sent = transport.sent.length
    await expect(client.listPrompts()).rejects.toBeInstanceOf(CapabilityNotSupported)
    expect(transport.sent.length).toBe(sent) // nothing sent
    expect(transport.requests("server/discover")[0]!.params?._meta).toMatchObject({ [META_PROTOCOL_VERSION]: "2026-07-28" })
    await client.close()
  })

  it("ids are unique among in-flight requests and responses reach the right caller", async () => {
    const { client, transport, releases } = setup()
    const calls = ["a", "b", "c"].map((tag) => client.callTool("delayed", { tag }))
    await flush()
    const ids = transport.requests("tools/call").map((r) => r.id)
    expect(new Set(ids).size).toBe(3)
    expect(client.inFlight).toBe(3)
    // Answer out of order.
    releases.get("c")!()
    releases.get("a")!()
    releases.get("b")!()
    const results = await Promise.all(calls)
    expect(results.map((r) => (r.content as ReadonlyArray<{ text: string }>)[0]!.text)).toEqual(["tag a", "tag b", "tag c"])
    expect(client.inFlight).toBe(0)
    await client.close()
  })

  it("cancellation sends notifications/cancelled; the server aborts the handler", async () => {
    const { client, transport, held } = setup()
    const ac = new AbortController()
    const call = track(client.callTool("hold", {}, { signal: ac.signal }))
    await flush()
    expect(held).toHaveLength(1)
    ac.abort("user gave up")
    await flush()
    expect(call.error).toBeInstanceOf(RequestCancelled)
    const id = transport.requests("tools/call")[0]!.id
    const cancelled = transport.sent.filter((m): m is JsonRpcNotification => "method" in m && m.method === "notifications/cancelled")
    expect(cancelled).toEqual([{ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "cancelled by caller" } }])
    expect(held[0]!.signal.aborted).toBe(true)
    await client.close()
  })

  it("a request times out on virtual time and is cancelled", async () => {
    const { client, transport, held, tick } = setup({ requestTimeoutMs: 1_000 })
    const call = track(client.callTool("hold"))
    await tick(999)
    expect(call.settled).toBe(false)
    await tick(1)
    expect(call.error).toBeInstanceOf(RequestTimeout)
    expect(transport.sent.at(-1)).toMatchObject({ method: "notifications/cancelled", params: { reason: "timeout" } })
    expect(held[0]!.signal.aborted).toBe(true)
    await client.close()
  })

  it("progress: a token is injected and advancing progress is reported", async () => {
    const { client, transport } = setup()
    const seen: Array<number> = []
    await client.callTool("steps", {}, { onProgress: (p) => seen.push(p.progress) })
    expect(seen).toEqual([1, 2, 3])
    const req = transport.requests("tools/call")[0]!
    expect(req.params?._meta?.progressToken).toBe(req.id)
    expect(versionOf(req)).toBe("2026-07-28")
    await client.close()
  })

  it("log messages only for requests that carry a log level", async () => {
    const logs: Array<JsonRpcNotification> = []
    const { client, transport } = setup({ onNotification: (n) => logs.push(n) })
    await client.callTool("log")
    await flush()
    expect(logs).toEqual([])
    await client.callTool("log", {}, { logLevel: "debug" })
    await flush()
    expect(logs.map((n) => n.params?.data)).toEqual(["hello log"])
    expect(transport.requests("tools/call")[1]!.params?._meta).toMatchObject({ [META_LOG_LEVEL]: "debug" })
    await client.close()
  })

  it("-32022: retries once, with a new id, with a mutually supported version from data.supported, which then sticks", async () => {
    const { client, transport } = setup({ protocolVersions: [FUTURE, "2026-07-28"] })
    expect(client.protocolVersion).toBe(FUTURE)
    const r = await client.callTool("whoami")
    expect((r.structuredContent as { protocolVersion: string }).protocolVersion).toBe("2026-07-28")
    const calls = transport.requests("tools/call")
    expect(calls.map(versionOf)).toEqual([FUTURE, "2026-07-28"])
    expect(calls[0]!.id).not.toBe(calls[1]!.id)
    expect(client.protocolVersion).toBe("2026-07-28")
    await client.callTool("whoami")
    expect(transport.requests("tools/call").map(versionOf)).toEqual([FUTURE, "2026-07-28", "2026-07-28"])
    await client.close()
  })

  it("-32022 with no mutual version: UnsupportedProtocolVersion, without a retry loop", async () => {
    const { client, transport } = setup({ protocolVersions: [FUTURE] })
    const error = await client.callTool("whoami").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnsupportedProtocolVersion)
    expect(error).toMatchObject({ requested: FUTURE, received: FUTURE, supported: ["2026-07-28"] })
    expect(transport.requests("tools/call")).toHaveLength(1)
    await client.close()
  })

  it("-32021: a missing client capability surfaces as MissingClientCapability", async () => {
    const { client } = setup()
    const error = await client.callTool("ask").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MissingClientCapability)
    expect(error).toMatchObject({ _tag: "MissingClientCapability", method: "tools/call", requiredCapabilities: ["elicitation"] })
    await client.close()
  })

  it("the transport ends: in-flight requests fail fast with ConnectionLost, later ones with SessionClosed", async () => {
    const clock = new SimulatedClock()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serverSide.start({ onFrame: () => {}, onOversized: () => {}, onClose: () => {} }) // never answers
    const client = ModernClient.create(clientSide, { clock })
    const call = track(client.callTool("anything"))
    await flush()
    await serverSide.close()
    await flush()
    expect(call.error).toBeInstanceOf(ConnectionLost)
    await expect(client.listTools()).rejects.toBeInstanceOf(SessionClosed)
    expect(await client.ended).toMatchObject({ expected: true, reason: "peer closed" })
  })

  it("close() lets in-flight requests finish for drainMs (virtual time), then cancels the rest", async () => {
    const { client, transport, releases, tick } = setup()
    const a = track(client.callTool("delayed", { tag: "a" }))
    const b = track(client.callTool("delayed", { tag: "b" }))
    await flush()
    const closing = track(client.close({ drainMs: 500 }))
    await expect(client.listTools()).rejects.toBeInstanceOf(SessionClosed)
    releases.get("a")!()
    await tick(499)
    expect(a.value?.content).toEqual([{ type: "text", text: "tag a" }])
    expect(b.settled).toBe(false)
    await tick(1)
    expect(b.error).toBeInstanceOf(RequestCancelled)
    expect(transport.sent.at(-1)).toMatchObject({ method: "notifications/cancelled" })
    await flush()
    expect(closing.settled).toBe(true)
  })
})

/** A scripted modern server on a memory pair: `answer` decides each response. */
const scripted = (answer: (req: JsonRpcRequest, peer: MemoryTransport) => void) => {
  const [clientSide, serverSide] = makeMemoryTransportPair()
  serverSide.start({
    onFrame: (text) => {
      const d = decodeText(text)
      if (d._tag === "Message" && "method" in d.message && "id" in d.message) answer(d.message, serverSide)
    },
    onOversized: () => {},
    onClose: () => {}
  })
  return ModernClient.create(clientSide, { clock: new SimulatedClock() })
}

describe("ModernClient: resultType", () => {
  it("absent means complete; 'complete' too; 'input_required' → InputRequired; an unknown value → InvalidResult", async () => {
    const client = scripted((req, peer) => {
      const name = req.params?.name as string
      const value: Record<string, unknown> = { content: [] }
      if (name === "complete") value.resultType = "complete"
      if (name === "input") Object.assign(value, { resultType: "input_required", inputRequests: { q: { method: "elicitation/create" } }, requestState: "s1" })
      if (name === "bogus") value.resultType = "partial"
      peer.send(makeResult(req.id, value))
    })
    await expect(client.callTool("absent")).resolves.toEqual({ content: [] })
    await expect(client.callTool("complete")).resolves.toEqual({ content: [], resultType: "complete" })
    const input = await client.callTool("input").catch((e: unknown) => e)
    expect(input).toBeInstanceOf(InputRequired)
    expect(input).toMatchObject({ inputRequests: { q: { method: "elicitation/create" } }, requestState: "s1" })
    const bogus = await client.callTool("bogus").catch((e: unknown) => e)
    expect(bogus).toBeInstanceOf(InvalidResult)
    expect(bogus).toMatchObject({ resultType: "partial" })
    await client.close()
  })

  it("a server error that is not modern-specific stays an RpcError; serverInfo is read from any result's _meta", async () => {
    const client = scripted((req, peer) => {
      if (req.params?.name === "fail") peer.send(errorResponse(req.id, { code: -32603, message: "boom" }))
      else peer.send(makeResult(req.id, { content: [], _meta: { [META_SERVER_INFO]: { name: "scripted", version: "1" } } }))
    })
    await expect(client.callTool("fail")).rejects.toBeInstanceOf(RpcError)
    await client.callTool("ok")
    expect(client.serverInfo).toEqual({ name: "scripted", version: "1" })
    await client.close()
  })
})

describe("ModernClient: progress from a scripted server", () => {
  it("only advancing progress reaches the callback; progress for unknown tokens is ignored", async () => {
    const client = scripted((req, peer) => {
      const token = req.params?._meta?.progressToken
      for (const [t, p] of [[token, 1], [token, 1], ["someone-else", 5], [token, 2]] as const) {
        peer.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: t, progress: p, total: 2 } })
      }
      peer.send(makeResult(req.id, { content: [] }))
    })
    const seen: Array<number> = []
    await client.callTool("p", {}, { onProgress: (p) => seen.push(p.progress) })
    expect(seen).toEqual([1, 2])
    await client.close()
  })
})

describe("ModernClient over stdio (node src/cli/main.ts serve --stdio)", () => {
  it("discover, then tools/call in the modern era; cancellation over stdio; close ends the child", async () => {
    const transport = makeStdioClientTransport({ command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: CWD, stderr: "ignore" })
    await transport.spawned
    const tapped = tap(transport)
    const client = await ModernClient.connect(tapped, { discover: true, clientInfo: { name: "stdio-modern", version: "1.0.0" } })
    expect(client.serverInfo).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    expect(client.serverCapabilities).toMatchObject({ tools: { listChanged: true } })
    const r = await client.callTool("echo", { text: "over stdio" })
    expect(r.content).toEqual([{ type: "text", text: "over stdio" }])
    // Only the modern path adds these: the server saw the _meta.
    expect(r.resultType).toBe("complete")
    expect((r._meta as Record<string, unknown>)[META_SERVER_INFO]).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    const ac = new AbortController()
    const slow = client.callTool("slow", { ms: 60_000 }, { signal: ac.signal })
    // Once the call is written to the pipe, the server reads it before the cancellation (stdio keeps order).
    await waitForTurns(() => tapped.requests("tools/call").length === 2, "the slow call sent")
    ac.abort("enough")
    await expect(slow).rejects.toBeInstanceOf(RequestCancelled)
    expect(tapped.methods()).toEqual(["server/discover", "tools/call", "tools/call", "notifications/cancelled"])
    // The server is still fine after the cancellation.
    expect((await client.callTool("echo", { text: "again" })).content).toEqual([{ type: "text", text: "again" }])
    await client.close()
    expect((await transport.exited).exitCode).toBe(0)
  }, 20_000)
})
