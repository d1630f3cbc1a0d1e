/**
 * The inspector that follows the runtime only while someone watches (`record: "watched"`, the inspector
 * server's default): nothing is taken while no feed listens, and a first listener (or a read) catches up
 * with what happened meanwhile. Real Streamable HTTP sessions (the official SDK client, and raw requests
 * where a session must stop half-way through its handshake) against a runtime of the test's own.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it, onTestFinished } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { type FeedMessage, InspectorModel } from "../src/inspect/InspectorModel.ts"
import { startInspector } from "../src/inspect/InspectorServer.ts"
import { parseRecord, replayRecord } from "../src/inspect/replay.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { type Msg, openFeed } from "./support/inspectorFeed.ts"
import { del, openSession, post } from "./support/mcpHttp.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

const served = async () => {
  const runtime = makeMcpRuntime()
  const http = await makeHttpServer(makeDemoServer(), { port: 0, runtime })
  onTestFinished(async () => {
    await http.close()
    await runtime.shutdown({ drainMs: 0 })
  })
  return { runtime, http }
}

/** An SDK client session on `url`; `end()` deletes it (the server ends it before answering). */
const sdkSession = async (url: string, name: string) => {
  const client = new Client({ name, version: "1.0.0" })
  const transport = new StreamableHTTPClientTransport(new URL(url))
  await client.connect(transport)
  return {
    client,
    id: transport.sessionId!,
    end: async () => {
      await transport.terminateSession()
      await client.close()
    }
  }
}

const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" }

/** A session through its `initialize` only (raw requests): `initialized()` sends the notification that completes its handshake. */
const halfOpen = async (url: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "half-open", version: "1" } } })
  })
  await response.text()
  const id = response.headers.get("mcp-session-id")!
  const headers = { ...HEADERS, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }
  return {
    id,
    initialized: async () => {
      const r = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })
      expect(r.status).toBe(202)
    },
    end: async () => void (await (await fetch(url, { method: "DELETE", headers })).text())
  }
}

