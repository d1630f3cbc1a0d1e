/**
 * Interop: our modern-era (2026-07-28) client — `ModernClient` over
 * `ModernHttpWire` — against a real third-party server, the MCP server of the
 * `effect` package (`McpServer.layerHttp` with the `v2026_07_28` adapter),
 * served in-process on node:http (`test/support/effectMcpServer.ts`).
 *
 * Covered: `server/discover`, `tools/list`, `tools/call`,
 * `subscriptions/listen` with a tool-list change broadcast by the effect
 * server (its `McpServer.addTool` at runtime), then closing the subscription,
 * and MRTR (multi round-trip requests): effect's tool handlers answer
 * `McpSchema.InputRequired`, our client gathers the inputs with
 * `onElicitation`/`onRoots`/`onSampling` and retries `tools/call` with a new
 * id, `inputResponses` and the `requestState` echoed verbatim; without the
 * capability declared, effect refuses with -32021 (HTTP 400).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { waitFor } from "./support/waitFor.ts"
import { condition } from "./support/condition.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/transports/http/client/ModernHttpWire.ts"
import { InputRequired, MissingClientCapability } from "../src/client/modernErrors.ts"
import type { InputHandler } from "../src/client/ClientSession.ts"
import type { JsonRpcNotification } from "../src/protocol/jsonrpc.ts"
import {
  EFFECT_SERVER_NAME,
  EFFECT_SERVER_VERSION,
  type EffectExchange,
  type EffectMcpServer,
  GREET_ELICITATION,
  GREET_STATE,
  startEffectMcpServer
} from "./support/effectMcpServer.ts"

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

/** Resolve once `predicate` holds (polling a real server), or fail with `what` after `ms`. */
const until = (predicate: () => boolean, what: string, ms = 1_500): Promise<void> => waitFor(predicate, { timeoutMs: ms, what })

/** The exchanges the client posted for `method` (the `Mcp-Method` header). */
const posted = (server: EffectMcpServer, method: string) =>
  server.exchanges.filter((e) => e.method === "POST" && e.requestHeaders["mcp-method"] === method)

type Json = Record<string, any>

/** The JSON-RPC request an exchange posted. */
const sent = (exchange: EffectExchange): Json => JSON.parse(exchange.requestBody) as Json

