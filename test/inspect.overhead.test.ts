/**
 * The inspector's per-event economies (issue 11's overhead targets), each pinned
 * by what it must keep doing: the wall clock read per snapshot with no timer
 * armed per turn; records that keep no secret value the inspector never
 * shows (`withoutSecrets`), with the same download; the registry's per-request
 * updates keeping the in-flight list right without a set per update.
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import { createActor, setup } from "xstate"
import { type InspectorModel as Model, InspectorModel } from "../src/inspect/InspectorModel.ts"
import { REDACTED, toJsonSafe, withoutSecrets } from "../src/inspect/redact.ts"
import { FIRST_RUNS, RecordBuffer } from "../src/inspect/SessionRecord.ts"
import { makeRegistryUnsafe, type RegistryChange, type RegistryUnsafe } from "../src/runtime/Registry.ts"
import { ACTOR_SESSION, type SessionEnd, type SessionHandle, type SessionInfo } from "../src/runtime/SessionHandle.ts"
import { inspection } from "../src/runtime/inspection.ts"

const models: Array<Model> = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const m of models.splice(0)) m.close()
  expect(inspection.listenerCount).toBe(0)
})

/** A chart that takes any event and stays (one snapshot per event). */
const sink = setup({ types: {} as { events: { type: string; [k: string]: unknown } } }).createMachine({
  id: "sink",
  initial: "on",
  states: { on: { on: { "*": { target: "on" } } } }
})

/** An actor of `sink` fed to the hub (xstate's own `inspect` option: the hub's observer). */
const inspectedSink = (id?: string, session?: SessionHandle) => {
  const actor = createActor(sink, { inspect: inspection.observer, ...(id === undefined ? {} : { id }), ...(session === undefined ? {} : { [ACTOR_SESSION]: session }) })
  actor.start()
  return actor
}

describe("the model's clock", () => {
  it("the model stamps each snapshot with the wall clock and arms nothing per turn; a clock given to it is read per event", async () => {
    let t = 5_000
    const now = vi.spyOn(Date, "now").mockImplementation(() => t)
    const immediate = vi.spyOn(globalThis, "setImmediate")
    const model = new InspectorModel()
    models.push(model)
    const actor = inspectedSink()
    now.mockClear()
    immediate.mockClear()
    for (let i = 0; i < 100; i++) actor.send({ type: `E${i}` })
    // One read per snapshot (≈ 50 ns each where the clock has a vDSO path), and no timer: was one read per
    // turn, its expiry a `setImmediate` armed in every turn that stamped something (≈ 2 µs per turn).
    expect(now.mock.calls.length).toBe(100)
    expect(immediate.mock.calls.length).toBe(0)
    const view = model.get(actor.sessionId)!
    expect(view.record.entries().every((e) => e.t === 5_000)).toBe(true)
    t = 6_000
    actor.send({ type: "LATER" })
    expect(view.record.entries().at(-1)).toMatchObject({ t: 6_000, event: { type: "LATER" } })
    actor.stop()

    // A clock given to the model is its own: read per event.
    let ticks = 0
    const given = new InspectorModel({ now: () => ++ticks })
    models.push(given)
    const other = inspectedSink()
    ticks = 0
    for (let i = 0; i < 10; i++) other.send({ type: `F${i}` })
    expect(given.get(other.sessionId)!.record.entries().slice(-10).map((e) => e.t)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    other.stop()
  })
})

describe("records without secrets", () => {
  const response = () => ({ type: "RESPONSE", requestId: 7, result: { content: [{ type: "text", text: "a large tool result" }] } })
  const request = () => ({ type: "REQUEST", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "s3cret" } } })

  it("an inspector that hides secrets keeps no result or argument in its records, and downloads the same record", () => {
    const hiding = new InspectorModel({ keepSecrets: false })
    const keeping = new InspectorModel()
    models.push(hiding, keeping)
    const actor = inspectedSink()
    const [res, req, plain] = [response(), request(), { type: "PING", n: 1 }]
    actor.send(res)
    actor.send(req)
    actor.send(plain)
    const [r1, r2, r3] = hiding.get(actor.sessionId)!.record.entries().slice(-3).map((e) => e.event as Record<string, unknown>)
    // The payloads are not held: redacted where toJsonSafe would redact them, one level down too.
    expect(r1).toEqual({ type: "RESPONSE", requestId: 7, result: REDACTED })
    expect(r2).toEqual({ type: "REQUEST", id: 3, method: "tools/call", params: { name: "echo", arguments: REDACTED } })
    expect(res.result.content[0]!.text).toBe("a large tool result") // the caller's event is not touched
    // An event without secrets is kept as is (no copy).
    expect(r3).toBe(plain)
    // The download (secrets hidden) is the same as from a record that kept everything.
    const hidden = hiding.record(actor.sessionId, false)!
    const kept = keeping.record(actor.sessionId, false)!
    expect(hidden.records.length).toBe(3)
    expect(hidden.records.map((r) => ({ ...r, t: 0 }))).toEqual(kept.records.map((r) => ({ ...r, t: 0 })))
    expect(JSON.stringify(hidden)).not.toContain("a large tool result")
    expect(JSON.stringify(hidden)).not.toContain("s3cret")
    // The default model keeps them (a caller that shows secrets later).
    expect(keeping.get(actor.sessionId)!.record.entries().slice(-3)[0]!.event).toBe(res)
    actor.stop()
  })

  it("withoutSecrets gives the JSON toJsonSafe gives, and copies only what holds a secret", () => {
    const cases: Array<object> = [
      response(),
      request(),
      { type: "A", token: "t", nested: { Authorization: "Bearer x", ok: 1 }, deep: { a: { arguments: { x: 1 } } }, n: null, u: undefined },
      { type: "B", list: [{ result: 1 }] },
      Object.assign(Object.create(null) as object, { type: "C", apiKey: "k" })
    ]
    for (const e of cases) expect(toJsonSafe(withoutSecrets(e))).toEqual(toJsonSafe(e))
    const clean = { type: "X", params: { name: "n" } }
    expect(withoutSecrets(clean)).toBe(clean)
    class Live {
      result = 1
    }
    const live = new Live()
    expect(withoutSecrets(live)).toBe(live)
  })
})

