/**
 * `ctx.elicit` / `ctx.createMessage` / `ctx.listRoots` are `ctx.request` with their
 * method (src/server/session/ServerRequestShorthands.ts), written once for both
 * contexts a handler can get: the session's own, and Telemetry's traced one (a
 * server with telemetry), whose `request` adds a CLIENT span. Over a real session
 * (memory transport, our client answering): each shorthand reaches the client as
 * its method with its params, and under telemetry each is a CLIENT span under the
 * tool call's span — the shorthand took the traced `request`.
 */
import { describe, expect, it } from "vitest"
import { ClientSession } from "../src/client/ClientSession.ts"
import { makeMemoryTracer } from "../src/observability/memoryTracer.ts"
import { Telemetry } from "../src/observability/Telemetry.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { ServerRequestShorthands } from "../src/server/session/ServerRequestShorthands.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const run = async (traced: boolean) => {
  const tracer = makeMemoryTracer()
  const contexts: Array<RequestContext> = []
  const server = new McpServer({ name: "shorthands", version: "1" })
    .tool({ name: "ask", inputSchema: { type: "object" } }, async (_args, ctx) => {
      contexts.push(ctx)
      const answers = [
        await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } }),
        await ctx.createMessage({ messages: [], maxTokens: 1 }),
        await ctx.listRoots()
      ]
      return { content: [{ type: "text", text: JSON.stringify(answers) }] }
    })
  if (traced) server.telemetry = new Telemetry({ tracer: tracer.tracer })
  const [st, ct] = makeMemoryTransportPair()
  serveTransport(server, st)
  const seen: Array<{ method: string; params: unknown }> = []
  const client = await ClientSession.connect(ct, {
    onElicitation: (params) => {
      seen.push({ method: "elicitation/create", params })
      return { action: "accept", content: {} }
    },
    onSampling: (params) => {
      seen.push({ method: "sampling/createMessage", params })
      return { role: "assistant", content: { type: "text", text: "ok" }, model: "m" }
    },
    onRoots: (params) => {
      seen.push({ method: "roots/list", params })
      return { roots: [{ uri: "file:///r" }] }
    }
  })
  const result = await client.callTool("ask", {})
  await client.close()
  return { result, seen, contexts, spans: tracer.spans }
}

describe("server→client request shorthands", () => {
  for (const traced of [false, true]) {
    it(`${traced ? "traced (telemetry)" : "plain"} context: each shorthand sends its method with its params and resolves with the client's answer`, async () => {
      const { result, seen, contexts, spans } = await run(traced)
      expect(seen.map((s) => s.method)).toEqual(["elicitation/create", "sampling/createMessage", "roots/list"])
      expect(seen[0]!.params).toMatchObject({ message: "name?" })
      expect(seen[1]!.params).toMatchObject({ maxTokens: 1 })
      const text = ((result.content as ReadonlyArray<{ text: string }>)[0]!).text
      expect(JSON.parse(text)).toEqual([{ action: "accept", content: {} }, { role: "assistant", content: { type: "text", text: "ok" }, model: "m" }, { roots: [{ uri: "file:///r" }] }])
      // One definition serves both contexts.
      const ctx = contexts[0]!
      expect(ctx).toBeInstanceOf(ServerRequestShorthands)
      expect(ctx.elicit).toBe(ServerRequestShorthands.prototype.elicit)
      expect(ctx.createMessage).toBe(ServerRequestShorthands.prototype.createMessage)
      expect(ctx.listRoots).toBe(ServerRequestShorthands.prototype.listRoots)
      if (traced) {
        const call = spans.find((s) => s.name === "tools/call ask")!
        const clientSpans = spans.filter((s) => s.kind === "client").map((s) => [s.name, s.parentSpanId])
        expect(clientSpans).toEqual([["elicitation/create", call.spanId], ["sampling/createMessage", call.spanId], ["roots/list", call.spanId]])
      } else {
        expect(spans).toEqual([])
      }
    })
  }
})
