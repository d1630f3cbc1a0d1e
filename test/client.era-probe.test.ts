/**
 * Dual-era connect (`connectAuto`): the `eraProbe` chart with a real wire.
 *
 * Memory tests run our dual-era server, optionally behind a filter that turns
 * it into a legacy-only server (modern requests → -32601, like the official
 * SDK 1.x), a modern-only one (`initialize` refused), or one that never answers
 * `server/discover`; all timers run on xstate's `SimulatedClock`.
 *
 * Stdio tests spawn real children: our server (`node src/cli/main.ts serve
 * --stdio`) and a legacy-only server built on the official SDK
 * (`test/fixtures/sdk-legacy-server.mjs`), which logs every method it receives
 * on stderr — so the probe and the fallback are seen to reach the same process.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { Client } from "../src/client/Client.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { type AutoConnectOptions, connectAuto, connectAutoStdio } from "../src/client/connectAuto.ts"
import { MemoryEraCache, stdioServerKey } from "../src/client/EraCache.ts"
import { EraProber } from "../src/client/EraProber.ts"
import { CapabilityNotSupported, ConnectionLost, RequestTimeout, RpcError } from "../src/protocol/requestErrors.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { MissingClientCapability } from "../src/client/modernErrors.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { errorResponse, type JsonRpcMessage, type JsonRpcRequest } from "../src/protocol/jsonrpc.ts"
import { META_SERVER_INFO } from "../src/protocol/modern.ts"
import type { ModernVersion } from "../src/protocol/versions.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { makeStdioClientTransport } from "../src/transports/stdioClient.ts"
import { type Filter, filtered, flush, isModernRequest, tap, track, versionOf } from "./support/wireTap.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const SDK_FIXTURE = fileURLToPath(new URL("./fixtures/sdk-legacy-server.mjs", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))
const FUTURE = "2099-01-01" as ModernVersion
const KEY = "memory:test-server"
const PROBE_TIMEOUT_MS = 3_000

const makeServer = () =>
  new McpServer({ name: "era-test", version: "1.0.0" })
    .tool({ name: "whoami", description: "The era and version the handler saw" }, (_args, ctx) => ({
      content: [{ type: "text", text: `${ctx.era} ${ctx.protocolVersion}` }],
      structuredContent: { era: ctx.era, protocolVersion: ctx.protocolVersion, clientInfo: ctx.clientInfo }
    }))
    .tool({ name: "ask", description: "Needs elicitation" }, async (_args, ctx) => {
      await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } })
      return { content: [] }
    })

/** Modern requests get -32601, as from a server that predates 2026-07-28 (the SDK 1.x does this). */
const legacyOnly: Filter = (m, reply) => {
  if (!isModernRequest(m)) return false
  reply(errorResponse(m.id, { code: ErrorCode.MethodNotFound, message: "Method not found" }))
  return true
}

/** `initialize` is refused, naming the supported versions (2026-07-28/basic/versioning.mdx:L154-L157). */
const modernOnly: Filter = (m, reply) => {
  if (!("method" in m) || m.method !== "initialize" || !("id" in m)) return false
  reply(errorResponse(m.id, { code: ErrorCode.InvalidParams, message: "Unsupported protocol version", data: { supported: ["2026-07-28"] } }))
  return true
}

/** A server that never answers `server/discover` (it keeps the request so the test can answer late). */
const silentDiscover = (held: Array<{ readonly request: JsonRpcRequest; readonly reply: (m: JsonRpcMessage) => void }>): Filter => (m, reply) => {
  if (!("method" in m) || m.method !== "server/discover" || !("id" in m)) return false
  held.push({ request: m, reply })
  return true
}

const whoami = (r: { readonly structuredContent?: unknown }) => r.structuredContent as { era: string; protocolVersion: string }

