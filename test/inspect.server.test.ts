/**
 * The inspector's server over real sockets: the token and Origin checks on the
 * page and on the WebSocket feed, the feed of a real Streamable HTTP session
 * driven by the official SDK client, chart layouts, record download and
 * replay, and the CLI (`serve --inspect`, `inspect URL --json`, `replay FILE`)
 * as real processes.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { afterAll, describe, expect, it, onTestFinished } from "vitest"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { type Inspector, startInspector } from "../src/inspect/InspectorServer.ts"
import { startHost } from "../src/host/McpHost.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import type { RegistryChange } from "../src/runtime/Registry.ts"
import { type Msg, openFeed } from "./support/inspectorFeed.ts"
import { inspection } from "../src/runtime/inspection.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "mcp-actors-inspect-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const feedUrl = (inspector: Inspector, token = inspector.token) => `ws://127.0.0.1:${inspector.port}/feed?token=${token}`

describe("inspector server: access", () => {
  it("the page, the API and the feed need the per-start token (401) and refuse foreign origins and hosts (403)", async () => {
    const inspector = await startInspector()
    try {
      expect(inspector.token).toMatch(/^[0-9a-f]{48}$/)
      expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/?token=${inspector.token}`)
      expect((await fetch(`${inspector.origin}/`)).status).toBe(401)
      expect((await fetch(`${inspector.origin}/?token=wrong`)).status).toBe(401)
      expect((await fetch(`${inspector.origin}/actors`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401)
      expect((await fetch(inspector.url, { headers: { origin: "http://evil.example" } })).status).toBe(403)
      const page = await fetch(inspector.url)
      expect(page.status).toBe(200)
      expect(page.headers.get("referrer-policy")).toBe("no-referrer")
      expect(page.headers.get("content-security-policy")).toContain("default-src 'none'")
      const html = await page.text()
      expect(html).toContain("mcp-actors inspector")
      // Works offline: nothing is loaded from elsewhere.
      expect(html).not.toMatch(/\b(src|href)=["']?https?:/)
      // Its inline script is valid JavaScript (an escape lost in the template string would break it).
      const script = html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"))
      expect(script.length).toBeGreaterThan(1000)
      expect(() => new Function(script)).not.toThrow()

      await expect(openFeed(`ws://127.0.0.1:${inspector.port}/feed`)).rejects.toMatchObject({ status: 401 })
      await expect(openFeed(feedUrl(inspector, "0".repeat(48)))).rejects.toMatchObject({ status: 401 })
      await expect(openFeed(feedUrl(inspector), { origin: "https://evil.example" })).rejects.toMatchObject({ status: 403 })
      const feed = await openFeed(feedUrl(inspector), { origin: inspector.origin })
      const hello = await feed.waitFor((m) => m.type === "@mcp-actors.hello", "hello")
      expect(hello.showSecrets).toBe(false)
      await feed.waitFor((m) => m.type === "@mcp-actors.synced", "synced")
      expect(inspector.clients).toBe(1)
      feed.ws.close()
    } finally {
      await inspector.close()
    }
    expect(inspection.listenerCount).toBe(0)
  })
})

describe("inspector server: the token changes at every start", () => {
  it("two starts make two different random tokens (192 bits, hex); each refuses the other's (401) on the API, the page and the feed", async () => {
    const first = await startInspector()
    const second = await startInspector()
    const actors = (inspector: Inspector, token: string) => fetch(`${inspector.origin}/actors`, { headers: { authorization: `Bearer ${token}` } })
    try {
      // docs/inspector.md: "Each start makes a random 192-bit token" (48 hex digits).
      expect(first.token).toMatch(/^[0-9a-f]{48}$/)
      expect(second.token).toMatch(/^[0-9a-f]{48}$/)
      expect(second.token).not.toBe(first.token)
      expect((await actors(first, first.token)).status).toBe(200)
      expect((await actors(second, second.token)).status).toBe(200)
      expect((await actors(second, first.token)).status).toBe(401)
      expect((await actors(first, second.token)).status).toBe(401)
      expect((await fetch(`${second.origin}/?token=${first.token}`)).status).toBe(401)
      await expect(openFeed(feedUrl(second, first.token))).rejects.toMatchObject({ status: 401 })
    } finally {
      await first.close()
      await second.close()
    }
    // A start after the first one closed gets a token of its own too (not the closed one's again).
    const third = await startInspector()
    try {
      expect(third.token).toMatch(/^[0-9a-f]{48}$/)
      expect([first.token, second.token]).not.toContain(third.token)
      expect((await actors(third, first.token)).status).toBe(401)
    } finally {
      await third.close()
    }
    expect(inspection.listenerCount).toBe(0)
  })
})

describe("inspector server: a real session", () => {
  it("feeds an SDK client's HTTP session live: its facts, a request in flight, its end; serves its chart, record and replay", async () => {
    const http = await makeHttpServer(makeDemoServer(), { port: 0, inspect: true })
    const inspector = http.inspector!
    const feed = await openFeed(feedUrl(inspector))
    const client = new Client({ name: "inspected-sdk-client", version: "1.2.3" })
    try {
      const transport = new StreamableHTTPClientTransport(new URL(http.url))
      await client.connect(transport)
      const actor = await feed.waitFor((m) => m.type === "@xstate.actor" && m.name === "legacyServerSession", "the session's actor")
      // A node of the runtime's one actor tree (root → HTTP listener → session), not a root of its own.
      expect(actor.parentId).toEqual(expect.any(String))
      expect(actor.rootId).not.toBe(actor.sessionId)
      expect(JSON.parse(actor.definition).id).toBe("legacyServerSession")
      const sessionId = actor.sessionId as string
      const facts = await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId && m.peer !== null && m.state === "operating", "the session's facts")
      expect(facts).toMatchObject({ side: "server", transport: "http", era: "legacy", peer: { name: "inspected-sdk-client", version: "1.2.3" } })
      expect(facts.id).toMatch(/…$/) // the session id is redacted by default

      const slow = client.callTool({ name: "slow", arguments: { ms: 400 } })
      const inFlight = await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId && m.inFlight === 1, "the call in flight")
      expect(inFlight.requests).toEqual([{ id: expect.anything(), method: "tools/call", since: expect.any(Number) }])
      await slow
      await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId && m.inFlight === 0 && feed.messages.indexOf(m) > feed.messages.findIndex((x) => x.inFlight === 1), "the call done")

      const layout = await (await fetch(`${inspector.origin}/chart/legacyServerSession?token=${inspector.token}`)).json() as { nodes: Array<{ id: string }>; edges: Array<{ points: Array<unknown> }> }
      expect(layout.nodes.map((n) => n.id)).toEqual(expect.arrayContaining(["legacyServerSession.operating", "legacyServerSession.closed"]))
      expect(layout.edges.every((e) => e.points.length >= 2)).toBe(true)

      await transport.terminateSession() // DELETE: the session ends with that reason
      await client.close()
      // The actor stops first; the session's own reason follows.
      const ended = await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId && m.end !== null && m.end.reason !== "stopped", "the end")
      expect(ended.end).toMatchObject({ error: false, reason: "terminated by the client (DELETE)" })

      const download = await fetch(`${inspector.origin}/record/${encodeURIComponent(sessionId)}?token=${inspector.token}`)
      expect(download.headers.get("content-disposition")).toMatch(/^attachment; filename="record-legacyServerSession-/)
      const record = await download.json() as Msg
      expect(record.records.map((r: Msg) => r.event.type)).toEqual(expect.arrayContaining(["INITIALIZE", "INITIALIZED"]))
      const replay = await (await fetch(`${inspector.origin}/replay/${encodeURIComponent(sessionId)}?token=${inspector.token}`)).json() as Msg
      expect(replay.divergence).toBeUndefined()
      expect(replay.ended).toContain("terminated by the client (DELETE)")

      // The API writes the same record; the CLI replays it, and refuses an altered one.
      const file = join(dir, "server.json")
      expect(await inspector.writeRecord(sessionId, file)).toBe(true)
      const ok = await run([CLI, "replay", file])
      expect(ok.code).toBe(0)
      expect(ok.stdout).toContain("chart legacyServerSession")
      expect(ok.stdout).toMatch(/INITIALIZE\s+→ awaitingInitialized/)
      expect(ok.stdout).toContain("replay agrees with the record")
      const altered = JSON.parse(readFileSync(file, "utf8")) as Msg
      const i = altered.records.findIndex((r: Msg) => r.event.type === "INITIALIZED")
      altered.records[i].value = "awaitingInitialize"
      writeFileSync(join(dir, "altered.json"), JSON.stringify(altered))
      const bad = await run([CLI, "replay", join(dir, "altered.json")])
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain(`at event #${i + 1} (INITIALIZED): recorded awaitingInitialize, replayed operating`)
    } finally {
      feed.ws.close()
      await http.close()
    }
    expect(inspection.listenerCount).toBe(0)
  }, 60_000)
})

describe("inspector server: the runtime's registry", () => {
  it("describes the sessions its runtime supervises, each listed once (no registry of its own beside the runtime's)", async () => {
    const runtime = makeMcpRuntime()
    const http = await makeHttpServer(makeDemoServer(), { port: 0, runtime, inspect: true })
    const changes: Array<RegistryChange["type"]> = []
    const stop = runtime.registry.subscribe((c) => void changes.push(c.type), { updates: false })
    const client = new Client({ name: "once-listed", version: "1.0.0" })
    try {
      expect(http.inspector!.registry).toBe(runtime.registry)
      const transport = new StreamableHTTPClientTransport(new URL(http.url))
      await client.connect(transport)
      expect(runtime.registry.size).toBe(1)
      const [handle] = runtime.registry.handles()
      // The model reads its summary from the runtime's entry: transport, peer.
      const view = [...http.inspector!.model.actors()].find((a) => a.id === handle!.id)!
      expect(http.inspector!.model.infoOf(view)).toMatchObject({ transport: "http", peer: { name: "once-listed" } })
      await transport.terminateSession()
      await client.close()
      expect(changes).toEqual(["added", "removed"])
      expect(runtime.registry.size).toBe(0)
    } finally {
      stop()
      await http.close()
      await runtime.shutdown({ drainMs: 0 })
    }
  }, 30_000)

  it("an inspector started after the runtime's HTTP endpoint lists the live sessions from their state, and sees the next ones' steps", async () => {
    // Nobody listens when the runtime and its endpoint are made: its root is fed to the hub by the first listener.
    expect(inspection.listenerCount).toBe(0)
    const runtime = makeMcpRuntime()
    const http = await makeHttpServer(makeDemoServer(), { port: 0, runtime })
    const earlier = new Client({ name: "before-the-inspector", version: "1.0.0" })
    await earlier.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    const [live] = runtime.registry.handles()
    // Followed from its start (`record: "always"`): what this test reads is the hub feeding a root made before
    // anyone listened. (The default, `"watched"`, follows only while a feed listens: inspect.watched.test.ts.)
    const inspector = await startInspector({ runtime, record: "always" })
    const client = new Client({ name: "late-inspector", version: "1.0.0" })
    try {
      // Live before the inspector: listed in the state it is in, with its summary and its parent (the endpoint's
      // listener); its record starts there (its earlier steps were never seen).
      const adopted = [...inspector.model.actors()].find((a) => a.id === live!.id)
      expect(adopted).toMatchObject({ machine: "legacyServerSession", value: "operating" })
      expect(adopted!.record.entries()).toEqual([])
      expect(adopted!.record.base?.value).toBe("operating")
      expect(inspector.model.infoOf(adopted!)).toMatchObject({ transport: "http", peer: { name: "before-the-inspector" } })
      expect([...inspector.model.actors()].find((a) => a.sessionId === adopted!.parentId)?.machine).toBe("listener")
      expect((await earlier.callTool({ name: "echo", arguments: { text: "seen" } })).isError).not.toBe(true)
      await earlier.close()
      const transport = new StreamableHTTPClientTransport(new URL(http.url))
      await client.connect(transport)
      const handle = runtime.registry.handles().find((h) => h !== live)
      const view = [...inspector.model.actors()].find((a) => a.id === handle!.id)
      // Before the hub followed the runtime's root, an endpoint's sessions (made under its listener, no new
      // connection node) were never seen by an inspector started after it.
      expect(view?.machine).toBe("legacyServerSession")
      expect(view!.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED"])
      // The runtime's root, followed long after it started, is listed in the state it is in (it was listed with none).
      expect([...inspector.model.actors()].find((a) => a.machine === "runtime")?.value).toBe("running")
      await transport.terminateSession()
      await client.close()
      expect(view!.end?.reason).toBeDefined()
    } finally {
      await inspector.close()
      await http.close()
      await runtime.shutdown({ drainMs: 0 })
    }
  }, 30_000)

  it("a server given its runtime's own registry as `registry` lists each session once, over HTTP and WebSocket (no DuplicateSessionId)", async () => {
    const runtime = makeMcpRuntime()
    const http = await makeHttpServer(makeDemoServer(), { port: 0, runtime, registry: runtime.registry })
    const ws = await makeWsServer(makeDemoServer(), { port: 0, runtime, registry: runtime.registry })
    const errors: Array<unknown> = []
    const onError = (e: unknown) => void errors.push(e)
    process.on("uncaughtException", onError)
    const overHttp = new Client({ name: "http", version: "1.0.0" })
    const overWs = new Client({ name: "ws", version: "1.0.0" })
    try {
      await overHttp.connect(new StreamableHTTPClientTransport(new URL(http.url)))
      await overWs.connect(new WebSocketClientTransport(new URL(ws.url)))
      expect((await overHttp.callTool({ name: "echo", arguments: { text: "a" } })).isError).not.toBe(true)
      expect((await overWs.callTool({ name: "echo", arguments: { text: "b" } })).isError).not.toBe(true)
      expect(runtime.registry.handles().map((h) => h.info().transport).sort()).toEqual(["http", "ws"])
      expect(errors).toEqual([])
    } finally {
      process.off("uncaughtException", onError)
      await overHttp.close()
      await overWs.close()
      await http.close()
      await ws.close()
      await runtime.shutdown({ drainMs: 0 })
    }
    expect(runtime.registry.size).toBe(0)
  }, 30_000)
})

describe("inspector server: `inspect: true` on the WebSocket endpoint", () => {
  it("makeWsServer({ inspect: true }) serves an inspector that lists the SDK client's session, and closes it with the server", async () => {
    const runtime = makeMcpRuntime()
    const before = inspection.listenerCount
    const ws = await makeWsServer(makeDemoServer(), { port: 0, runtime, inspect: true })
    const inspector = ws.inspector!
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+$/)
    const client = new Client({ name: "ws-api-described", version: "1.0.0" })
    try {
      await client.connect(new WebSocketClientTransport(new URL(ws.url)))
      await client.listTools()
      const { messages } = await (await fetch(`http://127.0.0.1:${inspector.port}/actors`, { headers: { authorization: `Bearer ${inspector.token}` } })).json() as { messages: Array<Msg> }
      expect(messages.find((m) => m.type === "@mcp-actors.session" && m.peer?.name === "ws-api-described")).toMatchObject({ side: "server", transport: "ws", era: "legacy", state: "operating" })
    } finally {
      await client.close()
      await ws.close()
      await runtime.shutdown({ drainMs: 0 })
    }
    // Closed with the server: its port refuses, and it no longer listens to the hub.
    await expect(fetch(`http://127.0.0.1:${inspector.port}/actors`)).rejects.toThrow()
    expect(inspection.listenerCount).toBe(before)
  }, 30_000)
})

describe("inspector CLI: stdio and WebSocket sessions described through the runtime's registry", () => {
  /** The `@mcp-actors.session` line of the session whose peer has this name, from the inspector's `/actors`. */
  const describedPeer = async (inspectorUrl: string, peer: string): Promise<Msg | undefined> => {
    const url = new URL(inspectorUrl)
    const { messages } = await (await fetch(`${url.origin}/actors`, { headers: { authorization: `Bearer ${url.searchParams.get("token")}` } })).json() as { messages: Array<Msg> }
    return messages.find((m) => m.type === "@mcp-actors.session" && m.peer?.name === peer)
  }
  /** The inspector URL a server process prints on stderr (read as it comes: a real process). */
  const inspectorUrlOn = (stderr: { on(e: "data", f: (d: unknown) => void): unknown; off(e: "data", f: (d: unknown) => void): unknown }): Promise<string> =>
    new Promise((resolve) => {
      let text = ""
      const onData = (d: unknown) => {
        text += String(d)
        const url = /inspector on (\S+)/.exec(text)?.[1]
        if (url === undefined) return
        stderr.off("data", onData)
        resolve(url)
      }
      stderr.on("data", onData)
    })

  it("serve --stdio --inspect and serve --ws 0 --inspect: the SDK client's session is listed with its transport and peer", async () => {
    const stdio = new StdioClientTransport({ command: process.execPath, args: [CLI, "serve", "--stdio", "--inspect"], stderr: "pipe" })
    const stdioInspector = inspectorUrlOn(stdio.stderr!)
    const overStdio = new Client({ name: "stdio-described", version: "1.0.0" })
    const wsServer = spawn(process.execPath, [CLI, "serve", "--ws", "0", "--inspect"], { stdio: ["ignore", "pipe", "pipe"] })
    const wsInspector = inspectorUrlOn(wsServer.stderr)
    const overWs = new Client({ name: "ws-described", version: "1.0.0" })
    try {
      await overStdio.connect(stdio)
      const wsUrl = await new Promise<string>((resolve, reject) => {
        wsServer.stdout.once("data", (d) => resolve(String(d).trim()))
        wsServer.once("exit", (code) => reject(new Error(`serve --ws exited (${code})`)))
      })
      await overWs.connect(new WebSocketClientTransport(new URL(wsUrl)))
      await overStdio.listTools()
      await overWs.listTools()
      expect(await describedPeer(await stdioInspector, "stdio-described")).toMatchObject({ side: "server", transport: "stdio", era: "legacy", state: "operating" })
      expect(await describedPeer(await wsInspector, "ws-described")).toMatchObject({ side: "server", transport: "ws", era: "legacy", state: "operating" })
    } finally {
      await overStdio.close()
      await overWs.close()
      wsServer.kill("SIGTERM")
      await new Promise((r) => (wsServer.exitCode !== null ? r(undefined) : wsServer.once("exit", r)))
    }
  }, 60_000)
})

