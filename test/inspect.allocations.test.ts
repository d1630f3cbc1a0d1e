/**
 * What the unwatched inspector's model allocates per churned HTTP session, as V8's sampling heap
 * profiler sees it (`support/sampledAllocations.ts`): the objects no counter can see (an object
 * literal, a boxed time, a function's context). The session is fed as a real `serve --http` session
 * gives it (counted from a real server's hub: one actor, no child; its snapshots `xstate.init`,
 * `INITIALIZE`, `INITIALIZED`, and `TRANSPORT_CLOSED` into its final state; registered after its
 * first snapshot, removed after its last, telling its end as a server session does).
 *
 * The tests run in this order in their own file: the first one needs the model's code not yet
 * optimized (each test file gets its modules afresh). The last one checks that shape against a real
 * server's hub and registry.
 */
import { afterEach, describe, expect, it } from "vitest"
import { InspectorModel } from "../src/inspect/InspectorModel.ts"
import { makeRegistryUnsafe, RegistryEntry } from "../src/runtime/Registry.ts"
import type { SessionEnd, SessionInfo } from "../src/runtime/SessionHandle.ts"
import type { ServerSession } from "../src/server/ServerSession.ts"
import { info } from "../src/server/session/handle.ts"
import { makeDemoServer } from "../examples/demo.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { del, openSession, post } from "./support/mcpHttp.ts"
import { sampledAllocations } from "./support/sampledAllocations.ts"

/** A server session's handle as the model sees it: it tells its end (`endedWith`) at its release. */
class TellingHandle {
  readonly id: string
  endedWith: SessionEnd | undefined = undefined
  constructor(id: string) {
    this.id = id
  }
  info(): SessionInfo {
    return { id: this.id, role: "server", era: "legacy", protocolVersion: "2025-06-18", state: "closed", transport: "http", peer: undefined, inFlight: 0, startedAt: 0 }
  }
  subscribe() {
    return () => undefined
  }
  get ended(): Promise<SessionEnd> {
    return new Promise<SessionEnd>(() => undefined)
  }
  async close() {}
}

/** An actor as the hub hands it over (a class: one map for all, as xstate's actors have). */
class Ref {
  readonly logic = { id: "legacyServerSession" }
  readonly _parent = { sessionId: "x:1" }
  readonly sessionId: string
  readonly id: string
  constructor(sessionId: string, id: string) {
    this.sessionId = sessionId
    this.id = id
  }
}

const models: Array<InspectorModel> = []
afterEach(() => {
  for (const m of models.splice(0)) m.close()
})

/** A model fed by a fake hub and a real registry, and `churn(n)`: n sessions, one at a time. */
const churning = () => {
  let listener: (e: unknown) => void = () => undefined
  const stop = Object.assign(() => undefined, { want: () => undefined })
  const hub = { observer: undefined, listenerCount: 1, subscribe: (l: (e: unknown) => void) => ((listener = l), stop) }
  const registry = makeRegistryUnsafe()
  const model = new InspectorModel({ registry, hub: hub as never, keepSecrets: false })
  models.push(model)
  const end: SessionEnd = { expected: true, reason: "terminated by the client (DELETE)" }
  const events = [{ type: "xstate.init" }, { type: "INITIALIZE", id: 0 }, { type: "INITIALIZED" }, { type: "TRANSPORT_CLOSED", reason: end.reason }]
  const active = { status: "active", value: "operating", context: {} }
  const done = { status: "done", value: "closed", context: { closeReason: end.reason } }
  let n = 0
  const churn = (count: number) => {
    for (let i = 0; i < count; i++) {
      const ref = new Ref(`x:${n + 10}`, `session-${n++}`)
      const handle = new TellingHandle(ref.id)
      const entry = new RegistryEntry(handle as never)
      listener({ type: "@xstate.actor", actorRef: ref, rootId: "x:0" })
      listener({ type: "@xstate.snapshot", actorRef: ref, event: events[0], snapshot: active })
      registry.add(entry)
      listener({ type: "@xstate.snapshot", actorRef: ref, event: events[1], snapshot: active })
      listener({ type: "@xstate.snapshot", actorRef: ref, event: events[2], snapshot: active })
      handle.endedWith = end
      listener({ type: "@xstate.snapshot", actorRef: ref, event: events[3], snapshot: done })
      registry.remove(entry)
    }
  }
  return { model, churn }
}

/** Bytes per session: allocated by the functions named (`name file`, inlined callees included), and by the model's files in all. */
const perSession = async (churn: (n: number) => void, n: number) => {
  const { byFunction, byFile } = await sampledAllocations(() => churn(n))
  const of = (...names: ReadonlyArray<string>) => names.reduce((sum, name) => sum + (byFunction.get(name) ?? 0), 0) / n
  const model = ((byFile.get("InspectorModel.ts") ?? 0) + (byFile.get("SessionRecord.ts") ?? 0)) / n
  return { of, model }
}

