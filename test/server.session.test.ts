/**
 * In-process unit tests of `ServerSession` (the runtime that executes the
 * legacy server chart): no transport, a recording `send`, and a server whose
 * `gate` tool stays in flight until the test settles it. Timers run on an
 * xstate `SimulatedClock` (through the `clock` and `now` options) wherever the
 * test is about time.
 */
import { describe, expect, it } from "vitest"
import { waitForTurns } from "./support/waitFor.ts"
import { SimulatedClock } from "xstate"
import { ErrorCode, McpError } from "../src/protocol/errors.ts"
import type { JsonRpcMessage, RequestId } from "../src/protocol/jsonrpc.ts"
import type { SessionEnd } from "../src/runtime/SessionHandle.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { CapabilityError, RequestTimeoutError, ServerSession, type ServerSessionOptions } from "../src/server/ServerSession.ts"
import type { CallToolResult } from "../src/server/types.ts"

type Sent = { readonly message: JsonRpcMessage & Record<string, any>; readonly related: RequestId | undefined }

interface Gate {
  readonly ctx: RequestContext
  readonly resolve: (r: CallToolResult) => void
  readonly reject: (e: unknown) => void
}

/** A server whose `gate` tool stays in flight until the test settles it. */
const makeServer = () => {
  const gates = new Map<RequestId, Gate>()
  const server = new McpServer({ name: "unit", version: "1.0.0" })
    .tool({ name: "gate" }, (_args, ctx) => new Promise<CallToolResult>((resolve, reject) => gates.set(ctx.requestId, { ctx, resolve, reject })))
    .tool({ name: "quick" }, () => ({ content: [{ type: "text", text: "quick" }] }))
  return { server, gates }
}

const text = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }] })
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))
/** In-memory effects a few turns away: wait on event-loop turns, not real time. */
const waitFor = (cond: () => boolean, what: string) => waitForTurns(cond, what)

const harness = (options: Partial<ServerSessionOptions> = {}) => {
  const { server, gates } = makeServer()
  const sent: Array<Sent> = []
  const releases: Array<SessionEnd> = []
  const session = new ServerSession(server, {
    transport: "memory",
    send: (message, related) => void sent.push({ message: message as Sent["message"], related }),
    onRelease: (end) => void releases.push(end),
    ...options
  })
  let end: SessionEnd | undefined
  void session.ended.then((e) => (end = e))
  const h = {
    session,
    server,
    gates,
    sent,
    releases,
    get end() {
      return end
    },
    /** Responses (results or errors) sent for `id`. */
    responses: (id: RequestId | null) => sent.filter((s) => !("method" in s.message) && s.message.id === id).map((s) => s.message),
    notifications: (method: string) => sent.filter((s) => s.message.method === method && !("id" in s.message)),
    request: (id: RequestId, method: string, params?: Record<string, unknown>) =>
      session.receive(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }),
    call: (id: RequestId, name: string, extra: Record<string, unknown> = {}) => h.request(id, "tools/call", { name, arguments: {}, ...extra }),
    initialize: (capabilities: Record<string, unknown> = {}, protocolVersion = "2025-11-25") =>
      h.request("init", "initialize", { protocolVersion, capabilities, clientInfo: { name: "unit-client", version: "1.0.0" } }),
    initialized: () => session.receive({ jsonrpc: "2.0", method: "notifications/initialized" }),
    handshake: (capabilities: Record<string, unknown> = {}) => {
      h.initialize(capabilities)
      expect(h.responses("init")[0]?.result?.protocolVersion).toBe("2025-11-25")
      h.initialized()
      expect(session.stateName()).toBe("operating")
    },
    cancel: (requestId: RequestId, reason?: string) =>
      session.receive({ jsonrpc: "2.0", method: "notifications/cancelled", params: reason === undefined ? { requestId } : { requestId, reason } })
  }
  return h
}

const simulated = () => {
  const clock = new SimulatedClock()
  return { clock, options: { clock, now: () => clock.now() } }
}

