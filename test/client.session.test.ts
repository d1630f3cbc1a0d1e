/**
 * ClientSession unit tests: our client over the in-memory transport, against
 * our own `ServerSession` (demo server or a purpose-built `McpServer`) or a
 * scripted fake peer when the server has to misbehave (wrong version, silence,
 * late answers, pings it does not understand).
 *
 * Every timer runs on xstate's `SimulatedClock` (the session's `clock`
 * option): `tick(ms)` moves virtual time, then lets the in-memory transport
 * deliver what that caused (it delivers on microtasks). No real sleeps.
 */
import { afterEach, describe, expect, it } from "vitest"
import { type ActorRefFrom, SimulatedClock } from "xstate"
import type { KeepaliveMachine } from "../machines/keepalive.ts"
import { ClientSession, type ClientSessionOptions } from "../src/client/ClientSession.ts"
import {
  CapabilityNotSupported,
  ConnectionLost,
  InitializeFailed,
  RequestCancelled,
  RequestTimeout,
  RpcError,
  SessionClosed,
  UnsupportedProtocolVersion
} from "../src/protocol/requestErrors.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import {
  decodeText,
  errorResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type RequestId,
  result as makeResult
} from "../src/protocol/jsonrpc.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import type { ServerSession } from "../src/server/ServerSession.ts"
import { makeMemoryTransportPair, type MemoryTransport } from "../src/transports/memory.ts"
import type { Transport, TransportClosed, TransportHandlers } from "../src/transports/Transport.ts"
import { makeDemoServer } from "../examples/demo.ts"

// ------------------------------------------------------------------ helpers

/** Let queued microtasks and immediates run (the memory transport delivers on microtasks). */
const flush = async (rounds = 3): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Settle state of a promise without awaiting it. */
const track = <A>(promise: Promise<A>) => {
  const state: { settled: boolean; value?: A; error?: unknown } = { settled: false }
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error) => Object.assign(state, { settled: true, error })
  )
  return state
}

/**
 * The client's side of a memory pair, recording every message the client
 * sends, with `crash()` to end it the way a dropped socket would
 * (`expected: false`).
 */
interface TappedTransport extends Transport {
  readonly sent: Array<JsonRpcMessage>
  readonly closed: () => boolean
  crash(reason: string): void
}

const tap = (inner: MemoryTransport): TappedTransport => {
  const sent: Array<JsonRpcMessage> = []
  let original: TransportHandlers | undefined
  let crashed = false
  return {
    kind: inner.kind,
    authoritativeLiveness: inner.authoritativeLiveness,
    sent,
    closed: () => inner.closed || crashed,
    start(h) {
      original = h
      inner.start({
        onFrame: (text) => {
          if (!crashed) h.onFrame(text)
        },
        onOversized: h.onOversized,
        onClose: (c: TransportClosed) => {
          if (!crashed) h.onClose(c)
        }
      })
    },
    send(message: JsonRpcMessage) {
      if (crashed) return
      sent.push(message)
      inner.send(message)
    },
    close: () => inner.close(),
    crash(reason) {
      if (crashed) return
      crashed = true
      original!.onClose({ expected: false, reason })
      void inner.close()
    }
  }
}

const methodsOf = (messages: ReadonlyArray<JsonRpcMessage>) => messages.filter((m) => "method" in m).map((m) => (m as JsonRpcRequest).method)
const cancellations = (messages: ReadonlyArray<JsonRpcMessage>) =>
  messages.filter((m): m is JsonRpcNotification => "method" in m && m.method === "notifications/cancelled" && !("id" in m))
const requestsNamed = (messages: ReadonlyArray<JsonRpcMessage>, method: string) =>
  messages.filter((m): m is JsonRpcRequest => "method" in m && "id" in m && m.method === method)

