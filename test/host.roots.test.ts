/**
 * Roots outside a call (issue 10, 10.G3): server-everything asks for roots
 * 350 ms after `initialized` (its `syncRoots`, the usual SDK-server pattern)
 * and caches the answer, so the gateway must be a roots source of the host and
 * tell the upstream `notifications/roots/list_changed` when a downstream client
 * that declared roots joins, changes its roots, or leaves. The official SDK
 * client talks to the gateway over Streamable HTTP; real processes, real time
 * (generous bounds for a busy 2-core machine). Before the fix the upstream kept
 * the `[]` it got at start: no "Roots updated: 1" ever came.
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, type GatewayHttpHandle, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type HostEvent, type McpHost, startHost } from "../src/host/McpHost.ts"
import { gatherRoots, ROOTS_SOURCE_TIMEOUT_MS, unionRoots } from "../src/host/roots.ts"
import { countingClock } from "./support/countingClock.ts"
import { hostReaches } from "./support/hostEvents.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ type: string; text?: string }>).filter((c) => c.type === "text").map((c) => c.text).join("\n")

type Root = { uri: string; name?: string }

/** server-everything's "Roots updated: …" log lines, as the host hears them. */
const rootsLogs = (host: McpHost): Array<string> => {
  const logs: Array<string> = []
  host.on("notification", (e: HostEvent) => {
    if (e.type !== "notification" || e.notification.method !== "notifications/message") return
    const data = (e.notification.params as { data?: unknown } | undefined)?.data
    if (typeof data === "string" && data.startsWith("Roots updated:")) logs.push(data)
  })
  return logs
}

