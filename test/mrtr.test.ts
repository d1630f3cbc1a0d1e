/**
 * Multi round-trip requests (MRTR, 2026-07-28/basic/patterns/mrtr.mdx): the
 * pure rules, `requestState` sealing, our server answering `input_required`
 * (over a raw memory peer), and `ModernClient` gathering inputs and retrying,
 * over memory and over Streamable HTTP.
 */
import { describe, expect, it } from "vitest"
import { ModernClient, type ModernClientOptions } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/transports/http/client/ModernHttpWire.ts"
import { InputRequired } from "../src/client/modernErrors.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import type { JsonRpcRequest } from "../src/protocol/jsonrpc.ts"
import { META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import { inputRequestKey, inputRequiredResult, inputResponsesOf, requestStateOf, retryParams } from "../src/protocol/mrtr.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeRequestStateKey, openRequestState, sealRequestState } from "../src/server/requestState.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { rawPeer } from "./support/rawPeer.ts"
import { tap } from "./support/wireTap.ts"

const FORM = { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } }

/** Tools that need input, in the ways a handler can ask. */
const makeServer = (seen: Array<unknown> = []) =>
  new McpServer({ name: "mrtr", version: "1.0.0" })
    .tool({ name: "greet" }, async (_args, ctx) => {
      const answer = await ctx.elicit(FORM)
      seen.push(ctx.requestState)
      return { content: [{ type: "text", text: `hello ${(answer.content as { name: string }).name}` }] }
    })
    .tool({ name: "twoAtOnce" }, async (_args, ctx) => {
      const [who, roots] = await Promise.all([ctx.elicit(FORM), ctx.listRoots()])
      return { content: [{ type: "text", text: `${(who.content as { name: string }).name}:${(roots.roots as Array<unknown>).length}` }] }
    })
    .tool({ name: "thenSample" }, async (_args, ctx) => {
      const who = await ctx.elicit(FORM)
      const poem = await ctx.createMessage({ messages: [{ role: "user", content: { type: "text", text: "a poem" } }], maxTokens: 10 })
      return { content: [{ type: "text", text: `${(who.content as { name: string }).name}/${(poem.content as { text: string }).text}` }] }
    })
    .tool({ name: "stepwise" }, (_args, ctx) => {
      // Stateful through requestState alone: step 1 → ask with state "step-1"; step 2 → done.
      if (ctx.requestState === undefined) ctx.inputRequired({ requestState: "step-1" })
      return { content: [{ type: "text", text: `resumed from ${ctx.requestState}` }] }
    })
    .tool({ name: "forever" }, (_args, ctx) => ctx.inputRequired({ requestState: String(Number(ctx.requestState ?? "0") + 1) }))
    .completion(async (_request, ctx) => {
      // completion/complete is not an MRTR method: asking for input there is refused.
      await ctx.elicit(FORM)
      return { completion: { values: [] } }
    })

const meta = (caps: Record<string, unknown> = { elicitation: {}, roots: {}, sampling: {} }) => ({
  [META_PROTOCOL_VERSION]: "2026-07-28",
  [META_CLIENT_CAPABILITIES]: caps
})
const call = (id: number, name: string, extra: Record<string, unknown> = {}, caps?: Record<string, unknown>) => ({
  jsonrpc: "2.0" as const,
  id,
  method: "tools/call",
  params: { name, arguments: {}, ...extra, _meta: meta(caps) }
})