/** A client connected over memory to our own server; virtual time. */
const connectToServer = async (server: McpServer, options: ClientSessionOptions = {}) => {
  const clock = new SimulatedClock()
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const serverSession = serveTransport(server, serverSide)
  const transport = tap(clientSide)
  const session = await ClientSession.connect(transport, { clock, ...options })
  const tick = async (ms: number) => {
    clock.increment(ms)
    await flush()
  }
  return { session, serverSession, serverSide, transport, clock, tick }
}

/**
 * A scripted server on the other end of a memory pair. By default it answers
 * `initialize` (echoing the requested version) and `ping`; `onRequest` may take
 * over any request (return true when handled).
 */
interface FakePeerOptions {
  /** What to do with `initialize`: answer with this version, or stay silent. */
  readonly initialize?: { readonly protocolVersion: unknown } | "silent" | "echo"
  /** How to answer pings. */
  ping?: "pong" | "silent" | "method-not-found"
  onRequest?: (request: JsonRpcRequest, peer: FakePeer) => boolean
}

interface FakePeer {
  readonly transport: MemoryTransport
  readonly received: Array<JsonRpcMessage>
  readonly closes: Array<TransportClosed>
  readonly options: FakePeerOptions
  send(message: JsonRpcMessage): void
}

const makeFakePeer = (transport: MemoryTransport, options: FakePeerOptions): FakePeer => {
  const received: Array<JsonRpcMessage> = []
  const closes: Array<TransportClosed> = []
  const peer: FakePeer = { transport, received, closes, options, send: (m) => transport.send(m) }
  transport.start({
    onFrame: (text) => {
      const decoded = decodeText(text)
      if (decoded._tag !== "Message") throw new Error(`fake peer got an invalid frame: ${text}`)
      const m = decoded.message
      received.push(m)
      if (!("method" in m) || !("id" in m)) return
      if (options.onRequest?.(m, peer)) return
      if (m.method === "initialize") {
        const init = options.initialize ?? "echo"
        if (init === "silent") return
        const protocolVersion = init === "echo" ? m.params?.protocolVersion : init.protocolVersion
        transport.send(makeResult(m.id, { protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "fake", version: "0.0.1" } }))
      } else if (m.method === "ping") {
        const ping = options.ping ?? "pong"
        if (ping === "pong") transport.send(makeResult(m.id, {}))
        else if (ping === "method-not-found") transport.send(errorResponse(m.id, { code: ErrorCode.MethodNotFound, message: "Method not found: ping" }))
      }
    },
    onOversized: () => {},
    onClose: (c) => void closes.push(c)
  })
  return peer
}

const withFakePeer = (peerOptions: FakePeerOptions) => {
  const clock = new SimulatedClock()
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const transport = tap(clientSide)
  const peer = makeFakePeer(serverSide, peerOptions)
  const tick = async (ms: number) => {
    clock.increment(ms)
    await flush()
  }
  const connect = (options: ClientSessionOptions = {}) => ClientSession.connect(transport, { clock, ...options })
  return { clock, transport, peer, tick, connect }
}

/** A server whose `hold` tool never answers on its own: the test drives it through the captured context. */
const makeHoldServer = () => {
  const held: Array<RequestContext> = []
  const server = new McpServer({ name: "hold", version: "1.0.0" }).tool(
    { name: "hold", description: "Stay in flight until cancelled" },
    (_args, ctx) =>
      new Promise((_resolve, reject) => {
        held.push(ctx)
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
      })
  )
  return { server, held }
}

const sessions: Array<{ readonly session: ClientSession; readonly clock: SimulatedClock }> = []
afterEach(async () => {
  // Close whatever a test left open: the drain deadline is on the session's virtual clock.
  for (const { session, clock } of sessions.splice(0)) {
    const closing = session.close({ drainMs: 0 })
    clock.increment(0)
    await closing
  }
})
const keep = <S extends { readonly session: ClientSession; readonly clock: SimulatedClock }>(x: S): S => {
  sessions.push(x)
  return x
}

// ------------------------------------------------------------------ handshake

