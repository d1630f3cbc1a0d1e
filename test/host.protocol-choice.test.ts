/**
 * Issue 10's per-server `protocol: "auto" | "legacy" | "2026-07-28"` is
 * honoured, not only parsed: one dual-era upstream (our McpServer over
 * WebSocket) is reached three times, and each connection speaks the era its
 * entry asks for — `auto` probes and takes the modern era, `legacy` initializes
 * (2025-11-25), `2026-07-28` discovers. Each one's tools are callable.
 * `auto` over HTTP with the modern verdict already cached for the origin (a
 * restart, or anyone in the process having reached the server) discovers too,
 * so its tools are listed.
 */
import { afterAll, describe, expect, it } from "vitest"
import { startHost } from "../src/host/McpHost.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { connectAutoHttp } from "../src/client/connectAutoHttp.ts"

const cleanups: Array<() => unknown> = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
})

/** A dual-era upstream: its own runtime (shut down after the file) and a server with one `echo` tool. */
const echoUpstream = () => {
  const upstream = makeMcpRuntime()
  cleanups.push(() => upstream.shutdown({ drainMs: 0 }))
  const server = new McpServer({ name: "upstream", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )
  return { upstream, server }
}

describe("host: the per-server protocol field", () => {
  it("auto, legacy and 2026-07-28 each connect in the era they name", async () => {
    const { upstream, server } = echoUpstream()
    const ws = await makeWsServer(server, { runtime: upstream })
    cleanups.push(() => ws.close())
    const host = await startHost({
      mcpServers: {
        auto: { url: ws.url },
        old: { url: ws.url, protocol: "legacy" },
        modern: { url: ws.url, protocol: "2026-07-28" }
      }
    }, { stateFile: false, startTimeoutMs: 60_000 })
    cleanups.push(() => host.close())
    const view = (name: string) => host.status().find((s) => s.name === name)!
    expect(host.status().map((s) => s.state)).toEqual(["ready", "ready", "ready"])
    expect(view("auto")).toMatchObject({ era: "modern", protocolVersion: "2026-07-28" })
    expect(view("old")).toMatchObject({ era: "legacy", protocolVersion: "2025-11-25" })
    expect(view("modern")).toMatchObject({ era: "modern", protocolVersion: "2026-07-28" })
    for (const name of ["auto", "old", "modern"]) {
      expect(await host.callTool(`${name}__echo`, { text: name })).toMatchObject({ content: [{ text: name }] })
    }
  }, 90_000)

  it("over HTTP too: legacy initializes, 2026-07-28 discovers, and 2026-07-28 never falls back to a legacy-only server", async () => {
    const { upstream, server } = echoUpstream()
    const http = await makeHttpServer(server, { runtime: upstream })
    cleanups.push(() => http.close())
    const sdk = await startSdkHttpServer({}) // the official SDK's server: legacy era only
    cleanups.push(() => sdk.close())
    const host = await startHost({
      mcpServers: {
        old: { url: http.url, protocol: "legacy" },
        modern: { url: http.url, protocol: "2026-07-28" },
        sdkauto: { url: sdk.url },
        sdkmodern: { url: sdk.url, protocol: "2026-07-28", restart: { intensity: 0 } }
      }
    }, { stateFile: false, startTimeoutMs: 60_000 })
    cleanups.push(() => host.close())
    const view = (name: string) => host.status().find((s) => s.name === name)!
    expect(view("old")).toMatchObject({ state: "ready", era: "legacy" })
    expect(view("modern")).toMatchObject({ state: "ready", era: "modern", protocolVersion: "2026-07-28" })
    expect(view("sdkauto")).toMatchObject({ state: "ready", era: "legacy" })
    // Asked for the modern era only, the legacy-only server is not served in another era.
    expect(view("sdkmodern").state).not.toBe("ready")
    expect(view("sdkmodern").era).not.toBe("legacy")
  }, 90_000)

  it("auto over HTTP with the era already cached (the server reached before, as on every restart): discovered, its tools listed (found by the s23 remote chaos)", async () => {
    const { upstream, server } = echoUpstream()
    const http = await makeHttpServer(server, { runtime: upstream })
    cleanups.push(() => http.close())
    // Someone in this process reached the server before: its modern verdict is cached for the origin.
    const first = await connectAutoHttp(http.url, { runtime: upstream })
    expect(first.era).toBe("modern")
    await first.close()
    const host = await startHost({ mcpServers: { again: { url: http.url } } }, { stateFile: false, startTimeoutMs: 60_000 })
    cleanups.push(() => host.close())
    expect(host.status()[0]).toMatchObject({ state: "ready", era: "modern", tools: 1 })
    expect(host.tools().map((t) => t.name)).toEqual(["again__echo"])
    // and after a restart by the host (the era cached by its own first connection)
    const ready = new Promise<void>((resolve) => {
      const off = host.on("status", (e) => {
        if (e.server.name === "again" && e.server.state === "ready" && e.server.restarts === 1) {
          off()
          resolve()
        }
      })
    })
    host.restart("again")
    await ready
    expect(host.status()[0]).toMatchObject({ state: "ready", tools: 1 })
    expect(await host.callTool("again__echo", { text: "back" })).toMatchObject({ content: [{ text: "back" }] })
  }, 90_000)
})