describe("MRTR rules (pure)", () => {
  it("keys follow call order per method family; an input_required result needs inputs or state", () => {
    expect(inputRequestKey("elicitation/create", 1)).toBe("elicitation-1")
    expect(inputRequestKey("roots/list", 2)).toBe("roots-2")
    expect(() => inputRequiredResult({}, undefined)).toThrow(TypeError)
    expect(inputRequiredResult(undefined, "s")).toEqual({ resultType: "input_required", requestState: "s" })
  })

  it("a retry replaces earlier inputs and state, and echoes only a state the server sent", () => {
    const original = { name: "t", arguments: { a: 1 }, inputResponses: { old: {} }, requestState: "old" }
    expect(retryParams(original, { k: { action: "accept" } }, undefined)).toEqual({ name: "t", arguments: { a: 1 }, inputResponses: { k: { action: "accept" } } })
    expect(retryParams(original, undefined, "new")).toEqual({ name: "t", arguments: { a: 1 }, requestState: "new" })
  })

  it("malformed inputResponses or requestState are recognised", () => {
    expect(inputResponsesOf({ inputResponses: { k: { action: "accept" } } })).toEqual({ k: { action: "accept" } })
    expect(inputResponsesOf({ inputResponses: { k: "yes" } })).toBe("invalid")
    expect(inputResponsesOf({ inputResponses: [] })).toBe("invalid")
    expect(requestStateOf({ requestState: 3 })).toBe("invalid")
    expect(requestStateOf({})).toBeUndefined()
  })

  it("a sealed requestState opens only unchanged, for the same request, before it expires, under the same key", () => {
    const key = makeRequestStateKey("secret", 1_000)
    const params = { name: "stepwise" }
    const request = { method: "tools/call", params, principal: "alice" }
    const sealed = sealRequestState(key, { state: "step-1", answers: { "elicitation-1": { action: "decline" } } }, request, 0)
    expect(sealed).not.toContain("step-1") // opaque to the client (base64url), though not encrypted
    expect(openRequestState(key, sealed, request, 500)).toEqual({ ok: true, state: "step-1", answers: { "elicitation-1": { action: "decline" } } })
    const [payload, sig] = sealed.split(".") as [string, string]
    const forged = Buffer.from(JSON.stringify({ s: "admin", b: "alice\u0000tools/call\u0000stepwise", e: 1e15 })).toString("base64url")
    expect(openRequestState(key, `${forged}.${sig}`, request, 500)).toEqual({ ok: false, reason: "failed verification" })
    expect(openRequestState(key, `${payload}.${sig.slice(1)}`, request, 500).ok).toBe(false)
    expect(openRequestState(key, sealed, { ...request, params: { name: "other" } }, 500)).toEqual({ ok: false, reason: "issued for another request" })
    expect(openRequestState(key, sealed, { ...request, principal: "mallory" }, 500)).toEqual({ ok: false, reason: "issued for another request" })
    expect(openRequestState(key, sealed, { ...request, method: "prompts/get" }, 500)).toEqual({ ok: false, reason: "issued for another request" })
    expect(openRequestState(key, sealed, request, 1_001)).toEqual({ ok: false, reason: "expired" })
    expect(openRequestState(makeRequestStateKey("another", 1_000), sealed, request, 500).ok).toBe(false)
    expect(openRequestState(key, "garbage", request, 500).ok).toBe(false)
  })
})