describe("registry updates", () => {
  it("each request's start and end keeps the session's in-flight list right (added, ended, both at once), with first-seen ages", () => {
    let emit: (change: RegistryChange) => void = () => undefined
    const registry = {
      list: () => [],
      handles: () => [],
      entries: () => [][Symbol.iterator](),
      get: () => undefined,
      subscribe: (l: (change: RegistryChange) => void) => ((emit = l), () => undefined)
    } as unknown as RegistryUnsafe
    let t = 100
    const model = new InspectorModel({ registry, now: () => t })
    models.push(model)
    const actor = inspectedSink("S1")
    const info = (requests: ReadonlyArray<{ id: string | number; method: string }>): SessionInfo => ({
      id: "S1", role: "server", era: "legacy", protocolVersion: "2025-06-18", state: "operating", transport: "memory", peer: undefined,
      inFlight: requests.length, ...(requests.length === 0 ? {} : { requests }), startedAt: 0
    })
    const inFlight = () => [...(model.get(actor.sessionId)!.requests?.values() ?? [])].map((r) => `${r.id}:${r.method}@${r.since}`)
    emit({ type: "added", id: "S1", info: info([]) })
    expect(inFlight()).toEqual([])
    emit({ type: "updated", id: "S1", info: info([{ id: 1, method: "a" }, { id: "x", method: "b" }]) })
    expect(inFlight()).toEqual(["1:a@100", "x:b@100"])
    t = 200
    // One ends, one starts: same count, different ids.
    emit({ type: "updated", id: "S1", info: info([{ id: "x", method: "b" }, { id: 3, method: "c" }]) })
    expect(inFlight()).toEqual(["x:b@100", "3:c@200"])
    // One ends.
    emit({ type: "updated", id: "S1", info: info([{ id: 3, method: "c" }]) })
    expect(inFlight()).toEqual(["3:c@200"])
    // Unchanged list: nothing moves, the age stays.
    t = 300
    emit({ type: "updated", id: "S1", info: info([{ id: 3, method: "c" }]) })
    expect(inFlight()).toEqual(["3:c@200"])
    emit({ type: "updated", id: "S1", info: info([]) })
    expect(model.get(actor.sessionId)!.requests).toBeUndefined()
    actor.stop()
  })
})