describe("idle timeout (SimulatedClock)", () => {
  it("with nothing in flight, the session closes exactly idleTimeoutMs after the handshake", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, idleTimeoutMs: 1_000 })
    h.handshake()
    clock.increment(999)
    await flush()
    expect(h.end).toBeUndefined()
    expect(h.session.stateName()).toBe("operating")
    clock.increment(1)
    await flush()
    expect(h.end).toEqual({ expected: true, reason: "idle timeout", cause: "timeout" })
    expect(h.releases).toEqual([{ expected: true, reason: "idle timeout", cause: "timeout" }])
    expect(h.session.stateName()).toBe("closed")
  })

  it("a long request running past the idle timeout does not close the session; it closes idleTimeoutMs after the request finishes", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, idleTimeoutMs: 1_000 })
    h.handshake()
    clock.increment(100)
    h.call(1, "gate")
    expect(h.gates.has(1)).toBe(true)
    // 5 idle periods pass while the request runs.
    for (let i = 0; i < 50; i++) clock.increment(100)
    await flush()
    expect(h.end).toBeUndefined()
    expect(h.session.inFlightCount).toBe(1)
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(false)
    // t = 5100: the request finishes.
    h.gates.get(1)!.resolve(text("done"))
    await flush()
    expect(h.responses(1)).toEqual([{ jsonrpc: "2.0", id: 1, result: text("done") }])
    clock.increment(999)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(h.end?.reason).toBe("idle timeout")
  })

  it("every finished request restarts the count (quick requests keep the session alive)", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, idleTimeoutMs: 1_000 })
    h.handshake()
    for (let i = 0; i < 10; i++) {
      clock.increment(900)
      h.call(`q${i}`, "quick")
      await flush()
      expect(h.responses(`q${i}`)[0]?.result).toEqual(text("quick"))
    }
    expect(h.end).toBeUndefined()
    clock.increment(999)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(h.end?.reason).toBe("idle timeout")
  })

  it("a slow handshake does not eat the idle period: idle is counted from the handshake, not from the session's creation", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, idleTimeoutMs: 1_000 })
    // The client takes 1.5 s to send initialize (e.g. a slow start).
    clock.increment(1_500)
    h.handshake()
    clock.increment(10)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(989)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(h.end?.reason).toBe("idle timeout")
  })

  it("idleTimeoutMs 0 (the default) never closes", async () => {
    const { clock, options } = simulated()
    const h = harness(options)
    h.handshake()
    clock.increment(10 * 24 * 3600 * 1000)
    await flush()
    expect(h.end).toBeUndefined()
    h.call(1, "quick")
    expect(h.responses(1)[0]?.result).toEqual(text("quick"))
    await h.session.close()
    expect(h.end?.reason).toBe("closed by server")
  })
})

describe("handshake timeout (SimulatedClock)", () => {
  it("no initialize (only pings): closed handshakeTimeoutMs after the session started, not before", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, handshakeTimeoutMs: 500 })
    clock.increment(100)
    h.request("p", "ping")
    expect(h.responses("p")).toEqual([{ jsonrpc: "2.0", id: "p", result: {} }])
    clock.increment(399)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(h.end).toEqual({ expected: true, reason: "handshake timeout", cause: "timeout" })
    expect(h.releases).toEqual([{ expected: true, reason: "handshake timeout", cause: "timeout" }])
  })

  it("initialize answered but no notifications/initialized: still closed handshakeTimeoutMs after the start (answering initialize does not re-arm it)", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, handshakeTimeoutMs: 500 })
    clock.increment(300)
    h.initialize()
    expect(h.session.stateName()).toBe("awaitingInitialized")
    clock.increment(199)
    await flush()
    expect(h.end).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(h.end?.reason).toBe("handshake timeout")
    // Requests after the end are ignored.
    const before = h.sent.length
    h.request("late", "ping")
    expect(h.sent.length).toBe(before)
  })

  it("a completed handshake disarms it", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, handshakeTimeoutMs: 500 })
    h.initialize()
    clock.increment(400)
    h.initialized()
    clock.increment(100_000)
    await flush()
    expect(h.end).toBeUndefined()
    expect(h.session.stateName()).toBe("operating")
  })

  it("modern requests need no handshake: a connection that only speaks 2026-07-28 is not closed by it", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, handshakeTimeoutMs: 500 })
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    for (let i = 0; i < 5; i++) {
      clock.increment(400)
      h.request(`m${i}`, "tools/call", { name: "quick", arguments: {}, _meta: meta })
      expect(h.responses(`m${i}`)[0]?.result?.content).toEqual(text("quick").content)
    }
    await flush()
    expect(h.end).toBeUndefined()
    expect(h.session.stateName()).toBe("stateless")
  })

  // With a handshake deadline the chart runs from the start, so a silent peer is closed too.
  it("a connection that never sends anything is closed handshakeTimeoutMs after the start", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, handshakeTimeoutMs: 500 })
    clock.increment(500)
    await flush()
    expect(h.end?.reason).toBe("handshake timeout")
  })
})

