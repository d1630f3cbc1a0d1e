import { EventEmitter } from "node:events"
import type { ServerResponse } from "node:http"
import { describe, expect, it, vi } from "vitest"
import { Actor } from "xstate"
import { RegistryEntry } from "../src/runtime/Registry.ts"
import { ClearingMap } from "../src/protocol/ClearingMap.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeMemoryTracer } from "../src/observability/memoryTracer.ts"
import { Telemetry } from "../src/observability/Telemetry.ts"
import { ServerSession } from "../src/server/ServerSession.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import WebSocket from "ws"
import { Exchange, type ExchangeOwner } from "../src/server/http/Exchange.ts"
import { HttpSession } from "../src/server/http/HttpSession.ts"
import { ModernRequest } from "../src/server/http/ModernRequest.ts"
import { SseHub, SseStream } from "../src/transports/http/SseStream.ts"
import { RecordBuffer } from "../src/inspect/SessionRecord.ts"
import { insertionsIntoLiveTables } from "./support/liveTables.ts"
import { del, get, openSession } from "./support/mcpHttp.ts"

// Why churned sessions survived the young GC (docs/performance.md): the server's long-lived
// tables (its sessions, the admission limiter, the registry, xstate's actor table, the
// server's change listeners) were `Map`s and `Set`s of the sessions themselves. V8 leaves a
// table's old hash tables as they were when it copies them (every ~32 insertions under churn);
// in old space the scavenger takes them as roots, so nearly every session of a churn outlived
// its end until the next full GC (test/protocol.clearingMap.test.ts shows the V8 side). The fix
// keeps sessions out of such tables: ids and slot numbers go in, sessions stay in arrays of
// slots emptied in place (ClearingMap), or their entries are emptied (CoarseClock).

/** An effect `Scope` (a session's own, made by the supervisor). */
const isScope = (x: unknown): boolean =>
  typeof x === "object" && x !== null && "strategy" in x && "state" in x && (x as { state?: { _tag?: unknown } }).state?._tag !== undefined

const isObject = (x: unknown): x is object => typeof x === "object" && x !== null

/** What a churned session is made of, as far as a table entry could hold it. */
const sessionPart = (x: unknown): string | undefined =>
  x instanceof HttpSession ? "HttpSession"
    : x instanceof ServerSession ? "ServerSession"
    : x instanceof RegistryEntry ? "RegistryEntry"
    : x instanceof Actor ? "xstate Actor"
    : x instanceof SseStream ? "SseStream"
    : x instanceof ModernRequest ? "ModernRequest"
    : isScope(x) ? "effect Scope"
    : x instanceof RecordBuffer ? "inspector RecordBuffer"
    : isObject(x) && "idEntry" in x && "record" in x ? "inspector view"
    : isObject(x) && "views" in x && "handle" in x && "session" in x ? "inspector id entry"
    : isObject(x) && (x as { kind?: unknown }).kind === "ws" && "send" in x ? "WebSocket transport"
    : undefined

/** A session part, or a function (a closure can hold one: the endpoint's registry removals were closures over the session's entry). */
const partOrClosure = (x: unknown): string | undefined => sessionPart(x) ?? (typeof x === "function" ? "closure" : undefined)

/**
 * Run `body`; by part, how many session parts or closures went into a `Map`, `Set`, `WeakMap` or `WeakSet`
 * that is still alive afterwards (a long-lived one: each session's own tables are gone with it).
 * (Arrays are not recorded: one written by `push` and emptied by `splice` or `shift` does not keep what
 * it dropped, V8 trims its storage in place: docs/performance.md, "The unwatched inspector's young GC: the registry's removals".)
 */
const intoLongLivedTables = async (body: () => Promise<void>): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {}
  for (const { what, count } of await insertionsIntoLiveTables(body, partOrClosure, { weak: true })) counts[what] = (counts[what] ?? 0) + count
  return counts
}