describe("handshake", () => {
  it("negotiates the latest version with our server and exposes what it said", async () => {
    const { session, transport } = keep(await connectToServer(makeDemoServer()))
    expect(session.protocolVersion).toBe("2025-11-25")
    expect(session.serverInfo).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
    expect(session.instructions).toMatch(/demo server/)
    expect(session.serverCapabilities).toMatchObject({ tools: { listChanged: true }, prompts: {}, resources: { subscribe: true } })
    expect(session.state).toMatch(/^operating\./)
    // initialize, then notifications/initialized, and nothing else before the first request.
    expect(methodsOf(transport.sent)).toEqual(["initialize", "notifications/initialized"])
    const init = transport.sent[0] as JsonRpcRequest
    expect(init.params).toMatchObject({ protocolVersion: "2025-11-25", clientInfo: { name: "mcp-actors" }, capabilities: {} })
    const tools = await session.listTools()
    expect((tools.tools as ReadonlyArray<{ name: string }>).map((t) => t.name)).toEqual(["echo", "count", "log", "slow"])
    expect(await session.callTool("echo", { text: "hi" })).toEqual({ content: [{ type: "text", text: "hi" }] })
  })

  it("an older requested version is what the server agrees to", async () => {
    const { session, transport } = keep(await connectToServer(makeDemoServer(), { protocolVersion: "2025-03-26" }))
    expect((transport.sent[0] as JsonRpcRequest).params?.protocolVersion).toBe("2025-03-26")
    expect(session.protocolVersion).toBe("2025-03-26")
  })

  it("declares sampling/elicitation/roots exactly when their handlers are given", async () => {
    const handler = () => ({})
    const { transport } = keep(await connectToServer(makeDemoServer(), { onSampling: handler, onRoots: handler }))
    expect((transport.sent[0] as JsonRpcRequest).params?.capabilities).toEqual({ sampling: {}, roots: { listChanged: true } })
  })

  it("a server answering an unsupported version → UnsupportedProtocolVersion, and the client disconnects", async () => {
    const { transport, peer, connect } = withFakePeer({ initialize: { protocolVersion: "1999-01-01" } })
    const states: Array<string> = []
    const error = await connect({ onStateChange: (s) => states.push(s) }).then(
      () => expect.unreachable("connect should fail"),
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(UnsupportedProtocolVersion)
    expect(error).toMatchObject({ _tag: "UnsupportedProtocolVersion", requested: "2025-11-25", received: "1999-01-01" })
    expect((error as UnsupportedProtocolVersion).supported).toContain("2024-11-05")
    await flush()
    // Disconnected: the fake server saw the transport close, and no `initialized` was sent.
    expect(transport.closed()).toBe(true)
    expect(peer.closes).toHaveLength(1)
    expect(methodsOf(transport.sent)).toEqual(["initialize"])
    expect(states.at(-1)).toBe("failed")
  })

  it("a narrowed supportedVersions list refuses a version that is otherwise legal", async () => {
    const { connect } = withFakePeer({ initialize: { protocolVersion: "2024-11-05" } })
    await expect(connect({ supportedVersions: ["2025-11-25", "2025-06-18"] })).rejects.toBeInstanceOf(UnsupportedProtocolVersion)
  })

  it("no initialize answer → InitializeFailed at the deadline on virtual time, not before", async () => {
    const { transport, peer, tick, connect } = withFakePeer({ initialize: "silent" })
    const connecting = track(connect({ initializeTimeoutMs: 5_000 }))
    await flush()
    expect(methodsOf(peer.received)).toEqual(["initialize"])
    await tick(4_999)
    expect(connecting.settled).toBe(false)
    await tick(1)
    expect(connecting.settled).toBe(true)
    expect(connecting.error).toBeInstanceOf(InitializeFailed)
    expect(connecting.error).toMatchObject({ reason: "InitializeTimeout" })
    expect((connecting.error as Error).message).toMatch(/no initialize response within 5000 ms/)
    // initialize MUST NOT be cancelled (cancellation.mdx:L35): just disconnect.
    expect(cancellations(transport.sent)).toEqual([])
    expect(transport.closed()).toBe(true)
  })

  it("an initialize error → InitializeFailed with the server's code", async () => {
    const { connect } = withFakePeer({
      onRequest: (req, peer) => {
        if (req.method !== "initialize") return false
        peer.send(errorResponse(req.id, { code: ErrorCode.InvalidParams, message: "bad client" }))
        return true
      }
    })
    const e = await connect().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(InitializeFailed)
    expect((e as Error).message).toMatch(/-32602 bad client/)
  })
})

// ------------------------------------------------------------------ requests

describe("request deadlines, progress, cancellation", () => {
  it("no answer → RequestTimeout at timeoutMs (not before) and notifications/cancelled reaches the server", async () => {
    const { server, held } = makeHoldServer()
    const { session, serverSession, transport, tick } = keep(await connectToServer(server))
    const call = track(session.callTool("hold", {}, { timeoutMs: 1_000 }))
    await flush()
    expect(held).toHaveLength(1)
    expect(serverSession.inFlightCount).toBe(1)
    expect(session.info().inFlight).toBe(1)
    await tick(999)
    expect(call.settled).toBe(false)
    await tick(1)
    expect(call.error).toBeInstanceOf(RequestTimeout)
    expect(call.error).toMatchObject({ method: "tools/call", afterMs: 1_000, deadline: "request" })
    const callId = requestsNamed(transport.sent, "tools/call")[0]!.id
    expect(cancellations(transport.sent).map((n) => n.params)).toEqual([{ requestId: callId, reason: "timeout" }])
    // The server honoured it: the handler's signal fired and nothing is in flight any more.
    expect(held[0]!.signal.aborted).toBe(true)
    expect(serverSession.inFlightCount).toBe(0)
    expect(session.info().inFlight).toBe(0)
  })

  it("progress resets the deadline, but the hard maximum still fires", async () => {
    const { server, held } = makeHoldServer()
    const { session, transport, tick } = keep(await connectToServer(server))
    const seen: Array<number> = []
    const call = track(
      session.callTool("hold", {}, { timeoutMs: 1_000, maxTotalTimeoutMs: 2_500, onProgress: (p) => seen.push(p.progress) })
    )
    await flush()
    const ctx = held[0]!
    // A progress token was injected.
    const sentCall = requestsNamed(transport.sent, "tools/call")[0]!
    expect(sentCall.params?._meta?.progressToken).toBe(sentCall.id)

    await tick(900)
    ctx.progress(1, 10)
    await flush()
    await tick(900) // t = 1800: past the first 1 s deadline; progress at 900 restarted it
    expect(call.settled).toBe(false)
    ctx.progress(2, 10)
    await flush()
    await tick(600) // t = 2400
    expect(call.settled).toBe(false)
    expect(seen).toEqual([1, 2])
    await tick(100) // t = 2500: the hard maximum, although the last progress was only 700 ms ago
    expect(call.error).toBeInstanceOf(RequestTimeout)
    expect(call.error).toMatchObject({ deadline: "maxTotal", afterMs: 2_500 })
    expect(cancellations(transport.sent)).toHaveLength(1)
    expect(ctx.signal.aborted).toBe(true)
  })

  it("a repeated progress value is not proof of work: the deadline is not reset", async () => {
    const { server, held } = makeHoldServer()
    const { session, tick } = keep(await connectToServer(server))
    const call = track(session.callTool("hold", {}, { timeoutMs: 1_000, onProgress: () => {} }))
    await flush()
    await tick(500)
    held[0]!.progress(1)
    await flush()
    await tick(800) // t = 1300 < 500 + 1000
    expect(call.settled).toBe(false)
    // Our server drops a non-increasing value itself, so forge the notification from the server's side.
    held[0]!.progress(1)
    await flush()
    await tick(200) // t = 1500 = 500 + 1000
    expect(call.error).toBeInstanceOf(RequestTimeout)
  })

  it("progress that goes back is ignored: the callback sees only advancing values, and it resets nothing", async () => {
    // Found by the deterministic simulation (reordered progress): after 3, a late 1 was recorded as the
    // latest value, so the 2 that followed reached the callback (3 then 2) and restarted the deadline.
    const { server } = makeHoldServer()
    const { session, serverSession, transport, tick } = keep(await connectToServer(server))
    const seen: Array<number> = []
    const call = track(session.callTool("hold", {}, { timeoutMs: 1_000, onProgress: (p) => seen.push(p.progress) }))
    await flush()
    const progressToken = requestsNamed(transport.sent, "tools/call")[0]!.id
    // Our server never sends a decreasing value, so send the notifications from the server's side by hand.
    const progress = (value: number) => serverSession.notify("notifications/progress", { progressToken, progress: value })
    await tick(500)
    progress(3) // deadline: 1 500
    await flush()
    await tick(300)
    progress(1)
    await flush()
    await tick(200)
    progress(2)
    await flush()
    expect(seen).toEqual([3])
    await tick(499) // t = 1 499
    expect(call.settled).toBe(false)
    await tick(1) // t = 1 500: neither 1 nor 2 restarted the deadline
    expect(call.error).toBeInstanceOf(RequestTimeout)
  })

  it("AbortSignal → RequestCancelled at once, notifications/cancelled sent, server handler aborted", async () => {
    const { server, held } = makeHoldServer()
    const { session, serverSession, transport } = keep(await connectToServer(server))
    const controller = new AbortController()
    const call = track(session.callTool("hold", {}, { signal: controller.signal }))
    await flush()
    expect(serverSession.inFlightCount).toBe(1)
    controller.abort("user pressed stop")
    await flush()
    expect(call.error).toBeInstanceOf(RequestCancelled)
    expect((call.error as Error).message).toMatch(/user pressed stop/)
    const callId = requestsNamed(transport.sent, "tools/call")[0]!.id
    expect(cancellations(transport.sent).map((n) => n.params)).toEqual([{ requestId: callId, reason: "cancelled by caller" }])
    expect(held[0]!.signal.aborted).toBe(true)
    expect(serverSession.inFlightCount).toBe(0)
    expect(session.state).toMatch(/^operating\./)
  })

  it("an already-aborted signal sends nothing", async () => {
    const { session, transport } = keep(await connectToServer(makeDemoServer()))
    const before = transport.sent.length
    await expect(session.callTool("echo", { text: "x" }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestCancelled)
    expect(transport.sent.length).toBe(before)
  })

  it("a late response after the timeout is dropped (and never answers a later request)", async () => {
    const pending: Array<JsonRpcRequest> = []
    const { clock, tick, connect, peer } = withFakePeer({
      onRequest: (req) => {
        if (req.method !== "tools/call") return false
        pending.push(req)
        return true
      }
    })
    const session = await connect()
    sessions.push({ session, clock })
    const first = track(session.callTool("a", {}, { timeoutMs: 1_000 }))
    await flush()
    await tick(1_000)
    expect(first.error).toBeInstanceOf(RequestTimeout)
    const second = track(session.callTool("b", {}, { timeoutMs: 1_000 }))
    await flush()
    expect(pending.map((r) => r.params?.name)).toEqual(["a", "b"])
    expect(pending[1]!.id).not.toEqual(pending[0]!.id)
    const notes: Array<JsonRpcNotification> = []
    session.on((e) => void (e.type === "notification" && notes.push(e.notification)))
    // The late answer to the first call, then the real answer to the second.
    peer.send(makeResult(pending[0]!.id, { content: [{ type: "text", text: "late" }] }))
    await flush()
    expect(second.settled).toBe(false)
    peer.send(makeResult(pending[1]!.id, { content: [{ type: "text", text: "on time" }] }))
    await flush()
    expect(second.value).toEqual({ content: [{ type: "text", text: "on time" }] })
    expect(first.error).toBeInstanceOf(RequestTimeout) // unchanged
    expect(notes).toEqual([])
    expect(session.info().inFlight).toBe(0)
    expect(session.state).toMatch(/^operating\./)
  })

  it("a JSON-RPC error from the server → RpcError with its code", async () => {
    const { session } = keep(await connectToServer(makeDemoServer()))
    const e = await session.readResource("demo://nope").catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RpcError)
    expect((e as RpcError).code).toBe(ErrorCode.ResourceNotFound)
  })
})

// ------------------------------------------------------------------ capabilities

describe("capability enforcement", () => {
  const toolsOnly = () =>
    new McpServer({ name: "tools-only", version: "1.0.0" }).tool({ name: "noop" }, () => ({ content: [] }))

  it("a server without prompts → CapabilityNotSupported, and nothing is sent", async () => {
    const { session, transport } = keep(await connectToServer(toolsOnly()))
    expect(session.serverCapabilities?.prompts).toBeUndefined()
    const before = transport.sent.length
    const e = await session.listPrompts().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CapabilityNotSupported)
    expect(e).toMatchObject({ method: "prompts/list", capability: "prompts" })
    await expect(session.getPrompt("greet")).rejects.toBeInstanceOf(CapabilityNotSupported)
    await expect(session.subscribeResource("x://y")).rejects.toMatchObject({ capability: "resources.subscribe" })
    expect(transport.sent.length).toBe(before)
    // Advertised methods still go through.
    await expect(session.listTools()).resolves.toMatchObject({ tools: [{ name: "noop" }] })
  })

  it("with enforceCapabilities: false the request is sent and the server's -32601 comes back as RpcError", async () => {
    const { session, transport } = keep(await connectToServer(toolsOnly(), { enforceCapabilities: false }))
    const e = await session.listPrompts().catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RpcError)
    expect((e as RpcError).code).toBe(ErrorCode.MethodNotFound)
    expect(methodsOf(transport.sent)).toContain("prompts/list")
  })
})