/** A session handle that tells its end as a server session does (`endedWith`), counting what the model asks of it. */
const tellingHandle = (id: string, namedByItsActors = false) => {
  const counts = { info: 0, ended: 0 }
  let state = "operating"
  const handle = {
    id,
    namedByItsActors,
    endedWith: undefined as SessionEnd | undefined,
    info: (): SessionInfo => (counts.info++, { id, role: "server", era: "legacy", protocolVersion: "2025-06-18", state, transport: "http", peer: { name: "p", version: "1" }, inFlight: 0, startedAt: 0 }),
    subscribe: () => () => undefined,
    get ended(): Promise<SessionEnd> {
      counts.ended++
      return new Promise<SessionEnd>(() => undefined)
    },
    close: async () => undefined,
    setState: (next: string) => void (state = next)
  }
  return { handle: handle as SessionHandle & typeof handle, counts }
}

describe.each([
  { join: "by id", named: false },
  { join: "through the session its actor names (ACTOR_SESSION: no table by id)", named: true }
])("sessions nobody watches, joined $join", ({ named }) => {
  const session = (id: string) => tellingHandle(id, named)
  const actorOf = (handle: SessionHandle) => inspectedSink(handle.id, named ? handle : undefined)

  it("a session that tells its end: no summary at registration, no `ended` promise; its end taken when its actor stops, its last summary once, when it leaves", () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    const { handle, counts } = session("S1")
    const unregister = registry.register(handle)
    const actor = actorOf(handle)
    actor.send({ type: "REQUEST" })
    const view = model.get(actor.sessionId)!
    // Was: a summary built at registration, and the `ended` promise read (made) to learn the end.
    expect(counts).toEqual({ info: 0, ended: 0 })
    // Released: the session says how it ended, then its actor stops, then it leaves the registry.
    handle.endedWith = { expected: true, reason: "terminated by the client (DELETE)" }
    handle.setState("closed")
    actor.stop()
    expect(view.end).toMatchObject({ status: "stopped", reason: "terminated by the client (DELETE)", error: false })
    unregister()
    expect(counts).toEqual({ info: 1, ended: 0 })
    // The ended view keeps the session's last summary (read without the session).
    expect(model.infoOf(view)).toMatchObject({ id: "S1", state: "closed", transport: "http" })
    expect(counts.info).toBe(1)
    expect(model.record(actor.sessionId)!.end?.reason).toBe("terminated by the client (DELETE)")
  })

  it("an actor stopped while its session lives on is hibernated; the session's end, told when it leaves the registry, ends it", () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    const { handle, counts } = session("S2")
    const unregister = registry.register(handle)
    const actor = actorOf(handle)
    const view = model.get(actor.sessionId)!
    actor.stop()
    expect(view.status).toBe("hibernated")
    expect(view.end).toBeUndefined()
    handle.endedWith = { expected: false, reason: "peer lost" }
    unregister()
    expect(view.end).toMatchObject({ status: "stopped", reason: "peer lost", error: true })
    expect(counts.ended).toBe(0)
  })

  it("a hibernated session's next actor continues its view and record; its end ends the view once", () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    const { handle } = session("S5")
    const unregister = registry.register(handle)
    const first = actorOf(handle)
    first.send({ type: "REQUEST", id: 1, method: "tools/call" })
    const view = model.get(first.sessionId)!
    first.stop()
    expect(view.status).toBe("hibernated")
    const woken = actorOf(handle)
    expect(model.get(woken.sessionId)).toBeUndefined()
    expect(view.aliases).toEqual([woken.sessionId])
    expect(view.ref).toBe(woken)
    expect(view.status).toBe("active")
    woken.send({ type: "PING" })
    expect(view.record.last(1)[0]!.event.type).toBe("PING")
    expect(model.size).toBe(1)
    handle.endedWith = { expected: true, reason: "terminated by the client (DELETE)" }
    woken.stop()
    unregister()
    expect(view.end).toMatchObject({ status: "stopped", reason: "terminated by the client (DELETE)", error: false })
    // A later session with the same id (a restore) gets a view of its own.
    const { handle: again } = session("S5")
    registry.register(again)
    const next = actorOf(again)
    expect(model.get(next.sessionId)).not.toBe(view)
    expect(model.size).toBe(2)
    next.stop()
  })

  it("a session that leaves the registry before it has ended (a shutdown) is awaited from then on", async () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    let resolve!: (end: SessionEnd) => void
    const ended = new Promise<SessionEnd>((r) => (resolve = r))
    const { handle } = session("S3")
    Object.defineProperty(handle, "ended", { get: () => ended })
    const unregister = registry.register(handle)
    const actor = actorOf(handle)
    const view = model.get(actor.sessionId)!
    unregister()
    expect(view.end).toBeUndefined()
    resolve({ expected: true, reason: "supervisor shutdown" })
    await ended
    await Promise.resolve()
    expect(view.end).toMatchObject({ status: "gone", reason: "supervisor shutdown", error: false })
    actor.stop()
  })
})

