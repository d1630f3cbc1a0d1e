/**
 * Client connections are supervised nodes of their runtime's actor tree
 * (src/client/clientConnection.ts), on stdio, Streamable HTTP and WebSocket.
 *
 * - One inspection observer sees the client's tree: root → `connection` →
 *   the session chart (HTTP: `httpClientSession` → each generation's
 *   `legacyClientSession` and `httpClientConnection`) → the session's `requests`
 *   child, which runs the `outboundRequest` chart for each request in flight.
 * - For each way a client connection ends (the client closes, the peer goes
 *   away, the socket drops, the runtime shuts down), the client runtime's
 *   registry and supervisor are empty afterwards, the node's chart is
 *   `closed` and says who ended it, no active handle is left, and for stdio
 *   `ps` lists no process of the child's group.
 *
 * Real processes and sockets: the waits below are on events (inspection, charts, the
 * registry); only OS state with no event (active handles, `ps`) is polled.
 */
import type { Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import type { ConnectionContext } from "../machines/connection.ts"
import type { Client } from "../src/client/Client.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { connectStdio } from "../src/client/connectStdio.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import type { StdioClientTransport } from "../src/transports/stdioClient.ts"
import { chartReaches, condition } from "./support/condition.ts"
import { waitFor } from "./support/mcpHttp.ts"
import { resourceCounts, settleToBaseline } from "./support/handles.ts"
import { runtimeEmptied } from "./support/runtimeEmptied.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"
import { processesOf } from "./support/processes.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

/** The `hold` calls the servers have started (the handler runs: the server took the call). */
const holds = { started: 0, ...condition() }

const slowServer = () =>
  new McpServer({ name: "client-tree", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  ).tool(
    { name: "hold", inputSchema: { type: "object" } },
    (_args, ctx) => new Promise((resolve) => {
      holds.started++
      holds.changed()
      ctx.signal.addEventListener("abort", () => resolve({ content: [] }))
    })
  )


/** Every actor the inspection sees; `when(check)` is re-checked at each inspection event (no polling). */
const watchActors = () => {
  const actors = new Set<AnyActorRef>()
  const { changed, when } = condition()
  const stop = inspection.subscribe((event: InspectionEvent) => {
    if (event.type === "@xstate.actor") actors.add(event.actorRef as AnyActorRef)
    changed()
  })
  return {
    actors,
    stop,
    when,
    childrenOf: (parent: AnyActorRef) => [...actors].filter((a) => parentOf(a) === parent)
  }
}



const expectEmpty = async (runtime: McpRuntime) => {
  await runtimeEmptied(runtime)
  expect(runtime.managed.runSync(runtime.supervisor.stats).sessions).toBe(0)
}

type Ending = "client closes" | "peer goes away" | "socket drops" | "runtime shuts down"

interface Opened {
  readonly client: Client
  /** The session chart(s) expected under the connection node. */
  readonly sessionCharts: ReadonlyArray<string>
  /** End the connection from the peer's side. */
  readonly peerGoesAway: () => Promise<void>
  /** Drop the socket under it (stdio: its pipes go with the child). */
  readonly dropSocket: () => Promise<void>
  /** Who the node says ended it, per ending (HTTP survives a dropped socket). */
  readonly endedBy: Readonly<Record<Ending, ConnectionContext["endedBy"] | "survives">>
  readonly pid?: number
  readonly cleanup: () => Promise<void>
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A server on a runtime of its own, so the client's runtime holds only the client. */
const serverRuntime = () => {
  const runtime = makeMcpRuntime()
  cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
  return runtime
}

const transports: Record<string, (runtime: McpRuntime) => Promise<Opened>> = {
  stdio: async (runtime) => {
    const client = await connectStdio({ command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: CWD, stderr: "ignore", runtime })
    const pid = (client.transport as StdioClientTransport).pid!
    return {
      client,
      pid,
      sessionCharts: ["legacyClientSession"],
      peerGoesAway: async () => void process.kill(-pid, "SIGKILL"),
      // Its pipes close as the child exits on its own terms (SIGTERM), not killed outright.
      dropSocket: async () => void process.kill(-pid, "SIGTERM"),
      endedBy: { "client closes": "local", "peer goes away": "peer", "socket drops": "peer", "runtime shuts down": "local" },
      cleanup: async () => {}
    }
  },
  http: async (runtime) => {
    const server = await makeHttpServer(slowServer(), { runtime: serverRuntime() })
    const sockets = new Set<Socket>()
    server.server.on("connection", (s: Socket) => (sockets.add(s), s.on("close", () => sockets.delete(s))))
    const client = await connectHttp(server.url, { runtime, reconnect: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 200 }, connectTimeoutMs: 2_000 })
    return {
      client,
      sessionCharts: ["httpClientSession"],
      peerGoesAway: async () => {
        await server.close({ drainMs: 0 })
        // The standalone stream ends; its reconnection finds nobody: the server is unreachable.
        await client.ping().catch(() => undefined)
      },
      dropSocket: async () => {
        for (const s of sockets) s.destroy()
      },
      endedBy: { "client closes": "local", "peer goes away": "peer", "socket drops": "survives", "runtime shuts down": "local" },
      cleanup: () => server.close({ drainMs: 0 })
    }
  },
  ws: async (runtime) => {
    const server = await makeWsServer(slowServer(), { runtime: serverRuntime() })
    const sockets = new Set<Socket>()
    server.server.on("connection", (s: Socket) => (sockets.add(s), s.on("close", () => sockets.delete(s))))
    const client = await connectWs(server.url, { runtime })
    return {
      client,
      sessionCharts: ["legacyClientSession"],
      peerGoesAway: () => server.close({ drainMs: 0 }),
      dropSocket: async () => {
        for (const s of sockets) s.destroy()
      },
      endedBy: { "client closes": "local", "peer goes away": "peer", "socket drops": "peer", "runtime shuts down": "local" },
      cleanup: () => server.close({ drainMs: 0 })
    }
  }
}

const check = async (open: (runtime: McpRuntime) => Promise<Opened>, ending: Ending) => {
  const baseline = resourceCounts()
  const runtime = makeMcpRuntime()
  cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
  const watch = watchActors()
  cleanups.push(watch.stop)
  const opened = await open(runtime)
  cleanups.push(opened.cleanup)
  const { client } = opened

  // The tree: root → connection → session chart(s) → a request child while one is in flight.
  const [node, ...others] = watch.childrenOf(runtime.root)
  expect(others).toEqual([])
  expect(chartOf(node!)).toBe("connection")
  expect(watch.childrenOf(node!).map(chartOf)).toEqual(opened.sessionCharts)
  const session = watch.childrenOf(node!)[0]!
  const legacy = chartOf(session) === "legacyClientSession" ? session : watch.childrenOf(session).find((a) => chartOf(a) === "legacyClientSession")!
  if (chartOf(session) === "httpClientSession") {
    expect(watch.childrenOf(session).map(chartOf).sort()).toEqual(["httpClientConnection", "legacyClientSession"])
  }
  const holdsBefore = holds.started
  const held = client.callTool("hold", {}, { timeoutMs: 60_000 }).catch((e: unknown) => e)
  // An in-process server runs the call, so it has the session's notifications/initialized too: an
  // HTTP socket dropped before that POST lands would leave the session uninitialized. (stdio: the
  // CLI's server, in order on one pipe.)
  if (opened.pid === undefined) await holds.when(() => holds.started === holdsBefore + 1, "the server to start the held call")
  // Requests in flight run the `outboundRequest` chart inside the session's one `requests` child (machines/outboundRequests.ts).
  const requestsChild = (): AnyActorRef | undefined => watch.childrenOf(legacy).find((a) => a.id === "requests")
  const inFlight = (): number => (requestsChild()?.getSnapshot() as { context?: { inFlight?: number } } | undefined)?.context?.inFlight ?? 0
  await watch.when(() => inFlight() === 1, "the request in flight in the session's requests child")
  expect(requestsChild()!.getSnapshot().value).toBe("busy")
  expect(runtime.registry.list().map((i) => i.role)).toEqual(["client"])

  switch (ending) {
    case "client closes":
      await client.close({ drainMs: 0 })
      break
    case "peer goes away":
      await opened.peerGoesAway()
      break
    case "socket drops":
      await opened.dropSocket()
      break
    case "runtime shuts down":
      await runtime.shutdown({ drainMs: 0 })
      break
  }
  if (opened.endedBy[ending] === "survives") {
    // Streamable HTTP: a dropped socket is not the session's end (the held call resumes its
    // stream); the next call opens another.
    expect(await client.callTool("echo", { text: "still here" })).toMatchObject({ content: [{ text: "still here" }] })
    expect(node!.getSnapshot().status).toBe("active")
    await client.close({ drainMs: 0 })
  } else {
    await client.ended
  }
  expect(await held).toBeInstanceOf(Error)
  if (ending === "runtime shuts down") {
    // Its supervisor is gone with it; what it owned was released on the way.
    expect(runtime.registry.size).toBe(0)
  } else await expectEmpty(runtime)
  await chartReaches(node!, (s) => s.status === "done", "the connection's chart to end")
  expect(node!.getSnapshot().value).toBe("closed")
  const endedBy = opened.endedBy[ending]
  expect((node!.getSnapshot().context as ConnectionContext).endedBy).toBe(endedBy === "survives" ? "local" : endedBy)
  expect(session.getSnapshot().status).not.toBe("active")
  if (opened.pid !== undefined) {
    await waitFor(() => processesOf(opened.pid!).length === 0, 10_000, "the stdio child's group to be gone")
    expect(processesOf(opened.pid)).toEqual([])
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  expect(await settleToBaseline(baseline)).toEqual([])
}

describe("client connections are supervised nodes of the runtime's tree", () => {
  const endings: ReadonlyArray<Ending> = ["client closes", "peer goes away", "socket drops", "runtime shuts down"]
  for (const [name, open] of Object.entries(transports)) {
    for (const ending of endings) {
      it(`${name}: ${ending}`, () => check(open, ending), 60_000)
    }
  }
})

describe("dual-era clients are supervised nodes too", () => {
  it("connectAutoHttp and connectAutoStdio: the era probe and the modern client are children of the connection node; closing empties the runtime", async () => {
    const { connectAutoHttp } = await import("../src/client/connectAutoHttp.ts")
    const { connectAutoStdio } = await import("../src/client/connectAuto.ts")
    const { MemoryEraCache } = await import("../src/client/EraCache.ts")
    const baseline = resourceCounts()
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const watch = watchActors()
    cleanups.push(watch.stop)
    const server = await makeHttpServer(slowServer(), { runtime: serverRuntime() })
    cleanups.push(() => server.close({ drainMs: 0 }))
    const cache = new MemoryEraCache()
    const clients = [
      await connectAutoHttp(server.url, { runtime, cache }),
      await connectAutoStdio({ command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: CWD, stderr: "ignore", runtime, cache })
    ]
    expect(clients.map((c) => c.era)).toEqual(["modern", "modern"])
    const nodes = watch.childrenOf(runtime.root)
    expect(nodes.map(chartOf)).toEqual(["connection", "connection"])
    for (const node of nodes) expect(watch.childrenOf(node).map(chartOf).sort()).toEqual(["eraProbe", "modernClient"])
    expect(runtime.registry.list().map((i) => [i.role, i.era])).toEqual([["client", "modern"], ["client", "modern"]])
    for (const client of clients) expect(await client.callTool("echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })
    for (const client of clients) await client.close()
    await expectEmpty(runtime)
    for (const node of nodes) {
      await chartReaches(node, (s) => s.status === "done", "the connection's chart to end")
      expect((node.getSnapshot().context as ConnectionContext).endedBy).toBe("local")
    }
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect(await settleToBaseline(baseline)).toEqual([])
  }, 60_000)
})