/** One connection to "the server under KEY": a fresh memory pair each time, the same cache across calls. */
const world = () => {
  const clock = new SimulatedClock()
  // Clients stamp and age verdicts on their clock; the test's own reads and writes use the same one.
  const cache = new MemoryEraCache({ clock })
  const tick = async (ms: number) => {
    clock.increment(ms)
    await flush()
  }
  const open = (filter?: Filter, options: { readonly modern?: boolean } = {}) => {
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const serverSession = serveTransport(makeServer(), filter ? filtered(serverSide, filter) : serverSide, options)
    const transport = tap(clientSide)
    const connect = (o: AutoConnectOptions = {}) =>
      connectAuto(transport, { clock, key: KEY, cache, probeTimeoutMs: PROBE_TIMEOUT_MS, clientInfo: { name: "era-test-client", version: "1.0.0" }, ...o })
    return { transport, serverSession, connect }
  }
  return { cache, clock, tick, open }
}

describe("connectAuto over memory", () => {
  it("a dual-era server: server/discover → modern; tools/call carries _meta; the verdict is cached", async () => {
    const w = world()
    const { transport, serverSession, connect } = w.open()
    const client = await connect()
    expect(client.era).toBe("modern")
    expect(client.client).toBeInstanceOf(ModernClient)
    expect(client.verdict).toMatchObject({ era: "modern", protocolVersion: "2026-07-28", basis: { _tag: "DiscoverResult" }, fromCache: false })
    expect(client.probes).toBe(1)
    // Known from the probe's DiscoverResult, without a second discover.
    expect(client.serverCapabilities).toMatchObject({ tools: { listChanged: true } })
    expect(client.serverInfo).toEqual({ name: "era-test", version: "1.0.0" })
    const r = await client.callTool("whoami")
    expect(r.structuredContent).toEqual({ era: "modern", protocolVersion: "2026-07-28", clientInfo: { name: "era-test-client", version: "1.0.0" } })
    expect(transport.methods()).toEqual(["server/discover", "tools/call"])
    expect(versionOf(transport.requests("server/discover")[0]!)).toBe("2026-07-28")
    expect(serverSession.info().era).toBe("modern")
    expect(w.cache.get(KEY)).toEqual({ era: "modern", protocolVersion: "2026-07-28" })
    await client.close()
  })

  it("a legacy-only server (discover → -32601): falls back to initialize on the same transport, and calls work", async () => {
    const w = world()
    const { transport, connect } = w.open(legacyOnly, { modern: false })
    const client = await connect()
    expect(client.era).toBe("legacy")
    expect(client.client).toBeInstanceOf(ClientSession)
    expect(client.verdict.basis).toEqual({ _tag: "OtherError", code: ErrorCode.MethodNotFound, httpStatus: undefined })
    expect(client.protocolVersion).toBe("2025-11-25")
    expect(whoami(await client.callTool("whoami"))).toMatchObject({ era: "legacy", protocolVersion: "2025-11-25" })
    expect(transport.methods()).toEqual(["server/discover", "initialize", "notifications/initialized", "tools/call"])
    expect(transport.starts()).toBe(1) // one transport, started once, shared by the probe and the session
    expect(w.cache.get(KEY)).toEqual({ era: "legacy" })
    await client.close()
  })

  it("era option: a forced era skips the probe and the cache, and one Client serves both eras", async () => {
    const w = world()
    const legacy = w.open(legacyOnly, { modern: false })
    const l = await legacy.connect({ era: "legacy" })
    expect(l).toBeInstanceOf(Client)
    expect(l.era).toBe("legacy")
    expect(l.probes).toBe(0)
    expect(legacy.transport.methods()).toEqual(["initialize", "notifications/initialized"])
    expect(whoami(await l.callTool("whoami")).era).toBe("legacy")
    await l.close()
    const modern = w.open()
    const m = await modern.connect({ era: "modern" })
    expect(m).toBeInstanceOf(Client)
    expect(m.era).toBe("modern")
    expect(m.probes).toBe(0)
    // Not on probation: an unmarked/suspect answer does not re-probe.
    await expect(m.request("no/such/method")).rejects.toBeInstanceOf(RpcError)
    expect(modern.transport.requests("server/discover")).toHaveLength(0)
    expect(whoami(await m.callTool("whoami")).era).toBe("modern")
    expect(w.cache.get(KEY)).toBeUndefined() // nothing cached either way
    await m.close()
  })

  it("a cached verdict skips the probe (modern and legacy)", async () => {
    const modern = world()
    const first = await modern.open().connect()
    await first.close()
    const { transport, connect } = modern.open()
    const again = await connect()
    expect(again.era).toBe("modern")
    expect(again.probes).toBe(0)
    expect(again.verdict).toMatchObject({ basis: { _tag: "Cached" }, fromCache: true })
    expect(whoami(await again.callTool("whoami")).era).toBe("modern")
    expect(transport.requests("server/discover")).toHaveLength(0)
    expect(transport.methods()).toEqual(["tools/call"])
    await again.close()

    const legacy = world()
    await (await legacy.open(legacyOnly, { modern: false }).connect()).close()
    const second = legacy.open(legacyOnly, { modern: false })
    const session = await second.connect()
    expect(session.era).toBe("legacy")
    expect(session.probes).toBe(0)
    expect(second.transport.methods()).toEqual(["initialize", "notifications/initialized"])
    await session.close()
  })

  it("a cached modern verdict that fails (the server now answers -32601 to modern requests) → re-probe → legacy; the refused call is re-sent", async () => {
    const w = world()
    w.cache.set(KEY, { era: "modern", protocolVersion: "2026-07-28" })
    const { transport, connect } = w.open(legacyOnly, { modern: false })
    const client = await connect()
    expect(client.era).toBe("modern") // trusted until the server says otherwise
    expect(transport.methods()).toEqual([])
    const r = await client.callTool("whoami")
    expect(whoami(r)).toMatchObject({ era: "legacy" })
    expect(client.era).toBe("legacy")
    expect(client.verdict).toMatchObject({ era: "legacy", fromCache: false, basis: { _tag: "OtherError", code: ErrorCode.MethodNotFound } })
    expect(transport.methods()).toEqual(["tools/call", "server/discover", "initialize", "notifications/initialized", "tools/call"])
    expect(transport.requests("tools/call").map((q) => typeof q.id)).toEqual(["string", "number"])
    expect(w.cache.get(KEY)).toEqual({ era: "legacy" })
    expect(transport.starts()).toBe(1)
    await client.close()
  })

  it("a cached modern verdict and a server that ignores modern requests: the timeout triggers a re-probe, which times out → legacy", async () => {
    const w = world()
    w.cache.set(KEY, { era: "modern" })
    const swallowModern: Filter = (m) => isModernRequest(m) || ("method" in m && m.method === "notifications/cancelled")
    const { transport, connect } = w.open(swallowModern, { modern: false })
    const client = await connect({ requestTimeoutMs: 1_000 })
    const call = track(client.callTool("whoami"))
    await w.tick(1_000)
    expect(transport.methods()).toEqual(["tools/call", "notifications/cancelled", "server/discover"])
    expect(call.settled).toBe(false) // waiting for the re-probe
    await w.tick(PROBE_TIMEOUT_MS)
    // It may have run: not re-sent, the timeout is the answer.
    expect(call.error).toBeInstanceOf(RequestTimeout)
    expect(client.era).toBe("legacy")
    expect(client.verdict.basis).toMatchObject({ _tag: "Timeout" })
    expect(whoami(await client.callTool("whoami")).era).toBe("legacy")
    expect(transport.methods()).toEqual(["tools/call", "notifications/cancelled", "server/discover", "initialize", "notifications/initialized", "tools/call"])
    await client.close()
  })

  it("a cached modern verdict confirmed by the re-probe: the server's own -32601 is the answer, and no further probes", async () => {
    const w = world()
    w.cache.set(KEY, { era: "modern" })
    const { transport, connect } = w.open()
    const client = await connect()
    const error = await client.listPrompts().catch((e: unknown) => e) // this server has no prompts
    expect(error).toBeInstanceOf(RpcError)
    expect(error).toMatchObject({ code: ErrorCode.MethodNotFound })
    expect(client.era).toBe("modern")
    expect(client.probes).toBe(1)
    // The re-probe's DiscoverResult was adopted: unadvertised methods now fail locally, without a second probe.
    await expect(client.listResources()).rejects.toBeInstanceOf(CapabilityNotSupported)
    expect(whoami(await client.callTool("whoami")).era).toBe("modern")
    expect(client.probes).toBe(1)
    expect(transport.methods()).toEqual(["prompts/list", "server/discover", "tools/call"])
    expect(w.cache.get(KEY)).toEqual({ era: "modern", protocolVersion: "2026-07-28" })
    await client.close()
  })

  it("a cached modern verdict confirmed by a marked result: nothing is re-probed", async () => {
    const w = world()
    w.cache.set(KEY, { era: "modern" })
    const { transport, connect } = w.open()
    const client = await connect()
    expect((await client.callTool("whoami")).resultType).toBe("complete")
    await expect(client.listPrompts()).rejects.toMatchObject({ code: ErrorCode.MethodNotFound })
    expect(client.probes).toBe(0)
    expect(transport.methods()).toEqual(["tools/call", "prompts/list"])
    await client.close()
  })

  it("a cached legacy verdict that fails (initialize refused by a modern-only server) → re-probe → modern", async () => {
    const w = world()
    w.cache.set(KEY, { era: "legacy" })
    const { transport, connect } = w.open(modernOnly)
    const diagnostics: Array<string> = []
    const client = await connect({ onDiagnostic: (t) => diagnostics.push(t) })
    expect(client.era).toBe("modern")
    expect(client.verdict).toMatchObject({ basis: { _tag: "DiscoverResult" }, fromCache: false })
    expect(whoami(await client.callTool("whoami")).era).toBe("modern")
    expect(transport.methods()).toEqual(["initialize", "server/discover", "tools/call"])
    expect(w.cache.get(KEY)).toEqual({ era: "modern", protocolVersion: "2026-07-28" })
    expect(diagnostics.join("\n")).toMatch(/cached legacy verdict failed/)
    expect(transport.starts()).toBe(1)
    await client.close()
  })

  it("probe timeout on virtual time: a server that never answers server/discover → legacy after probeTimeout; a late answer is ignored", async () => {
    const w = world()
    const held: Array<{ readonly request: JsonRpcRequest; readonly reply: (m: JsonRpcMessage) => void }> = []
    const { transport, connect } = w.open(silentDiscover(held))
    const connecting = track(connect())
    await flush()
    expect(held).toHaveLength(1)
    await w.tick(PROBE_TIMEOUT_MS - 1)
    expect(connecting.settled).toBe(false)
    expect(transport.methods()).toEqual(["server/discover"])
    await w.tick(1)
    expect(connecting.error).toBeUndefined()
    const client = connecting.value!
    expect(client.era).toBe("legacy")
    expect(client.verdict.basis).toEqual({ _tag: "Timeout", timeoutMs: PROBE_TIMEOUT_MS })
    expect(transport.methods()).toEqual(["server/discover", "initialize", "notifications/initialized"])
    // The discover answer arrives after the fallback: dropped, the session carries on.
    held[0]!.reply({ jsonrpc: "2.0", id: held[0]!.request.id, result: { supportedVersions: ["2026-07-28"], capabilities: {} } })
    await flush()
    expect(client.era).toBe("legacy")
    expect(whoami(await client.callTool("whoami")).era).toBe("legacy")
    expect(w.cache.get(KEY)).toEqual({ era: "legacy" })
    await client.close()
  })

  it("-32022 on the probe: modern with a mutually supported version from data.supported; discover is retried with it", async () => {
    const w = world()
    const { transport, connect } = w.open()
    const client = await connect({ modernVersions: [FUTURE, "2026-07-28"] })
    expect(client.era).toBe("modern")
    expect(client.verdict).toMatchObject({ protocolVersion: "2026-07-28", retry: true, basis: { _tag: "ModernError", code: ErrorCode.UnsupportedProtocolVersion } })
    expect(transport.requests("server/discover").map(versionOf)).toEqual([FUTURE, "2026-07-28"])
    expect(client.serverCapabilities).toMatchObject({ tools: {} })
    expect(whoami(await client.callTool("whoami")).protocolVersion).toBe("2026-07-28")
    expect(w.cache.get(KEY)).toEqual({ era: "modern", protocolVersion: "2026-07-28" })
    await client.close()
  })

  it("-32022 naming no version we speak: legacy (initialize), not a retry loop", async () => {
    const w = world()
    const { transport, connect } = w.open()
    const client = await connect({ modernVersions: [FUTURE] })
    expect(client.era).toBe("legacy")
    expect(client.verdict.basis).toMatchObject({ _tag: "NoMutualModernVersion" })
    expect(transport.methods()).toEqual(["server/discover", "initialize", "notifications/initialized"])
    await client.close()
  })

  it("-32021 surfaces as a typed MissingClientCapability through the dual-era client", async () => {
    const w = world()
    w.cache.set(KEY, { era: "modern" })
    const { connect } = w.open()
    const client = await connect()
    const error = await client.callTool("ask").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MissingClientCapability)
    expect(error).toMatchObject({ requiredCapabilities: ["elicitation"] })
    expect(client.probes).toBe(0) // a modern error confirms the modern verdict
    await client.close()
  })

  it("the transport ends during the probe: ConnectionLost, and the transport is closed", async () => {
    const w = world()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serverSide.start({ onFrame: () => void serverSide.close(), onOversized: () => {}, onClose: () => {} })
    const error = await connectAuto(clientSide, { clock: w.clock, key: KEY, cache: w.cache }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionLost)
    expect(clientSide.closed).toBe(true)
    expect(w.cache.get(KEY)).toBeUndefined()
  })
})

