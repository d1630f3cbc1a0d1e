/**
 * The host's upstream connections are supervised by its runtime (issue 13,
 * "Effect supervises every connection … server and client"): each generation
 * a `serverConnection` chart opens is an `UpstreamGeneration`, a client
 * connection of the host's runtime — listed in its registry (role `client`),
 * in a `Scope` of its own, a `connection` node under the server's actor — and
 * whatever ends that generation (the host closing, a stop, a restart, a kill -9
 * of the child, a lazy server's idle stop) closes that scope.
 *
 * After each ending the runtime's registry lists exactly the live generations,
 * the supervisor owns nothing more, `ps` shows no process of the old group, and
 * after the host and the runtimes close, no active handle is left.
 *
 * Real child processes and sockets; the charts' timers (backoff, idle stop) run
 * on a SimulatedClock the tests drive. The bounded waits poll real I/O only.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { type AnyActorRef, type InspectionEvent, SimulatedClock } from "xstate"
import type { ConnectionContext } from "../machines/connection.ts"
import { type McpHost, type ServerView, startHost } from "../src/host/McpHost.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { resourceCounts, settleToBaseline } from "./support/handles.ts"
import { processesOf, serverPidUnder } from "./support/processes.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"

const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "host-supervision-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const echoServer = () =>
  new McpServer({ name: "upstream", version: "1.0.0" }).tool(
    { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
    (args) => ({ content: [{ type: "text", text: String(args.text) }] })
  )


/** One inspection observer: every actor created while it listens, and the tree they form. */
const watchActors = () => {
  const actors = new Set<AnyActorRef>()
  const stop = inspection.subscribe((event: InspectionEvent) => {
    if (event.type === "@xstate.actor") actors.add(event.actorRef as AnyActorRef)
  })
  return { stop, childrenOf: (parent: AnyActorRef) => [...actors].filter((a) => parentOf(a) === parent) }
}


/** The generations the runtime's registry lists (sorted ids), all of them clients. */
const live = (runtime: McpRuntime): Array<string> => {
  const infos = runtime.registry.list()
  expect(infos.every((i) => i.role === "client")).toBe(true)
  return infos.map((i) => i.id).sort()
}

/** The supervisor owns nothing: no session, no watcher fiber, no child scope. */
const expectSupervisorEmpty = (runtime: McpRuntime) =>
  expect(runtime.managed.runSync(runtime.supervisor.stats)).toEqual({ sessions: 0, watchers: 0, scopeEntries: 0 })

const view = (host: McpHost, name: string): ServerView => host.status().find((s) => s.name === name)!