/** `sessions` sessions opened and DELETEd, 32 at a time. */
const churnSessions = async (url: string, sessions: number): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < sessions) {
      next++
      const s = await openSession(url)
      expect((await del(url, s.headers)).status).toBe(200)
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
}

describe("HTTP session churn and the young GC", () => {
  it("no session part nor closure goes into a long-lived Map or Set (their dropped storage kept ended sessions reachable for the young GC)", async () => {
    const handle = await makeHttpServer(new McpServer({ name: "churn", version: "1.0.0" }), { port: 0 })
    try {
      const churn = (sessions: number) => churnSessions(handle.url, sessions)
      await churn(64) // every table made, at its working size
      const counts = await intoLongLivedTables(() => churn(300))
      expect(handle.sessions).toBe(0)
      // Before: per session, the endpoint's sessions (HttpSession), the limiter's two sets (HttpSession),
      // the registry (RegistryEntry), xstate's system table (xstate Actor), the server's listeners (ServerSession),
      // the listener scope's finalizers (effect Scope: the session's scope, see ScopeGroup.ts).
      expect(counts).toEqual({})
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("nor does an inspector nobody watches (its views, id entries and records of ended sessions)", async () => {
    const handle = await makeHttpServer(new McpServer({ name: "churn", version: "1.0.0" }), { port: 0, inspect: true })
    try {
      const churn = (sessions: number) => churnSessions(handle.url, sessions)
      await churn(64)
      const counts = await intoLongLivedTables(() => churn(300))
      expect(handle.sessions).toBe(0)
      // Before: the model's views by xstate id and its id entries (ActorView, IdEntry), with their sessions;
      // then the endpoint's registry removals (a `Map` of closures over each session's registry entry,
      // made only with a `registry` option: the inspector's).
      expect(counts).toEqual({})
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("an inspector nobody watches joins each session to its actor and registration with no table operation (ClearingMap) of its own", async () => {
    // Every ClearingMap operation during a churn, with the inspector (its model subscribed to the runtime's
    // registry) and without (the server's own operations alike, the runtime's registry among them).
    const opsDuring = async (options: { readonly inspect?: true }) => {
      const handle = await makeHttpServer(new McpServer({ name: "churn", version: "1.0.0" }), { port: 0, ...options })
      try {
        await churnSessions(handle.url, 16)
        let ops = 0
        const spies = (["get", "has", "set", "insert", "add", "delete", "deleteIf"] as const).map((name) => {
          const original = ClearingMap.prototype[name] as (...args: Array<unknown>) => unknown
          return vi.spyOn(ClearingMap.prototype, name).mockImplementation(function(this: ClearingMap<unknown, unknown>, ...args: Array<unknown>) {
            ops++
            return original.apply(this, args)
          } as never)
        })
        try {
          await churnSessions(handle.url, 64)
        } finally {
          for (const spy of spies) spy.mockRestore()
        }
        expect(handle.sessions).toBe(0)
        return ops
      } finally {
        await handle.close({ drainMs: 0 })
      }
    }
    const bare = await opsDuring({})
    const inspected = await opsDuring({ inspect: true })
    expect(bare).toBeGreaterThan(64)
    // Before: 320 for the 64 sessions (the model's entry by session id made, found by the actor and at the
    // removal, deleted with its view; its views by xstate session id); then 192 (3 a session: each session
    // listed again, in a registry of the inspector's own beside the runtime's).
    expect(inspected - bare).toBe(0)
  })

  it("nor does a session's SSE stream (the hub's set of open streams)", async () => {
    const handle = await makeHttpServer(new McpServer({ name: "churn", version: "1.0.0" }), { port: 0 })
    try {
      const churn = async (sessions: number) => {
        let next = 0
        const worker = async () => {
          while (next < sessions) {
            next++
            const s = await openSession(handle.url)
            const stream = await get(handle.url, s.headers)
            expect(stream.status).toBe(200)
            expect((await del(handle.url, s.headers)).status).toBe(200)
            await stream.text() // the session's end ends its stream
          }
        }
        await Promise.all(Array.from({ length: 16 }, worker))
      }
      await churn(32)
      const counts = await intoLongLivedTables(() => churn(160))
      expect(handle.stats().openStreams).toBe(0)
      // Before: one SseStream per session in the hub's Set (besides the session parts above).
      expect(counts).toEqual({})
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("nor does a modern-era request (the endpoint's live requests)", async () => {
    const server = new McpServer({ name: "churn", version: "1.0.0" })
      .tool({ name: "echo", inputSchema: { type: "object" } }, (args) => ({ content: [{ type: "text", text: String(args.text) }] }))
    const handle = await makeHttpServer(server, { port: 0 })
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    try {
      const churn = async (requests: number) => {
        let next = 0
        const worker = async () => {
          while (next < requests) {
            const id = next++
            const res = await fetch(handle.url, {
              method: "POST",
              headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" },
              body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: `t${id}` }, _meta: meta } })
            })
            expect(((await res.json()) as { result?: { content: Array<{ text: string }> } }).result?.content[0]?.text).toBe(`t${id}`)
          }
        }
        await Promise.all(Array.from({ length: 32 }, worker))
      }
      await churn(64)
      const counts = await intoLongLivedTables(() => churn(300))
      expect(handle.stats().modernInFlight).toBe(0)
      // Before: one ModernRequest per request in the endpoint's Set of live requests.
      expect(counts).toEqual({})
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })

  it("a call answered later is watched through one shared listener, not a closure per exchange (which kept every such call alive)", () => {
    // Under churn of calls whose handler answers later (async), a closure per exchange as its response's
    // "close" listener kept each exchange, its request and its session alive for the young GC: modern-era
    // calls ≈ 10.8 MB survived per scavenge, ≈ 0.12 MB with one shared listener (docs/performance.md,
    // "Calls answered later: a closure per watched response").
    const detached: Array<Exchange> = []
    const owner = { detached: (ex: Exchange) => detached.push(ex) } as unknown as ExchangeOwner
    const response = () => Object.assign(new EventEmitter(), { destroyed: false }) as unknown as ServerResponse
    const [resA, resB] = [response(), response()]
    const hub = new SseHub(0)
    const a = new Exchange(owner, hub, resA, 1, false)
    const b = new Exchange(owner, hub, resB, 2, false)
    a.watch()
    b.watch()
    a.watch() // (once)
    expect(resA.listeners("close")).toHaveLength(1)
    expect(resB.listeners("close")).toHaveLength(1)
    expect(resA.listeners("close")[0]).toBe(resB.listeners("close")[0])
    resB.emit("close")
    expect(detached).toEqual([b])
    resA.emit("close")
    expect(detached).toEqual([b, a])
  })

  it("nor does the telemetry's watch of each session (metrics, and spans while tracing)", async () => {
    for (const telemetry of [new Telemetry(), new Telemetry({ tracer: makeMemoryTracer().tracer })]) {
      const handle = await makeHttpServer(new McpServer({ name: "churn", version: "1.0.0", telemetry }), { port: 0 })
      try {
        const churn = (sessions: number) => churnSessions(handle.url, sessions)
        await churn(64)
        const counts = await intoLongLivedTables(() => churn(300))
        expect(handle.sessions).toBe(0)
        expect(telemetry.liveSessions().get("server\u0000operating") ?? 0).toBe(0)
        // Before: its live sessions (a Map keyed by the session), and while tracing its spans by session id.
        expect(counts).toEqual({})
      } finally {
        await handle.close({ drainMs: 0 })
      }
    }
  })
})

describe("WebSocket session churn and the young GC", () => {
  /** `sessions` connections that initialize and close, 32 at a time (raw `ws` clients: only the server's parts are in play). */
  const churnWs = async (url: string, sessions: number): Promise<void> => {
    let next = 0
    const worker = async () => {
      while (next < sessions) {
        next++
        const ws = new WebSocket(url, ["mcp"])
        await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject))
        const answered = new Promise<void>((resolve) => ws.once("message", () => resolve()))
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } }))
        await answered
        ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
        const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()))
        ws.close(1000)
        await closed
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker))
  }

  it("no session part, transport nor closure goes into a long-lived Map or Set of the WebSocket server", async () => {
    const handle = await makeWsServer(new McpServer({ name: "churn", version: "1.0.0" }), { port: 0 })
    try {
      await churnWs(handle.url, 64)
      const counts = await intoLongLivedTables(() => churnWs(handle.url, 300))
      // Before: the transports awaiting their closing handshake at shutdown, in a Set (300 WebSocket transports).
      expect(counts).toEqual({})
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })
})