// ------------------------------------------------------------------ keepalive

/** The session's keepalive child (it runs while the session operates). */
const keepaliveOf = (session: ClientSession) => {
  const child = session.chart.getSnapshot().children.keepalive
  if (child === undefined) throw new Error(`no keepalive child in state ${session.state}`)
  return child as ActorRefFrom<KeepaliveMachine>
}

describe("keepalive (forced on over memory, virtual time)", () => {
  const keepalive = { intervalMs: 1_000, timeoutMs: 200, maxMisses: 3 } as const

  it("is off by default on a transport that reports liveness", async () => {
    const { clock, transport, tick, connect } = withFakePeer({})
    const session = await connect()
    sessions.push({ session, clock })
    await tick(60_000)
    expect(requestsNamed(transport.sent, "ping")).toEqual([])
    expect(session.state).toContain("keepalive.disabled")
  })

  it("one miss does not kill; maxMisses consecutive misses → dead, \"peer unresponsive\", disconnected", async () => {
    const { transport, peer, tick, connect } = withFakePeer({ ping: "pong" })
    const session = await connect({ keepalive })
    const pings = () => requestsNamed(transport.sent, "ping").length

    await tick(1_000) // ping #1, answered
    expect(pings()).toBe(1)
    expect(session.state).toContain("keepalive.idle")

    peer.options.ping = "silent"
    await tick(1_000) // ping #2
    expect(pings()).toBe(2)
    expect(session.state).toContain("keepalive.awaitingPong")
    await tick(200) // miss 1
    expect(keepaliveOf(session).getSnapshot().context.misses).toBe(1)
    expect(session.state).toMatch(/^operating\./)

    peer.options.ping = "pong"
    await tick(1_000) // ping #3, answered: the miss streak is over
    expect(pings()).toBe(3)
    expect(keepaliveOf(session).getSnapshot().context.misses).toBe(0)

    peer.options.ping = "silent"
    const ended = track(session.ended)
    for (let miss = 1; miss <= 3; miss++) {
      await tick(1_000) // ping
      expect(session.state).toContain("keepalive.awaitingPong")
      await tick(200) // miss
      if (miss < 3) expect(session.state).toMatch(/^operating\./)
    }
    expect(pings()).toBe(6)
    expect(session.state).toBe("dead")
    await flush()
    expect(ended.value).toEqual({ expected: false, reason: "peer unresponsive" })
    expect(session.chart.getSnapshot().output?.failure).toMatchObject({ _tag: "PeerUnresponsive", misses: 3 })
    expect(transport.closed()).toBe(true)
    expect(peer.closes).toHaveLength(1)
    await expect(session.ping()).rejects.toBeInstanceOf(SessionClosed)
  })

  it("inbound traffic counts as proof of life: a chatty peer is not pinged", async () => {
    const { clock, transport, peer, tick, connect } = withFakePeer({ ping: "silent" })
    const session = await connect({ keepalive })
    sessions.push({ session, clock })
    for (let i = 0; i < 5; i++) {
      await tick(900)
      peer.send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: `tick ${i}` } })
      await flush()
    }
    // 4.5 s of virtual time with a message every 0.9 s: activity restarted the 1 s interval each time.
    expect(requestsNamed(transport.sent, "ping")).toEqual([])
    expect(session.state).toContain("keepalive.idle")
    // Silence: the interval runs out and the peer gets pinged.
    await tick(1_000)
    expect(requestsNamed(transport.sent, "ping")).toHaveLength(1)
  })

  it("a server answering ping with -32601 → keepalive latches `unsupported` and stops pinging", async () => {
    const { clock, transport, tick, connect } = withFakePeer({ ping: "method-not-found" })
    const session = await connect({ keepalive })
    sessions.push({ session, clock })
    await tick(1_000)
    expect(requestsNamed(transport.sent, "ping")).toHaveLength(1)
    expect(session.state).toContain("keepalive.unsupported")
    for (let i = 0; i < 10; i++) await tick(1_000)
    expect(requestsNamed(transport.sent, "ping")).toHaveLength(1)
    expect(session.state).toMatch(/^operating\./)
    // The session itself is fine.
    expect(keepaliveOf(session).getSnapshot().context.misses).toBe(0)
  })

  it("a missed keepalive ping does not linger as an in-flight request (graceful close is not held up)", async () => {
    const { tick, connect } = withFakePeer({ ping: "silent" })
    const session = await connect({ keepalive })
    await tick(1_000)
    await tick(200) // one miss; the peer never answers that ping
    expect(session.state).toMatch(/^operating\./)
    expect(session.info().inFlight).toBe(0)
    const closing = track(session.close())
    await flush()
    // No virtual time passes: closing must not wait for the unanswered ping (closeTimeout is 5 s).
    expect(closing.settled).toBe(true)
    expect(session.state).toBe("closed")
  })
})