describe("graceful close({drainMs})", () => {
  it("refuses new requests (-32000), still answers ping, waits for in-flight requests, sends their responses, then ends", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate")
    h.call(2, "gate")
    const closed = h.session.close({ drainMs: 5_000, reason: "shutdown" })
    expect(h.session.stateName()).toBe("closing")
    h.call(3, "quick")
    expect(h.responses(3)[0]?.error?.code).toBe(ErrorCode.ConnectionClosed)
    h.request("p", "ping")
    expect(h.responses("p")[0]?.result).toEqual({})
    h.gates.get(1)!.resolve(text("one"))
    await flush()
    expect(h.end).toBeUndefined()
    h.gates.get(2)!.resolve(text("two"))
    await closed
    expect(h.responses(1)[0]?.result).toEqual(text("one"))
    expect(h.responses(2)[0]?.result).toEqual(text("two"))
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(false)
    expect(h.end).toEqual({ expected: true, reason: "shutdown" })
    expect(h.releases).toHaveLength(1)
    // Released: further input is ignored.
    const before = h.sent.length
    h.request(4, "ping")
    expect(h.sent.length).toBe(before)
  })

  it("at the drain deadline, what still runs is cancelled: signal aborted, no response even if the handler returns later", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate")
    h.call(2, "gate")
    const signal = h.gates.get(1)!.ctx.signal
    h.gates.get(2)!.resolve(text("fast"))
    const t0 = Date.now()
    await h.session.close({ drainMs: 30 })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25)
    expect(signal.aborted).toBe(true)
    expect(String((signal.reason as Error).message)).toMatch(/session closed/)
    expect(h.responses(2)[0]?.result).toEqual(text("fast"))
    h.gates.get(1)!.resolve(text("too late"))
    await flush()
    expect(h.responses(1)).toEqual([])
    expect(h.end?.reason).toBe("closed by server")
  })

  it("close() without drainMs uses drainTimeoutMs on the session clock", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, drainTimeoutMs: 2_000 })
    h.handshake()
    h.call(1, "gate")
    void h.session.close()
    clock.increment(1_999)
    await flush()
    expect(h.end).toBeUndefined()
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(false)
    clock.increment(1)
    await flush()
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(true)
    expect(h.end?.reason).toBe("closed by server")
    expect(h.responses(1)).toEqual([])
  })

  // The response of a progress-reporting request is held back briefly (SDK interop, see `finish`); the request
  // stays in flight meanwhile, so a drain waits for it.
  it("a request that reported progress and finishes while draining still gets its response before the session ends", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate", { _meta: { progressToken: "tok" } })
    h.gates.get(1)!.ctx.progress(1, 2)
    const closed = h.session.close({ drainMs: 5_000 })
    h.gates.get(1)!.ctx.progress(2, 2)
    h.gates.get(1)!.resolve(text("drained"))
    await closed
    // Whatever the session sends after `ended` never reaches a transport (it is closed by onRelease).
    expect(h.responses(1)).toEqual([{ jsonrpc: "2.0", id: 1, result: text("drained") }])
  })

  it("close() before any message releases at once", async () => {
    const h = harness()
    await h.session.close({ reason: "bye" })
    expect(h.end).toEqual({ expected: true, reason: "bye" })
    expect(h.session.stateName()).toBe("closed")
  })

  it("the transport closing mid-request aborts the handler and ends the session", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate")
    h.session.transportClosed({ expected: false, reason: "stdin error: EPIPE" })
    await h.session.ended
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(true)
    expect(h.end?.reason).toBe("stdin error: EPIPE")
    h.gates.get(1)!.resolve(text("late"))
    await flush()
    expect(h.responses(1)).toEqual([])
  })
})