describe("server: input_required instead of server→client requests", () => {
  it("ctx.elicit asks with input_required; the retry (new id, inputResponses) completes with the answer", async () => {
    const peer = rawPeer(makeServer())
    const first = await peer.ask(call(1, "greet"))
    expect(first).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: expect.objectContaining({ resultType: "input_required", inputRequests: { "elicitation-1": { method: "elicitation/create", params: FORM } } })
    })
    expect(first.result.requestState).toBeUndefined()
    expect(first.result.isError).toBeUndefined() // control flow, not a tool error
    const second = await peer.ask(call(2, "greet", { inputResponses: { "elicitation-1": { action: "accept", content: { name: "Ada" } } } }))
    expect(second.result).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "hello Ada" }] })
  })

  it("inputs asked for together arrive in one input_required; sequential ones take a round each", async () => {
    const peer = rawPeer(makeServer())
    const together = await peer.ask(call(1, "twoAtOnce"))
    expect(Object.keys(together.result.inputRequests).sort()).toEqual(["elicitation-1", "roots-2"])
    const done = await peer.ask(call(2, "twoAtOnce", {
      inputResponses: { "elicitation-1": { action: "accept", content: { name: "Bo" } }, "roots-2": { roots: [{ uri: "file:///a" }] } }
    }))
    expect(done.result.content).toEqual([{ type: "text", text: "Bo:1" }])

    const r1 = await peer.ask(call(3, "thenSample"))
    expect(Object.keys(r1.result.inputRequests)).toEqual(["elicitation-1"])
    expect(r1.result.requestState).toBeUndefined() // nothing to carry yet
    const r2 = await peer.ask(call(4, "thenSample", { inputResponses: { "elicitation-1": { action: "accept", content: { name: "Cy" } } } }))
    expect(Object.keys(r2.result.inputRequests)).toEqual(["sampling-2"])
    // The server keeps nothing between rounds: the first answer travels back sealed in requestState,
    // and the client sends only the latest round's input.
    expect(typeof r2.result.requestState).toBe("string")
    const r3 = await peer.ask(call(5, "thenSample", {
      requestState: r2.result.requestState,
      inputResponses: { "sampling-2": { role: "assistant", content: { type: "text", text: "roses" }, model: "m" } }
    }))
    expect(r3.result.content).toEqual([{ type: "text", text: "Cy/roses" }])
    // Without the state, the first answer is missing: the server asks for it again rather than failing (Error Handling).
    const lost = await peer.ask(call(6, "thenSample", { inputResponses: { "sampling-2": { role: "assistant", content: { type: "text", text: "x" } } } }))
    expect(Object.keys(lost.result.inputRequests)).toEqual(["elicitation-1"])
  })

  it("a handler's requestState is sealed; the verified state comes back on the retry; a tampered or misplaced one is -32602", async () => {
    const seen: Array<unknown> = []
    const peer = rawPeer(makeServer(seen))
    const first = await peer.ask(call(1, "stepwise"))
    const sealed = first.result.requestState as string
    expect(first.result).toMatchObject({ resultType: "input_required" })
    expect(first.result.inputRequests).toBeUndefined()
    expect(sealed).not.toBe("step-1")
    const resumed = await peer.ask(call(2, "stepwise", { requestState: sealed }))
    expect(resumed.result.content).toEqual([{ type: "text", text: "resumed from step-1" }])
    const [payload, sig] = sealed.split(".") as [string, string]
    const tampered = `${Buffer.from(JSON.stringify({ s: "step-9", b: "\u0000tools/call\u0000stepwise", e: 1e15 })).toString("base64url")}.${sig}`
    void payload
    const refused = await peer.ask(call(3, "stepwise", { requestState: tampered }))
    expect(refused.error).toMatchObject({ code: ErrorCode.InvalidParams, message: "Invalid params: requestState failed verification" })
    const elsewhere = await peer.ask(call(4, "greet", { requestState: sealed }))
    expect(elsewhere.error).toMatchObject({ code: ErrorCode.InvalidParams, message: "Invalid params: requestState issued for another request" })
    expect(seen).toEqual([]) // greet never ran with the misplaced state
    const malformed = await peer.ask(call(5, "greet", { inputResponses: { "elicitation-1": "Ada" } }))
    expect(malformed.error?.code).toBe(ErrorCode.InvalidParams)
  })

  it("only tools/call, resources/read and prompts/get may answer input_required; other methods get an error", async () => {
    const peer = rawPeer(makeServer())
    const r = await peer.ask({
      jsonrpc: "2.0",
      id: 1,
      method: "completion/complete",
      params: { ref: { type: "ref/prompt", name: "p" }, argument: { name: "a", value: "" }, _meta: meta() }
    })
    expect(r.result).toBeUndefined()
    expect(r.error).toMatchObject({ code: ErrorCode.InternalError })
    expect(r.error.message).toContain("MRTR is only for tools/call, resources/read and prompts/get")
  })

  it("never asks for input the client did not declare (-32021); a different server with its own key refuses our state", async () => {
    const peer = rawPeer(makeServer())
    const refused = await peer.ask(call(1, "greet", {}, {}))
    expect(refused.error).toMatchObject({ code: ErrorCode.MissingRequiredClientCapability, data: { requiredCapabilities: { elicitation: {} } } })
    const urlOnly = await peer.ask(call(2, "greet", {}, { elicitation: { url: {} } }))
    expect(urlOnly.error?.code).toBe(ErrorCode.MissingRequiredClientCapability)

    const a = rawPeer(makeServer())
    const b = rawPeer(makeServer())
    const state = (await a.ask(call(3, "stepwise"))).result.requestState
    expect((await b.ask(call(4, "stepwise", { requestState: state }))).error?.code).toBe(ErrorCode.InvalidParams)
    // A shared secret makes states portable between processes behind one URL.
    const c = rawPeer(new McpServer({ name: "c", version: "1", requestStateSecret: "shared" }).tool({ name: "stepwise" }, (_a, ctx) => {
      if (ctx.requestState === undefined) ctx.inputRequired({ requestState: "from-c" })
      return { content: [{ type: "text", text: ctx.requestState! }] }
    }))
    const d = rawPeer(new McpServer({ name: "d", version: "1", requestStateSecret: "shared" }).tool({ name: "stepwise" }, (_a, ctx) => ({
      content: [{ type: "text", text: ctx.requestState ?? "none" }]
    })))
    const portable = (await c.ask(call(5, "stepwise"))).result.requestState
    expect((await d.ask(call(6, "stepwise", { requestState: portable }))).result.content).toEqual([{ type: "text", text: "from-c" }])
  })
})