describe("inspector server: the host's actor tree", () => {
  it("startHost({ inspect: true }) shows the host actor and its server connections as its children (keyed by parentId/rootId)", async () => {
    const host = await startHost(
      { mcpServers: { demo: { command: process.execPath, args: [CLI, "serve", "--stdio"] } } },
      { stateFile: false, onStderr: () => {}, inspect: true }
    )
    try {
      const inspector = host.inspector!
      const { messages } = await (await fetch(`${inspector.origin}/actors`, { headers: { authorization: `Bearer ${inspector.token}` } })).json() as { messages: Array<Msg> }
      const root = messages.find((m) => m.type === "@xstate.actor" && m.name === "host")
      const child = messages.find((m) => m.type === "@xstate.actor" && m.name === "serverConnection")
      expect(root).toBeDefined()
      // The host is a node under its runtime's root; its server connections are its children.
      expect(root!.parentId).toBeDefined()
      expect(root!.parentId).toBe(root!.rootId)
      expect(child).toMatchObject({ parentId: root!.sessionId, rootId: root!.rootId })
      // …each upstream generation is a supervised `connection` node of theirs, and the upstream
      // client's charts (era probe, modern client or legacy session) are that node's.
      const node = messages.find((m) => m.type === "@xstate.actor" && m.name === "connection" && m.parentId === child!.sessionId)
      expect(node).toMatchObject({ rootId: root!.rootId })
      expect(messages.filter((m) => m.type === "@xstate.actor" && m.parentId === node!.sessionId).map((m) => m.name)).toContain("modernClient")
      expect(messages.find((m) => m.type === "@mcp-actors.session" && m.sessionId === child!.sessionId)?.state).toMatch(/^ready/)
      // It describes the host's own runtime's registry: the upstream's client session, with its transport and peer.
      expect(inspector.registry).toBe(host.runtime.registry)
      // …on the upstream generation's connection node, named after its registry entry.
      expect(messages.find((m) => m.type === "@mcp-actors.session" && m.sessionId === node!.sessionId)).toMatchObject({
        side: "client",
        transport: "stdio",
        era: "modern",
        peer: { name: "mcp-actors-demo" }
      })
    } finally {
      await host.close()
    }
    expect(inspection.listenerCount).toBe(0)
  }, 60_000)
})

