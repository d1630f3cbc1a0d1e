import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import { openSession, post } from "./support/mcpHttp.ts"
import { waitForTurns } from "./support/waitFor.ts"

// Idle HTTP sessions hibernate (one sweeper for all of them): calls are still
// served, a ping or DELETE restores the chart, and a hibernated session still
// expires at its idle deadline. The sweeper and the deadlines run on the
// server's clock: a simulated one here, so no test waits for real time.
describe("Streamable HTTP: idle sessions hibernate", () => {
  it("hibernates idle sessions, keeps serving them, restores the chart on ping, and ends them on DELETE", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 50, clock })
    try {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(handle.url)))
      clock.increment(99)
      expect(handle.stats().hibernated).toBe(0) // the sweep runs every max(100, hibernateAfterMs / 2) ms
      clock.increment(1)
      expect(handle.stats().hibernated).toBe(20)
      const { sid, headers } = sessions[0]!
      const call = await post(handle.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "still here" } } }, headers)
      expect(((await call.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text).toBe("still here")
      expect(handle.session(sid)!.isHibernated).toBe(true) // a call in `operating` needs no actor
      const ping = await post(handle.url, { jsonrpc: "2.0", id: 2, method: "ping" }, headers)
      expect(await ping.json()).toMatchObject({ id: 2, result: {} })
      expect(handle.session(sid)!.isHibernated).toBe(false)
      expect(handle.session(sid)!.stateName()).toBe("operating")
      const { del } = await import("./support/mcpHttp.ts")
      expect((await del(handle.url, sessions[1]!.headers)).status).toBeLessThan(300)
      expect(handle.session(sessions[1]!.sid)).toBeUndefined()
    } finally {
      await handle.close({ drainMs: 0 })
    }
    expect(handle.stats()).toMatchObject({ sessions: 0, hibernated: 0 })
  })

  it("the inspector sees a session hibernate and wake as one session: one view, its record going on, one end", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 50, clock, inspect: { record: "always" } })
    try {
      const model = handle.inspector!.model
      const { sid, headers } = await openSession(handle.url)
      const views = () => [...model.actors()].filter((a) => a.id === sid)
      const [view] = views()
      expect(views()).toHaveLength(1)
      clock.increment(100)
      expect(handle.session(sid)!.isHibernated).toBe(true)
      expect(view!.status).toBe("hibernated")
      const ping = await post(handle.url, { jsonrpc: "2.0", id: 2, method: "ping" }, headers)
      expect(await ping.json()).toMatchObject({ id: 2, result: {} })
      expect(handle.session(sid)!.isHibernated).toBe(false)
      // The woken actor continues the view (found through the session its actor names).
      expect(views()).toEqual([view])
      expect(view!.status).toBe("active")
      expect(view!.aliases).toHaveLength(1)
      expect(view!.record.last(1)[0]!.event.type).toBe("PING")
      const { del } = await import("./support/mcpHttp.ts")
      expect((await del(handle.url, headers)).status).toBeLessThan(300)
      expect(views()).toEqual([view])
      expect(view!.end).toMatchObject({ reason: "terminated by the client (DELETE)", error: false })
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("a hibernated session still expires at its idle deadline", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 20, idleTimeoutMs: 300, clock })
    try {
      const { sid, headers } = await openSession(handle.url)
      clock.increment(100) // first sweep: idle for 100 ≥ 20 ms
      expect(handle.session(sid)?.isHibernated).toBe(true)
      clock.increment(199)
      await waitForTurns(() => true)
      expect(handle.sessions).toBe(1) // 299 ms idle: not yet
      clock.increment(1) // 300 ms: the wake timer restores the chart, which re-arms its idle deadline (already due)
      expect(handle.session(sid)?.isHibernated).toBe(false)
      clock.increment(1) // a simulated clock fires timers armed during a step on the next one
      await waitForTurns(() => handle.sessions === 0, "expired at its idle deadline")
      const after = await post(handle.url, { jsonrpc: "2.0", id: 9, method: "ping" }, headers)
      expect(after.status).toBe(404)
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })
})

