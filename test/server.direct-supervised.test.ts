/**
 * A `ServerSession` made directly (`new ServerSession(server, options)`, no
 * `actorParent`) is a supervised connection of its runtime (`options.runtime`,
 * default the process's), as `serveTransport`'s are (src/server/connectionNode.ts):
 *
 * - its chart is the child of a `connection` node under the runtime's root, so one
 *   `inspect` observer on the root sees the chart's events;
 * - it is listed in the runtime's registry while it lives and gone once it ended,
 *   and its connection's chart ends `closed`;
 * - the runtime shutting down ends it, with no timer left on the runtime's clock;
 * - a session that cannot be constructed, or not in this runtime, leaves nothing behind.
 *
 * The memory-style `send` stands in for the transport (our own logic); time is the
 * runtime's counting clock, and the waits are on the session's and node's own ends.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import type { ConnectionContext } from "../machines/connection.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { defaultMcpRuntime, makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { DuplicateSessionId } from "../src/runtime/Registry.ts"
import { SupervisorShutDown } from "../src/runtime/Supervisor.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession, type ServerSessionOwner } from "../src/server/ServerSession.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"
import { countingClock } from "./support/countingClock.ts"

const echoServer = () =>
  new McpServer({ name: "direct", version: "1.0.0" }).tool({ name: "echo" }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))

const initialize = (session: ServerSession) => {
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A runtime of this test on a counting clock (every timer of its sessions runs there). */
const testRuntime = () => {
  const time = countingClock()
  const runtime = makeMcpRuntime({ clock: time.clock })
  cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
  return { runtime, time }
}

/** The session's running chart (internal). */
const chartOfSession = (session: ServerSession): AnyActorRef => session.actor as unknown as AnyActorRef

/** The chart's `connection` node, which must be the runtime root's child. */
const nodeOf = (session: ServerSession, runtime: McpRuntime): AnyActorRef => {
  const node = parentOf(chartOfSession(session))
  expect(node, "the chart has a parent").toBeDefined()
  expect(chartOf(node!)).toBe("connection")
  expect(parentOf(node!)).toBe(runtime.root)
  expect(chartOfSession(session).system).toBe(runtime.root.system)
  return node!
}

/** Settles when `node`'s chart has ended (the connection's scope stops it last). */
const nodeEnded = (node: AnyActorRef): Promise<void> =>
  new Promise((resolve) => {
    if (node.getSnapshot().status !== "active") return resolve()
    node.subscribe({ complete: () => resolve(), error: () => resolve() })
  })

const connectionOf = (node: AnyActorRef) => node.getSnapshot() as unknown as { value: string; context: ConnectionContext }

const supervised = (runtime: McpRuntime) => runtime.managed.runSync(runtime.supervisor.stats).sessions

