/**
 * A modern gateway client is asked (MRTR `input_required`) only for inputs it
 * declared in its request's `_meta` capabilities; the rest get the answers the
 * legacy path gives: roots → none, elicitation → declined. Found in CI: an
 * upstream's `roots/list` reached a ModernClient with no roots handler and
 * failed its call with `InputRequired`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ModernClient, type ModernClientOptions } from "../src/client/ModernClient.ts"
import { type Gateway, makeGateway, serveGatewayWs } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ type: string; text?: string }>).filter((c) => c.type === "text").map((c) => c.text).join("\n")

/** An upstream whose tool asks for roots, then for a form elicitation, and reports both answers. */
const upstream = () =>
  new McpServer({ name: "asks", version: "1.0.0" }).tool(
    { name: "inputs", inputSchema: { type: "object" } },
    async (_args, ctx) => {
      const roots = await ctx.listRoots()
      const answer = await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } })
      return { content: [{ type: "text", text: `roots=${JSON.stringify(roots.roots)} elicitation=${String(answer.action)}` }] }
    }
  )

describe.each(["legacy", "2026-07-28"] as const)("gateway → modern client, upstream %s", { timeout: 30_000 }, (protocol) => {
  let server: WsServerHandle
  let host: McpHost
  let gateway: Gateway
  let ws: Awaited<ReturnType<typeof serveGatewayWs>>

  beforeAll(async () => {
    server = await makeWsServer(upstream(), { port: 0 })
    host = await startHost({ mcpServers: { up: { url: server.url, protocol } } }, { stateFile: false })
    gateway = makeGateway(host)
    ws = await serveGatewayWs(gateway, { port: 0 })
  })
  afterAll(async () => {
    await ws?.close()
    gateway?.close()
    await host?.close()
    await server?.close()
  })

  const connect = async (options: ModernClientOptions) => {
    const transport = makeWsClientTransport({ url: ws.url })
    await transport.opened
    return ModernClient.create(transport, options)
  }

  it("a client that declared elicitation only: roots are answered empty for it, only the elicitation is asked", async () => {
    const asked: Array<string> = []
    const client = await connect({ onElicitation: () => (asked.push("elicitation"), { action: "accept", content: { name: "Ada" } }) })
    try {
      const result = await client.callTool("up__inputs", {})
      expect(textOf(result)).toBe("roots=[] elicitation=accept")
      expect(asked).toEqual(["elicitation"])
    } finally {
      await client.close()
    }
  })

  it("a client that declared nothing: the call completes with no roots and the elicitation declined, no input round", async () => {
    const client = await connect({})
    try {
      expect(textOf(await client.callTool("up__inputs", {}))).toBe("roots=[] elicitation=decline")
    } finally {
      await client.close()
    }
  })

  it("a client that declared roots and elicitation is asked for both", async () => {
    const asked: Array<string> = []
    const client = await connect({
      onRoots: () => (asked.push("roots"), { roots: [{ uri: "file:///work", name: "work" }] }),
      onElicitation: () => (asked.push("elicitation"), { action: "accept", content: { name: "Ada" } })
    })
    try {
      const result = await client.callTool("up__inputs", {})
      expect(textOf(result)).toBe(`roots=[{"uri":"file:///work","name":"work"}] elicitation=accept`)
      expect(asked).toEqual(["roots", "elicitation"])
    } finally {
      await client.close()
    }
  })
})