describe("ModernClient: gathering inputs and retrying", () => {
  const setup = (options: ModernClientOptions = {}) => {
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(makeServer(), serverSide)
    const transport = tap(clientSide)
    const client = ModernClient.create(transport, options)
    return { client, transport }
  }

  it("answers with its handlers and retries with a new id, inputResponses and nothing else; declares what its handlers imply", async () => {
    const asked: Array<unknown> = []
    const { client, transport } = setup({
      onElicitation: (params) => {
        asked.push(params)
        return { action: "accept", content: { name: "Ada" } }
      },
      onSampling: () => ({ role: "assistant", content: { type: "text", text: "roses" }, model: "m" })
    })
    const r = await client.callTool("thenSample")
    expect(r).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "Ada/roses" }] })
    expect(asked).toEqual([FORM]) // each input is gathered once: earlier answers ride in the server's sealed state
    const calls = transport.requests("tools/call") as Array<JsonRpcRequest>
    expect(calls).toHaveLength(3)
    expect(new Set(calls.map((c) => c.id)).size).toBe(3)
    expect(calls[0]!.params?.inputResponses).toBeUndefined()
    expect(Object.keys(calls[1]!.params?.inputResponses as object)).toEqual(["elicitation-1"])
    expect(calls[1]!.params?.requestState).toBeUndefined() // the server sent none after round 1
    expect(Object.keys(calls[2]!.params?.inputResponses as object)).toEqual(["sampling-2"])
    expect(typeof calls[2]!.params?.requestState).toBe("string")
    expect((calls[0]!.params?._meta as Record<string, any>)[META_CLIENT_CAPABILITIES]).toEqual({ elicitation: { form: {} }, sampling: {} })
    await client.close()
  })

  it("echoes the server's requestState verbatim", async () => {
    const { client, transport } = setup()
    expect((await client.callTool("stepwise")).content).toEqual([{ type: "text", text: "resumed from step-1" }])
    const [first, retry] = transport.requests("tools/call") as Array<JsonRpcRequest>
    expect(first!.params?.requestState).toBeUndefined()
    expect(typeof retry!.params?.requestState).toBe("string")
    expect(retry!.params?.inputResponses).toBeUndefined()
  })

  it("no handler for an input → InputRequired; a server that keeps asking → InputRequired after maxInputRounds", async () => {
    const { client } = setup({ capabilities: { elicitation: {} } }) // declared, but nobody to answer
    const error = await client.callTool("greet").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputRequired)
    expect((error as InputRequired).message).toContain("no handler")

    const looping = setup({ maxInputRounds: 3 })
    const again = await looping.client.callTool("forever").catch((e: unknown) => e)
    expect(again).toBeInstanceOf(InputRequired)
    expect(looping.transport.requests("tools/call")).toHaveLength(4)
    await client.close()
    await looping.client.close()
  })

  it("over HTTP, a requestState is bound to the principal the auth hook saw: another user's retry is refused", async () => {
    const handle = await makeHttpServer(makeServer(), {
      authenticate: (req) => ({ principal: String(req.headers["x-user"] ?? "anonymous") })
    })
    const as = (user: string) => ModernClient.create(new ModernHttpWire({ url: handle.url, headers: { "x-user": user } }))
    const alice = as("alice")
    // Alice's own round trip works.
    expect((await alice.callTool("stepwise")).content).toEqual([{ type: "text", text: "resumed from step-1" }])
    // Bob replays a state issued to Alice.
    const first = await fetch(handle.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "x-user": "alice", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "stepwise" },
      body: JSON.stringify(call(1, "stepwise"))
    }).then((r) => r.json()) as { result: { requestState: string } }
    const replay = await fetch(handle.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "x-user": "bob", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "stepwise" },
      body: JSON.stringify(call(2, "stepwise", { requestState: first.result.requestState }))
    }).then((r) => r.json()) as { error?: { code: number; message: string } }
    expect(replay.error).toMatchObject({ code: ErrorCode.InvalidParams, message: "Invalid params: requestState issued for another request" })
    await alice.close()
    await handle.close()
  })

  it("over Streamable HTTP, each round is its own POST", async () => {
    const handle = await makeHttpServer(makeServer())
    const client = ModernClient.create(new ModernHttpWire({ url: handle.url }), {
      onElicitation: () => ({ action: "accept", content: { name: "Di" } }),
      onRoots: () => ({ roots: [{ uri: "file:///x" }, { uri: "file:///y" }] })
    })
    expect((await client.callTool("twoAtOnce")).content).toEqual([{ type: "text", text: "Di:2" }])
    expect((await client.callTool("stepwise")).content).toEqual([{ type: "text", text: "resumed from step-1" }])
    expect(handle.stats().modernInFlight).toBe(0)
    await client.close()
    await handle.close()
  })
})

