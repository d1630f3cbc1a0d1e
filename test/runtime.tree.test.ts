/**
 * One actor tree per runtime, and the runtime's supervisor owning every
 * connection on every transport (src/runtime/McpRuntime.ts).
 *
 * - One inspection observer, subscribed after the runtime was made, sees the
 *   whole tree: root → listeners (HTTP, WebSocket) / connections (memory,
 *   stdio) → connections (WebSocket) → sessions.
 * - For each transport and each way a connection ends (the client closes, the
 *   server closes, the socket is destroyed, the runtime shuts down), the
 *   runtime's registry and supervisor are empty afterwards, no active handle
 *   is left, and every connection/listener chart reached its final state.
 *
 * Real sockets and streams: the bounded waits below poll real I/O only.
 */
import type { Socket } from "node:net"
import { PassThrough } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
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
import { makeStdioServerTransport } from "../src/transports/stdioServer.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import { chartReaches, whenChanged } from "./support/condition.ts"
import { resourceCounts, settleToBaseline } from "./support/handles.ts"
import { runtimeEmptied } from "./support/runtimeEmptied.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"

const echoServer = () =>
  new McpServer({ name: "tree", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )


/** Every actor the observer saw being created, with its parent. */
const watchActors = () => {
  const actors = new Set<AnyActorRef>()
  const roots = new Set<string>()
  const stop = inspection.subscribe((event: InspectionEvent) => {
    roots.add(event.rootId)
    if (event.type === "@xstate.actor") actors.add(event.actorRef as AnyActorRef)
  })
  return {
    actors,
    roots,
    stop,
    of: (chart: string) => [...actors].filter((a) => chartOf(a) === chart),
    childrenOf: (parent: AnyActorRef) => [...actors].filter((a) => parentOf(a) === parent)
  }
}

/** The supervisor and registry hold nothing (once every connection's scope has finished closing). */
const expectEmpty = async (runtime: McpRuntime) => {
  await runtimeEmptied(runtime)
  expect(runtime.managed.runSync(runtime.supervisor.stats).sessions).toBe(0)
  expect(runtime.registry.size).toBe(0)
}

const isFinal = (ref: AnyActorRef) => ref.getSnapshot().status === "done"

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("one actor tree per runtime", () => {
  it("one observer sees the runtime's listeners, connections and sessions on every transport, all under its root", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    // Subscribed after the runtime was made: the root picks the observer up when a node opens.
    const watch = watchActors()
    cleanups.push(watch.stop)
    const server = echoServer()
    const http = await makeHttpServer(server, { runtime })
    const ws = await makeWsServer(server, { runtime })
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide, { runtime })
    const clients = [await connectHttp(http.url), await connectWs(ws.url), await ClientSession.connect(clientSide)]

    const root = runtime.root
    expect(chartOf(root)).toBe("runtime")
    const listeners = watch.childrenOf(root).filter((a) => chartOf(a) === "listener")
    const kinds = new Map(listeners.map((l) => [(l.getSnapshot() as { context: { kind: string } }).context.kind, l]))
    expect([...kinds.keys()].sort()).toEqual(["http", "ws"])
    // HTTP: the session's chart is the listener's child (an HTTP session has no connection of its own).
    expect(watch.childrenOf(kinds.get("http")!).map(chartOf)).toEqual(["legacyServerSession"])
    // WebSocket: listener → connection → session.
    const [wsConnection, ...otherWs] = watch.childrenOf(kinds.get("ws")!)
    expect(otherWs).toEqual([])
    expect(chartOf(wsConnection!)).toBe("connection")
    expect(watch.childrenOf(wsConnection!).map(chartOf)).toEqual(["legacyServerSession"])
    // Memory: root → connection → session.
    const [memoryConnection, ...otherMemory] = watch.childrenOf(root).filter((a) => chartOf(a) === "connection")
    expect(otherMemory).toEqual([])
    expect(watch.childrenOf(memoryConnection!).map(chartOf)).toEqual(["legacyServerSession"])
    // Every server-side actor reports through this runtime's root.
    for (const actor of [...listeners, wsConnection!, memoryConnection!, ...watch.of("legacyServerSession").filter((a) => a.system === root.system)]) {
      expect(actor.system).toBe(root.system)
    }
    expect(watch.roots.has(root.sessionId)).toBe(true)
    expect(runtime.registry.size).toBe(3)

    for (const client of clients) await client.close()
    await http.close({ drainMs: 0 })
    await ws.close({ drainMs: 0 })
    await expectEmpty(runtime)
    for (const actor of [...listeners, wsConnection!, memoryConnection!]) expect(isFinal(actor)).toBe(true)
  })

  it("an observer that stops listening is detached from the root: later actors report nothing", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const watch = watchActors()
    serveTransport(echoServer(), makeMemoryTransportPair()[1], { runtime })
    expect(watch.of("connection")).toHaveLength(1)
    watch.stop()
    const seen = watch.actors.size
    serveTransport(echoServer(), makeMemoryTransportPair()[1], { runtime })
    expect(watch.actors.size).toBe(seen)
    expect(runtime.registry.size).toBe(2)
  })
})

