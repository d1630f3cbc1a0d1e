/**
 * Nothing leaks from the runtime's actor tree when sessions end
 * (src/runtime/ActorScheduler.ts, `keepTreeEndsLocal`).
 *
 * The leak this guards against: a session's or connection's actor is a child
 * of a long-lived node (made with `parent`), and when its chart ended xstate
 * sent the parent `xstate.done.actor.<id>`, a type new for every session.
 * xstate memoizes each state node's candidate transitions per event type in a
 * module-wide cache keyed by the (shared) machine's state nodes, so every
 * ended session left an entry there forever: the HTTP and WebSocket servers'
 * heap after GC grew linearly under churn (~14-25 MB/h in a 75-minute soak).
 *
 * What is checked, as counts of live structures rather than heap bytes: the
 * set of event types the tree's charts processed (each is one entry of that
 * cache per state node) is the same after 30 ended sessions as after 6, and no
 * listener, connection or root chart processed a child's done/error event.
 * Memory transports on a simulated clock (handshake deadline, idle timeout)
 * and real HTTP/WebSocket servers (DELETE, close, a dropped socket).
 */
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { SimulatedClock } from "xstate"
import WebSocket from "ws"
import { ClientSession } from "../src/client/ClientSession.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { whenChanged } from "./support/condition.ts"
import { runtimeEmptied } from "./support/runtimeEmptied.ts"
import { chartOf } from "./support/actorTree.ts"

const echoServer = () =>
  new McpServer({ name: "leak", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )


/** The event types each chart of the tree processed (one `@xstate.snapshot` per processed event). */
const watchProcessedTypes = () => {
  const byChart = new Map<string, Set<string>>()
  const stop = inspection.subscribe((e: InspectionEvent) => {
    if (e.type !== "@xstate.snapshot") return
    const chart = chartOf(e.actorRef as AnyActorRef)
    let types = byChart.get(chart)
    if (types === undefined) byChart.set(chart, types = new Set())
    types.add(e.event.type)
  })
  const all = () => [...byChart].flatMap(([chart, types]) => [...types].map((t) => `${chart} ${t}`)).sort()
  const childEnds = () => all().filter((t) => /^(runtime|listener|connection) xstate\.(done|error)\.actor\./.test(t))
  return { stop, all, childEnds }
}

const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } } as const

const expectEmpty = (runtime: McpRuntime): Promise<void> => runtimeEmptied(runtime)

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("an ended session leaves nothing in the tree's charts", () => {
  it("memory connections (client close, handshake deadline, idle timeout on a simulated clock): the processed event types stay the same set", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const watch = watchProcessedTypes()
    cleanups.push(watch.stop)
    const clock = new SimulatedClock()
    const advance = (ms: number) => {
      for (let i = 0; i < ms; i += 10) clock.increment(10)
    }
    const server = echoServer()
    const serve = (transport: Parameters<typeof serveTransport>[1]) =>
      serveTransport(server, transport, { runtime, clock, now: () => clock.now(), handshakeTimeoutMs: 1_000, idleTimeoutMs: 2_000, drainTimeoutMs: 0 })
    const round = async () => {
      // Completes the handshake and a call, then the client closes.
      const [c1, s1] = makeMemoryTransportPair()
      const closed = serve(s1)
      const client = await ClientSession.connect(c1)
      await client.callTool("echo", { text: "hi" })
      await client.close()
      await closed.ended
      // Never finishes the handshake: the deadline reaps it.
      const [c2, s2] = makeMemoryTransportPair()
      const abandoned = serve(s2)
      await c2.send(initialize)
      advance(1_000)
      expect((await abandoned.ended).reason).toBe("handshake timeout")
      await c2.close()
      // Initialized, then silent: the idle timeout reaps it.
      const [c3, s3] = makeMemoryTransportPair()
      const idle = serve(s3)
      await ClientSession.connect(c3)
      advance(2_000)
      expect((await idle.ended).reason).toMatch(/idle/)
      await c3.close()
    }
    for (let i = 0; i < 2; i++) await round()
    await expectEmpty(runtime)
    const after2 = watch.all()
    for (let i = 0; i < 8; i++) await round()
    await expectEmpty(runtime)
    expect(watch.childEnds()).toEqual([])
    expect(watch.all()).toEqual(after2)
  })

  it("HTTP (DELETE) and WebSocket (close, dropped socket with a call in flight): the processed event types stay the same set", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const watch = watchProcessedTypes()
    cleanups.push(watch.stop)
    const server = echoServer().tool({ name: "slow", inputSchema: { type: "object" } }, (_args, ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({ content: [] }), { once: true }))
    )
    const http = await makeHttpServer(server, { runtime })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const ws = await makeWsServer(server, { runtime })
    cleanups.push(() => ws.close({ drainMs: 0 }))
    const round = async () => {
      const h = await connectHttp(http.url)
      await h.callTool("echo", { text: "http" })
      await h.close() // DELETE
      const w = await connectWs(ws.url)
      await w.callTool("echo", { text: "ws" })
      await w.close()
      // A raw socket: initialize, a call left in flight, then dropped without a close frame.
      const raw = new WebSocket(ws.url, "mcp")
      raw.on("error", () => {})
      await new Promise<void>((ok, fail) => raw.once("open", () => ok()).once("error", fail))
      const answered = new Promise<void>((ok) => raw.once("message", () => ok()))
      raw.send(JSON.stringify(initialize))
      await answered
      raw.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
      raw.send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow","arguments":{}}}')
      await whenChanged((l) => runtime.registry.subscribe(l), () => runtime.registry.size >= 1, "the raw session to be registered")
      raw.terminate()
      await expectEmpty(runtime)
    }
    for (let i = 0; i < 2; i++) await round()
    const after2 = watch.all()
    for (let i = 0; i < 8; i++) await round()
    expect(watch.childEnds()).toEqual([])
    expect(watch.all()).toEqual(after2)
  })
})