describe("cancellation via notifications/cancelled", () => {
  it("aborts the handler's signal with the reason; its later result is never sent; the id can be reused", async () => {
    const h = harness()
    h.handshake()
    h.call(7, "gate")
    const { ctx, resolve } = h.gates.get(7)!
    h.cancel(7, "user pressed stop")
    expect(ctx.signal.aborted).toBe(true)
    expect((ctx.signal.reason as Error).message).toBe("user pressed stop")
    expect(h.session.inFlightCount).toBe(0)
    resolve(text("ignored the signal"))
    await flush()
    expect(h.responses(7)).toEqual([])
    // Progress and logs from the cancelled handler are dropped too.
    ctx.progress(5)
    ctx.log("error", "after cancel")
    expect(h.notifications("notifications/progress")).toEqual([])
    expect(h.notifications("notifications/message")).toEqual([])
    h.call(7, "quick")
    expect(h.responses(7)).toEqual([{ jsonrpc: "2.0", id: 7, result: text("quick") }])
  })

  it("a handler that rejects on abort produces no response either", async () => {
    const h = harness()
    h.handshake()
    h.call("r", "gate")
    const { ctx, reject } = h.gates.get("r")!
    ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
    h.cancel("r")
    await flush()
    expect(h.responses("r")).toEqual([])
    expect((ctx.signal.reason as Error).message).toBe("cancelled by client")
  })

  it("unknown, finished and malformed cancellations are ignored", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate")
    h.cancel("nope")
    h.cancel(2)
    h.session.receive({ jsonrpc: "2.0", method: "notifications/cancelled", params: {} })
    expect(h.gates.get(1)!.ctx.signal.aborted).toBe(false)
    h.gates.get(1)!.resolve(text("ok"))
    await flush()
    h.cancel(1) // finished already
    expect(h.responses(1)).toEqual([{ jsonrpc: "2.0", id: 1, result: text("ok") }])
  })
})

describe("progress", () => {
  it("is sent only with a progressToken, only increasing, related to its request, and stops after completion", async () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate", { _meta: { progressToken: "tok" } })
    h.call(2, "gate") // no token
    const ctx = h.gates.get(1)!.ctx
    ctx.progress(1, 10, "one")
    ctx.progress(1, 10, "repeat") // not increasing
    ctx.progress(0.5) // decreasing
    ctx.progress(2.5)
    ctx.progress(Number.NaN)
    ctx.progress(3, undefined, "three")
    h.gates.get(2)!.ctx.progress(1)
    expect(h.notifications("notifications/progress")).toEqual([
      { message: { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "tok", progress: 1, total: 10, message: "one" } }, related: 1 },
      { message: { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "tok", progress: 2.5 } }, related: 1 },
      { message: { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "tok", progress: 3, message: "three" } }, related: 1 }
    ])
    h.gates.get(1)!.resolve(text("done"))
    await waitFor(() => h.responses(1).length === 1, "the response to 1")
    const count = h.sent.length
    ctx.progress(4)
    ctx.log("emergency", "after completion")
    expect(h.sent.length).toBe(count)
    // The response came after every progress notification.
    const last = h.sent.findLastIndex((s) => s.message.method === "notifications/progress")
    expect(h.sent.findIndex((s) => !("method" in s.message) && s.message.id === 1)).toBeGreaterThan(last)
    h.gates.get(2)!.resolve(text("two"))
  })

  it("an integer progressToken is echoed as is", () => {
    const h = harness()
    h.handshake()
    h.call(1, "gate", { _meta: { progressToken: 0 } })
    h.gates.get(1)!.ctx.progress(0)
    expect(h.notifications("notifications/progress").map((s) => s.message.params)).toEqual([{ progressToken: 0, progress: 0 }])
  })
})