describe("the runtime supervises every connection on every transport", () => {
  type Ending = "client closes" | "server closes" | "socket destroyed" | "runtime shuts down"

  /** Serve `n` connections on one transport, end them as `ending` says, and check nothing is left. */
  const check = async (
    open: (runtime: McpRuntime) => Promise<{
      readonly end: (ending: Ending) => Promise<void>
      readonly closeServer: () => Promise<void>
      readonly closeClients: () => Promise<void>
    }>,
    ending: Ending
  ) => {
    const baseline = resourceCounts()
    const runtime = makeMcpRuntime()
    const watch = watchActors()
    try {
      const served = await open(runtime)
      expect(runtime.registry.size).toBeGreaterThan(0)
      if (ending === "runtime shuts down") {
        await runtime.shutdown({ drainMs: 0 })
        expect(runtime.registry.size).toBe(0)
      } else {
        await served.end(ending)
        await expectEmpty(runtime)
        await served.closeServer()
        await expectEmpty(runtime)
      }
      const nodes = [...watch.of("connection"), ...watch.of("listener")].filter((a) => a.system === runtime.root.system)
      expect(nodes.length).toBeGreaterThan(0)
      await Promise.all(nodes.map((node) => chartReaches(node, (s) => s.status === "done", "every connection and listener chart to reach its final state")))
      for (const node of watch.of("connection").filter((a) => a.system === runtime.root.system)) {
        expect(node.getSnapshot().value).toBe("closed")
      }
      await served.closeClients()
    } finally {
      watch.stop()
      await runtime.shutdown({ drainMs: 0 })
    }
    expect(runtime.root.getSnapshot().value).toBe("stopped")
    expect(await settleToBaseline(baseline)).toEqual([])
  }

  const memory = async (runtime: McpRuntime) => {
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const session = serveTransport(echoServer(), serverSide, { runtime, idleTimeoutMs: 60_000, handshakeTimeoutMs: 60_000 })
    const client = await ClientSession.connect(clientSide)
    expect(await client.callTool("echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })
    return {
      end: async (ending: Ending) => {
        if (ending === "client closes") await client.close()
        else if (ending === "server closes") await session.close({ reason: "server closes" })
        else await serverSide.close()
        await session.ended
      },
      closeServer: async () => undefined,
      closeClients: () => client.close()
    }
  }

  const stdio = async (runtime: McpRuntime) => {
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const lines: Array<Record<string, unknown>> = []
    let buffer = ""
    stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8")
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        lines.push(JSON.parse(buffer.slice(0, i)) as Record<string, unknown>)
        buffer = buffer.slice(i + 1)
      }
    })
    // Resolves on the stdout chunk that completes the echo's reply (the listener above has parsed it by then).
    const echoed = new Promise<void>((resolve) => stdout.on("data", () => lines.some((l) => l.id === 2) && resolve()))
    const session = serveTransport(echoServer(), makeStdioServerTransport({ stdin, stdout }), { runtime, idleTimeoutMs: 60_000 })
    stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`)
    stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`)
    stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } })}\n`)
    await echoed
    return {
      end: async (ending: Ending) => {
        if (ending === "client closes") stdin.end()
        else if (ending === "server closes") await session.close({ reason: "server closes" })
        else stdin.destroy()
        await session.ended
      },
      closeServer: async () => undefined,
      closeClients: async () => void stdin.destroy()
    }
  }

  const ws = async (runtime: McpRuntime) => {
    const registry = makeRegistryUnsafe() // its changes tell when the connections are released
    const handle = await makeWsServer(echoServer(), { runtime, registry })
    const sockets = new Set<Socket>()
    handle.server.on("connection", (socket: Socket) => sockets.add(socket))
    const clients = await Promise.all([connectWs(handle.url), connectWs(handle.url)])
    for (const client of clients) expect(await client.callTool("echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })
    return {
      end: async (ending: Ending) => {
        if (ending === "client closes") for (const client of clients) await client.close()
        else if (ending === "server closes") await handle.close({ drainMs: 0 })
        else for (const socket of sockets) socket.destroy()
        await whenChanged((l) => registry.subscribe(l), () => handle.connections === 0, "the connections to end")
      },
      closeServer: () => handle.close({ drainMs: 0 }),
      closeClients: async () => {
        for (const client of clients) await client.close()
      }
    }
  }

  const http = async (runtime: McpRuntime) => {
    const registry = makeRegistryUnsafe() // its changes tell when the sessions are released
    const handle = await makeHttpServer(echoServer(), { runtime, registry })
    const clients = await Promise.all([connectHttp(handle.url), connectHttp(handle.url)])
    for (const client of clients) expect(await client.callTool("echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })
    return {
      end: async (ending: Ending) => {
        if (ending === "client closes") for (const client of clients) await client.close()
        else if (ending === "server closes") await handle.close({ drainMs: 0 })
        else {
          handle.server.closeAllConnections()
          // An HTTP session outlives its sockets (its requests may arrive on any): the server's close ends it.
          expect(handle.sessions).toBe(2)
          await handle.close({ drainMs: 0 })
        }
        await whenChanged((l) => registry.subscribe(l), () => handle.sessions === 0, "the sessions to end")
      },
      closeServer: () => handle.close({ drainMs: 0 }),
      closeClients: async () => {
        for (const client of clients) await client.close().catch(() => undefined)
      }
    }
  }

  const transports = { memory, stdio, ws, http } as const
  const endings: ReadonlyArray<Ending> = ["client closes", "server closes", "socket destroyed", "runtime shuts down"]
  for (const [name, open] of Object.entries(transports)) {
    for (const ending of endings) {
      it(`${name}: ${ending}`, () => check(open, ending), 30_000)
    }
  }
})