describe("inspector model, record: watched", () => {
  it("takes nothing while nobody listens; a listener finds the live sessions from their state, and what it watched stays", async () => {
    const { runtime, http } = await served()
    const hubListeners = inspection.listenerCount
    const registryListeners = runtime.registry.listenerCount
    const model = new InspectorModel({ registry: runtime.registry, record: "watched" })
    onTestFinished(() => model.close())
    const byId = (id: string) => [...model.actors()].find((a) => a.id === id)
    // Unwatched, it listens to neither the hub (so the runtime takes its uninspected paths) nor the registry.
    expect(inspection.listenerCount).toBe(hubListeners)
    expect(runtime.registry.listenerCount).toBe(registryListeners)

    // Unwatched: one session begins and ends, another begins and calls a tool.
    const gone = await sdkSession(http.url, "unwatched-and-gone")
    await gone.client.callTool({ name: "echo", arguments: { text: "x" } })
    await gone.end()
    const live = await sdkSession(http.url, "live-before")
    await live.client.callTool({ name: "echo", arguments: { text: "x" } })

    // A listener: the live session is listed from the state it is in, with none of its steps (none were taken);
    // the one that began and ended unwatched is not listed at all.
    const told: Array<FeedMessage> = []
    const stop = model.subscribe((m) => told.push(m), { events: false })
    expect(inspection.listenerCount).toBe(hubListeners + 1)
    expect(runtime.registry.listenerCount).toBeGreaterThan(registryListeners)
    const adopted = byId(live.id)
    expect(adopted).toMatchObject({ machine: "legacyServerSession", value: "operating", status: "active" })
    expect(adopted!.record.entries()).toEqual([])
    expect(adopted!.record.base?.value).toBe("operating")
    expect(model.infoOf(adopted!)).toMatchObject({ transport: "http", peer: { name: "live-before" } })
    expect(byId(gone.id)).toBeUndefined()

    // Watched: a new session's every step, and the listener told of them.
    const watched = await sdkSession(http.url, "watched")
    expect(byId(watched.id)!.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED"])
    expect(told.some((m) => m.type === "@xstate.snapshot" && m.actor.id === watched.id)).toBe(true)
    // Half-way through its handshake while watched.
    const half = await halfOpen(http.url)
    expect(byId(half.id)).toMatchObject({ value: "awaitingInitialized" })
    expect(byId(half.id)!.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE"])

    // Nobody listens again: the watched session ends, the half-open one completes its handshake, and a
    // third session begins and ends, all unwatched.
    stop()
    expect(inspection.listenerCount).toBe(hubListeners)
    expect(runtime.registry.listenerCount).toBe(registryListeners)
    await watched.end()
    await half.initialized()
    const unseen = await sdkSession(http.url, "unseen")
    await unseen.end()
    const toldBefore = told.length

    // Listened to again: the session that ended meanwhile is ended, with its reason, its record as watched;
    // the one that moved on is where it is now, its record restarted there (a replay agrees with it); the one
    // that began and ended meanwhile is not listed; the listener was told nothing while it was away.
    model.subscribe((m) => told.push(m), { events: false })
    expect(told.length).toBe(toldBefore)
    const ended = byId(watched.id)!
    expect(ended.status).not.toBe("active")
    expect(ended.end?.reason).toEqual(expect.any(String))
    expect(ended.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED"])
    const moved = byId(half.id)!
    expect(moved).toMatchObject({ value: "operating", status: "active" })
    expect(moved.record.entries()).toEqual([])
    expect(moved.record.base?.value).toBe("operating")
    expect(moved.record.dropped).toBe(1)
    const replay = replayRecord(parseRecord(JSON.parse(JSON.stringify(model.record(moved.sessionId)))))
    expect(replay).toMatchObject({ start: "operating", divergence: undefined })
    expect(byId(unseen.id)).toBeUndefined()
    // The live session listed at the first look is still listed, followed again.
    await live.client.callTool({ name: "echo", arguments: { text: "y" } })
    await half.end()
    expect(byId(half.id)!.end?.reason).toEqual(expect.any(String))
    expect(byId(half.id)!.record.entries().length).toBeGreaterThan(0)
    await live.end()
    expect(byId(live.id)!.end?.reason).toEqual(expect.any(String))
  }, 30_000)

  it("a read while nobody listens catches up too (a session moved on, one ended), and follows nothing after it", async () => {
    const { runtime, http } = await served()
    const model = new InspectorModel({ registry: runtime.registry, record: "watched" })
    onTestFinished(() => model.close())
    const half = await halfOpen(http.url)
    const other = await sdkSession(http.url, "other")
    expect(model.get([...model.actors()].find((a) => a.id === half.id)!.sessionId)).toMatchObject({ value: "awaitingInitialized" })
    const view = [...model.actors()].find((a) => a.id === half.id)!
    await half.initialized()
    // Not followed: the view is as the last read left it…
    expect(view.value).toBe("awaitingInitialized")
    // …until the next read.
    expect(model.size).toBeGreaterThanOrEqual(2)
    expect(view.value).toBe("operating")
    await other.end()
    expect(model.record(view.sessionId)?.base?.value).toBe("operating")
    const otherView = [...model.actors()].find((a) => a.id === other.id)!
    expect(otherView.end?.reason).toEqual(expect.any(String))
    await half.end()
  }, 30_000)

  it("a session that hibernated and woke, or hibernated and ended, while nobody listened: one view each, caught up", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 50, clock, inspect: true })
    onTestFinished(() => handle.close({ drainMs: 0 }))
    const model = handle.inspector!.model
    const stop = model.subscribe(() => {}, { events: false })
    const woken = await openSession(handle.url)
    const ended = await openSession(handle.url)
    const views = (sid: string) => [...model.actors()].filter((a) => a.id === sid)
    const [wokenView] = views(woken.sid)
    const [endedView] = views(ended.sid)
    expect(wokenView?.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED"])
    stop()
    // Unwatched: both hibernate; one is woken by a ping, the other deleted.
    clock.increment(100)
    expect(handle.session(woken.sid)!.isHibernated).toBe(true)
    expect(await (await post(handle.url, { jsonrpc: "2.0", id: 2, method: "ping" }, woken.headers)).json()).toMatchObject({ id: 2, result: {} })
    expect(handle.session(woken.sid)!.isHibernated).toBe(false)
    expect((await del(handle.url, ended.headers)).status).toBeLessThan(300)
    model.subscribe(() => {}, { events: false })
    // The woken one: its view continued by its new actor (one view), live, in its state.
    expect(views(woken.sid)).toEqual([wokenView])
    expect(wokenView).toMatchObject({ status: "active", value: "operating" })
    expect(wokenView!.aliases).toHaveLength(1)
    // What it did since it woke (the ping) was not seen: its record restarts where it is, and replays from there.
    expect(wokenView!.record.entries()).toEqual([])
    expect(wokenView!.record.dropped).toBe(2)
    expect(wokenView!.record.base?.value).toBe("operating")
    expect(replayRecord(parseRecord(JSON.parse(JSON.stringify(model.record(wokenView!.sessionId)))))).toMatchObject({ start: "operating", divergence: undefined })
    // The deleted one: its view ended with its session's reason, its record as watched.
    expect(views(ended.sid)).toEqual([endedView])
    expect(endedView!.end).toMatchObject({ reason: "terminated by the client (DELETE)", error: false })
    expect(endedView!.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED"])
  }, 30_000)

  it("record: always (the model's default) follows from the start, as before", async () => {
    const { runtime, http } = await served()
    const model = new InspectorModel({ registry: runtime.registry })
    onTestFinished(() => model.close())
    const session = await sdkSession(http.url, "always")
    await session.end()
    const view = [...model.actors()].find((a) => a.id === session.id)
    expect(view?.record.entries().map((e) => e.event.type)).toEqual(expect.arrayContaining(["INITIALIZE", "INITIALIZED"]))
    expect(view?.end?.reason).toEqual(expect.any(String))
  }, 30_000)
})

describe("inspector server, record: watched by default", () => {
  it("a page's feed follows while connected; what it saw stays for the next page; a session begun and ended with no page is not listed", async () => {
    const { runtime, http } = await served()
    // (Full ids in the feed: `showSecrets`; what is followed does not depend on it. `flushMs: 0`: the feed goes out at the
    // next turn of the event loop, no flush timer, so the waits below are on the socket alone.)
    const inspector = await startInspector({ runtime, showSecrets: true, flushMs: 0 })
    onTestFinished(() => inspector.close())
    const actors = async () =>
      ((await (await fetch(`${inspector.origin}/actors`, { headers: { authorization: `Bearer ${inspector.token}` } })).json()) as { messages: Array<Msg> }).messages
    const listed = (messages: Array<Msg>, id: string) => messages.find((m) => m.type === "@xstate.actor" && m.id === id)

    const before = await sdkSession(http.url, "before-the-page")
    const gone = await sdkSession(http.url, "no-page")
    await gone.end()
    // No page yet: /actors lists the live session from its state (a read catches up), nothing of the other.
    const first = await actors()
    expect(listed(first, before.id)).toMatchObject({ snapshot: { value: "operating" } })
    expect(listed(first, gone.id)).toBeUndefined()

    // A page: a session begun while it is open is fed to it, step by step.
    const feed = await openFeed(`ws://127.0.0.1:${inspector.port}/feed?token=${inspector.token}`)
    const seen = await sdkSession(http.url, "with-the-page")
    await feed.waitFor((m) => m.type === "@xstate.snapshot" && m.id === seen.id && m.event?.type === "INITIALIZED", "the watched session's INITIALIZED")
    await seen.end()
    await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.id === seen.id && typeof m.end?.reason === "string", "the watched session's end")
    const closed = new Promise((r) => feed.ws.once("close", r))
    feed.ws.close()
    await closed

    // The page closed: a session begun and ended now is not listed; the one the page saw end still is, with its record.
    const after = await sdkSession(http.url, "after-the-page")
    await after.end()
    const last = await actors()
    expect(listed(last, after.id)).toBeUndefined()
    expect(listed(last, seen.id)).toBeDefined()
    const record = (await (await fetch(`${inspector.origin}/record/${encodeURIComponent(listed(last, seen.id)!.sessionId)}`, { headers: { authorization: `Bearer ${inspector.token}` } })).json()) as Msg
    expect(record.records.map((r: Msg) => r.event.type)).toEqual(expect.arrayContaining(["INITIALIZE", "INITIALIZED"]))
    expect(record.end?.reason).toEqual(expect.any(String))
    await before.end()
  }, 30_000)

  it("--inspect-record takes watched or always, and needs --inspect", () => {
    const run = (...args: Array<string>) => spawnSync(process.execPath, [CLI, "serve", "--http", "0", ...args], { encoding: "utf8", timeout: 20_000 })
    const alone = run("--inspect-record", "always")
    expect(alone.status).toBe(2)
    expect(alone.stderr).toContain("--inspect-record needs --inspect")
    const bad = run("--inspect", "0", "--inspect-record", "sometimes")
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--inspect-record takes watched or always, got "sometimes"')
  }, 30_000)
})