/** Event-loop turns (no real time): lets promise chains waiting on a fired timer run. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

describe("roots sources on the host's clock", () => {
  it("a source that never answers is left out after ROOTS_SOURCE_TIMEOUT_MS of the clock; the rest are united by uri", async () => {
    const sim = countingClock()
    let done = false
    const answer = gatherRoots([
      () => [{ uri: "file:///a", name: "first" }],
      () => new Promise<never>(() => {}),
      async () => [{ uri: "file:///a", name: "second" }, { uri: "file:///b" }],
      () => { throw new Error("broken source") }
    ], "up", sim.clock).then((r) => {
      done = true
      return r
    })
    await turns()
    expect(done).toBe(false)
    sim.increment(ROOTS_SOURCE_TIMEOUT_MS - 1)
    await turns()
    expect(done).toBe(false)
    sim.increment(1)
    expect(await answer).toEqual([{ uri: "file:///a", name: "first" }, { uri: "file:///b" }])
    expect(sim.pending).toBe(0)
    expect(unionRoots([[{ uri: "x" }], [{ uri: "x", name: "dup" }]])).toEqual([{ uri: "x" }])
  })

  it("startHost(config, { roots }) gives them to server-everything; setRoots / rootsChanged coalesce for coalesceMs of the host's clock into one list_changed", { timeout: 60_000 }, async () => {
    const TEN_MINUTES = 10 * 60_000
    const sim = countingClock()
    const host = await startHost({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"] } } }, {
      stateFile: false,
      onStderr: () => {},
      clock: sim.clock,
      coalesceMs: TEN_MINUTES,
      roots: [{ uri: "file:///host/one", name: "one" }]
    })
    const logs = rootsLogs(host)
    try {
      // The upstream's own roots/list after initialized (its 350 ms are real): the host's roots.
      expect(await hostReaches(host, () => logs.length >= 1, 30_000)).toBe(true)
      expect(logs[0]).toMatch(/^Roots updated: 1 root\(s\)/)
      const conn = host.connection("everything")!
      let told = 0
      const tell = conn.rootsChanged.bind(conn)
      conn.rootsChanged = () => {
        told++
        tell()
      }
      host.setRoots([{ uri: "file:///host/one" }, { uri: "file:///host/two" }])
      host.rootsChanged("everything")
      host.rootsChanged()
      await turns()
      sim.increment(TEN_MINUTES - 1)
      await turns()
      expect(told).toBe(0)
      sim.increment(1)
      expect(told).toBe(1)
      // The upstream heard it and listed again: the new roots.
      expect(await hostReaches(host, () => logs.length >= 2, 30_000)).toBe(true)
      expect(logs[1]).toMatch(/^Roots updated: 2 root\(s\)/)
      expect(logs).toHaveLength(2)
    } finally {
      await host.close()
    }
    // Closing stops the servers, which withdraws their catalog: no change timer is left on the host's clock.
    expect(sim.pending).toBe(0)
  })
})

describe("roots through the gateway, outside any call (server-everything, the official SDK client)", { timeout: 90_000 }, () => {
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  /** server-everything's log lines ("Roots updated: N root(s) received from client" after each roots/list it makes). */
  const logs: Array<string> = []
  const rootsUpdates = () => logs.filter((l) => l.startsWith("Roots updated:"))
  /** True once server-everything has logged `n` roots updates in all, the last with `count` roots. */
  const upstreamListed = (n: number, count: number) =>
    hostReaches(host, () => rootsUpdates().length >= n && rootsUpdates().at(-1)!.startsWith(`Roots updated: ${count} root(s)`), 30_000)

  /** A client leaves a Streamable HTTP server by ending its session (DELETE), then closes. */
  const leave = async (client: Client): Promise<void> => {
    await (client.transport as StreamableHTTPClientTransport).terminateSession()
    await client.close()
  }
  const rootsClient = async (path: string, roots: { current: Array<Root> }): Promise<Client> => {
    const client = new Client({ name: "sdk-roots-client", version: "1.0.0" }, { capabilities: { roots: { listChanged: true } } })
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.current }))
    await client.connect(new StreamableHTTPClientTransport(new URL(path)))
    return client
  }

  beforeAll(async () => {
    host = await startHost({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"] } } }, { stateFile: false, onStderr: () => {}, coalesceMs: 50 })
    host.on("notification", (e: HostEvent) => {
      if (e.type !== "notification" || e.notification.method !== "notifications/message") return
      const data = (e.notification.params as { data?: unknown } | undefined)?.data
      if (typeof data === "string") logs.push(data)
    })
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
    // server-everything's own roots/list after initialized: no gateway client yet, so none.
    expect(await upstreamListed(1, 0)).toBe(true)
  })

  afterAll(async () => {
    await http?.close()
    gateway?.close()
    await host?.close()
  })

  it("a client that declares roots: the upstream is told (list_changed), lists again and get-roots-list returns the client's roots; a change reaches it; leaving too", async () => {
    const roots = { current: [{ uri: "file:///work/alpha", name: "alpha" }] }
    const client = await rootsClient(http.url, roots)
    try {
      // Joined after the upstream cached []: only a list_changed from the gateway makes it ask again.
      expect(await upstreamListed(2, 1)).toBe(true)
      const first = textOf(await client.callTool({ name: "everything__get-roots-list", arguments: {} }) as never)
      expect(first).toContain("Current MCP Roots (1 total)")
      expect(first).toContain("file:///work/alpha")

      // The client's roots change: its list_changed reaches the upstream, which lists again.
      roots.current = [{ uri: "file:///work/alpha", name: "alpha" }, { uri: "file:///work/beta", name: "beta" }]
      await client.sendRootsListChanged()
      expect(await upstreamListed(3, 2)).toBe(true)
      const second = textOf(await client.callTool({ name: "everything__get-roots-list", arguments: {} }) as never)
      expect(second).toContain("Current MCP Roots (2 total)")
      expect(second).toContain("file:///work/beta")
    } finally {
      await leave(client)
    }
    // It left: the upstream is told again and now gets none.
    expect(await upstreamListed(4, 0)).toBe(true)
  })

  it("no client declares roots: the upstream gets [] and the call completes (no crash)", async () => {
    const plain = new Client({ name: "sdk-plain", version: "1.0.0" })
    await plain.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    try {
      const result = await plain.callTool({ name: "everything__get-roots-list", arguments: {} })
      expect(result.isError).not.toBe(true)
      expect(textOf(result as never)).toContain("no roots are currently configured")
      expect(host.status()[0]!.state).toBe("ready")
      expect(await host.rootsFor("everything")).toEqual([])
    } finally {
      await leave(plain)
    }
  })

  it("/mcp/<server>: a roots client there gives its roots to that upstream; two clients' roots are united by uri", async () => {
    const before = rootsUpdates().length
    const one = await rootsClient(`${http.url}/everything`, { current: [{ uri: "file:///work/one", name: "one" }, { uri: "file:///work/shared" }] })
    const all = await rootsClient(http.url, { current: [{ uri: "file:///work/shared" }, { uri: "file:///work/all" }] })
    try {
      expect(await upstreamListed(before + 1, 3)).toBe(true)
      expect((await host.rootsFor("everything")).map((r) => r.uri).sort()).toEqual(["file:///work/all", "file:///work/one", "file:///work/shared"])
      const text = textOf(await one.callTool({ name: "get-roots-list", arguments: {} }) as never)
      expect(text).toContain("Current MCP Roots (3 total)")
    } finally {
      await leave(one)
      await leave(all)
    }
    // Both left (one list_changed per coalescing window, so one or two more lists): none now.
    expect(await hostReaches(host, () => rootsUpdates().length >= before + 2 && rootsUpdates().at(-1)!.startsWith("Roots updated: 0 root(s)"), 30_000)).toBe(true)
  })
})