// Hibernation is xstate's persisted snapshot: thousands of idle sessions are serialized
// with JSON.stringify, a fresh server (new McpServer, new handler, new actors) takes them
// over, and the clients go on calling on the same session ids over real HTTP.
describe("Streamable HTTP: hibernated sessions move to a fresh server as JSON", () => {
  const N = 2_000
  /** Run `f` over `items`, `width` at a time (a burst of 2 000 handshakes would trip admission control's handshake budget). */
  const pool = async <A, B>(items: ReadonlyArray<A>, width: number, f: (a: A, i: number) => Promise<B>): Promise<Array<B>> => {
    const out: Array<B> = new Array(items.length)
    let next = 0
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await f(items[i]!, i)
      }
    }))
    return out
  }
  const call = async (url: string, headers: Record<string, string>, id: number, text: string) => {
    const res = await post(url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } }, headers)
    return { status: res.status, body: (await res.json()) as { id?: number; result?: { content: Array<{ text: string }> }; error?: { code: number } } }
  }

  it(`persists ${N} sessions, restores them in a fresh server on a fresh runtime and serves calls on the same ids`, async () => {
    // Each server on a runtime of its own (issue 13: "restores them in a fresh runtime").
    const firstRuntime = makeMcpRuntime()
    const first = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 0, runtime: firstRuntime })
    let opened: Array<{ readonly sid: string; readonly headers: Record<string, string> }>
    let json: string
    try {
      opened = await pool(Array.from({ length: N }), 32, () => openSession(first.url))
      expect(new Set(opened.map((s) => s.sid)).size).toBe(N)
      // One call each before the move: the sessions are operating, then idle.
      const before = await pool(opened, 32, (s, i) => call(first.url, s.headers, 1, `before ${i}`))
      expect(before.every((r, i) => r.body.result?.content[0]?.text === `before ${i}`)).toBe(true)
      const persisted = first.persistSessions()
      expect(persisted).toHaveLength(N)
      expect(first.stats().hibernated).toBe(N)
      json = JSON.stringify(persisted)
    } finally {
      await first.close({ drainMs: 0 })
      await firstRuntime.shutdown({ drainMs: 0 })
    }
    // The old server and its runtime are gone: its sessions ended with them.
    expect(first.stats().sessions).toBe(0)
    expect(firstRuntime.registry.size).toBe(0)
    const restored = JSON.parse(json) as ReturnType<typeof first.persistSessions>
    expect(restored.map((p) => p.id).sort()).toEqual(opened.map((s) => s.sid).sort())
    expect(restored.every((p) => p.chart.value === "operating" && p.chart.context.protocolVersion === "2025-11-25")).toBe(true)

    const secondRuntime = makeMcpRuntime()
    // A `registry` option (the inspector's) lists restored sessions too, until they end.
    const listed = makeRegistryUnsafe()
    const second = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 0, runtime: secondRuntime, registry: listed })
    try {
      const url = second.url // another port: the clients follow the server, with their session ids
      expect(second.restoreSessions(restored)).toBe(N)
      expect(second.restoreSessions(restored)).toBe(0) // ids already served are not taken twice
      expect(second.stats()).toMatchObject({ sessions: N, hibernated: N, handshaking: 0 })
      // Restored sessions are supervised by the new runtime like new ones (a scope and a registry entry each).
      expect(secondRuntime.registry.size).toBe(N)
      expect(listed.size).toBe(N)
      const after = await pool(opened, 32, (s, i) => call(url, s.headers, 2, `after ${i}`))
      expect(after.filter((r) => r.status !== 200)).toEqual([])
      expect(after.every((r, i) => r.body.id === 2 && r.body.result?.content[0]?.text === `after ${i}`)).toBe(true)
      // Calls in `operating` need no actor: still hibernated. A lifecycle event restores the chart from its snapshot.
      expect(second.stats().hibernated).toBe(N)
      const { sid, headers } = opened[7]!
      const ping = await post(url, { jsonrpc: "2.0", id: 3, method: "ping" }, headers)
      expect(await ping.json()).toMatchObject({ id: 3, result: {} })
      expect(second.session(sid)!.isHibernated).toBe(false)
      expect(second.session(sid)!.stateName()).toBe("operating")
      expect(second.session(sid)!.protocolVersion).toBe("2025-11-25")
      const { del } = await import("./support/mcpHttp.ts")
      expect((await del(url, opened[8]!.headers)).status).toBeLessThan(300)
      expect(second.session(opened[8]!.sid)).toBeUndefined()
      expect((await call(url, opened[8]!.headers, 5, "gone")).status).toBe(404)
      // An id the first server never issued is unknown here too.
      expect((await call(url, { ...headers, "mcp-session-id": "AAAAAAAAAAAAAAAAAAAAAA" }, 6, "x")).status).toBe(404)
      expect(secondRuntime.registry.size).toBe(N - 1) // the DELETEd one left it
      expect(listed.size).toBe(N - 1)
      expect(listed.get(opened[8]!.sid)).toBeUndefined()
    } finally {
      await second.close({ drainMs: 0 })
      await secondRuntime.shutdown({ drainMs: 0 })
    }
    expect(second.stats()).toMatchObject({ sessions: 0, hibernated: 0 })
    expect(secondRuntime.registry.size).toBe(0)
    expect(listed.size).toBe(0)
  }, 240_000)
})