describe("request ids", () => {
  it("a duplicate in-flight id → -32600; the original still completes; the id is free again afterwards", async () => {
    const h = harness()
    h.handshake()
    h.call("dup", "gate")
    h.call("dup", "quick")
    expect(h.responses("dup")).toHaveLength(1)
    expect(h.responses("dup")[0]?.error?.code).toBe(ErrorCode.InvalidRequest)
    expect(h.gates.get("dup")!.ctx.signal.aborted).toBe(false)
    h.gates.get("dup")!.resolve(text("original"))
    await flush()
    expect(h.responses("dup")[1]).toEqual({ jsonrpc: "2.0", id: "dup", result: text("original") })
    h.call("dup", "quick")
    expect(h.responses("dup")[2]?.result).toEqual(text("quick"))
  })

  it("a string id and a numeric id with the same digits are different requests", async () => {
    const h = harness()
    h.handshake()
    h.call(5, "gate")
    h.call("5", "gate")
    expect(h.session.inFlightCount).toBe(2)
    h.gates.get(5)!.resolve(text("number"))
    h.gates.get("5")!.resolve(text("string"))
    await flush()
    expect(h.responses(5)[0]?.result).toEqual(text("number"))
    expect(h.responses("5")[0]?.result).toEqual(text("string"))
  })
})