describe("the model's bookkeeping per session", () => {
  it("a registered session's requests are not tracked from its chart while nobody listens; a read lists them from the summary, their times from the record", () => {
    let t = 1_000
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry, now: () => t })
    models.push(model)
    const { handle } = tellingHandle("S4")
    let summary: Partial<SessionInfo> = {}
    const info = handle.info
    handle.info = () => ({ ...info(), ...summary })
    registry.register(handle)
    const actor = inspectedSink("S4")
    const view = model.get(actor.sessionId)!
    actor.send({ type: "REQUEST", id: 1, method: "tools/call" })
    t = 2_000
    actor.send({ type: "REQUEST", id: 2, method: "resources/read" })
    t = 3_000
    actor.send({ type: "REQUEST", id: 3, method: "prompts/get" })
    // Was: a map of requests made on the first one, an entry per request, for nobody.
    expect(view.requests).toBeUndefined()
    // A summary that lists its requests, one without its time: seen at 2 000 (the record says).
    summary = { inFlight: 2, requests: [{ id: 2, method: "resources/read" }, { id: 3, method: "prompts/get", since: 2_500 }] }
    model.infoOf(view)
    expect([...view.requests!.values()]).toEqual([{ id: "2", method: "resources/read", since: 2_000 }, { id: "3", method: "prompts/get", since: 2_500 }])
    // A count-only summary (a client session's): the newest two the record saw, the oldest dropped.
    const other = tellingHandle("S5")
    other.handle.info = () => ({ ...tellingHandle("S5").handle.info(), inFlight: 2 })
    registry.register(other.handle)
    const second = inspectedSink("S5")
    const secondView = model.get(second.sessionId)!
    t = 4_000
    for (const id of [7, 8, 9]) second.send({ type: "REQUEST", id, method: `m${id}` })
    expect(secondView.requests).toBeUndefined()
    model.infoOf(secondView)
    expect([...secondView.requests!.values()].map((r) => `${r.id}:${r.method}@${r.since}`)).toEqual(["8:m8@4000", "9:m9@4000"])
    // Materialized: the next request is tracked as it comes.
    second.send({ type: "REQUEST", id: 10, method: "m10" })
    expect(secondView.requests!.has("10")).toBe(true)
    actor.stop()
    second.stop()
  })

  it("the ended list keeps the newest `maxEnded`, forgetting one per new actor without moving the array (no `shift`)", () => {
    const model = new InspectorModel({ maxEnded: 3 })
    models.push(model)
    const shift = vi.spyOn(Array.prototype, "shift")
    const copyWithin = vi.spyOn(Array.prototype, "copyWithin")
    const ids: Array<string> = []
    for (let i = 0; i < 100; i++) {
      const a = inspectedSink()
      ids.push(a.sessionId)
      a.stop()
    }
    const ended = [...model.actors()].filter((v) => v.end !== undefined).map((v) => v.sessionId)
    // The three newest (the last one's creation pruned before it ended: at most maxEnded + 1 listed).
    expect(ended.slice(-3)).toEqual(ids.slice(-3))
    expect(ended.length).toBeLessThanOrEqual(4)
    expect(model.size).toBe(ended.length)
    // Was: one `shift` of the ended list (an array of views) per actor created. (xstate shifts arrays of its own.)
    const ofViews = shift.mock.contexts.filter((c) => Array.isArray(c) && c.some((v) => (v as { record?: unknown } | undefined)?.record instanceof RecordBuffer))
    expect(ofViews.length).toBe(0)
    // Moved down by hand: `copyWithin` on these arrays (no fast path) was a fifth of the unwatched model's time.
    expect(copyWithin).not.toHaveBeenCalled()
  })
})