describe("Legacy calls that report progress and the young GC", () => {
  // Legacy calls with progress and the young GC (docs/performance.md): on stdio and WebSocket the response
  // to a call that reported progress waits for a ping round trip (the progress barrier, progressBarrier.ts).
  // Per such call the session put the response's release (a closure over the call and its result) in a
  // `Set` of its own and the ping in its outbound requests' `Map`: one insert and delete per call on a
  // long-lived session, so once a full GC had moved those tables to old space every call survived the
  // young GC (≈ 3.7 MB per scavenge over stdio at 32 in flight). Now the release is on the call's in-flight
  // entry and the outbound requests are a ClearingMap.

  /** Long-lived tables that took at least `min` objects or functions (key or value), as where from: how many. */
  const perCallTables = async (body: () => Promise<void>, min: number): Promise<Array<string>> =>
    (await insertionsIntoLiveTables(body, (x) => ((typeof x === "object" && x !== null) || typeof x === "function" ? "object" : undefined)))
      .filter((t) => t.count >= min)
      .map((t) => `${t.table} from ${t.from}: ${t.count}`)

  it("no call with progress puts an object or closure into a long-lived Map or Set of its WebSocket session (the barrier's wait, its ping)", async () => {
    const server = new McpServer({ name: "progress", version: "1.0.0" })
      .tool({ name: "count", inputSchema: { type: "object" } }, async (_args, ctx) => {
        ctx.progress(1, 1)
        return { content: [{ type: "text", text: "counted" }] }
      })
    const handle = await makeWsServer(server, { port: 0 })
    const ws = new WebSocket(handle.url, ["mcp"])
    try {
      await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject))
      const waiting: Array<((m: { result?: unknown }) => void) | undefined> = [] // (an array: the recorder counts Maps and Sets)
      let pings = 0
      ws.on("message", (data) => {
        const m = JSON.parse(String(data)) as { id?: number | string; method?: string; result?: unknown }
        if (m.method === "ping") {
          pings++
          ws.send(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: {} })) // the barrier's ping, answered as a client does
        } else if (m.method === undefined && typeof m.id === "number") waiting[m.id]?.(m)
      })
      const request = (id: number, method: string, params: unknown) => new Promise<{ result?: unknown }>((resolve) => {
        waiting[id] = resolve
        ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }))
      })
      // clientInfo not ours: the session applies the barrier (as to the official SDK's clients).
      await request(0, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } })
      ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
      let next = 0
      const churn = async (calls: number) => {
        const last = next + calls
        const worker = async () => {
          while (next < last) {
            const id = ++next
            const r = await request(id, "tools/call", { name: "count", arguments: {}, _meta: { progressToken: id } })
            waiting[id] = undefined
            expect(r.result).toEqual({ content: [{ type: "text", text: "counted" }] })
          }
        }
        await Promise.all(Array.from({ length: 16 }, worker))
      }
      await churn(64) // every table made, at its working size
      const pingsBefore = pings
      const tables = await perCallTables(() => churn(300), 100)
      expect(pings - pingsBefore).toBe(300) // the barrier was in play for every call
      // Before: the session's barrier waits (a Set of 300 closures) and its outbound requests (a Map of 300 pending pings).
      expect(tables).toEqual([])
    } finally {
      ws.close(1000)
      await handle.close({ drainMs: 0 })
    }
  })
})