describe("-32021 data: a ClientCapabilities object (schema 2026-07-28 MissingRequiredClientCapabilityError)", () => {
  it("paths become the object and back; a legacy list of strings is read too", async () => {
    const { capabilityObject, capabilityPaths } = await import("../src/protocol/capabilities.ts")
    expect(capabilityObject(["elicitation.url", "roots", "elicitation.form"])).toEqual({ elicitation: { url: {}, form: {} }, roots: {} })
    expect(capabilityPaths({ elicitation: { form: {} }, sampling: {} })).toEqual(["elicitation.form", "sampling"])
    expect(capabilityPaths(["elicitation"])).toEqual(["elicitation"])
    expect(capabilityPaths(undefined)).toEqual([])
  })

  it("our server sends the object for a mode the client lacks; our client reads it back as paths and keeps the raw data", async () => {
    const peer = rawPeer(makeServer())
    const r = await peer.ask(call(1, "greet", {}, { elicitation: { url: {} } }))
    expect(r.error.data).toEqual({ requiredCapabilities: { elicitation: { form: {} } } })
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(makeServer(), serverSide)
    const client = ModernClient.create(clientSide)
    const e = await client.callTool("greet").catch((x: unknown) => x) as { requiredCapabilities: unknown; required: unknown }
    expect(e.requiredCapabilities).toEqual(["elicitation"])
    expect(e.required).toEqual({ elicitation: {} })
    await client.close()
  })
})