describe("the model's bookkeeping per session, continued", () => {
  it("a copy for the feed normalizes each key once, not per copy (the page's summaries copy every session's peer)", () => {
    const lower = vi.spyOn(String.prototype, "toLowerCase")
    const peer = (i: number) => ({ name: `client-${i}`, version: "1.0.0", title: "A client", websiteUrl: "https://example.test" })
    toJsonSafe(peer(0))
    lower.mockClear()
    for (let i = 1; i <= 100; i++) expect(toJsonSafe(peer(i))).toEqual(peer(i))
    // Was: four per copy (each key lower-cased and stripped, each time).
    expect(lower.mock.calls.length).toBe(0)
    expect(toJsonSafe({ Api_Key: "k", nested: { Authorization: "b" } })).toEqual({ Api_Key: REDACTED, nested: { Authorization: REDACTED } })
  })

  it("nobody watching: a session's registration and removal look nothing up in the (empty) sets of a feed's bookkeeping", () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    const onEmpty: Array<string> = []
    const original = Set.prototype.delete
    vi.spyOn(Set.prototype, "delete").mockImplementation(function(this: Set<unknown>, v: unknown) {
      if (this.size === 0) onEmpty.push(String(v))
      return original.call(this, v)
    })
    const { handle } = tellingHandle("S6")
    const unregister = registry.register(handle)
    const actor = inspectedSink("S6")
    handle.endedWith = { expected: true, reason: "closed" }
    actor.stop()
    unregister()
    // Was: four deletes (stale, announced; at registration and at removal), each of S6 in an empty set.
    expect(onEmpty.filter((v) => v === "S6")).toEqual([])
    expect(model.get(actor.sessionId)!.end?.reason).toBe("closed")
  })

  it("an actor that finished with its session's own reason keeps its end when the session's end comes (no copy)", () => {
    const done = setup({}).createMachine({ id: "finishing", initial: "on", context: { closeReason: "closed by client" }, states: { on: { on: { CLOSE: "closed" } }, closed: { type: "final" } } })
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry })
    models.push(model)
    const { handle } = tellingHandle("S7")
    const unregister = registry.register(handle)
    const actor = createActor(done, { id: "S7", inspect: inspection.observer }).start()
    actor.send({ type: "CLOSE" })
    const view = model.get(actor.sessionId)!
    const end = view.end
    expect(end).toMatchObject({ status: "done", reason: "closed by client", error: false })
    handle.endedWith = { expected: true, reason: "closed by client" }
    unregister()
    // Was: a copy of the same end, per session.
    expect(view.end).toBe(end)
    // A different reason (or an unexpected end) is the session's to tell.
    const other = tellingHandle("S8")
    const off = registry.register(other.handle)
    const second = createActor(done, { id: "S8", inspect: inspection.observer }).start()
    second.send({ type: "CLOSE" })
    other.handle.endedWith = { expected: false, reason: "peer lost" }
    off()
    expect(model.get(second.sessionId)!.end).toMatchObject({ status: "done", reason: "peer lost", error: true })
  })
})