// ------------------------------------------------------------------ server → client

describe("server → client", () => {
  it("a server ping is answered with an empty result", async () => {
    const { session, serverSession } = keep(await connectToServer(makeDemoServer()))
    await expect((serverSession as ServerSession).request("ping")).resolves.toEqual({})
    expect(session.state).toMatch(/^operating\./)
  })

  it("a ping before initialize is answered too (lifecycle.mdx: pings are allowed in every phase)", async () => {
    const { peer, connect } = withFakePeer({ initialize: "silent" })
    const connecting = connect()
    connecting.catch(() => {})
    await flush()
    peer.send({ jsonrpc: "2.0", id: "early", method: "ping" })
    await flush()
    expect(peer.received).toContainEqual({ jsonrpc: "2.0", id: "early", result: {} })
    await peer.transport.close()
    await expect(connecting).rejects.toBeInstanceOf(InitializeFailed)
  })

  it("sampling/elicitation/roots reach their handlers; an undeclared one gets -32601", async () => {
    const { session, serverSession, transport } = keep(
      await connectToServer(makeDemoServer(), {
        onRoots: () => ({ roots: [{ uri: "file:///work", name: "work" }] }),
        onSampling: (params) => ({ role: "assistant", model: "m", content: { type: "text", text: `re: ${JSON.stringify(params?.maxTokens)}` } })
      })
    )
    await expect(serverSession.request("roots/list")).resolves.toEqual({ roots: [{ uri: "file:///work", name: "work" }] })
    await expect(serverSession.request("sampling/createMessage", { messages: [], maxTokens: 7 })).resolves.toMatchObject({
      content: { text: "re: 7" }
    })
    // Bypass the server's own capability check: the client must still refuse an undeclared method.
    const id: RequestId = "raw-1"
    session.receive({ jsonrpc: "2.0", id, method: "elicitation/create", params: { message: "?" } })
    await flush()
    const answers = transport.sent.filter((m) => !("method" in m) && m.id === id)
    expect(answers).toHaveLength(1)
    expect(answers[0]).toMatchObject({ id, error: { code: ErrorCode.MethodNotFound } })
  })
})

