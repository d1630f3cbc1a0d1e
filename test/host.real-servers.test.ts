/**
 * The host against servers nobody here wrote: server-everything and
 * server-memory over stdio, the official SDK's Streamable HTTP server, and our
 * demo example over WebSocket; the official SDK client talks to the gateway.
 * Real processes, real time (generous timeouts for a busy 2-core machine).
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ElicitRequestSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { RequestCancelled } from "../src/protocol/requestErrors.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { makeWsClientTransport } from "../src/transports/wsClient.ts"
import { serveGatewayWs } from "../src/host/gateway.ts"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { type Gateway, type GatewayHttpHandle, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { ServerConnectionLost, ServerUnavailable } from "../src/host/errors.ts"
import { type HostEvent, type McpHost, startHost } from "../src/host/McpHost.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import { makeWsServer, type WsServerHandle } from "../src/server/ws/WsServer.ts"
import { type SdkHttpServer, startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { countingClock } from "./support/countingClock.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { groupMembers, processGroupAlive, serverPidUnder } from "./support/processes.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))
const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ type: string; text?: string }>).filter((c) => c.type === "text").map((c) => c.text).join("\n")

describe("host + gateway with real servers", { timeout: 60_000, shuffle: false }, () => { // one host through a scenario: restarts are counted, the last test shuts it down
  let sdkServer: SdkHttpServer
  let wsServer: WsServerHandle
  let demo: McpServer
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  let client: Client
  const events: Array<HostEvent> = []
  const pgids: Array<number> = []
  let listChanged = 0
  const onListChanged = new Set<() => void>()
  /** Resolves once `listChanged` reaches `n` (the SDK client heard the notifications). */
  const listChangedReaches = (n: number) =>
    new Promise<void>((resolve) => {
      const look = () => {
        if (listChanged < n) return
        onListChanged.delete(look)
        resolve()
      }
      onListChanged.add(look)
      look()
    })
  const elicitations: Array<unknown> = []

  beforeAll(async () => {
    sdkServer = await startSdkHttpServer({})
    demo = makeDemoServer()
    wsServer = await makeWsServer(demo, { port: 0 })
    host = await startHost({
      mcpServers: {
        everything: { command: process.execPath, args: [EVERYTHING, "stdio"], restart: { backoff: { initialMs: 300, jitter: 0.1 } } },
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: "/tmp/mcp-actors-host-test-memory.jsonl" } },
        sdk: { url: sdkServer.url },
        demo: { url: wsServer.url }
      }
    }, { stateFile: false, onStderr: () => {}, coalesceMs: 50 })
    for (const type of ["change", "status", "listing"] as const) host.on(type, (e: HostEvent) => void events.push(e))
    for (const name of ["everything", "memory"]) pgids.push(host.connection(name)!.pid!)
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
    client = new Client({ name: "sdk-client", version: "1.0.0" }, { capabilities: { elicitation: {} } })
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params)
      return { action: "accept", content: { name: "Ada Lovelace", check: true, integer: 7 } }
    })
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged++
      for (const look of [...onListChanged]) look()
    })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
  })

  afterAll(async () => {
    await client?.close()
    await http?.close()
    gateway?.close()
    await host?.close()
    await wsServer?.close()
    await sdkServer?.close()
  })

  it("starts every server and reports era/version per server; the host is ready", () => {
    expect(host.state).toBe("ready")
    const rows = new Map(host.status().map((s) => [s.name, s]))
    for (const name of ["everything", "memory", "sdk", "demo"]) expect(rows.get(name)?.state).toBe("ready")
    expect(rows.get("demo")).toMatchObject({ transport: "ws", era: "modern", protocolVersion: "2026-07-28" })
    expect(rows.get("sdk")).toMatchObject({ transport: "http", era: "legacy" })
    expect(rows.get("everything")!.tools).toBeGreaterThan(10)
  })

  it("the official SDK client sees every namespaced tool through the gateway and calls each server", async () => {
    const { tools } = await client.listTools()
    const names = tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining([
      "everything__echo", "everything__trigger-elicitation-request", "memory__read_graph", "memory__create_entities",
      "sdk__echo", "sdk__increment", "demo__echo", "demo__count"
    ]))
    expect(names.length).toBe(host.tools().length)
    expect(names.every((n) => /^(everything|memory|sdk|demo)__/.test(n))).toBe(true)
    expect(textOf(await client.callTool({ name: "everything__echo", arguments: { message: "hi" } }) as never)).toBe("Echo: hi")
    expect(textOf(await client.callTool({ name: "sdk__echo", arguments: { text: "via sdk" } }) as never)).toBe("via sdk")
    expect(textOf(await client.callTool({ name: "demo__echo", arguments: { text: "via ws" } }) as never)).toContain("via ws")
    const graph = await client.callTool({ name: "memory__read_graph", arguments: {} })
    expect(graph.isError).not.toBe(true)
  })

  it("/mcp/<server> serves one upstream under its original names", async () => {
    const one = new Client({ name: "sdk-one", version: "1.0.0" })
    await one.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/everything`)))
    const { tools } = await one.listTools()
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-sum"]))
    expect(tools.some((t) => t.name.includes("__"))).toBe(false)
    expect(textOf(await one.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }) as never)).toBe("The sum of 2 and 40 is 42.")
    await one.close()
  })

  it("an elicitation from server-everything reaches the gateway's SDK client and its answer gets back", async () => {
    const result = await client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} })
    expect(elicitations.length).toBe(1)
    expect(elicitations[0]).toMatchObject({ requestedSchema: { type: "object", required: ["name"] } })
    const text = textOf(result as never)
    expect(text).toContain("- Name: Ada Lovelace")
    expect(text).toContain("- Favorite Integer: 7")
  })

  it("modern gateway client (MRTR): server-everything's elicitation becomes input_required, the retry's answer gets back upstream", async () => {
    const ws = await serveGatewayWs(gateway, { port: 0 })
    const transport = makeWsClientTransport({ url: ws.url })
    await transport.opened
    const asked: Array<unknown> = []
    const modern = ModernClient.create(transport, {
      onElicitation: (params) => {
        asked.push(params)
        return { action: "accept", content: { name: "Grace Hopper", check: true, integer: 11 } }
      }
    })
    try {
      const result = await modern.callTool("everything__trigger-elicitation-request", {})
      expect(asked.length).toBe(1)
      expect(asked[0]).toMatchObject({ requestedSchema: { type: "object", required: ["name"] } })
      const text = textOf(result)
      expect(text).toContain("- Name: Grace Hopper")
      expect(text).toContain("- Favorite Integer: 11")
    } finally {
      await modern.close()
      await ws.close()
    }
  })

  it("modern gateway client (MRTR): an unclaimed relay expires after RELAY_TTL_MS of the gateway's clock (10 virtual minutes)", async () => {
    // The relay timer runs on a clock the test drives; the upstream and the sockets are real.
    const sim = countingClock()
    const g = makeGateway(host, { clock: sim.clock })
    const ws = await serveGatewayWs(g, { port: 0 })
    const transport = makeWsClientTransport({ url: ws.url })
    await transport.opened
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let firstAsked!: () => void
    const asked1 = new Promise<void>((resolve) => (firstAsked = resolve))
    const asked: Array<unknown> = []
    const modern = ModernClient.create(transport, {
      onElicitation: async (params) => {
        asked.push(params)
        if (asked.length === 1) {
          firstAsked()
          await held // the client does not come back until the relay expired
        }
        return { action: "accept", content: { name: "Grace Hopper", check: true, integer: 11 } }
      }
    })
    try {
      const call = modern.callTool("everything__trigger-elicitation-request", {})
      await asked1 // the input_required round reached the client: its relay timer is armed
      expect(sim.pending).toBe(1)
      sim.increment(10 * 60_000 - 1)
      expect(sim.pending).toBe(1)
      sim.increment(1) // the relay is dropped and its upstream call cancelled
      expect(sim.pending).toBe(0)
      release()
      // The retry names a relay that is gone: the gateway starts the call afresh, so upstream asks again.
      const result = await call
      expect(asked.length).toBe(2)
      expect(textOf(result)).toContain("- Name: Grace Hopper")
      expect(sim.pending).toBe(0)
    } finally {
      await modern.close()
      await ws.close()
      g.close()
    }
  })

  it("progress flows through and resets the deadline (a 3 s operation under a 1.5 s timeout)", async () => {
    const progress: Array<number> = []
    const result = await host.callTool("everything__trigger-long-running-operation", { duration: 3, steps: 6 }, {
      timeoutMs: 1_500,
      onProgress: (p) => void progress.push(p.progress)
    })
    expect(textOf(result)).toContain("Long running operation completed")
    expect(progress).toEqual([1, 2, 3, 4, 5, 6])
    // and through the gateway to the SDK client
    const seen: Array<number> = []
    await client.callTool({ name: "everything__trigger-long-running-operation", arguments: { duration: 1, steps: 2 } }, undefined, {
      onprogress: (p) => void seen.push(p.progress)
    })
    expect(seen).toEqual([1, 2])
  })

  it("cancellation: an aborted host call rejects at once (RequestCancelled) and the connection stays usable", async () => {
    const controller = new AbortController()
    const t0 = Date.now()
    // Abort once the demo server is running the call (its guard sees it arrive).
    let arrived!: () => void
    const running = new Promise<void>((resolve) => (arrived = resolve))
    demo.guard = {
      admit: (call) => void (call.name === "slow" && arrived()),
      filter: (_kind, items) => items
    }
    const call = host.callTool("demo__slow", { ms: 20_000 }, { signal: controller.signal })
    void running.then(() => controller.abort("changed my mind"))
    await expect(call).rejects.toBeInstanceOf(RequestCancelled)
    expect(Date.now() - t0).toBeLessThan(5_000)
    demo.guard = undefined
    // the connection is still fine
    expect(textOf(await host.callTool("demo__echo", { text: "still here" }))).toContain("still here")
  })

  it("log messages an upstream sends during a call reach the gateway's client", async () => {
    const logs: Array<{ level: string; data: unknown; logger?: string | undefined }> = []
    let logged!: () => void
    const first = new Promise<void>((resolve) => (logged = resolve))
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params)
      logged()
    })
    await client.setLoggingLevel("debug")
    const result = await client.callTool({ name: "sdk__log", arguments: { text: "hello from upstream" } })
    expect(textOf(result as never)).toBe("logged")
    await first
    expect(logs[0]).toMatchObject({ level: "info", data: "hello from upstream", logger: "sdk" })
  })

  it("kill -9 of a stdio server: in-flight call fails typed, catalog withdrawn and re-advertised, restarted with backoff", async () => {
    const before = host.status().find((s) => s.name === "everything")!
    const wrapper = host.connection("everything")!.pid!
    const server = serverPidUnder(wrapper)!
    expect(server).toBeGreaterThan(0)
    events.length = 0
    const listChangedBefore = listChanged
    // The gateway's tools changes, counted where they are sent (one tools/list_changed per change per session).
    let gatewayToolChanges = 0
    const stopCounting = gateway.server.onChange((c) => void (c.type === "tools" && gatewayToolChanges++))
    // A call that is not idempotent, held open by an elicitation nobody answers before the kill.
    let elicited!: () => void
    const elicitedP = new Promise<void>((r) => (elicited = r))
    const inFlight = host.callTool("everything__trigger-elicitation-request", {}, {
      onElicitation: () => {
        elicited()
        return new Promise(() => {})
      }
    })
    const settled = inFlight.then(() => "resolved", (e) => e)
    await elicitedP
    process.kill(server, "SIGKILL")
    const error = await settled
    expect(error).toBeInstanceOf(ServerConnectionLost)
    expect((error as ServerConnectionLost).server).toBe("everything")
    expect((error as ServerConnectionLost).generation).toBe(before.generation)
    // A call while it restarts fails fast with a typed error, never hangs.
    expect(["restarting", "starting", "initializing"]).toContain(host.status().find((s) => s.name === "everything")!.state)
    if (host.status().find((s) => s.name === "everything")!.state === "restarting") {
      const t0 = Date.now()
      await expect(host.callTool("everything__echo", { message: "x" })).rejects.toBeInstanceOf(ServerUnavailable)
      expect(Date.now() - t0).toBeLessThan(200)
    }
    expect(await hostReaches(host, () => host.status().find((s) => s.name === "everything")!.state === "ready", 30_000)).toBe(true)
    const after = host.status().find((s) => s.name === "everything")!
    expect(after.restarts).toBe(before.restarts + 1)
    expect(after.generation).toBe(before.generation + 1)
    expect(after.catalogHash).toBe(before.catalogHash)
    const statusStates = events.filter((e) => e.type === "status" && e.server.name === "everything").map((e) => (e as { server: { state: string } }).server.state)
    expect(statusStates.slice(0, 4)).toEqual(["restarting", "starting", "initializing", "ready"])
    await hostReaches(host, () => events.filter((e) => e.type === "change").length >= 2, 5_000)
    const changes = events.filter((e) => e.type === "change") as Array<Extract<HostEvent, { type: "change" }>>
    expect(changes[0]!.removed).toContain("everything__echo")
    expect(changes[0]!.removed.some((n) => n.startsWith("memory__"))).toBe(false)
    expect(changes[1]!.added).toContain("everything__echo")
    // The gateway's client heard about both, one coalesced tools/list_changed each (not one per tool).
    await listChangedReaches(listChangedBefore + 2)
    // Nothing more is on its way, with no quiet period: the host's last change carries the tools it advertises
    // now (its coalescer has nothing new to report), and the gateway sent exactly one tools change per host
    // change, all of which the client has heard.
    stopCounting()
    expect([...changes.at(-1)!.catalog.tools.keys()].sort()).toEqual(host.tools().map((t) => t.name).sort())
    expect(gatewayToolChanges).toBe(2)
    expect(listChanged).toBe(listChangedBefore + 2)
    expect(events.filter((e) => e.type === "change").length).toBe(2)
    expect(textOf(await host.callTool("everything__echo", { message: "back" }))).toBe("Echo: back")
  })

  it("a read-only/idempotent call in flight during a reconnect is retried on the new connection", async () => {
    const wrapper = host.connection("everything")!.pid!
    // Kill once the operation is under way (its first progress arrived).
    let started!: () => void
    const underWay = new Promise<void>((resolve) => (started = resolve))
    const call = host.callTool("everything__trigger-long-running-operation", { duration: 1.5, steps: 3 }, { onProgress: () => started() })
    await underWay
    process.kill(serverPidUnder(wrapper)!, "SIGKILL")
    expect(textOf(await call)).toContain("Long running operation completed")
    expect(host.status().find((s) => s.name === "everything")!.restarts).toBe(2)
  })

  it("after host shutdown no child is left (ps: every recorded group is gone)", async () => {
    const pids = host.status().filter((s) => s.transport === "stdio").map((s) => host.connection(s.name)!.pid!)
    await client.close()
    await http.close()
    gateway.close()
    await host.close()
    for (const pgid of [...pgids, ...pids]) {
      expect(processGroupAlive(pgid)).toBe(false)
      expect(groupMembers(pgid)).toEqual([])
    }
  })
})
