/**
 * One client, the era by option (issue 13, "one client"): every `connect*` is
 * `openClient(wire, { era })` (src/client/clientConnection.ts), so each transport
 * speaks each era by the `era` option, not by which function is called.
 *
 * Real peers: the official SDK's servers for the legacy era (stdio:
 * `test/fixtures/sdk-legacy-server.mjs`, which logs every method it receives;
 * HTTP: `test/fixtures/sdk-http-server.ts`, which counts them), our server for
 * the modern era (stdio: `mcp-actors serve --stdio`; WebSocket and HTTP: our
 * endpoints; no SDK WebSocket server exists, so ours serves the legacy era there).
 */
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { Client } from "../src/client/Client.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { AutoClient, connectAuto, connectAutoStdio } from "../src/client/connectAuto.ts"
import { AutoHttpClient, connectAutoHttp } from "../src/client/connectAutoHttp.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { connectStdio } from "../src/client/connectStdio.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { DualEraClient } from "../src/client/DualEraClient.ts"
import { MemoryEraCache } from "../src/client/EraCache.ts"
import { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { type SdkHttpServer, startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { tap } from "./support/wireTap.ts"
import { testRuntime } from "./support/testRuntime.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const SDK_STDIO = fileURLToPath(new URL("./fixtures/sdk-legacy-server.mjs", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))
const MODERN = "2026-07-28"

const ours = () =>
  new McpServer({ name: "era-option", version: "1.0.0" })
    .tool({ name: "whoami", description: "The era the handler saw" }, (_args, ctx) => ({
      content: [{ type: "text", text: ctx.era }],
      structuredContent: { era: ctx.era, protocolVersion: ctx.protocolVersion }
    }))

const { cleanups, use } = testRuntime()
const fresh = () => use(makeMcpRuntime())

/** The era, the backend and whether a probe was sent: what the option decides. */
const shape = (client: Client) => ({ era: client.era, probes: client.probes, backend: client.client.constructor.name })

/** The official SDK's stdio server; `methods` is what it received, in order (from its stderr log). */
const sdkStdio = () => {
  const methods: Array<string> = []
  const waiting: Array<{ readonly n: number; readonly resolve: () => void }> = []
  const stderr = (line: string) => {
    const m = /^method (\S+)/.exec(line)
    if (!m) return
    methods.push(m[1]!)
    for (const w of waiting.filter((w) => methods.length >= w.n)) w.resolve()
  }
  /** The first `n` methods the child logged (its stderr is a pipe of its own: it may trail the answers). */
  const first = (n: number) =>
    methods.length >= n ? Promise.resolve(methods.slice(0, n)) : new Promise<Array<string>>((resolve) => waiting.push({ n, resolve: () => resolve(methods.slice(0, n)) }))
  return { options: { command: process.execPath, args: [SDK_STDIO], cwd: CWD, stderr }, methods, first }
}
const ourStdio = { command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: CWD, stderr: "ignore" as const }

describe("stdio: the era by option", () => {
  it("legacy (connectStdio's default and era: \"legacy\") against the official SDK server: initialize, no probe", async () => {
    const rt = fresh()
    for (const era of [undefined, "legacy"] as const) {
      const sdk = sdkStdio()
      const client = await connectStdio({ ...sdk.options, runtime: rt, ...(era !== undefined ? { era } : {}) })
      expect(shape(client)).toEqual({ era: "legacy", probes: 0, backend: "ClientSession" })
      expect(client.verdict.fromCache).toBe(false)
      expect((await client.callTool("echo", { text: "hi" })).content).toEqual([{ type: "text", text: "hi" }])
      expect(await sdk.first(3)).toEqual(["initialize", "notifications/initialized", "tools/call"])
      await client.close()
    }
  }, 30_000)

  it("modern (era: \"modern\") against our server: no initialize, no probe, modern requests", async () => {
    const rt = fresh()
    const client = await connectStdio({ ...ourStdio, runtime: rt, era: "modern" })
    expect(shape(client)).toEqual({ era: "modern", probes: 0, backend: "ModernClient" })
    expect(client.client).toBeInstanceOf(ModernClient)
    const { tools } = await client.listTools()
    expect(Array.isArray(tools)).toBe(true)
    expect(client.protocolVersion).toBe(MODERN)
    await client.close()
  }, 30_000)

  it("auto (era: \"auto\", connectAutoStdio's default): the SDK server is probed → legacy on the same child; ours → modern", async () => {
    const rt = fresh()
    const sdk = sdkStdio()
    const legacy = await connectStdio({ ...sdk.options, runtime: rt, era: "auto", cache: new MemoryEraCache() })
    expect(shape(legacy)).toEqual({ era: "legacy", probes: 1, backend: "ClientSession" })
    expect((await legacy.callTool("echo", { text: "same child" })).content).toEqual([{ type: "text", text: "same child" }])
    expect(await sdk.first(4)).toEqual(["server/discover", "initialize", "notifications/initialized", "tools/call"])
    await legacy.close()
    const modern = await connectAutoStdio({ ...ourStdio, runtime: rt, cache: new MemoryEraCache() })
    expect(shape(modern)).toEqual({ era: "modern", probes: 1, backend: "ModernClient" })
    await modern.close()
  }, 30_000)
})

describe("WebSocket: the era by option (our endpoint, both eras)", () => {
  it("legacy by default, modern and auto by option; the server sees the era the option chose", async () => {
    const rt = fresh()
    const ws = await makeWsServer(ours(), { runtime: rt })
    cleanups.push(() => ws.close())
    const cases = [
      [undefined, { era: "legacy", probes: 0, backend: "ClientSession" }],
      ["legacy", { era: "legacy", probes: 0, backend: "ClientSession" }],
      ["modern", { era: "modern", probes: 0, backend: "ModernClient" }],
      ["auto", { era: "modern", probes: 1, backend: "ModernClient" }]
    ] as const
    for (const [era, expected] of cases) {
      const client = await connectWs(ws.url, { runtime: rt, ...(era !== undefined ? { era } : {}) })
      expect(shape(client), `era ${era}`).toEqual(expected)
      expect((await client.callTool("whoami")).structuredContent, `era ${era}`).toMatchObject({ era: expected.era })
      await client.close()
    }
  }, 30_000)
})

describe("Streamable HTTP: the era by option", () => {
  let sdk: SdkHttpServer | undefined
  afterEach(async () => {
    await sdk?.close()
    sdk = undefined
  })

  it("legacy (connectHttp's default and era: \"legacy\") against the official SDK server: initialize, no probe", async () => {
    const rt = fresh()
    sdk = await startSdkHttpServer()
    for (const era of [undefined, "legacy"] as const) {
      const before = sdk.stats.methods.length
      const client = await connectHttp(sdk.url, { runtime: rt, ...(era !== undefined ? { era } : {}) })
      expect(shape(client)).toEqual({ era: "legacy", probes: 0, backend: "HttpClientSession" })
      expect(client.client).toBeInstanceOf(HttpClientSession)
      expect((await client.callTool("echo", { text: "hi" })).content).toEqual([{ type: "text", text: "hi" }])
      expect(sdk.stats.methods.slice(before, before + 3)).toEqual(["initialize", "notifications/initialized", "tools/call"])
      await client.close()
    }
  }, 30_000)

  it("auto (era: \"auto\", connectAutoHttp's default) against the official SDK server: a probe, then the legacy session", async () => {
    const rt = fresh()
    sdk = await startSdkHttpServer()
    const before = sdk.stats.methods.length
    const client = await connectHttp(sdk.url, { runtime: rt, era: "auto", cache: new MemoryEraCache() })
    expect(shape(client)).toEqual({ era: "legacy", probes: 1, backend: "HttpClientSession" })
    expect((await client.callTool("echo", { text: "hi" })).content).toEqual([{ type: "text", text: "hi" }])
    expect(sdk.stats.methods.slice(before, before + 4)).toEqual(["server/discover", "initialize", "notifications/initialized", "tools/call"])
    await client.close()
  }, 30_000)

  it("modern and auto against our endpoint; legacy there too by option", async () => {
    const rt = fresh()
    const http = await makeHttpServer(ours(), { runtime: rt })
    cleanups.push(() => http.close())
    const cases = [
      ["modern", { era: "modern", probes: 0, backend: "ModernClient" }],
      ["auto", { era: "modern", probes: 1, backend: "ModernClient" }],
      ["legacy", { era: "legacy", probes: 0, backend: "HttpClientSession" }]
    ] as const
    for (const [era, expected] of cases) {
      const client = await connectHttp(http.url, { runtime: rt, era, cache: new MemoryEraCache() })
      expect(shape(client), `era ${era}`).toEqual(expected)
      expect((await client.callTool("whoami")).structuredContent, `era ${era}`).toMatchObject({ era: expected.era })
      await client.close()
    }
    const auto = await connectAutoHttp(http.url, { runtime: rt, era: "legacy" })
    expect(shape(auto)).toEqual({ era: "legacy", probes: 0, backend: "HttpClientSession" })
    await auto.close()
  }, 30_000)
})

describe("the dual-era entry points and their old names", () => {
  it("connectAuto (memory) defaults to auto; era: \"legacy\" there is the legacy session straight on the transport", async () => {
    const rt = fresh()
    const open = () => {
      const [serverSide, clientSide] = makeMemoryTransportPair()
      serveTransport(ours(), serverSide, { runtime: rt })
      return tap(clientSide)
    }
    const probed = open()
    const auto = await connectAuto(probed, { runtime: rt })
    expect(shape(auto)).toEqual({ era: "modern", probes: 1, backend: "ModernClient" })
    expect(probed.requests("server/discover")).toHaveLength(1)
    await auto.close()
    const direct = open()
    const legacy = await connectAuto(direct, { runtime: rt, era: "legacy" })
    expect(shape(legacy)).toEqual({ era: "legacy", probes: 0, backend: "ClientSession" })
    expect(legacy.client).toBeInstanceOf(ClientSession)
    expect(direct.methods()).toEqual(["initialize", "notifications/initialized"])
    await legacy.close()
  })

  it("AutoClient, AutoHttpClient and DualEraClient are still the one Client", async () => {
    expect(AutoClient).toBe(Client)
    expect(AutoHttpClient).toBe(Client)
    expect(DualEraClient).toBe(Client)
    const rt = fresh()
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(ours(), serverSide, { runtime: rt })
    const client = await connectAuto(clientSide, { runtime: rt })
    expect(client).toBeInstanceOf(AutoClient)
    expect(client).toBeInstanceOf(DualEraClient)
    await client.close()
  })
})
