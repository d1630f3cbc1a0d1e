/**
 * Interop: our modern-era (2026-07-28) client — `ModernClient` over
 * `ModernHttpWire` — against a real third-party server, the MCP server of the
 * `effect` package (`McpServer.layerHttp` with the `v2026_07_28` adapter),
 * served in-process on node:http (`test/support/effectMcpServer.ts`).
 *
 * Covered: `server/discover`, `tools/list`, `tools/call`, and
 * `subscriptions/listen` with a tool-list change broadcast by the effect
 * server (its `McpServer.addTool` at runtime), then closing the subscription.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/client/ModernHttpWire.ts"
import type { JsonRpcNotification } from "../src/protocol/jsonrpc.ts"
import { EFFECT_SERVER_NAME, EFFECT_SERVER_VERSION, type EffectMcpServer, startEffectMcpServer } from "./support/effectMcpServer.ts"

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

/** Resolve once `predicate` holds (polling), or fail with `what` after `ms`. */
const until = async (predicate: () => boolean, what: string, ms = 1_500): Promise<void> => {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The exchanges the client posted for `method` (the `Mcp-Method` header). */
const posted = (server: EffectMcpServer, method: string) =>
  server.exchanges.filter((e) => e.method === "POST" && e.requestHeaders["mcp-method"] === method)

describe("interop: ModernClient (2026-07-28) ↔ effect McpServer.layerHttp", () => {
  let server: EffectMcpServer
  let client: ModernClient

  beforeEach(async () => {
    server = await startEffectMcpServer()
    client = ModernClient.create(new ModernHttpWire({ url: server.url }))
  })

  afterEach(async () => {
    await client.close({ drainMs: 0 })
    await server.close()
  })

  it("server/discover: supported versions, capabilities and server info", async () => {
    const result = await client.discover()
    expect(result.resultType).toBe("complete")
    expect(client.discovered?.supportedVersions).toContain("2026-07-28")
    expect(client.discovered?.serverInfo).toMatchObject({ name: EFFECT_SERVER_NAME, version: EFFECT_SERVER_VERSION })
    expect(client.serverInfo?.name).toBe(EFFECT_SERVER_NAME)
    expect(client.serverCapabilities?.tools).toEqual({ listChanged: true })
    expect(client.protocolVersion).toBe("2026-07-28")

    // The wire: one POST with the modern headers, the version also in `_meta`.
    const [exchange] = posted(server, "server/discover")
    expect(exchange.requestHeaders["mcp-protocol-version"]).toBe("2026-07-28")
    expect(exchange.requestHeaders.accept).toContain("application/json")
    expect(exchange.requestHeaders.accept).toContain("text/event-stream")
    expect(JSON.parse(exchange.requestBody).params._meta["io.modelcontextprotocol/protocolVersion"]).toBe("2026-07-28")
    expect(exchange.status).toBe(200)
    expect(exchange.requestHeaders["mcp-session-id"]).toBeUndefined()
  })

  it("tools/list returns echo; tools/call echo returns the text (resultType complete)", async () => {
    await client.discover()
    const list = await client.listTools()
    const tools = list.tools as ReadonlyArray<{ readonly name: string; readonly inputSchema: Record<string, unknown> }>
    expect(tools.map((t) => t.name)).toEqual(["echo"])
    expect(tools[0].inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } }, required: ["text"] })

    const result = await client.callTool("echo", { text: "hello from mcp-actors" })
    expect(result.resultType).toBe("complete")
    expect(result.isError).not.toBe(true)
    expect(result.content).toEqual([{ type: "text", text: "hello from mcp-actors" }])

    const [call] = posted(server, "tools/call")
    expect(call.requestHeaders["mcp-name"]).toBe("echo")
    expect(call.status).toBe(200)
  })

  it("subscriptions/listen: acknowledged, receives tools/list_changed with its subscription id, then closes", async () => {
    await client.discover()
    const received: Array<JsonRpcNotification> = []
    const sub = client.listen({ toolsListChanged: true }, { onNotification: (n) => received.push(n) })

    const honoured = await sub.acknowledged
    expect(honoured).toEqual({ toolsListChanged: true })
    expect(sub.state).toBe("listening")
    expect(sub.id).toBeDefined()
    const listenId = sub.id
    // The listen request is one POST whose response is an SSE stream kept open.
    const [listen] = posted(server, "subscriptions/listen")
    expect(listen.status).toBe(200)
    expect(listen.responseHeaders["content-type"]).toContain("text/event-stream")
    expect(JSON.parse(listen.requestBody)).toMatchObject({ id: listenId, params: { notifications: { toolsListChanged: true } } })
    expect(listen.outcome).toBe("open")

    // A tool registered at runtime on the effect server broadcasts the change.
    await server.addTool("late")
    await until(() => received.some((n) => n.method === "notifications/tools/list_changed"), "notifications/tools/list_changed")
    const change = received.find((n) => n.method === "notifications/tools/list_changed")!
    expect((change.params?._meta as Record<string, unknown>)[SUBSCRIPTION_ID]).toBe(sub.id)
    expect(sub.id).toBe(listenId)
    // Only change notifications reach onNotification (the acknowledgement is consumed by the subscription).
    expect(received.map((n) => n.method)).toEqual(["notifications/tools/list_changed"])

    // The change is real: the new tool is listed and callable.
    const list = await client.listTools()
    expect((list.tools as ReadonlyArray<{ readonly name: string }>).map((t) => t.name).sort()).toEqual(["echo", "late"])
    expect((await client.callTool("late", {})).content).toEqual([{ type: "text", text: "added:late" }])

    // Closing the subscription closes its stream (HTTP cancellation = closing the response).
    sub.close()
    const end = await sub.ended
    expect(end.state).toBe("closed")
    expect(sub.state).toBe("closed")
    expect(sub.id).toBeUndefined()
    await until(() => listen.outcome === "aborted", "the server to see the listen stream closed")

    // The client still works after the subscription ended.
    expect((await client.callTool("echo", { text: "still here" })).content).toEqual([{ type: "text", text: "still here" }])

    await client.close({ drainMs: 0 })
    expect(client.state).toBe("closed")
    await server.close()
    expect(server.openExchanges()).toBe(0)
  })
})
