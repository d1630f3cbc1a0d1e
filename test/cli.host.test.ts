import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, describe, expect, it, onTestFinished } from "vitest"
import { renderStatusTable } from "../src/cli/host.ts"
import type { ServerView } from "../src/host/McpHost.ts"
import { eventually, processGroupAlive } from "./support/processes.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "cli-host-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const row = (over: Partial<ServerView>): ServerView => ({
  name: "s", state: "ready", transport: "stdio", era: "legacy", protocolVersion: "2025-11-25", tools: 3, restarts: 0,
  lastError: undefined, uptimeMs: 65_000, generation: 1, parked: undefined, catalogHash: "x", pid: 1, ...over
})

describe("mcp-actors host: status table", () => {
  it("shows server, state, era/version, tools, restarts, uptime and last error", () => {
    const text = renderStatusTable([
      row({ name: "memory" }),
      row({ name: "flaky", state: "parked", restarts: 5, uptimeMs: undefined, protocolVersion: undefined, lastError: "exited with code 1", parked: { reason: "crash loop", nextProbeAt: Date.now() + 30_000 } })
    ], "degraded")
    const lines = text.split("\n")
    expect(lines[0]).toBe("host: degraded")
    expect(lines[1]).toMatch(/^SERVER\s+STATE\s+ERA\/VERSION\s+TOOLS\s+RESTARTS\s+UPTIME\s+LAST ERROR$/)
    expect(lines[2]).toMatch(/^memory\s+ready\s+legacy 2025-11-25\s+3\s+0\s+1m05s$/)
    expect(lines[3]).toMatch(/^flaky\s+parked \(probe in (29|30)s\)\s+-\s+3\s+5\s+-\s+exited with code 1$/)
  })

  it("a terminal that reports 0 columns (a pty with no size: script, docker exec -t) gets the default width, not every line cut by one", () => {
    const text = renderStatusTable([row({ name: "memory" })], "ready", 0)
    expect(text.split("\n").slice(1)).toEqual(renderStatusTable([row({ name: "memory" })], "ready").split("\n").slice(1))
    expect(text).not.toContain("…")
    expect(text).toMatch(/LAST ERROR\n/)
  })
})