/** The JSON-RPC response an exchange answered with (a JSON body, or the response among SSE events). */
const answered = (exchange: EffectExchange): Json => {
  if (!(exchange.responseHeaders["content-type"] ?? "").includes("text/event-stream")) return JSON.parse(exchange.responseBody) as Json
  const messages = exchange.responseBody.split(/\r?\n\r?\n/).flatMap((event) => {
    const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n")
    return data === "" ? [] : [JSON.parse(data) as Json]
  })
  const response = messages.find((m) => "result" in m || "error" in m)
  if (response === undefined) throw new Error(`no JSON-RPC response in ${exchange.responseBody}`)
  return response
}

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
    expect(tools.map((t) => t.name)).toEqual(["echo", "greet", "introduce"])
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
    const heard = condition() // each notification, as an event
    const sub = client.listen({ toolsListChanged: true }, { onNotification: (n) => (received.push(n), heard.changed()) })

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
    await heard.when(() => received.some((n) => n.method === "notifications/tools/list_changed"), "notifications/tools/list_changed")
    const change = received.find((n) => n.method === "notifications/tools/list_changed")!
    expect((change.params?._meta as Record<string, unknown>)[SUBSCRIPTION_ID]).toBe(sub.id)
    expect(sub.id).toBe(listenId)
    // Only change notifications reach onNotification (the acknowledgement is consumed by the subscription).
    expect(received.map((n) => n.method)).toEqual(["notifications/tools/list_changed"])

    // The change is real: the new tool is listed and callable.
    const list = await client.listTools()
    expect((list.tools as ReadonlyArray<{ readonly name: string }>).map((t) => t.name).sort()).toEqual(["echo", "greet", "introduce", "late"])
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

  describe("MRTR: input_required → inputs gathered → retried with a new id", () => {
    const clients: Array<ModernClient> = []
    const modern = (options: Parameters<typeof ModernClient.create>[1]) => {
      const c = ModernClient.create(new ModernHttpWire({ url: server.url }), options)
      clients.push(c)
      return c
    }
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.close({ drainMs: 0 })
    })

    it("greet: one elicitation round; the retry carries inputResponses and the requestState verbatim", async () => {
      const asked: Array<{ readonly params: unknown; readonly key: unknown }> = []
      const ada = modern({
        onElicitation: async (params, ctx) => {
          asked.push({ params, key: ctx.requestId })
          return { action: "accept", content: { name: "Ada" } }
        }
      })

      const result = await ada.callTool("greet", {})
      expect(result.resultType).toBe("complete")
      expect(result.isError).not.toBe(true)
      expect(result.content).toEqual([{ type: "text", text: "hello Ada" }])

      // Our handler got effect's elicitation, once, under its key.
      expect(asked).toEqual([{ params: GREET_ELICITATION, key: "name" }])

      // The wire: exactly two tools/call POSTs, different ids.
      const calls = posted(server, "tools/call")
      expect(calls).toHaveLength(2)
      const [first, retry] = calls.map(sent)
      expect(first.id).not.toEqual(retry.id)
      for (const c of calls) {
        expect(c.status).toBe(200)
        expect(c.requestHeaders["mcp-name"]).toBe("greet")
      }
      // Both declare the capability the input needs (onElicitation → elicitation.form).
      for (const r of [first, retry]) {
        expect(r.params._meta["io.modelcontextprotocol/clientCapabilities"]).toMatchObject({ elicitation: { form: {} } })
      }
      // Round 1: the plain call, answered input_required with effect's input request and state.
      expect(first.params).not.toHaveProperty("inputResponses")
      expect(first.params).not.toHaveProperty("requestState")
      const askedFor = answered(calls[0])
      expect(askedFor.id).toEqual(first.id)
      expect(askedFor.result).toMatchObject({
        resultType: "input_required",
        inputRequests: { name: { method: "elicitation/create", params: GREET_ELICITATION } },
        requestState: GREET_STATE
      })
      // Round 2: the same request (name, arguments) with our answer and the state byte for byte.
      expect(retry.method).toBe("tools/call")
      expect(retry.params).toMatchObject({ name: "greet", arguments: {} })
      expect(retry.params.inputResponses).toEqual({ name: { action: "accept", content: { name: "Ada" } } })
      expect(retry.params.requestState).toBe(askedFor.result.requestState)
      const done = answered(calls[1])
      expect(done.id).toEqual(retry.id)
      expect(done.result).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "hello Ada" }] })

      // What effect handed its handler: nothing, then our answer and its state.
      expect(server.toolRuns.map(({ tool, inputResponses, requestState }) => ({ tool, inputResponses, requestState }))).toEqual([
        { tool: "greet", inputResponses: undefined, requestState: undefined },
        { tool: "greet", inputResponses: { name: { action: "accept", content: { name: "Ada" } } }, requestState: GREET_STATE }
      ])
    })

    it("greet: a declined form is retried too, and effect completes with its tool error", async () => {
      const shy = modern({ onElicitation: () => ({ action: "decline" }) })
      const result = await shy.callTool("greet", {})
      expect(result.resultType).toBe("complete")
      expect(result.isError).toBe(true)
      expect(result.content).toEqual([{ type: "text", text: "greet: no name (decline)" }])
      const calls = posted(server, "tools/call")
      expect(calls).toHaveLength(2)
      expect(sent(calls[1]).params.inputResponses).toEqual({ name: { action: "decline" } })
      expect(sent(calls[1]).params.requestState).toBe(GREET_STATE)
    })

    it("introduce: roots + elicitation together, then sampling; each retry carries only its round's inputs and the latest state", async () => {
      const seen: Array<{ readonly kind: string; readonly params: unknown }> = []
      const record = (kind: string, answer: Record<string, unknown>): InputHandler => (params) => {
        seen.push({ kind, params })
        return answer
      }
      const client3 = modern({
        onRoots: record("roots", { roots: [{ uri: "file:///work/ada", name: "ada" }] }),
        onElicitation: record("elicitation", { action: "accept", content: { name: "Ada" } }),
        onSampling: record("sampling", { role: "assistant", content: { type: "text", text: "Hello, Ada!" }, model: "test-model", stopReason: "endTurn" })
      })

      const result = await client3.callTool("introduce", {})
      expect(result.resultType).toBe("complete")
      expect(result.content).toEqual([{ type: "text", text: "Hello, Ada! [roots: file:///work/ada]" }])

      const calls = posted(server, "tools/call")
      expect(calls).toHaveLength(3)
      const requests = calls.map(sent)
      const replies = calls.map(answered)
      expect(new Set(requests.map((r) => r.id)).size).toBe(3)
      replies.forEach((reply, i) => expect(reply.id).toEqual(requests[i].id))
      // Every request declares what our handlers answer.
      for (const r of requests) {
        expect(r.params._meta["io.modelcontextprotocol/clientCapabilities"]).toMatchObject({ elicitation: { form: {} }, roots: {}, sampling: {} })
      }

      // Round 1 → two input requests at once.
      expect(replies[0].result.resultType).toBe("input_required")
      expect(Object.keys(replies[0].result.inputRequests).sort()).toEqual(["roots", "who"])
      expect(replies[0].result.inputRequests.roots.method).toBe("roots/list")
      expect(replies[0].result.requestState).toBe("introduce:1")
      // Retry 1: both answers, the state.
      expect(requests[1].params.inputResponses).toEqual({
        roots: { roots: [{ uri: "file:///work/ada", name: "ada" }] },
        who: { action: "accept", content: { name: "Ada" } }
      })
      expect(requests[1].params.requestState).toBe("introduce:1")
      // Round 2 → sampling, with a new state carrying round 1's answers.
      expect(replies[1].result.resultType).toBe("input_required")
      expect(Object.keys(replies[1].result.inputRequests)).toEqual(["line"])
      expect(replies[1].result.inputRequests.line).toMatchObject({ method: "sampling/createMessage", params: { maxTokens: 50 } })
      const state2 = replies[1].result.requestState as string
      expect(state2).toMatch(/^introduce:2:/)
      // Retry 2: only this round's answer (not merged with round 1's), the new state verbatim.
      expect(requests[2].params.inputResponses).toEqual({
        line: { role: "assistant", content: { type: "text", text: "Hello, Ada!" }, model: "test-model", stopReason: "endTurn" }
      })
      expect(requests[2].params.requestState).toBe(state2)
      expect(replies[2].result).toMatchObject({ resultType: "complete" })
      for (const r of requests) expect(r.params).toMatchObject({ name: "introduce", arguments: {} })

      // Each handler ran once, with effect's params.
      expect(seen.map((s) => s.kind).sort()).toEqual(["elicitation", "roots", "sampling"])
      expect(seen.find((s) => s.kind === "elicitation")!.params).toMatchObject({ message: "Who are you?", requestedSchema: { properties: { name: { type: "string" } } } })
      expect(seen.find((s) => s.kind === "sampling")!.params).toMatchObject({
        messages: [{ role: "user", content: { type: "text", text: "Write a one-line greeting for Ada" } }],
        maxTokens: 50
      })
      expect(server.toolRuns.map((r) => r.requestState)).toEqual([undefined, "introduce:1", state2])
    })

    it("no onElicitation (capability not declared): effect refuses the input request with -32021, HTTP 400 — MissingClientCapability, no retry", async () => {
      // `client` (beforeEach) has no handlers and declares no capabilities.
      const error = await client.callTool("greet", {}).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(MissingClientCapability)
      expect(error).toMatchObject({ _tag: "MissingClientCapability", method: "tools/call" })

      const calls = posted(server, "tools/call")
      expect(calls).toHaveLength(1)
      const request = sent(calls[0])
      expect(request.params._meta["io.modelcontextprotocol/clientCapabilities"]).toEqual({})
      expect(calls[0].status).toBe(400)
      const reply = answered(calls[0])
      expect(reply.id).toEqual(request.id)
      expect(reply).not.toHaveProperty("result")
      expect(reply.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { elicitation: { form: {} } } } })
      // Effect ran the tool, then refused to project its input request.
      expect(server.toolRuns.map((r) => r.tool)).toEqual(["greet"])
    })

    it("-32021 from effect: MissingClientCapability names the capability effect requires (data.requiredCapabilities is a ClientCapabilities object)", async () => {
      const error = await client.callTool("greet", {}).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(MissingClientCapability)
      // 2026-07-28 schema: MissingRequiredClientCapabilityError.data.requiredCapabilities: ClientCapabilities.
      // Effect sends { elicitation: { form: {} } }; the client should surface "elicitation", not drop it.
      const required = (error as MissingClientCapability).requiredCapabilities
      expect(required.some((c) => c === "elicitation" || c.startsWith("elicitation."))).toBe(true)
    })

    it("capability declared but no onElicitation: effect asks, our client gives up with InputRequired (one POST, no retry)", async () => {
      const bare = modern({ capabilities: { elicitation: { form: {} } } })
      const error = await bare.callTool("greet", {}).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(InputRequired)
      expect(error).toMatchObject({
        _tag: "InputRequired",
        method: "tools/call",
        inputRequests: { name: { method: "elicitation/create", params: GREET_ELICITATION } },
        requestState: GREET_STATE
      })
      const calls = posted(server, "tools/call")
      expect(calls).toHaveLength(1)
      expect(calls[0].status).toBe(200)
      expect(answered(calls[0]).result.resultType).toBe("input_required")
    })
  })
})