const run = (args: ReadonlyArray<string>, timeoutMs = 30_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(t)
      resolve({ code, stdout, stderr })
    })
  })

describe("inspector CLI", () => {
  it("serve --http 0 --inspect prints the inspector URL; inspect URL --json prints the feed of a live session as JSON lines; a wrong token exits 1", async () => {
    const server = spawn(process.execPath, [CLI, "serve", "--http", "0", "--inspect"], { stdio: ["ignore", "pipe", "pipe"] })
    try {
      const lines = createInterface({ input: server.stderr })
      const inspectorUrl = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no inspector URL printed")), 30_000)
        lines.on("line", (line) => {
          const m = /inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})/.exec(line)
          if (m !== null) (clearTimeout(t), resolve(m[1]!))
        })
      })
      const mcpUrl = await new Promise<string>((resolve) => createInterface({ input: server.stdout }).once("line", resolve))
      const init = await fetch(mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl-like", version: "1" } } })
      })
      expect(init.status).toBe(200)

      const { code, stdout } = await run([CLI, "inspect", inspectorUrl, "--json", "--once"])
      expect(code).toBe(0)
      const messages = stdout.trim().split("\n").map((l) => JSON.parse(l) as Msg)
      expect(messages[0]).toMatchObject({ type: "@mcp-actors.hello", version: "mcp-actors.inspect/1" })
      const actor = messages.find((m) => m.type === "@xstate.actor" && m.name === "legacyServerSession")
      expect(actor).toMatchObject({ parentId: expect.any(String), snapshot: { value: "awaitingInitialized" } })
      expect(actor?.rootId).not.toBe(actor?.sessionId) // under the runtime's root
      expect(typeof actor?.definition).toBe("string")
      expect(messages.find((m) => m.type === "@mcp-actors.session" && m.sessionId === actor?.sessionId)).toMatchObject({
        side: "server",
        transport: "http",
        protocolVersion: "2025-06-18",
        peer: { name: "curl-like", version: "1" }
      })

      const text = await run([CLI, "inspect", inspectorUrl, "--once"])
      expect(text.stdout).toMatch(/legacyServerSession\s+awaitingInitialized\s+server http legacy 2025-06-18/)

      const refused = await run([CLI, "inspect", inspectorUrl.replace(/token=\w+/, `token=${"0".repeat(48)}`), "--once"])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain("refused (401")
    } finally {
      server.kill("SIGTERM")
      await new Promise((r) => server.once("close", r))
    }
  }, 90_000)

  /** `serve --http 0 --inspect …flags` as a process: its inspector's origin and token (printed on stderr) and its MCP URL (stdout). */
  const serveInspected = async (flags: ReadonlyArray<string>) => {
    const server = spawn(process.execPath, [CLI, "serve", "--http", "0", "--inspect", ...flags], { stdio: ["ignore", "pipe", "pipe"] })
    const closed = new Promise((r) => server.once("close", r))
    const stop = async () => {
      if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM")
      await closed
    }
    onTestFinished(stop)
    const inspectorUrl = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve ${flags.join(" ")}: no inspector URL printed`)), 30_000)
      createInterface({ input: server.stderr }).on("line", (line) => {
        const m = /inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})/.exec(line)
        if (m !== null) (clearTimeout(t), resolve(m[1]!))
      })
    })
    const mcpUrl = await new Promise<string>((resolve) => createInterface({ input: server.stdout }).once("line", resolve))
    const url = new URL(inspectorUrl)
    return { origin: url.origin, token: url.searchParams.get("token")!, mcpUrl, stop }
  }

  it("serve --inspect-secrets: /actors and the record show the full session id and the secret values the client sent; without the flag, neither (the id cut to 8 characters, values \"[redacted]\"); each start has its own token", async () => {
    // Followed from the start (`--inspect-record always`): the records read below are of a session nobody watched.
    const [shown, hidden] = await Promise.all([serveInspected(["--inspect-secrets", "--inspect-record", "always"]), serveInspected(["--inspect-record", "always"])])
    // Two starts, two tokens: neither inspector takes the other's.
    expect(shown.token).not.toBe(hidden.token)
    expect((await fetch(`${hidden.origin}/actors`, { headers: { authorization: `Bearer ${shown.token}` } })).status).toBe(401)
    expect((await fetch(`${shown.origin}/actors`, { headers: { authorization: `Bearer ${hidden.token}` } })).status).toBe(401)

    /** What the inspector of `served` shows of one SDK client's session that called `echo` with a distinctive value. */
    const inspected = async (served: typeof shown) => {
      const secret = `secret-${randomBytes(8).toString("hex")}`
      const argument = `argument-${randomBytes(8).toString("hex")}`
      // A token in the client's initialize capabilities: the server's chart records that request (and keeps the
      // capabilities in its context), so the flag decides whether the page may show it.
      const client = new Client({ name: "secrets-probe", version: "1.0.0" }, { capabilities: { experimental: { probe: { token: secret } } } })
      const transport = new StreamableHTTPClientTransport(new URL(served.mcpUrl))
      await client.connect(transport)
      try {
        expect((await client.callTool({ name: "echo", arguments: { text: argument } })).content).toEqual([{ type: "text", text: argument }])
        const get = (path: string) => fetch(`${served.origin}${path}`, { headers: { authorization: `Bearer ${served.token}` } })
        const actorsText = await (await get("/actors")).text()
        const actors = JSON.parse(actorsText) as { showSecrets: boolean; messages: Array<Msg> }
        const session = actors.messages.find((m) => m.type === "@mcp-actors.session" && m.peer?.name === "secrets-probe")
        expect(session).toMatchObject({ side: "server", transport: "http", state: "operating" })
        const actor = actors.messages.find((m) => m.type === "@xstate.actor" && m.sessionId === session!.sessionId)
        const download = await get(`/record/${encodeURIComponent(session!.sessionId)}`)
        expect(download.status).toBe(200)
        const recordText = await download.text()
        const record = JSON.parse(recordText) as Msg
        const initialize = record.records.find((r: Msg) => r.event.type === "INITIALIZE")
        return { secret, argument, sessionId: transport.sessionId!, actorsText, actors, session: session!, actor, recordText, record, initialize }
      } finally {
        await transport.terminateSession()
        await client.close()
      }
    }
    const [withSecrets, without] = await Promise.all([inspected(shown), inspected(hidden)])
    await Promise.all([shown.stop(), hidden.stop()])

    // The HTTP session id (the Mcp-Session-Id the SDK client holds) is long enough to be cut.
    expect(withSecrets.sessionId.length).toBeGreaterThan(12)
    expect(without.sessionId.length).toBeGreaterThan(12)

    // --inspect-secrets: the full id in the session's summary, its actor and its record; the secret as sent.
    expect(withSecrets.actors.showSecrets).toBe(true)
    expect(withSecrets.session.id).toBe(withSecrets.sessionId)
    expect(withSecrets.actor?.id).toBe(withSecrets.sessionId)
    expect(withSecrets.record).toMatchObject({ id: withSecrets.sessionId, redacted: false })
    expect(withSecrets.initialize?.event.params.capabilities).toEqual({ experimental: { probe: { token: withSecrets.secret } } })
    expect(withSecrets.actor?.snapshot.context.clientCapabilities).toEqual({ experimental: { probe: { token: withSecrets.secret } } })

    // Without it: the id cut to its first 8 characters, the secret "[redacted]", and neither the full id, the secret nor
    // the tool call's argument value anywhere in /actors or the record.
    const short = `${without.sessionId.slice(0, 8)}…`
    expect(without.actors.showSecrets).toBe(false)
    expect(without.session.id).toBe(short)
    expect(without.actor?.id).toBe(short)
    expect(without.record).toMatchObject({ id: short, redacted: true })
    expect(without.initialize?.event.params.capabilities).toEqual({ experimental: { probe: { token: "[redacted]" } } })
    expect(without.actor?.snapshot.context.clientCapabilities).toEqual({ experimental: { probe: { token: "[redacted]" } } })
    for (const text of [without.actorsText, without.recordText]) {
      expect(text).not.toContain(without.sessionId)
      expect(text).not.toContain(without.secret)
      expect(text).not.toContain(without.argument)
    }
  }, 90_000)
})