// ------------------------------------------------------------------ transport loss

describe("transport loss", () => {
  it("the server closing mid-call rejects the pending call at once with ConnectionLost", async () => {
    const { server, held } = makeHoldServer()
    const { session, serverSide, tick } = keep(await connectToServer(server, { requestTimeoutMs: 60_000 }))
    const call = track(session.callTool("hold", {}))
    await flush()
    expect(held).toHaveLength(1)
    void serverSide.close()
    await flush()
    // No virtual time passed: no deadline can be what ended it.
    expect(call.error).toBeInstanceOf(ConnectionLost)
    expect(held[0]!.signal.aborted).toBe(true) // and the server gave up on the handler
    expect(session.state).toBe("closed")
    await tick(120_000)
    expect(call.error).toBeInstanceOf(ConnectionLost)
  })

  it("a dropped connection (unexpected close) mid-call → ConnectionLost at once and the session ends dead", async () => {
    const { server } = makeHoldServer()
    const { session, transport } = keep(await connectToServer(server))
    const a = track(session.callTool("hold", {}))
    const b = track(session.ping())
    await flush()
    expect(session.info().inFlight).toBe(1) // the ping was answered; hold is in flight
    transport.crash("connection reset")
    await flush()
    expect(a.error).toBeInstanceOf(ConnectionLost)
    expect((a.error as Error).message).toMatch(/connection reset/)
    expect(b.value).toEqual({})
    expect(session.state).toBe("dead")
    await expect(session.ended).resolves.toEqual({ expected: false, reason: "connection reset" })
    await expect(session.callTool("hold", {})).rejects.toBeInstanceOf(SessionClosed)
  })

  it("close({ drainMs }) cuts the drain short at drainMs on the session clock", async () => {
    const { server, held } = makeHoldServer()
    const { session, tick } = keep(await connectToServer(server))
    const call = track(session.callTool("hold", {}))
    await flush()
    const closing = track(session.close({ drainMs: 1_000 }))
    await tick(999)
    expect(session.state).toBe("closing")
    expect(call.settled).toBe(false)
    await tick(1)
    expect(call.error).toBeInstanceOf(ConnectionLost)
    expect((call.error as Error).message).toMatch(/drain deadline passed/)
    expect(closing.settled).toBe(true)
    expect(session.state).toBe("closed")
    expect(held[0]!.signal.aborted).toBe(true)
  })

  it("close() drains: an in-flight call may finish, new calls are refused", async () => {
    const { server, held } = makeHoldServer()
    server.tool({ name: "quick" }, () => ({ content: [{ type: "text", text: "q" }] }))
    const { session, tick } = keep(await connectToServer(server))
    const call = track(session.callTool("hold", {}))
    await flush()
    const closing = track(session.close())
    await flush()
    expect(session.state).toBe("closing")
    await expect(session.callTool("quick", {})).rejects.toBeInstanceOf(SessionClosed)
    expect(closing.settled).toBe(false)
    await tick(5_000) // closeTimeout: force close
    expect(closing.settled).toBe(true)
    expect(call.error).toBeDefined()
    expect(held[0]!.signal.aborted).toBe(true)
    expect(session.state).toBe("closed")
  })
})