describe("the model's bookkeeping per id", () => {
  it("a session's steps and its registry changes look its id up once per change, not per step (one entry per id, held by its view)", () => {
    const registry = makeRegistryUnsafe()
    const model = new InspectorModel({ registry, maxEnded: 1 })
    models.push(model)
    const byKey = new Map<string, number>()
    const count = (name: string) => {
      const original = Map.prototype[name as "get"] as (this: Map<unknown, unknown>, ...a: Array<unknown>) => unknown
      vi.spyOn(Map.prototype, name as "get").mockImplementation(function(this: Map<unknown, unknown>, ...a: Array<unknown>) {
        if (a[0] === "S9") byKey.set(name, (byKey.get(name) ?? 0) + 1)
        return original.apply(this, a) as never
      })
    }
    for (const name of ["get", "has", "set", "delete"]) count(name)
    // A churned session, as a server session goes: registered, its actor steps, it tells its end, its actor stops, it leaves.
    const { handle } = tellingHandle("S9")
    const unregister = registry.register(handle)
    const actor = inspectedSink("S9")
    for (const type of ["INITIALIZE", "INITIALIZED", "REQUEST", "RESPONSE"]) actor.send({ type, id: 1, method: "tools/call" })
    handle.endedWith = { expected: true, reason: "terminated by the client (DELETE)" }
    handle.setState("closed")
    actor.stop()
    unregister()
    const view = model.get(actor.sessionId)!
    expect(view.end).toMatchObject({ status: "stopped", reason: "terminated by the client (DELETE)", error: false })
    expect(model.infoOf(view)).toMatchObject({ id: "S9", state: "closed" })
    // Two newer ended actors push it out of the ended list (maxEnded 1): it is forgotten.
    for (let i = 0; i < 2; i++) inspectedSink().stop()
    inspectedSink().stop()
    expect(model.get(actor.sessionId)).toBeUndefined()
    const total = [...byKey.values()].reduce((a, b) => a + b, 0)
    // The registry's own: has + set at registration, get + delete at removal (4). The model's: its entry found
    // or made at registration (get + set) and at the actor (get), found at removal (get), dropped by the
    // prune (delete: no lookup first, was get + delete): 5, and since the model's tables are ClearingMaps (their
    // dropped storage holds slot numbers, not views: see http.churnGc) the prune's delete finds the slot (get): 6.
    // Was 22 in all: three maps by id (views, summaries, ends), each looked up per step that could end the
    // session, and the registry asked for the session at its actor's stop; then 10, then 9.
    expect(total).toBeLessThanOrEqual(10)
    vi.restoreAllMocks()
  })
})

