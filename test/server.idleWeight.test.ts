import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { emptyTable, isEmptyTable, ownTable } from "../src/runtime/EmptyTable.ts"
import { DuplicateSessionId, makeRegistryUnsafe, Registry, RegistryEntry } from "../src/runtime/Registry.ts"
import type { SessionHandle } from "../src/runtime/SessionHandle.ts"
import { Supervisor } from "../src/runtime/Supervisor.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

// What an idle session weighs (docs/performance.md, "What an idle HTTP session is made of"):
// the per-session tables it does not use are one shared empty table, it makes no
// `ended` promise nobody asked for, it follows the server without closures, and the
// supervisor keeps no entry of its own beside the registry's.

const initialize = (session: ServerSession) => {
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
}

describe("the shared empty table", () => {
  it("reads as an empty Map, refuses writes, and ownTable gives a table of one's own", () => {
    const shared = emptyTable<string, number>()
    expect(shared.size).toBe(0)
    expect(shared.get("x")).toBeUndefined()
    expect(shared.delete("x")).toBe(false)
    expect(() => shared.set("x", 1)).toThrow(/read-only/)
    expect(shared.size).toBe(0)
    const own = ownTable(shared)
    expect(isEmptyTable(own)).toBe(false)
    own.set("x", 1)
    expect(ownTable(own)).toBe(own)
    expect(emptyTable<string, number>().size).toBe(0)
  })
})

describe("an idle server session", () => {
  it("owns no in-flight table until a request, and gives it back when it hibernates", async () => {
    const clock = new SimulatedClock()
    const sent: Array<JsonRpcMessage> = []
    let release!: () => void
    const server = new McpServer({ name: "s", version: "1" })
      .tool({ name: "echo" }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))
      .tool({ name: "wait" }, () => new Promise((resolve) => (release = () => resolve({ content: [] }))))
    const a = new ServerSession(server, { transport: "http", send: (m) => void sent.push(m), clock, now: () => clock.now() })
    const b = new ServerSession(server, { transport: "http", send: (m) => void sent.push(m), clock, now: () => clock.now() })
    initialize(a)
    initialize(b)
    expect(isEmptyTable(a["inFlight"])).toBe(true)
    // Two sessions with work in flight each have their own table.
    a.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "wait" } })
    expect(isEmptyTable(a["inFlight"])).toBe(false)
    expect([a.inFlightCount, b.inFlightCount]).toEqual([1, 0])
    expect(isEmptyTable(b["inFlight"])).toBe(true)
    release()
    await Promise.resolve()
    await Promise.resolve()
    expect(a.inFlightCount).toBe(0)
    expect(a.hibernate()).toBe(true)
    expect(isEmptyTable(a["inFlight"])).toBe(true)
    // Served while hibernated: a table again, dropped by the next idle sweep.
    a.receive({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } })
    expect(sent.some((m) => "id" in m && m.id === 2 && "result" in m)).toBe(true)
    expect(a.hibernateIfIdleFor(0)).toBe(false) // asleep already
    expect(isEmptyTable(a["inFlight"])).toBe(true)
    // The hibernated chart shares one frozen empty history and children.
    const chart = a["hibernated"]!.chart as unknown as { historyValue: object; children: object }
    expect(Object.isFrozen(chart.historyValue) && Object.isFrozen(chart.children)).toBe(true)
    expect(JSON.parse(JSON.stringify(chart))).toMatchObject({ historyValue: {}, children: {} })
    // ...and wakes from it (ping restores the actor from that snapshot).
    a.receive({ jsonrpc: "2.0", id: 3, method: "ping" })
    expect(a.isHibernated).toBe(false)
    expect(a.stateName()).toBe("operating")
  })

  it("makes its ended promise when asked, also after it ended; follows the server's changes without a listener closure", async () => {
    const server = new McpServer({ name: "s", version: "1" })
    const sent: Array<JsonRpcMessage> = []
    const s = new ServerSession(server, { transport: "memory", send: (m) => void sent.push(m) })
    expect(s["endedPromise"]).toBeUndefined()
    initialize(s)
    expect(server.changeListenerCount).toBe(1)
    server.tool({ name: "late" }, () => ({ content: [] }))
    expect(sent.some((m) => "method" in m && m.method === "notifications/tools/list_changed")).toBe(true)
    await s.close({ reason: "bye" })
    expect(server.changeListenerCount).toBe(0)
    await expect(s.ended).resolves.toMatchObject({ expected: true })
    // A session that ended before anyone asked answers with a settled promise.
    const t = new ServerSession(server, { transport: "memory", send: () => {} })
    await t.close()
    expect(t["endedPromise"]).toBeDefined() // close awaits it
    const u = new ServerSession(server, { transport: "memory", send: () => {} })
    u.transportClosed({ expected: true, reason: "eof" })
    expect(u["endedPromise"]).toBeUndefined()
    await expect(u.ended).resolves.toMatchObject({ reason: "eof" })
  })
})

describe("registry and supervisor share one entry per session", () => {
  const handle = (id: string): SessionHandle & { end(): void } => {
    let end!: (e: { expected: boolean; reason: string }) => void
    const ended = new Promise<{ expected: boolean; reason: string }>((r) => (end = r))
    return {
      id,
      info: () => ({ id, role: "server", era: "legacy", protocolVersion: undefined, state: "operating", transport: "memory", peer: undefined, inFlight: 0, startedAt: 0 }),
      subscribe: () => () => {},
      ended,
      close: async () => end({ expected: true, reason: "closed" }),
      end: () => end({ expected: true, reason: "ended" })
    }
  }

  it("a supervised session is the registry's entry; the supervisor counts and shuts down only its own", async () => {
    const unsafe = makeRegistryUnsafe()
    const layer = Supervisor.layer.pipe(Layer.provideMerge(Layer.succeed(Registry, Registry.fromUnsafe(unsafe))))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const outsider = handle("outsider")
      const unregister = unsafe.register(outsider) // registered by someone else
      const released: Array<string> = []
      const a = supervisor.spawnUnsafe(() => handle("a"), { release: (h) => void released.push(h.id) })
      const b = supervisor.spawnUnsafe(() => handle("b"))
      expect(unsafe.size).toBe(3)
      expect(unsafe.entry("a")).toBeInstanceOf(RegistryEntry)
      expect(unsafe.entry("a")!.handle).toBe(a)
      expect(supervisor.get("a")).toBe(a)
      expect(supervisor.get("outsider")).toBeUndefined()
      expect(yield* supervisor.size).toBe(2)
      // A duplicate id is refused and leaves nothing behind.
      expect(() => supervisor.spawnUnsafe(() => handle("a"))).toThrow(DuplicateSessionId)
      expect(yield* supervisor.size).toBe(2)
      ;(b as ReturnType<typeof handle>).end()
      yield* Effect.promise(() => b.ended)
      yield* Effect.yieldNow
      expect(supervisor.get("b")).toBeUndefined()
      expect(yield* supervisor.size).toBe(1)
      yield* supervisor.shutdown({ drainMs: 10 })
      expect(released).toEqual(["a"])
      expect(yield* supervisor.size).toBe(0)
      expect((yield* supervisor.stats).scopeEntries).toBe(0)
      // The outsider was not the supervisor's to close.
      expect(unsafe.get("outsider")).toBe(outsider)
      unregister()
      expect(unsafe.size).toBe(0)
    })).pipe(Effect.provide(layer)))
  })
})