describe("a ServerSession made directly is a supervised connection of its runtime", () => {
  it("its chart is a connection node's child under the runtime's root: one inspect observer on the root sees the chart's events", async () => {
    const { runtime } = testRuntime()
    const seen: Array<InspectionEvent> = []
    const observer = runtime.root.system.inspect({ next: (e: InspectionEvent) => void seen.push(e) })
    cleanups.push(() => observer.unsubscribe())
    const sent: Array<JsonRpcMessage> = []
    const session = new ServerSession(echoServer(), { transport: "memory", send: (m) => void sent.push(m), runtime })
    initialize(session)
    session.receive({ jsonrpc: "2.0", id: 1, method: "ping" })
    expect(sent.find((m) => "id" in m && m.id === 1)).toMatchObject({ result: {} })
    const chart = chartOfSession(session)
    const node = nodeOf(session, runtime)
    // The root's observer saw the node and the chart made, and the chart's handshake and ping.
    const made = seen.filter((e) => e.type === "@xstate.actor").map((e) => e.actorRef)
    expect(made).toContain(node)
    expect(made).toContain(chart)
    const chartEvents = seen.flatMap((e) => e.type === "@xstate.event" && e.actorRef === chart ? [e.event.type] : [])
    expect(chartEvents).toEqual(expect.arrayContaining(["INITIALIZE", "INITIALIZED", "PING"]))
    expect(chart.getSnapshot().value).toBe("operating")
  })

  it("without a runtime option it joins the process's runtime: a node of the default tree, in its registry while it lives", async () => {
    const runtime = defaultMcpRuntime()
    const before = runtime.registry.size
    const session = new ServerSession(echoServer(), { transport: "memory", send: () => {} })
    initialize(session)
    const node = nodeOf(session, runtime)
    expect(runtime.registry.entry(session.id)?.handle).toBe(session)
    expect(runtime.registry.size).toBe(before + 1)
    await session.close({ reason: "done" })
    await nodeEnded(node)
    expect(connectionOf(node).value).toBe("closed")
    expect(runtime.registry.entry(session.id)).toBeUndefined()
    expect(runtime.registry.size).toBe(before)
  })

  it("in the registry while live, gone after it ends (closed, its peer gone, idle on the runtime's clock); its connection ends closed", async () => {
    const { runtime, time } = testRuntime()
    const server = echoServer()
    const open = (idleTimeoutMs = 0) => {
      const session = new ServerSession(server, { transport: "memory", send: () => {}, idleTimeoutMs, runtime })
      initialize(session)
      return { session, node: nodeOf(session, runtime) }
    }
    const closed = open()
    const peerGone = open()
    const idle = open(1_000)
    expect(runtime.registry.list().map((i) => i.id).sort()).toEqual([closed.session.id, peerGone.session.id, idle.session.id].sort())
    expect(supervised(runtime)).toBe(3)

    await closed.session.close({ reason: "closed by the owner" })
    peerGone.session.transportClosed({ expected: false, reason: "socket dropped" })
    // The idle deadline is a timer of the runtime's clock (the session was given none).
    time.increment(1_000)
    for (const { session, node } of [closed, peerGone, idle]) {
      await session.ended
      await nodeEnded(node)
      expect(connectionOf(node).value).toBe("closed")
      expect(runtime.registry.entry(session.id)).toBeUndefined()
    }
    expect((await idle.session.ended).reason).toBe("idle timeout")
    expect(connectionOf(peerGone.node).context.reason).toBe("socket dropped")
    expect(runtime.registry.size).toBe(0)
    expect(supervised(runtime)).toBe(0)
    expect(time.pending).toBe(0)
  })

  it("runtime.shutdown() ends it: released, out of the registry, its connection closed, no timer left on the clock", async () => {
    const { runtime, time } = testRuntime()
    const server = echoServer()
    // A handshake deadline arms a timer at once; the idle deadline one once it is operating.
    const waiting = new ServerSession(server, { transport: "memory", send: () => {}, handshakeTimeoutMs: 5_000, runtime })
    const operating = new ServerSession(server, { transport: "memory", send: () => {}, idleTimeoutMs: 60_000, runtime })
    initialize(operating)
    const nodes = [nodeOf(waiting, runtime), nodeOf(operating, runtime)]
    expect(time.pending).toBeGreaterThanOrEqual(2)
    expect(runtime.registry.size).toBe(2)

    await runtime.shutdown({ drainMs: 0, reason: "runtime shutdown" })
    expect(waiting.released && operating.released).toBe(true)
    expect((await operating.ended).reason).toBe("runtime shutdown")
    for (const node of nodes) {
      await nodeEnded(node)
      expect(connectionOf(node).value).toBe("closed")
    }
    expect(runtime.registry.size).toBe(0)
    expect(time.pending).toBe(0)
    expect(server.changeListenerCount).toBe(0)
    // A runtime that shut down takes no new session, as serveTransport's would not.
    expect(() => new ServerSession(server, { transport: "memory", send: () => {}, runtime })).toThrow(SupervisorShutDown)
  })

  it("a session that cannot be made, or not in this runtime, leaves nothing behind; an owner's release is reported too", async () => {
    const { runtime, time } = testRuntime()
    const server = echoServer()
    const nodes: Array<AnyActorRef> = []
    const observer = runtime.root.system.inspect({ next: (e: InspectionEvent) => void (e.type === "@xstate.actor" && chartOf(e.actorRef as AnyActorRef) === "connection" && nodes.push(e.actorRef as AnyActorRef)) })
    cleanups.push(() => observer.unsubscribe())
    const bogus = { id: "x", lastSettledAt: 0, startedAt: 0, chart: { status: "active", value: "closing", context: {} } }
    expect(() => new ServerSession(server, { transport: "memory", send: () => {}, restore: bogus as never, runtime })).toThrow(/not a persisted operating session/)
    expect(nodes).toHaveLength(1)
    expect(nodes[0]!.getSnapshot().status).not.toBe("active")

    const first = new ServerSession(server, { transport: "memory", send: () => {}, id: "same", handshakeTimeoutMs: 5_000, runtime })
    expect(() => new ServerSession(server, { transport: "memory", send: () => {}, id: "same", handshakeTimeoutMs: 5_000, runtime })).toThrow(DuplicateSessionId)
    await nodeEnded(nodes[2]!)
    expect(connectionOf(nodes[2]!).value).toBe("closed")
    expect(runtime.registry.entry("same")?.handle).toBe(first)
    expect(first.released).toBe(false)

    // An owner (as an HTTP session is) without a place in a tree: its release hook runs, then the supervisor's.
    const released: Array<string> = []
    const owner: ServerSessionOwner = { deliver: () => {}, dropStream: () => false, sessionReady: () => {}, sessionReleased: (end) => void released.push(end.reason) }
    const owned = new ServerSession(server, { transport: "http", send: () => {}, runtime }, owner)
    initialize(owned)
    const ownedNode = nodeOf(owned, runtime)
    expect(runtime.registry.entry(owned.id)?.handle).toBe(owned)
    owned.transportClosed({ expected: true, reason: "DELETE" })
    await owned.ended
    expect(released).toEqual(["DELETE"])
    await nodeEnded(ownedNode)
    expect(connectionOf(ownedNode).value).toBe("closed")
    expect(runtime.registry.entry(owned.id)).toBeUndefined()

    await first.close()
    expect(runtime.registry.size).toBe(0)
    expect(time.pending).toBe(0)
  })
})