const endedBy = (node: AnyActorRef) => (node.getSnapshot().context as ConnectionContext).endedBy

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("the host's upstream connections are supervised by its runtime", { timeout: 90_000 }, () => {
  it("stdio, HTTP and WebSocket: one observer sees each generation as a connection node under its server; the registry lists them; host.close() releases them all", async () => {
    const baseline = resourceCounts()
    const watch = watchActors()
    cleanups.push(watch.stop)
    const upstream = makeMcpRuntime() // the upstream servers' own, so the host's runtime holds only the host's clients
    cleanups.push(() => upstream.shutdown({ drainMs: 0 }))
    const http = await makeHttpServer(echoServer(), { runtime: upstream })
    const ws = await makeWsServer(echoServer(), { runtime: upstream })
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const host = await startHost({
      mcpServers: {
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m1.jsonl") } },
        web: { url: http.url },
        sock: { url: ws.url }
      }
    }, { runtime, stateFile: false, onStderr: () => {} })
    let closed = false
    cleanups.push(() => closed || host.close())

    expect(host.status().map((s) => s.state)).toEqual(["ready", "ready", "ready"])
    expect(await host.callTool("web__echo", { text: "hi" })).toMatchObject({ content: [{ text: "hi" }] })
    expect(await host.callTool("sock__echo", { text: "ho" })).toMatchObject({ content: [{ text: "ho" }] })
    // One registry entry per live generation, each a client of the host's runtime.
    expect(live(runtime)).toEqual(["upstream:memory#1", "upstream:sock#1", "upstream:web#1"])
    expect(runtime.managed.runSync(runtime.supervisor.stats).sessions).toBe(3)

    // The tree: root → host → serverConnection (one per server) → connection → the client's charts.
    const [hostActor, ...others] = watch.childrenOf(runtime.root)
    expect(others).toEqual([])
    expect(chartOf(hostActor!)).toBe("host")
    const servers = watch.childrenOf(hostActor!)
    expect(servers.map((s) => [s.id, chartOf(s)]).sort()).toEqual([["memory", "serverConnection"], ["sock", "serverConnection"], ["web", "serverConnection"]])
    const nodes = new Map<string, AnyActorRef>()
    for (const server of servers) {
      const [node, ...more] = watch.childrenOf(server)
      expect(more).toEqual([])
      expect(chartOf(node!)).toBe("connection")
      expect(node!.getSnapshot().status).toBe("active")
      // The era probe and the client in charge are the node's children.
      const charts = watch.childrenOf(node!).map(chartOf)
      expect(charts).toContain("eraProbe")
      expect(charts.some((c) => c === "legacyClientSession" || c === "modernClient" || c === "httpClientSession")).toBe(true)
      nodes.set(server.id, node!)
    }
    const pgid = host.connection("memory")!.pid!
    expect(processesOf(pgid).length).toBeGreaterThan(0)

    await host.close()
    closed = true
    // Closing the host closed every generation's scope: nothing listed, nothing owned.
    expect(live(runtime)).toEqual([])
    expectSupervisorEmpty(runtime)
    for (const [name, node] of nodes) {
      expect([name, node.getSnapshot().status, node.getSnapshot().value, endedBy(node)]).toEqual([name, "done", "closed", "local"])
    }
    expect(processesOf(pgid)).toEqual([])
    // The runtime was the caller's: it outlives the host, empty.
    expect(runtime.root.getSnapshot().status).toBe("active")

    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    await http.close({ drainMs: 0 })
    await ws.close({ drainMs: 0 })
    expect(await settleToBaseline(baseline)).toEqual([])
  })

  it("a restart, a kill -9 of the child and a stop: each closes its generation's scope; the registry holds exactly the live one", async () => {
    const baseline = resourceCounts()
    const watch = watchActors()
    cleanups.push(watch.stop)
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    // The charts' backoff runs on a clock the test drives; processes and their exits are real.
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: {
        memory: {
          command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m2.jsonl") },
          restart: { backoff: { initialMs: 100, maxMs: 100, jitter: 0 } }
        }
      }
    }, { runtime, stateFile: false, onStderr: () => {}, startTimeoutMs: 0, clock, now: () => clock.now() })
    cleanups.push(() => host.close())
    const memory = () => view(host, "memory")
    /** Generation `n` is serving (a backoff in between passes on the test's clock). */
    const readyAt = async (n: number) => {
      const ok = await hostReaches(host, () => {
        if (memory().state === "restarting") clock.increment(100)
        return memory().state === "ready" && memory().generation === n
      }, 20_000)
      expect(ok).toBe(true)
    }
    const server = () => watch.childrenOf(watch.childrenOf(runtime.root)[0]!)[0]!

    await readyAt(1)
    expect(live(runtime)).toEqual(["upstream:memory#1"])
    const pgid1 = host.connection("memory")!.pid!
    const [node1] = watch.childrenOf(server())

    // A restart: generation 1's scope closes (its group reaped) before generation 2 spawns.
    host.restart("memory")
    clock.increment(0)
    await readyAt(2)
    expect(live(runtime)).toEqual(["upstream:memory#2"])
    expect(processesOf(pgid1)).toEqual([])
    expect([node1!.getSnapshot().status, endedBy(node1!)]).toEqual(["done", "local"])
    const pgid2 = host.connection("memory")!.pid!
    expect(pgid2).not.toBe(pgid1)

    // kill -9 of the server under the lifeline wrapper: the peer ended generation 2; the chart starts 3.
    const node2 = watch.childrenOf(server())[1]!
    process.kill(serverPidUnder(pgid2)!, "SIGKILL")
    await readyAt(3)
    expect(live(runtime)).toEqual(["upstream:memory#3"])
    expect(processesOf(pgid2)).toEqual([])
    expect([node2.getSnapshot().status, endedBy(node2)]).toEqual(["done", "peer"])
    expect(watch.childrenOf(server()).filter((n) => n.getSnapshot().status === "active")).toHaveLength(1)

    // A stop: the last generation goes; the registry is empty, the supervisor owns nothing.
    const pgid3 = host.connection("memory")!.pid!
    host.stop("memory")
    expect(await hostReaches(host, () => memory().state === "stopped", 10_000)).toBe(true)
    await host.connection("memory")!.closed
    expect(live(runtime)).toEqual([])
    expectSupervisorEmpty(runtime)
    expect(processesOf(pgid3)).toEqual([])
    expect(watch.childrenOf(server()).map((n) => [n.getSnapshot().status, endedBy(n)])).toEqual([["done", "local"], ["done", "peer"], ["done", "local"]])

    await host.close()
    expect(live(runtime)).toEqual([])
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect(await settleToBaseline(baseline)).toEqual([])
  })

  it("a WebSocket upstream going away ends its generation (by the peer): its scope closes, the chart restarts it", async () => {
    const baseline = resourceCounts()
    const watch = watchActors()
    cleanups.push(watch.stop)
    const upstream = makeMcpRuntime()
    cleanups.push(() => upstream.shutdown({ drainMs: 0 }))
    const ws = await makeWsServer(echoServer(), { runtime: upstream })
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const clock = new SimulatedClock() // the backoff waits on the test's clock: no reconnection is tried
    const host = await startHost({ mcpServers: { sock: { url: ws.url } } }, { runtime, stateFile: false, startTimeoutMs: 0, clock, now: () => clock.now() })
    cleanups.push(() => host.close())
    expect(await hostReaches(host, () => view(host, "sock").state === "ready", 20_000)).toBe(true)
    expect(live(runtime)).toEqual(["upstream:sock#1"])
    const [node] = watch.childrenOf(watch.childrenOf(watch.childrenOf(runtime.root)[0]!)[0]!)

    await ws.close({ drainMs: 0 })
    expect(await hostReaches(host, () => view(host, "sock").state === "restarting", 20_000)).toBe(true)
    await Promise.resolve() // the chart's closeConnection runs after its step
    await host.connection("sock")!.closed
    expect(live(runtime)).toEqual([])
    expectSupervisorEmpty(runtime)
    expect([node!.getSnapshot().status, endedBy(node!)]).toEqual(["done", "peer"])

    await host.close()
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect(await settleToBaseline(baseline)).toEqual([])
  })

  it("host.close() while a generation is still in its handshake releases it: registry empty, no process left", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const clock = new SimulatedClock() // the connect timeout never fires: only the close ends the handshake
    const host = await startHost({
      mcpServers: { silent: { command: process.execPath, args: ["-e", "process.stdin.resume(); setInterval(() => {}, 1e6)"] } }
    }, { runtime, stateFile: false, startTimeoutMs: 0, clock, now: () => clock.now() })
    let closed = false
    cleanups.push(() => closed || host.close())
    expect(await hostReaches(host, () => view(host, "silent").state === "initializing", 20_000)).toBe(true)
    const pgid = host.connection("silent")!.pid!
    expect(live(runtime)).toEqual(["upstream:silent#1"])
    expect(runtime.registry.list()[0]!.state).not.toBe("closed")
    await host.close()
    closed = true
    expect(live(runtime)).toEqual([])
    expectSupervisorEmpty(runtime)
    expect(processesOf(pgid)).toEqual([])
  })

  it("the runtime shutting down under a running host closes every generation's scope, and the chart hears of it", async () => {
    const baseline = resourceCounts()
    const runtime = makeMcpRuntime()
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: { memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m4.jsonl") } } }
    }, { runtime, stateFile: false, onStderr: () => {}, startTimeoutMs: 0, clock, now: () => clock.now() })
    cleanups.push(() => host.close())
    expect(await hostReaches(host, () => view(host, "memory").state === "ready", 20_000)).toBe(true)
    const pgid = host.connection("memory")!.pid!
    expect(live(runtime)).toEqual(["upstream:memory#1"])

    await runtime.shutdown({ drainMs: 0 })
    expect(runtime.registry.size).toBe(0)
    expect(processesOf(pgid)).toEqual([])
    // Not a silent loss: the generation's end reached the chart, which decides (backoff on the test's clock).
    expect(view(host, "memory")).toMatchObject({ state: "restarting", lastError: "supervisor shutdown" })

    await host.close()
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect(await settleToBaseline(baseline)).toEqual([])
  })

  it("a lazy server: its idle stop closes the generation's scope; the next call opens a new one; close leaves nothing", async () => {
    const baseline = resourceCounts()
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const clock = new SimulatedClock()
    const host = await startHost({
      mcpServers: { memory: { command: process.execPath, args: [MEMORY], lifecycle: "lazy", idleTimeoutMs: 1_000, env: { MEMORY_FILE_PATH: join(dir, "m3.jsonl") } } }
    }, { runtime, stateFile: false, onStderr: () => {}, startTimeoutMs: 0, clock, now: () => clock.now() })
    cleanups.push(() => host.close())
    const memory = () => view(host, "memory")
    const idlesOut = async () => {
      expect(await hostReaches(host, () => memory().state === "ready", 20_000)).toBe(true)
      const pgid = host.connection("memory")!.pid!
      expect(live(runtime)).toEqual([`upstream:memory#${memory().generation}`])
      clock.increment(1_000)
      expect(memory().state).toBe("idle")
      await Promise.resolve() // the chart's closeConnection runs after its step (a microtask)
      await host.connection("memory")!.closed
      expect(live(runtime)).toEqual([])
      expectSupervisorEmpty(runtime)
      expect(processesOf(pgid)).toEqual([])
    }
    // Started once to learn its catalog, then idle.
    await idlesOut()
    expect(memory().generation).toBe(1)
    // A call starts generation 2, which idles out in its turn.
    const result = await host.callTool("memory__read_graph", {})
    expect(result.isError).not.toBe(true)
    expect(memory().generation).toBe(2)
    await idlesOut()

    await host.close()
    expect(live(runtime)).toEqual([])
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    expect(await settleToBaseline(baseline)).toEqual([])
  })
})
