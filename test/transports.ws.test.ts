/**
 * MCP over WebSocket (our custom transport, spec-digest §5): our server
 * (`makeWsServer`) against the official SDK v1 `WebSocketClientTransport` and
 * against our clients (legacy `connectWs`, modern `ModernClient`), bad input on
 * a live socket, the upgrade checks, dead-peer detection and leaks.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import { once } from "node:events"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { RequestCancelled } from "../src/protocol/requestErrors.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import { makeWsServer, type WsServerHandle, type WsServerOptions } from "../src/server/ws/WsServer.ts"
import { makeWsClientTransport, type WsConnectError } from "../src/transports/wsClient.ts"
import { whenChanged } from "./support/condition.ts"
import { rawRequest } from "./support/mcpHttp.ts"
import { serveCli } from "./support/cliServe.ts"

const servers: Array<WsServerHandle> = []
/** A server whose sessions are listed in a registry: `released()` awaits its changes (no polling). */
const start = async (options: WsServerOptions = {}) => {
  const registry = makeRegistryUnsafe()
  const handle = await makeWsServer(makeDemoServer(), { registry, ...options })
  servers.push(handle)
  /** Every connection's session released: the server sees each socket close by I/O, and the registry hears it. */
  const released = () => whenChanged((l) => registry.subscribe(l), () => handle.connections === 0, "every connection to be released")
  return Object.assign(handle, { released })
}
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close({ drainMs: 0 })
})

/** A raw peer: send text, read parsed replies in order. */
const rawSocket = async (url: string, options: WebSocket.ClientOptions = {}) => {
  const ws = new WebSocket(url, ["mcp"], options)
  const inbox: Array<Record<string, any>> = []
  const waiters: Array<() => void> = []
  ws.on("message", (data) => {
    inbox.push(JSON.parse(data.toString()))
    for (const w of waiters.splice(0)) w()
  })
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  const next = async (): Promise<Record<string, any>> => {
    while (inbox.length === 0) await new Promise<void>((resolve) => waiters.push(resolve))
    return inbox.shift()!
  }
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)))
  return { ws, next, closed, send: (x: unknown) => ws.send(typeof x === "string" ? x : JSON.stringify(x)) }
}
const initialize = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }

describe("WebSocket: real peers", () => {
  it("the official SDK v1 WebSocketClientTransport: initialize, list, call with progress, close; nothing left on the server", async () => {
    const handle = await start()
    const client = new Client({ name: "sdk-ws", version: "1.0.0" })
    await client.connect(new WebSocketClientTransport(new URL(handle.url)))
    expect(client.getServerVersion()?.name).toBe("mcp-actors-demo")
    const tools = await client.listTools()
    expect(tools.tools.map((t) => t.name)).toContain("echo")
    const progress: Array<number> = []
    const r = await client.callTool({ name: "count", arguments: { n: 3, stepMs: 1 } }, undefined, { onprogress: (p) => progress.push(p.progress) })
    expect(r.structuredContent).toEqual({ counted: 3 })
    expect(progress).toEqual([1, 2, 3])
    expect(handle.connections).toBe(1)
    await client.close()
    await handle.released()
  })

  it("our legacy client (connectWs): handshake, calls, ping, cancellation, close", async () => {
    const handle = await start()
    const client = await connectWs(handle.url)
    expect(client.serverInfo?.name).toBe("mcp-actors-demo")
    expect((await client.callTool("echo", { text: "over ws" })).content).toEqual([{ type: "text", text: "over ws" }])
    await client.ping()
    const abort = new AbortController()
    const slow = client.callTool("slow", { ms: 60_000 }, { signal: abort.signal })
    abort.abort()
    await expect(slow).rejects.toBeInstanceOf(RequestCancelled)
    expect((await client.callTool("echo", { text: "still" })).content).toEqual([{ type: "text", text: "still" }])
    await client.close()
    await handle.released()
  })

  it("a modern client: stateless requests with _meta, a listen stream, cancellation by notifications/cancelled", async () => {
    const handle = await start()
    const transport = makeWsClientTransport({ url: handle.url })
    await transport.opened
    const client = ModernClient.create(transport)
    const r = await client.callTool("echo", { text: "modern" })
    expect(r).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "modern" }] })
    const sub = client.listen({ toolsListChanged: true })
    expect(await sub.acknowledged).toEqual({ toolsListChanged: true })
    const abort = new AbortController()
    const slow = client.callTool("slow", { ms: 60_000 }, { signal: abort.signal })
    abort.abort()
    await expect(slow).rejects.toBeInstanceOf(RequestCancelled)
    await client.close()
    expect((await sub.ended).state).toBe("closed")
    await handle.released()
  })
})

