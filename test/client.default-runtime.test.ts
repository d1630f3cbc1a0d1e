/**
 * A client made by a direct call — `ClientSession.connect(transport)`,
 * `ModernClient.create(transport)`, `HttpClientSession.connect(url)` — with no
 * place in a tree given is a supervised connection node of the process's
 * runtime (`defaultMcpRuntime()`), exactly like the `connect*` helpers' clients
 * (src/client/clientConnection.ts): no client chart is a root of its own.
 *
 * - One inspection observer sees it: default root → `connection` → the
 *   client's chart → its children.
 * - While it lives it is listed in the runtime's registry (role `client`) and
 *   owned by its supervisor; once it ended — closed by its owner, its peer
 *   gone, its handshake failed — the registry, the supervisor and the process's
 *   active handles are back where they were, and the node's chart is `closed`
 *   and says who ended it.
 * - A client's own `inspect` observer still sees its subtree (from the node),
 *   while the runtime's observers see it too.
 *
 * The memory cases await events (the node's chart ending), never time. The
 * HTTP case waits (bounded) for its real sockets to close.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import type { ConnectionContext } from "../machines/connection.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { defaultMcpRuntime, makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { aboveBaseline, resourceCounts, settleToBaseline } from "./support/handles.ts"
import { waitFor } from "./support/mcpHttp.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"

const echoServer = () =>
  new McpServer({ name: "default-runtime", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )


const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The server on a runtime of its own, so the default runtime holds only the clients under test. */
const serverRuntime = () => {
  const runtime = makeMcpRuntime()
  cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
  return runtime
}

/** Every actor the one observer saw being created. */
const watchActors = () => {
  const actors: Array<AnyActorRef> = []
  const stop = inspection.subscribe((event: InspectionEvent) => {
    if (event.type === "@xstate.actor") actors.push(event.actorRef as AnyActorRef)
  }, { kinds: ["@xstate.actor"] })
  cleanups.push(stop)
  return { actors, childrenOf: (parent: AnyActorRef) => actors.filter((a) => parentOf(a) === parent) }
}

/** Settles when `node`'s chart has ended (its scope's last finalizer stops it). */
const nodeEnded = (node: AnyActorRef): Promise<void> =>
  new Promise((resolve) => {
    if (node.getSnapshot().status !== "active") return resolve()
    node.subscribe({ complete: () => resolve(), error: () => resolve() })
  })

/** What the default runtime holds now: its registry's ids and its supervisor's sessions. */
const holdings = () => {
  const runtime = defaultMcpRuntime()
  return { ids: runtime.registry.list().map((i) => i.id).sort(), sessions: runtime.managed.runSync(runtime.supervisor.stats).sessions }
}

/** The client's chart is a `connection` node's child, and that node is the default runtime's root's child. */
const expectNodeOfDefaultRuntime = (chart: AnyActorRef, seen: ReturnType<typeof watchActors>): AnyActorRef => {
  const node = parentOf(chart)!
  expect(node).toBeDefined()
  expect(chartOf(node)).toBe("connection")
  expect(parentOf(node)).toBe(defaultMcpRuntime().root)
  expect(chart.system).toBe(defaultMcpRuntime().root.system)
  // The one observer saw the node and the client's chart under it.
  expect(seen.childrenOf(defaultMcpRuntime().root)).toContain(node)
  expect(seen.childrenOf(node)).toEqual([chart])
  return node
}

const endedBy = (node: AnyActorRef): ConnectionContext["endedBy"] => (node.getSnapshot() as unknown as { context: ConnectionContext }).context.endedBy