describe("the unwatched model's allocations per churned session", () => {
  it("a session's registration and removal allocate no function context (the `ended.then` closure is a method's of its own)", async () => {
    // Before the optimizing compiler takes them (as in a server's first sessions, or code it never
    // optimizes): a function with a closure allocates the context the closure captures on every call.
    const { churn } = churning()
    const { of } = await perSession(churn, 400)
    // Was ≈ 112 bytes (two contexts of ≈ 56 bytes), made on every session for a closure rarely made; ≈ 14 now.
    expect(of("#onAdded InspectorModel.ts", "#onRemoved InspectorModel.ts")).toBeLessThan(40)
  })

  it("the model's own allocations per session: no base object for the record's start, no array to tell the session's end to its one view", async () => {
    const { model, churn } = churning()
    churn(20_000) // optimized, steady maps and tables
    const { of, model: bytes } = await perSession(churn, 20_000)
    // The session's end told to its view: was ≈ 73 bytes (`[view]` and its iterator, and a clock read,
    // a boxed number, for nothing to stamp); none now.
    expect(of("#onSessionEnd InspectorModel.ts", "#endView InspectorModel.ts")).toBeLessThan(16)
    // The snapshots: the record's slots (20), four boxed times, the end. Was ≈ 387 with the record's start
    // as an object of its own (≈ 56 bytes with its boxed time); ≈ 331 now.
    expect(of("#onSnapshot InspectorModel.ts", "endOf InspectorModel.ts", "begin SessionRecord.ts", "add SessionRecord.ts")).toBeLessThan(360)
    // In all: was ≈ 885; ≈ 754 now (the view, its record and slots, its id entry, the end, boxed times,
    // the session's summary at its removal).
    expect(bytes).toBeLessThan(820)
    expect(bytes).toBeGreaterThan(300) // (the profile saw the model at all)
    // What the model kept is right: the newest ended sessions, each with its record and end.
    const last = [...model.actors()].at(-1)!
    expect(last.id).toBe("session-39999")
    expect(last.end).toMatchObject({ status: "done", reason: "terminated by the client (DELETE)", error: false })
    expect(last.record.base).toMatchObject({ value: "operating", status: "active" })
    expect(last.record.entries().map((e) => e.event.type)).toEqual(["INITIALIZE", "INITIALIZED", "TRANSPORT_CLOSED"])
    expect(model.infoOf(last)).toMatchObject({ id: "session-39999", state: "closed" })
  })
})

describe("a server session's summary (read once per session by an unwatched inspector: at its removal)", () => {
  it("is one object when nothing is in flight (no empty object spread into it), with its requests when some are", async () => {
    const inFlight = new Map<string, { request: { id: number; method: string }; receivedAt?: number }>()
    const session = {
      id: "S1", era: "legacy", protocolVersion: "2025-06-18", hibernated: undefined, released: true, actor: undefined,
      options: { transport: "http" }, clientInfo: { name: "c", version: "1" }, inFlight, startedAt: 1_700_000_000_000
    } as unknown as ServerSession
    expect(info(session)).toEqual({
      id: "S1", role: "server", era: "legacy", protocolVersion: "2025-06-18", state: "closed", transport: "http",
      peer: { name: "c", version: "1" }, inFlight: 0, startedAt: 1_700_000_000_000
    })
    let sink: unknown
    for (let i = 0; i < 20_000; i++) sink = info(session)
    const n = 20_000
    const { byFile } = await sampledAllocations(() => {
      for (let i = 0; i < n; i++) sink = info(session)
    })
    // (All of it: a caller may inline the summary, its bytes then count as the caller's.)
    const bytes = [...byFile.values()].reduce((a, b) => a + b, 0) / n
    // The summary: ≈ 112 bytes (9 fields and its start time's box). Was ≈ 177: an empty object made
    // and spread in as well.
    expect(bytes).toBeLessThan(140)
    expect(sink).toMatchObject({ id: "S1" })
    inFlight.set("a", { request: { id: 7, method: "tools/call" }, receivedAt: 5 })
    inFlight.set("b", { request: { id: 8, method: "ping" } })
    expect(info(session)).toMatchObject({ inFlight: 2, requests: [{ id: 7, method: "tools/call", since: 5 }, { id: 8, method: "ping" }] })
  })
})

describe("what a churned HTTP session gives the inspector (what the tests above and the synthetic bench feed)", () => {
  it("one actor, no child, and four snapshots: init, INITIALIZE, INITIALIZED, TRANSPORT_CLOSED into its final state (a call takes no step); registered after its first snapshot, removed after its last", async () => {
    const http = await makeHttpServer(makeDemoServer(), { port: 0, inspect: true })
    const seen: Array<string> = []
    const stop = inspection.subscribe((e) => {
      const ref = e.actorRef as { logic?: { id?: string } }
      seen.push(e.type === "@xstate.snapshot" ? `${ref.logic?.id} ${e.event.type} ${(e.snapshot as { status: string }).status}` : `${ref.logic?.id} actor`)
    }, { kinds: ["@xstate.actor", "@xstate.snapshot"] })
    let removed = () => {}
    const unfollow = http.inspector!.registry.subscribe((c) => {
      seen.push(`registry ${c.type}`)
      if (c.type === "removed") removed()
    }, { updates: false })
    try {
      for (let i = 0; i < 3; i++) {
        seen.length = 0
        const left = new Promise<void>((resolve) => (removed = resolve))
        const { headers } = await openSession(http.url, "2025-06-18")
        const call = await post(http.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } }, headers)
        expect(call.status).toBe(200)
        await call.text()
        expect((await del(http.url, headers)).status).toBe(200)
        await left // the session leaves the registry
        expect(seen).toEqual([
          "legacyServerSession actor",
          "legacyServerSession xstate.init active",
          "registry added",
          "legacyServerSession INITIALIZE active",
          "legacyServerSession INITIALIZED active",
          "legacyServerSession TRANSPORT_CLOSED done",
          "registry removed"
        ])
      }
    } finally {
      unfollow()
      stop()
      await http.close()
    }
  })
})