describe("EraProber (any wire)", () => {
  it("the probe's send is aborted when the chart times out, and the verdict says why", async () => {
    const clock = new SimulatedClock()
    const signals: Array<AbortSignal> = []
    const prober = new EraProber({
      sendDiscover: (_params, signal) => {
        signals.push(signal)
        return new Promise(() => {}) // never answers
      },
      probeTimeoutMs: 500,
      clock
    })
    const verdict = track(prober.verdict())
    await flush()
    expect(signals).toHaveLength(1)
    expect(signals[0]!.aborted).toBe(false)
    clock.increment(500)
    await flush()
    expect(verdict.value).toMatchObject({ era: "legacy", basis: { _tag: "Timeout", timeoutMs: 500 } })
    expect(signals[0]!.aborted).toBe(true)
    prober.stop()
  })

  it("an HTTP-style reply (status + JSON-RPC body) feeds the chart: a recognised modern error with HTTP 400 means modern", async () => {
    const prober = new EraProber({
      sendDiscover: async () => ({ _tag: "Error", httpStatus: 400, code: ErrorCode.MissingRequiredClientCapability, message: "needs x" }),
      clock: new SimulatedClock()
    })
    expect(await prober.verdict()).toMatchObject({ era: "modern", retry: true, basis: { _tag: "ModernError", code: -32021, httpStatus: 400 } })
    prober.stop()
  })
})