describe("server→client requests (ctx.elicit, createMessage, listRoots)", () => {
  const elicitParams = { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } }

  it("fail locally with CapabilityError when the client did not declare the capability; nothing is sent", async () => {
    const h = harness()
    h.handshake({})
    h.call(1, "gate")
    const ctx = h.gates.get(1)!.ctx
    const before = h.sent.length
    const e1 = await ctx.elicit(elicitParams).then(() => undefined, (e: unknown) => e)
    expect(e1).toBeInstanceOf(CapabilityError)
    expect((e1 as CapabilityError).capability).toBe("elicitation")
    await expect(ctx.createMessage({ messages: [], maxTokens: 1 })).rejects.toBeInstanceOf(CapabilityError)
    await expect(ctx.listRoots()).rejects.toMatchObject({ _tag: "ClientCapabilityNotDeclared", name: "ClientCapabilityNotDeclared", capability: "roots" })
    expect(h.sent.length).toBe(before)
  })

  it("succeed when declared: the request goes out related to the handler's request; the response fed back through receive resolves it", async () => {
    const h = harness()
    h.handshake({ elicitation: {} })
    h.call(1, "gate")
    const ctx = h.gates.get(1)!.ctx
    const answer = ctx.elicit(elicitParams)
    const out = h.sent.at(-1)!
    expect(out.related).toBe(1)
    expect(out.message).toMatchObject({ jsonrpc: "2.0", method: "elicitation/create", params: elicitParams })
    const sid = out.message.id as RequestId
    expect(typeof sid).toBe("string")
    // A response to an unknown id is dropped; the right one resolves.
    h.session.receive({ jsonrpc: "2.0", id: "s-unknown", result: { action: "decline" } })
    h.session.receive({ jsonrpc: "2.0", id: sid, result: { action: "accept", content: { name: "Ada" } } })
    await expect(answer).resolves.toEqual({ action: "accept", content: { name: "Ada" } })
    // A second answer to the same id is ignored (nothing to resolve).
    h.session.receive({ jsonrpc: "2.0", id: sid, result: { action: "decline" } })
    // An error response rejects with its code.
    const second = ctx.elicit(elicitParams)
    const sid2 = h.sent.at(-1)!.message.id as RequestId
    expect(sid2).not.toBe(sid)
    h.session.receive({ jsonrpc: "2.0", id: sid2, error: { code: -32602, message: "bad schema" } })
    const err = await second.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(McpError)
    expect((err as McpError).code).toBe(-32602)
    h.gates.get(1)!.resolve(text("ok"))
  })

  it("elicitation modes: {} means form only; url needs elicitation.url", async () => {
    const h = harness()
    h.handshake({ elicitation: {} })
    h.call(1, "gate")
    const ctx = h.gates.get(1)!.ctx
    await expect(ctx.elicit({ mode: "url", message: "open", url: "https://example.com", elicitationId: "e1" })).rejects.toMatchObject({
      name: "ClientCapabilityNotDeclared",
      capability: "elicitation.url"
    })
    const h2 = harness()
    h2.handshake({ elicitation: { url: {} } })
    h2.call(1, "gate")
    await expect(h2.gates.get(1)!.ctx.elicit(elicitParams)).rejects.toMatchObject({ capability: "elicitation.form" })
    void h2.gates.get(1)!.ctx.elicit({ mode: "url", message: "open", url: "https://example.com", elicitationId: "e1" })
    expect(h2.sent.at(-1)!.message.method).toBe("elicitation/create")
  })

  it("time out on the session clock: RequestTimeoutError and a notifications/cancelled for it", async () => {
    const { clock, options } = simulated()
    const h = harness({ ...options, requestTimeoutMs: 3_000 })
    h.handshake({ roots: {} })
    h.call(1, "gate")
    const roots = h.gates.get(1)!.ctx.listRoots()
    const sid = h.sent.at(-1)!.message.id
    let outcome: unknown
    roots.then((r) => (outcome = r), (e: unknown) => (outcome = e))
    clock.increment(2_999)
    await flush()
    expect(outcome).toBeUndefined()
    clock.increment(1)
    await flush()
    expect(outcome).toBeInstanceOf(RequestTimeoutError) // the deprecated alias is the same class
    expect(outcome).toMatchObject({ _tag: "ClientResponseTimeout", method: "roots/list", afterMs: 3_000 })
    expect(h.sent.at(-1)).toEqual({ message: { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: sid, reason: "timeout" } }, related: 1 })
    // The late answer is dropped.
    h.session.receive({ jsonrpc: "2.0", id: sid as RequestId, result: { roots: [] } })
    h.gates.get(1)!.resolve(text("ok"))
  })

  it("are rejected with ConnectionClosed when the session ends first", async () => {
    const h = harness()
    h.handshake({ sampling: {} })
    h.call(1, "gate")
    const pending = h.gates.get(1)!.ctx.createMessage({ messages: [], maxTokens: 10 })
    h.session.transportClosed({ expected: true, reason: "stdin ended" })
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed })
    await expect(h.session.request("roots/list")).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed })
  })

  it("a modern (2026-07-28) request cannot make one: -32021 for an undeclared capability", async () => {
    const h = harness()
    h.request("m", "tools/call", {
      name: "gate",
      arguments: {},
      _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    })
    const ctx = h.gates.get("m")!.ctx
    expect(ctx.era).toBe("modern")
    await expect(ctx.elicit(elicitParams)).rejects.toMatchObject({ code: ErrorCode.MissingRequiredClientCapability, data: { requiredCapabilities: { elicitation: {} } } })
    h.gates.get("m")!.resolve(text("ok"))
    await flush()
    expect(h.responses("m")[0]?.result).toMatchObject({ ...text("ok"), resultType: "complete" })
  })
})

describe("handler context", () => {
  it("exposes the negotiated facts of the session", () => {
    const h = harness()
    h.initialize({ roots: { listChanged: true } }, "2025-06-18")
    h.initialized()
    h.call(1, "gate", { _meta: { progressToken: 1, trace: "x" } })
    const ctx = h.gates.get(1)!.ctx
    expect(ctx.requestId).toBe(1)
    expect(ctx.method).toBe("tools/call")
    expect(ctx.era).toBe("legacy")
    expect(ctx.protocolVersion).toBe("2025-06-18")
    expect(ctx.sessionId).toBe(h.session.id)
    expect(ctx.clientCapabilities).toEqual({ roots: { listChanged: true } })
    expect(ctx.clientInfo).toEqual({ name: "unit-client", version: "1.0.0" })
    expect(ctx.meta).toEqual({ progressToken: 1, trace: "x" })
    expect(h.session.info()).toMatchObject({ role: "server", era: "legacy", protocolVersion: "2025-06-18", state: "operating", inFlight: 1 })
  })
})