describe("the record's slots", () => {
  it("a churned session's record is made for 4 entries (20 slots), not 8: what such a session holds (3–4) and not twice that", () => {
    // The slots array is the largest object the unwatched inspector made per churned session (40 slots, 336 bytes).
    const events = Array.from({ length: 6 }, (_, i) => ({ type: `E${i}` }))
    const made = vi.spyOn(globalThis, "Array")
    const record = new RecordBuffer(500)
    for (let i = 0; i < 4; i++) record.add(1_000 + i, events[i]!, `s${i}`, { i }, "active")
    const sizes = made.mock.calls.map((args) => args[0])
    made.mockRestore()
    expect(sizes).toEqual([4 * 5])
    expect(FIRST_RUNS).toBe(4)
    // Past them it grows as an array does, in order.
    for (let i = 4; i < 6; i++) record.add(1_000 + i, events[i]!, `s${i}`, { i }, "active")
    expect(record.entries().map((e) => `${e.t}:${e.event.type}`)).toEqual(events.map((e, i) => `${1_000 + i}:${e.type}`))
    // A ring smaller than that is made for its own size (capacity + 1 runs).
    const small = vi.spyOn(globalThis, "Array")
    new RecordBuffer(2).add(1, events[0]!, "s", undefined, "active")
    const smallSizes = small.mock.calls.map((args) => args[0])
    small.mockRestore()
    expect(smallSizes).toEqual([3 * 5])
  })

  it("a record's start (its base) is kept in its slots: one array for a churned session's start and 3 entries, the base read from it, and it wraps as before", () => {
    const events = Array.from({ length: 6 }, (_, i) => ({ type: `E${i}` }))
    const made = vi.spyOn(globalThis, "Array")
    const record = new RecordBuffer(500)
    expect(record.begin(999, "start", { i: -1 }, "active")).toBe(true)
    for (let i = 0; i < 3; i++) record.add(1_000 + i, events[i]!, `s${i}`, { i }, "active")
    const sizes = made.mock.calls.map((args) => args[0])
    made.mockRestore()
    // The start and three entries fill the first slots: nothing more is made (the base was an object of its own).
    expect(sizes).toEqual([FIRST_RUNS * 5])
    expect(record.base).toEqual({ t: 999, value: "start", context: { i: -1 }, status: "active" })
    expect([record.size, record.total, record.dropped]).toEqual([3, 3, 0])
    expect(record.entries().map((e) => `${e.t}:${e.event.type}:${String(e.value)}`)).toEqual(["1000:E0:s0", "1001:E1:s1", "1002:E2:s2"])
    expect(record.eachSince(1, 10, () => undefined)).toBe(2)
    // Given once, before any entry.
    expect(record.begin(5, "again", undefined, "active")).toBe(false)
    expect(record.base!.value).toBe("start")
    // Sealed: the entries let their contexts go, the base keeps its own (replay starts from it).
    record.seal()
    expect(record.entries().every((e) => e.context === undefined)).toBe(true)
    expect(record.base!.context).toEqual({ i: -1 })
    // A ring begun and filled: the start makes way as an entry would, the oldest entry held becomes the base.
    const ring = new RecordBuffer(3)
    ring.begin(0, "start", { i: -1 }, "active")
    for (let i = 0; i < 3; i++) ring.add(1 + i, events[i]!, `s${i}`, { i }, "active")
    expect(ring.base).toEqual({ t: 0, value: "start", context: { i: -1 }, status: "active" })
    expect(ring.entries().map((e) => e.event.type)).toEqual(["E0", "E1", "E2"])
    for (let i = 3; i < 6; i++) ring.add(1 + i, events[i]!, `s${i}`, { i }, "active")
    expect(ring.entries().map((e) => e.event.type)).toEqual(["E3", "E4", "E5"])
    expect(ring.base).toEqual({ t: 3, value: "s2", context: { i: 2 }, status: "active" })
    expect([ring.size, ring.total, ring.dropped]).toEqual([3, 6, 3])
    // Not begun: no base until the ring is full, as before.
    const plain = new RecordBuffer(2)
    plain.add(1, events[0]!, "s0", undefined, "active")
    expect(plain.base).toBeUndefined()
  })

  it("a short record's slots are made once, sized for its first entries (no push per entry), and grow past them as before", () => {
    const push = vi.spyOn(Array.prototype, "push")
    const record = new RecordBuffer(500)
    const events = Array.from({ length: 12 }, (_, i) => ({ type: `E${i}` }))
    for (let i = 0; i < 5; i++) record.add(1_000 + i, events[i]!, `s${i}`, { i }, "active")
    // Was: one five-value push per entry (its array allocated at 17 slots, then again at 41).
    expect(push.mock.calls.filter((args) => args.length === 5 && events.includes(args[1] as never)).length).toBe(0)
    for (let i = 5; i < 12; i++) record.add(1_000 + i, events[i]!, `s${i}`, { i }, "active")
    expect(record.size).toBe(12)
    expect(record.entries().map((e) => `${e.t}:${e.event.type}:${String(e.value)}`)).toEqual(events.map((e, i) => `${1_000 + i}:${e.type}:s${i}`))
    record.seal()
    expect(record.entries().every((e) => e.context === undefined)).toBe(true)
    // A small ring wraps as before: its oldest run becomes the base.
    const ring = new RecordBuffer(3)
    for (let i = 0; i < 5; i++) ring.add(i, events[i]!, `s${i}`, { i }, "active")
    expect(ring.entries().map((e) => e.event.type)).toEqual(["E2", "E3", "E4"])
    expect(ring.base).toEqual({ t: 1, value: "s1", context: { i: 1 }, status: "active" })
    expect(ring.dropped).toBe(2)
  })
})

describe("the model's views, live and ended", () => {
  it("lists every view first seen first, though an ended one's place among the live is reused; finds each by id; forgets the ended oldest first", () => {
    let t = 1_000
    const model = new InspectorModel({ now: () => t, maxEnded: 2 })
    models.push(model)
    const [a, b, c] = [inspectedSink("A"), inspectedSink("B"), inspectedSink("C")]
    b.stop()
    const d = inspectedSink("D") // in B's old place
    t = 2_000
    a.stop()
    const ids = () => [...model.actors()].map((v) => v.id)
    expect(ids()).toEqual(["A", "B", "C", "D"])
    expect(model.size).toBe(4)
    for (const actor of [a, b, c, d]) expect(model.get(actor.sessionId)?.id).toBe(actor.id)
    expect(model.get("x:none")).toBeUndefined()
    // A third ended one: the first to end (B) is forgotten at the next actor, not the first seen (A).
    c.stop()
    const e = inspectedSink("E")
    expect(ids()).toEqual(["A", "C", "D", "E"])
    expect(model.get(b.sessionId)).toBeUndefined()
    expect(model.record(a.sessionId)?.end?.t).toBe(2_000)
    d.stop()
    e.stop()
  })
})