describe("mcp-actors host CONFIG --json --serve-http 0", { timeout: 60_000 }, () => {
  it("prints JSON status lines, reports bad entries by server and field, serves the gateway, and SIGTERM leaves no child", async () => {
    const config = join(dir, "mcp.json")
    writeFileSync(config, JSON.stringify({
      mcpServers: {
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m.jsonl") } },
        broken: { command: "x", lifecycle: "sometimes" }
      }
    }))
    // `--inspect` too (issue 11: "the host likewise"): its URL is printed before the gateway's.
    const child = spawn(process.execPath, [MAIN, "host", config, "--json", "--serve-http", "0", "--inspect", "--state-file", join(dir, "state.json")], { stdio: ["ignore", "pipe", "pipe"] })
    // A failed assertion leaves no process (the lifeline stops the server).
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
    const stderr: Array<string> = []
    let announced!: (url: string) => void
    const listening = new Promise<string>((resolve) => (announced = resolve))
    createInterface({ input: child.stderr! }).on("line", (l) => {
      stderr.push(l)
      const url = /gateway on (\S+)/.exec(l)?.[1]
      if (url !== undefined) announced(url)
    })
    const lines: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout! }).on("line", (l) => lines.push(JSON.parse(l)))
    // "close": after its output is read (an "exit" can come first)
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)))
    const early = exited.then((code) => Promise.reject(new Error(`exited (${code}) before serving: ${stderr.join("\n")}`)))
    early.catch(() => {}) // reported by the race only; the planned exit comes later
    const gatewayUrl = await Promise.race([listening, early])
    expect(stderr.some((l) => l.includes('server "broken", field lifecycle'))).toBe(true)
    const inspectorUrl = stderr.map((l) => /^mcp-actors: inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=\w+)$/.exec(l)?.[1]).find((u) => u !== undefined)
    expect(inspectorUrl).toBeDefined()
    expect((await fetch(inspectorUrl!)).status).toBe(200)
    expect((await fetch(new URL("/", inspectorUrl!))).status).toBe(401)
    // Its /actors lists the host's actor tree (docs/inspector.md): the host chart, the memory server's connection as
    // its child (ready), and under it the upstream's generation: a client session over stdio whose peer is the memory
    // server, operating. ("broken" was refused by the config check: no connection of its own.)
    const { origin, searchParams } = new URL(inspectorUrl!)
    const { messages } = await (await fetch(`${origin}/actors`, { headers: { authorization: `Bearer ${searchParams.get("token")}` } })).json() as { messages: Array<Record<string, any>> }
    const summary = (sessionId: string | undefined) => messages.find((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId)
    const hostActor = messages.find((m) => m.type === "@xstate.actor" && m.name === "host")
    expect(hostActor).toBeDefined()
    expect(summary(hostActor!.sessionId)?.state).toMatch(/^ready/)
    const connections = messages.filter((m) => m.type === "@mcp-actors.session" && m.machine === "serverConnection")
    expect(connections.map((m) => m.id)).toEqual(["memory"])
    expect(connections[0]).toMatchObject({ parentId: hostActor!.sessionId, state: expect.stringMatching(/^ready/) })
    const upstream = messages.find((m) => m.type === "@mcp-actors.session" && m.side === "client" && m.parentId === connections[0]!.sessionId)
    expect(upstream).toMatchObject({ machine: "connection", transport: "stdio", era: "legacy", peer: { name: "memory-server" }, end: null })
    const clientSession = messages.find((m) => m.type === "@mcp-actors.session" && m.parentId === upstream!.sessionId && m.machine === "legacyClientSession")
    expect(clientSession).toMatchObject({ side: "client", state: "operating", status: "active" })
    const status = lines.find((l) => l.type === "status" && l.name === "memory")!
    expect(status).toMatchObject({ state: "ready", era: "legacy", tools: 9, restarts: 0 })
    const client = new Client({ name: "sdk", version: "1" })
    await client.connect(new StreamableHTTPClientTransport(new URL(gatewayUrl)))
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("memory__read_graph")
    await client.close()
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
    expect(processGroupAlive(status.pid as number)).toBe(false)
    expect(stderr.at(-1)).toBe("mcp-actors: stopped")
  })
})