describe("WebSocket: bad input and the upgrade", () => {
  it("malformed frames get their JSON-RPC error and the socket stays usable; a binary frame closes it (1003)", async () => {
    const handle = await start({ maxMessageBytes: 1024 })
    const peer = await rawSocket(handle.url)
    peer.send("{not json")
    expect((await peer.next()).error.code).toBe(ErrorCode.ParseError)
    peer.send({ jsonrpc: "1.0", id: 1, method: "x" })
    expect((await peer.next()).error.code).toBe(ErrorCode.InvalidRequest)
    peer.send({ jsonrpc: "2.0", id: 2, method: "ping", params: { pad: "x".repeat(2_000) } })
    expect((await peer.next()).error).toMatchObject({ code: ErrorCode.InvalidRequest })
    peer.send(initialize)
    expect((await peer.next()).result.serverInfo.name).toBe("mcp-actors-demo")
    peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    peer.send({ jsonrpc: "2.0", id: 3, method: "no/such" })
    expect((await peer.next()).error.code).toBe(ErrorCode.MethodNotFound)
    peer.send({ jsonrpc: "2.0", id: 4, method: "ping" })
    expect(await peer.next()).toEqual({ jsonrpc: "2.0", id: 4, result: {} })
    // Another connection is unaffected by what this one does next.
    const other = await connectWs(handle.url)
    peer.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    expect(await peer.closed).toBe(1003)
    expect((await other.callTool("echo", { text: "fine" })).content).toEqual([{ type: "text", text: "fine" }])
    await other.close()
  })

  it("foreign Origin → 403, wrong path → 404, too many busy connections → 503 with Retry-After, auth hook refusals", async () => {
    const handle = await start({ maxConnections: 1, authenticate: (req) => (req.headers.authorization === "Bearer ok" ? { principal: "p" } : { status: 401 }) })
    const refused = async (url: string, headers: Record<string, string>) => {
      const t = makeWsClientTransport({ url, headers })
      const e = await t.opened.then(() => undefined, (x: unknown) => x)
      await t.close()
      return e as WsConnectError | undefined
    }
    const auth = { authorization: "Bearer ok" }
    expect((await refused(handle.url, { ...auth, origin: "https://evil.example" }))?.status).toBe(403)
    expect((await refused(handle.url.replace("/mcp", "/other"), auth))?.status).toBe(404)
    expect((await refused(handle.url, {}))?.status).toBe(401)
    const first = await connectWs(handle.url, { headers: auth })
    // A session with a request in flight is never evicted: the server is full (503).
    const stop = new AbortController()
    const call = first.callTool("slow", { ms: 60_000 }, { signal: stop.signal }).catch(() => undefined)
    await first.ping() // answered after the call was dispatched (frames are handled in order)
    const busy = await rawRequest(handle.url.replace("ws:", "http:"), {
      method: "GET",
      headers: { host: `127.0.0.1:${handle.port}`, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...auth }
    })
    expect(busy.status).toBe(503)
    expect(busy.headers["retry-after"]).toBe("5")
    expect((await first.callTool("echo", { text: "ok" })).content).toEqual([{ type: "text", text: "ok" }])
    stop.abort()
    await call
    await first.close()
    await handle.released()
    expect(await refused(handle.url, auth)).toBeUndefined() // room again
  })
})

describe("WebSocket: liveness and leaks", () => {
  it("a peer that stops answering pings is terminated by the heartbeat and its session released", async () => {
    // The heartbeat runs on the session clock: simulated here, so the test decides when each beat comes.
    const clock = new SimulatedClock()
    const handle = await start({ heartbeatMs: 40, session: { clock } })
    const mute = await rawSocket(handle.url, { autoPong: false })
    mute.send(initialize)
    await mute.next()
    expect(handle.connections).toBe(1)
    // Two heartbeats: a ping, then no pong by the next one → terminate.
    const pinged = once(mute.ws, "ping")
    clock.increment(40)
    await pinged
    expect(handle.connections).toBe(1)
    clock.increment(40)
    expect(await mute.closed).toBe(1006)
    await handle.released() // the server sees its socket close by I/O
    const live = await rawSocket(handle.url) // answers pings (autoPong): survives several heartbeats
    live.send(initialize)
    await live.next()
    for (let beat = 0; beat < 5; beat++) {
      const ping = once(live.ws, "ping") // ws sends the pong before it emits "ping"
      clock.increment(40)
      await ping
      // A request's answer after the pong: the server has read the pong (one socket, in order).
      live.send({ jsonrpc: "2.0", id: `beat-${beat}`, method: "ping" })
      expect(await live.next()).toMatchObject({ id: `beat-${beat}`, result: {} })
    }
    expect(handle.connections).toBe(1)
    live.ws.close()
  })

  it("200 connect/close cycles (half of them cut abruptly) leave no session, socket or handle behind", async () => {
    const handle = await start()
    for (let i = 0; i < 100; i++) {
      const c = await connectWs(handle.url)
      await c.callTool("echo", { text: String(i) })
      await c.close()
      const raw = await rawSocket(handle.url)
      raw.send(initialize)
      await raw.next()
      raw.ws.terminate()
    }
    await handle.released()
    // Client and server ends both live in this process: no TCP connection may remain (the listener is a TCPServerWrap).
    await expect.poll(() => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap" || r === "TCPWrap").length).toBe(0)
  })
})

describe("mcp-actors serve --ws", () => {
  it("prints the ws:// URL, serves it, and exits by itself after SIGTERM (closing the live connection)", async () => {
    const { child, exited, url: printed } = serveCli("--ws")
    try {
      const url = await printed
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mcp$/)
      const client = await connectWs(url)
      expect((await client.callTool("echo", { text: "cli" })).content).toEqual([{ type: "text", text: "cli" }])
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
      expect((await client.ended).expected).toBe(true)
    } finally {
      child.kill("SIGKILL")
    }
  }, 20_000)
})