// ------------------------------------------------------------------ stdio

const stdio = (args: ReadonlyArray<string>) => {
  const lines: Array<string> = []
  const transport = makeStdioClientTransport({ command: process.execPath, args, cwd: CWD, stderr: (line) => lines.push(line) })
  return { transport, tapped: tap(transport), lines, key: stdioServerKey(process.execPath, args) }
}
const methodLines = (lines: ReadonlyArray<string>) => lines.filter((l) => l.startsWith("method ")).map((l) => l.slice(7))

describe("connectAuto over stdio", () => {
  it("our server (serve --stdio): probe → modern; tools/call is served as modern; close ends the child", async () => {
    const cache = new MemoryEraCache()
    const args = [BIN, "serve", "--stdio"]
    const client = await connectAutoStdio({ command: process.execPath, args, cwd: CWD, stderr: "ignore", cache })
    expect(client.era).toBe("modern")
    const r = await client.callTool("echo", { text: "dual-era" })
    expect(r.content).toEqual([{ type: "text", text: "dual-era" }])
    expect(r.resultType).toBe("complete")
    expect((r._meta as Record<string, unknown>)[META_SERVER_INFO]).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    expect(cache.get(stdioServerKey(process.execPath, args))).toEqual({ era: "modern", protocolVersion: "2026-07-28" })
    await client.close()
  }, 20_000)

  it("a legacy-only SDK server: discover → error → initialize on the same child; then a cached verdict skips the probe", async () => {
    const cache = new MemoryEraCache()
    const first = stdio([SDK_FIXTURE])
    await first.transport.spawned
    const client = await connectAuto(first.tapped, { key: first.key, cache, clientInfo: { name: "era-stdio", version: "1.0.0" } })
    expect(client.era).toBe("legacy")
    expect(client.verdict.basis).toMatchObject({ _tag: "OtherError", code: ErrorCode.MethodNotFound })
    expect(client.serverInfo).toEqual({ name: "sdk-legacy-fixture", version: "1.0.0" })
    expect((await client.callTool("whoami")).content).toEqual([{ type: "text", text: "initialized by era-stdio" }])
    expect((await client.callTool("echo", { text: "legacy" })).content).toEqual([{ type: "text", text: "legacy" }])
    await client.close()
    await first.transport.exited
    // One child saw the probe, then the handshake.
    expect(methodLines(first.lines)).toEqual(["server/discover", "initialize", "notifications/initialized", "tools/call", "tools/call"])
    expect(first.tapped.starts()).toBe(1)
    expect(cache.get(first.key)).toEqual({ era: "legacy" })

    const second = stdio([SDK_FIXTURE])
    await second.transport.spawned
    const again = await connectAuto(second.tapped, { key: second.key, cache, clientInfo: { name: "era-stdio", version: "1.0.0" } })
    expect(again.era).toBe("legacy")
    expect(again.probes).toBe(0)
    expect((await again.callTool("echo", { text: "cached" })).content).toEqual([{ type: "text", text: "cached" }])
    await again.close()
    await second.transport.exited
    expect(methodLines(second.lines)).toEqual(["initialize", "notifications/initialized", "tools/call"])
  }, 30_000)

  it("a stale cached modern verdict for the SDK server (it answers without initialize, unmarked) → re-probe → legacy session", async () => {
    const cache = new MemoryEraCache()
    const s = stdio([SDK_FIXTURE])
    cache.set(s.key, { era: "modern" })
    await s.transport.spawned
    const client = await connectAuto(s.tapped, { key: s.key, cache, clientInfo: { name: "era-stdio", version: "1.0.0" } })
    expect(client.era).toBe("modern")
    const tools = await client.listTools() // served (the SDK does not insist on initialize) but without modern markers
    expect((tools.tools as ReadonlyArray<{ name: string }>).map((t) => t.name).sort()).toEqual(["echo", "whoami"])
    expect(client.era).toBe("legacy")
    expect(client.probes).toBe(1)
    expect((await client.callTool("whoami")).content).toEqual([{ type: "text", text: "initialized by era-stdio" }])
    expect(cache.get(s.key)).toEqual({ era: "legacy" })
    await client.close()
    await s.transport.exited
    expect(methodLines(s.lines)).toEqual(["tools/list", "server/discover", "initialize", "notifications/initialized", "tools/call"])
  }, 30_000)
})