describe("mcp-actors host CONFIG --serve-stdio", { timeout: 60_000 }, () => {
  it("serves the aggregated catalog on stdio to the SDK client; closing stdin stops every server", async () => {
    const config = join(dir, "stdio.json")
    writeFileSync(config, JSON.stringify({ mcpServers: { memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m3.jsonl") } } } }))
    const state = join(dir, "stdio-state.json")
    const transport = new StdioClientTransport({ command: process.execPath, args: [MAIN, "host", config, "--serve-stdio", "--json", "--state-file", state], stderr: "pipe" })
    const lines: Array<string> = []
    transport.stderr?.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter((l) => l !== "")))
    const client = new Client({ name: "sdk-stdio", version: "1" })
    await client.connect(transport)
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toContain("memory__read_graph")
    const result = await client.callTool({ name: "memory__read_graph", arguments: {} })
    expect(result.isError).not.toBe(true)
    // status JSON went to stderr (stdout is the protocol)
    const status = lines.map((l) => { try { return JSON.parse(l) } catch { return undefined } }).find((j) => j?.type === "status" && j.name === "memory")
    expect(status).toMatchObject({ state: "ready" })
    const pid = transport.pid!
    await client.close()
    expect(await eventually(() => { try { process.kill(pid, 0); return false } catch { return true } }, 15_000)).toBe(true)
    expect(processGroupAlive(status.pid as number)).toBe(false)
  })
})

describe("mcp-actors host --max-subscriptions-per-session N", { timeout: 60_000 }, () => {
  it("caps the resource URIs of one gateway session: the SDK client's second subscribe is -32014 with data.limit", async () => {
    const config = join(dir, "subs.json")
    writeFileSync(config, JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"] } } }))
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MAIN, "host", config, "--serve-stdio", "--json", "--max-subscriptions-per-session", "1", "--state-file", join(dir, "subs-state.json")],
      stderr: "pipe"
    })
    const client = new Client({ name: "sdk-stdio", version: "1" })
    await client.connect(transport)
    try {
      expect(client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true })
      const [first, second] = (await client.listResources()).resources.map((r) => r.uri)
      await client.subscribeResource({ uri: first! })
      await client.subscribeResource({ uri: first! }) // held already: not a new one
      await expect(client.subscribeResource({ uri: second! })).rejects.toMatchObject({ code: -32014, data: { limit: 1 } })
      await client.unsubscribeResource({ uri: first! })
      await client.subscribeResource({ uri: second! })
    } finally {
      await client.close()
    }
  })

  it("takes a positive integer, with a gateway to apply it to; anything else is exit 2 naming the flag", () => {
    const run = (...args: ReadonlyArray<string>) => spawnSync(process.execPath, [MAIN, "host", join(dir, "none.json"), ...args], { encoding: "utf8", timeout: 20_000 })
    for (const bad of ["0", "-1", "1.5", "many"]) {
      const r = run("--serve-http", "0", `--max-subscriptions-per-session=${bad}`) // "=": parseArgs takes a separate "-1" for an option
      expect([bad, r.status]).toEqual([bad, 2])
      expect(r.stderr).toContain(`--max-subscriptions-per-session must be a positive integer, got "${bad}"`)
    }
    const alone = run("--max-subscriptions-per-session", "5")
    expect(alone.status).toBe(2)
    expect(alone.stderr).toContain("--max-subscriptions-per-session needs --serve-http, --serve-ws or --serve-stdio")
  })
})

describe("mcp-actors host CONFIG with a port taken", { timeout: 60_000 }, () => {
  /** The host with `flags(port)` while `port` is taken: its exit code, stderr and the memory server's status line. */
  const runOnTakenPort = async (name: string, flags: (port: number) => ReadonlyArray<string>) => {
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r))
    const port = (taken.address() as AddressInfo).port
    try {
      const config = join(dir, `${name}.json`)
      writeFileSync(config, JSON.stringify({ mcpServers: { memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, `${name}.jsonl`) } } } }))
      const child = spawn(process.execPath, [MAIN, "host", config, "--json", ...flags(port), "--state-file", join(dir, `${name}-state.json`)], { stdio: ["ignore", "pipe", "pipe"] })
      // Also on a timeout (the exit awaited below never comes): a failed run leaves no process (the lifeline stops the server).
      onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
      let stderr = ""
      child.stderr!.on("data", (d) => (stderr += d))
      const lines: Array<Record<string, unknown>> = []
      createInterface({ input: child.stdout! }).on("line", (l) => lines.push(JSON.parse(l)))
      // "close": after its output is read (an "exit" can come first)
      const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)))
      return { code, stderr, lines }
    } finally {
      await new Promise((r) => taken.close(r))
    }
  }

  it("--serve-http PORT: says so, stops its servers and exits 1 (it lived on without its gateway)", async () => {
    const { code, stderr, lines } = await runOnTakenPort("taken-gw", (port) => ["--serve-http", String(port)])
    expect(code).toBe(1)
    expect(stderr).toContain("EADDRINUSE")
    const status = lines.find((l) => l.type === "status" && l.name === "memory")!
    expect(status).toMatchObject({ state: "ready" })
    expect(processGroupAlive(status.pid as number)).toBe(false) // stopped by close(), before the exit
  })

  it("--metrics --metrics-port PORT: says so, stops its servers and exits 1 (it lived on without its /metrics)", async () => {
    const { code, stderr } = await runOnTakenPort("taken-metrics", (port) => ["--metrics", "--metrics-port", String(port)])
    expect(code).toBe(1)
    expect(stderr).toContain("EADDRINUSE")
  })
})