describe("a directly constructed client is a supervised node of the default runtime", () => {
  it("ClientSession.connect(memory): a node of the default tree, registered while it lives; close releases node, registry and handles", async () => {
    const baseline = resourceCounts()
    const before = holdings()
    const watch = watchActors()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const client = await ClientSession.connect(clientSide)
    const node = expectNodeOfDefaultRuntime(client.chart, watch)
    // Its children (keepalive off on memory: the requests child) are in the same tree.
    expect(watch.childrenOf(client.chart).map((a) => a.id)).toContain("requests")
    expect(holdings().ids).toEqual([...before.ids, client.id].sort())
    expect(defaultMcpRuntime().registry.list().find((i) => i.id === client.id)?.role).toBe("client")
    expect(holdings().sessions).toBe(before.sessions + 1)
    expect(await client.callTool("echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })

    await client.close()
    await nodeEnded(node)
    expect(node.getSnapshot().value).toBe("closed")
    expect(endedBy(node)).toBe("local")
    expect(holdings()).toEqual(before)
    expect(client.chart.getSnapshot().status).not.toBe("active")
    expect(aboveBaseline(baseline)).toEqual([])
  })

  it("ModernClient.create(memory): a node of the default tree; close releases node, registry and handles", async () => {
    const baseline = resourceCounts()
    const before = holdings()
    const watch = watchActors()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const client = ModernClient.create(clientSide)
    const node = expectNodeOfDefaultRuntime(client.chart, watch)
    expect(watch.childrenOf(client.chart).map((a) => a.id)).toEqual(["requests"])
    expect(holdings().ids).toEqual([...before.ids, client.id].sort())
    expect(await client.callTool("echo", { text: "modern" })).toMatchObject({ content: [{ text: "modern" }] })

    await client.close()
    await nodeEnded(node)
    expect(node.getSnapshot().value).toBe("closed")
    expect(endedBy(node)).toBe("local")
    expect(holdings()).toEqual(before)
    expect(aboveBaseline(baseline)).toEqual([])
  })

  it("a ModernClient's subscriptions/listen stream runs its chart as the client chart's child, in the same tree", async () => {
    const watch = watchActors()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const client = ModernClient.create(clientSide)
    const node = expectNodeOfDefaultRuntime(client.chart, watch)
    const sub = client.listen({ toolsListChanged: true })
    await sub.acknowledged
    const [stream, ...others] = watch.childrenOf(client.chart).filter((a) => chartOf(a) === "listenStream")
    expect(others).toEqual([])
    expect(stream!.system).toBe(defaultMcpRuntime().root.system)
    expect(stream!.getSnapshot().value).toBe("listening")
    await client.close()
    await nodeEnded(node)
    expect(stream!.getSnapshot().status).not.toBe("active")
  })

  it("a client whose peer dies is released too (legacy and modern): the node says the peer ended it", async () => {
    const before = holdings()
    const watch = watchActors()
    const [legacySide, legacyServer] = makeMemoryTransportPair()
    const [modernSide, modernServer] = makeMemoryTransportPair()
    serveTransport(echoServer(), legacyServer, { runtime: serverRuntime() })
    serveTransport(echoServer(), modernServer, { runtime: serverRuntime() })
    const legacy = await ClientSession.connect(legacySide)
    const modern = ModernClient.create(modernSide)
    await modern.callTool("echo", { text: "up" })
    const nodes = [expectNodeOfDefaultRuntime(legacy.chart, watch), expectNodeOfDefaultRuntime(modern.chart, watch)]
    expect(holdings().ids).toEqual([...before.ids, legacy.id, modern.id].sort())

    // The server side goes away: nobody calls close() on the clients.
    await legacyServer.close()
    await modernServer.close()
    await Promise.all([legacy.ended, modern.ended])
    await Promise.all(nodes.map(nodeEnded))
    for (const node of nodes) {
      expect(node.getSnapshot().value).toBe("closed")
      expect(endedBy(node)).toBe("peer")
    }
    expect(holdings()).toEqual(before)
  })

  it("a direct connect whose handshake fails leaves nothing: the node closes and the registry is as before", async () => {
    const before = holdings()
    const watch = watchActors()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    // A peer that answers `initialize` with an error.
    serverSide.start({
      onFrame: (text) => {
        const m = JSON.parse(text) as { id?: number; method?: string }
        if (m.method === "initialize") serverSide.send({ jsonrpc: "2.0", id: m.id!, error: { code: -32603, message: "no" } })
      },
      onOversized: () => {},
      onClose: () => {}
    })
    await expect(ClientSession.connect(clientSide)).rejects.toMatchObject({ _tag: "InitializeFailed" })
    const [session] = watch.actors.filter((a) => chartOf(a) === "legacyClientSession")
    const node = parentOf(session!)!
    expect(parentOf(node)).toBe(defaultMcpRuntime().root)
    await nodeEnded(node)
    expect(node.getSnapshot().value).toBe("closed")
    expect(clientSide.closed).toBe(true)
    expect(holdings()).toEqual(before)
  })

  it("a client's own inspect observer sees its subtree from the node, and the runtime's observer sees it too", async () => {
    const watch = watchActors()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const own: Array<AnyActorRef> = []
    const client = await ClientSession.connect(clientSide, {
      inspect: (e) => void (e.type === "@xstate.actor" && own.push(e.actorRef as AnyActorRef))
    })
    const node = expectNodeOfDefaultRuntime(client.chart, watch)
    expect(own[0]).toBe(client.chart)
    expect(own).not.toContain(node)
    for (const child of own.slice(1)) expect(parentOf(child)).toBe(client.chart)
    await client.close()
    await nodeEnded(node)
    // Once the node ended the observer is detached from the runtime's system: later clients are not its business.
    const seen = own.length
    const [otherSide, otherServer] = makeMemoryTransportPair()
    serveTransport(echoServer(), otherServer, { runtime: serverRuntime() })
    const other = await ClientSession.connect(otherSide)
    await other.close()
    expect(own.length).toBe(seen)
  })

  it("a client's inspect observer keeps seeing its events when the runtime's inspection hub starts listening later", async () => {
    // A fresh runtime: nobody listens to its root yet.
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const toRequests: Array<string> = []
    const client = ModernClient.create(clientSide, {
      runtime,
      inspect: (e) => void (e.type === "@xstate.event" && (e.actorRef as AnyActorRef).id === "requests" && toRequests.push(e.event.type))
    })
    await client.callTool("echo", { text: "before" })
    // Someone starts listening to the hub, and another node opens in the same runtime.
    const watch = watchActors()
    const [otherSide, otherServer] = makeMemoryTransportPair()
    serveTransport(echoServer(), otherServer, { runtime: serverRuntime() })
    const other = ModernClient.create(otherSide, { runtime })
    expect(watch.childrenOf(runtime.root).length).toBeGreaterThan(0)
    await client.callTool("echo", { text: "after" })
    expect(toRequests.filter((t) => t === "REQUEST_SENT")).toHaveLength(2)
    await other.close()
    await client.close()
  })

  it("a client given its own runtime joins that runtime's tree and registry, not the default one", async () => {
    const before = holdings()
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(echoServer(), serverSide, { runtime: serverRuntime() })
    const client = ModernClient.create(clientSide, { runtime })
    const node = parentOf(client.chart)!
    expect(parentOf(node)).toBe(runtime.root)
    expect(runtime.registry.list().map((i) => i.id)).toEqual([client.id])
    expect(holdings()).toEqual(before)
    // The runtime's shutdown closes it: the client does not outlive its runtime.
    await runtime.shutdown({ drainMs: 0 })
    await client.ended
    await nodeEnded(node)
    expect(endedBy(node)).toBe("local")
    expect(runtime.registry.size).toBe(0)
  })

  it("HttpClientSession.connect(url): a node of the default tree over real sockets; close releases node, registry and sockets", async () => {
    await waitFor(() => !process.getActiveResourcesInfo().includes("TCPSocketWrap"), 10_000, "earlier sockets to close")
    const baseline = resourceCounts()
    const before = holdings()
    const watch = watchActors()
    const http = await makeHttpServer(echoServer(), { runtime: serverRuntime() })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const client = await HttpClientSession.connect(http.url)
    const node = expectNodeOfDefaultRuntime(client.chart, watch)
    expect(watch.childrenOf(client.chart).map(chartOf).sort()).toEqual(["httpClientConnection", "legacyClientSession"])
    expect(holdings().ids).toEqual([...before.ids, client.id].sort())
    expect(await client.callTool("echo", { text: "http" })).toMatchObject({ content: [{ text: "http" }] })

    await client.close()
    await nodeEnded(node)
    expect(node.getSnapshot().value).toBe("closed")
    expect(endedBy(node)).toBe("local")
    expect(holdings()).toEqual(before)
    await http.close({ drainMs: 0 })
    expect(await settleToBaseline(baseline)).toEqual([])
  })
})
