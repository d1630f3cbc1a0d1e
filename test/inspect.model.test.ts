/**
 * The inspector's model, records and replay, on real sessions over the memory
 * transport and virtual time (one late-model case also over our HTTP endpoint,
 * awaiting its sessions' ends, never time): what it lists, what it keeps after
 * the end, how much it keeps, what it hides, and that a record replays through
 * the pure chart — and fails loudly when it does not.
 */
import { afterEach, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { feedObject } from "../src/inspect/feed.ts"
import { type FeedMessage, InspectorModel } from "../src/inspect/InspectorModel.ts"
import { REDACTED, redactId, toJsonSafe } from "../src/inspect/redact.ts"
import { formatReplay, parseRecord, replayRecord } from "../src/inspect/replay.ts"
import { RecordBuffer, type RecordFile } from "../src/inspect/SessionRecord.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { defaultMcpRuntime, makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const flush = async (rounds = 5): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

const models: Array<InspectorModel> = []
afterEach(() => {
  for (const m of models.splice(0)) m.close()
  expect(inspection.listenerCount).toBe(0)
})

/** A client session (keepalive on, virtual time) talking to the demo server over memory, inspected. */
const inspectedPair = async (modelOptions: ConstructorParameters<typeof InspectorModel>[0] = {}) => {
  const registry = makeRegistryUnsafe()
  const model = new InspectorModel({ registry, ...modelOptions })
  models.push(model)
  const clock = new SimulatedClock()
  const [clientSide, serverSide] = makeMemoryTransportPair()
  const server = serveTransport(makeDemoServer(), serverSide)
  registry.register(server)
  const client = await ClientSession.connect(clientSide, { clock, keepalive: { intervalMs: 1_000, timeoutMs: 500 }, clientInfo: { name: "inspected-client", version: "9.9.9" } })
  registry.register(client)
  return { model, registry, clock, client, server }
}

const actorOf = (model: InspectorModel, machine: string) => {
  const found = [...model.actors()].filter((a) => a.machine === machine)
  expect(found.length, `one ${machine} actor`).toBe(1)
  return found[0]!
}

describe("inspector model: its key on actors and sessions", () => {
  const keysOf = (o: object) => Object.getOwnPropertySymbols(o).filter((k) => k.description === "inspector view")

  it("models started one after another use one key (no new property per inspector on actors), a closed one leaves nothing under it, open ones never share", async () => {
    const first = await inspectedPair()
    const refA = actorOf(first.model, "legacyServerSession").ref!
    const [key] = keysOf(refA)
    expect(key).toBeDefined()
    first.model.close()
    // Closed: its view is no longer on the live actor.
    expect((refA as unknown as Record<symbol, unknown>)[key!]).toBeUndefined()

    const second = await inspectedPair()
    const refB = actorOf(second.model, "legacyServerSession").ref!
    // The same key: a process starting and closing inspectors does not grow its actors' hidden classes.
    expect(keysOf(refB)).toEqual([key])
    // The first pair's session goes on; the second model takes none of its steps.
    await first.client.request("tools/call", { name: "echo", arguments: { text: "not seen" } })
    await second.client.request("tools/call", { name: "echo", arguments: { text: "seen" } })
    expect([...second.model.actors()].some((a) => a.ref === refA)).toBe(false)
    expect(actorOf(second.model, "legacyServerSession").ref).toBe(refB)

    // A model opened while another is: a key of its own.
    const third = new InspectorModel()
    models.push(third)
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(makeDemoServer(), serverSide)
    const client = await ClientSession.connect(clientSide, { clientInfo: { name: "third", version: "1" } })
    const refC = [...third.actors()].find((a) => a.machine === "legacyServerSession")!.ref!
    expect(keysOf(refC)).toHaveLength(2)
    expect(keysOf(refC)).toContain(key)
    await client.close()
    await first.client.close()
    await second.client.close()
  })
})

describe("inspector model: started after its sessions", () => {
  it("lists the registry's live sessions, both sides, from the state they are in, and records what they do next", async () => {
    const registry = makeRegistryUnsafe()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const server = serveTransport(makeDemoServer(), serverSide)
    registry.register(server)
    const client = await ClientSession.connect(clientSide, { clientInfo: { name: "earlier", version: "1" } })
    registry.register(client)
    const model = new InspectorModel({ registry })
    models.push(model)
    const s = actorOf(model, "legacyServerSession")
    const c = actorOf(model, "legacyClientSession")
    expect([s.value, c.value]).toEqual(["operating", "operating"])
    // The children its chart invoked, under it, from the state they are in.
    const children = [...model.actors()].filter((a) => a.parentId === c.sessionId)
    expect(children.map((a) => a.id).sort()).toEqual(["keepalive", "requests"])
    for (const a of children) expect(a.value).toEqual(a.ref!.getSnapshot().value)
    expect(model.infoOf(s)).toMatchObject({ role: "server", peer: { name: "earlier" } })
    expect(model.infoOf(c)).toMatchObject({ role: "client" })
    expect(s.record.entries()).toEqual([])
    await client.close()
    await flush()
    expect(s.end?.reason).toBeDefined()
    expect(c.end).toBeDefined()
    expect(s.record.entries().length).toBeGreaterThan(0)
  })

  it("lists a modern client and an HTTP client session (the default runtime's) with their live children, and follows them to their end", async () => {
    const serverRuntime = makeMcpRuntime()
    const http = await makeHttpServer(makeDemoServer(), { runtime: serverRuntime })
    try {
      const [clientSide, serverSide] = makeMemoryTransportPair()
      serveTransport(makeDemoServer(), serverSide, { runtime: serverRuntime })
      const modern = ModernClient.create(clientSide)
      await modern.callTool("echo", { text: "before" })
      const httpClient = await HttpClientSession.connect(http.url)
      const model = new InspectorModel({ registry: defaultMcpRuntime().registry })
      models.push(model)
      const m = actorOf(model, "modernClient")
      const h = actorOf(model, "httpClientSession")
      expect(m.id).toBe(modern.id)
      expect(h.id).toBe(httpClient.id)
      expect(model.infoOf(m)).toMatchObject({ role: "client", era: "modern" })
      expect(model.infoOf(h)).toMatchObject({ role: "client", era: "legacy" })
      const byId = new Map([...model.actors()].map((a) => [a.sessionId, a]))
      // Each under its connection node, under the runtime's root; the state each is in; no step seen yet.
      for (const view of [m, h]) {
        expect(view.value).toEqual(view.ref!.getSnapshot().value)
        expect(view.record.entries()).toEqual([])
        expect(byId.get(view.parentId!)?.machine).toBe("connection")
        expect(byId.get(byId.get(view.parentId!)!.parentId!)?.machine).toBe("runtime")
      }
      // The children its chart invoked, adopted under it (the HTTP session's transport charts are actors of their
      // own with it as parent, not its chart's children: not found from it).
      expect([...model.actors()].filter((a) => a.parentId === m.sessionId).map((a) => a.id)).toEqual(["requests"])

      await modern.close()
      await httpClient.close()
      await flush()
      expect(m.end?.reason).toBe("closed")
      expect(h.end?.reason).toBe("closed by client")
      expect(m.record.entries().length + h.record.entries().length).toBeGreaterThan(0)
    } finally {
      await http.close({ drainMs: 0 })
      await serverRuntime.shutdown({ drainMs: 0 })
    }
  })
})

describe("inspector model", () => {
  it("lists each session with its side, transport, era, version, peer and state, and keeps an ended one with its end reason", async () => {
    const { model, client, clock, server } = await inspectedPair()
    await client.request("tools/call", { name: "echo", arguments: { text: "hello" } })
    clock.increment(1_000) // the keepalive timer fires: a ping goes out, the pong comes back
    await flush()
    const s = actorOf(model, "legacyServerSession")
    expect(s.id).toBe(server.id)
    expect(model.infoOf(s)).toMatchObject({ role: "server", transport: "memory", era: "legacy", peer: { name: "inspected-client", version: "9.9.9" } })
    expect(s.value).toBe("operating")
    const c = actorOf(model, "legacyClientSession")
    expect(model.infoOf(c)).toMatchObject({ role: "client", transport: "memory" })
    // The ping timer fires in the session's keepalive child, which has a record of its own.
    const k = actorOf(model, "keepalive")
    expect(k.parentId).toBe(c.sessionId)
    expect(k.record.entries().map((e) => e.event.type)).toContain("xstate.after.pingInterval.keepalive.idle")

    await client.close()
    await flush()
    expect(c.end).toMatchObject({ status: "done", reason: "closed by client", error: false })
    expect(s.end?.error).toBe(false)
    expect(s.end?.reason).toMatch(/closed/)
    // Ended, yet still listed with its record.
    expect(model.get(c.sessionId)).toBe(c)
    expect(model.record(c.sessionId)!.end?.reason).toBe("closed by client")
  })

  it("forgets ended actors after the retention window, telling listeners", async () => {
    let now = 1_000_000
    const { model, client } = await inspectedPair({ retainEndedMs: 60_000, now: () => now })
    const forgotten: Array<string> = []
    model.subscribe((m) => void (m.type === "@mcp-actors.forget" && forgotten.push(m.sessionId)))
    const c = actorOf(model, "legacyClientSession")
    await client.close()
    await flush()
    expect(model.snapshotMessages().some((m) => m.type === "@xstate.actor" && m.actor === c)).toBe(true)
    now += 60_001
    expect(model.snapshotMessages().some((m) => m.type === "@xstate.actor" && m.actor === c)).toBe(false)
    expect(forgotten).toContain(c.sessionId)
    expect(model.size).toBe(0)
  })
})

describe("records", () => {
  it("a record is a bounded ring: it keeps the newest entries and starts from the state before them", () => {
    const ring = new RecordBuffer(3)
    for (let i = 0; i < 5; i++) ring.push({ t: i, event: { type: `E${i}` }, value: `s${i}`, context: { i }, status: "active" })
    expect(ring.size).toBe(3)
    expect(ring.dropped).toBe(2)
    expect(ring.entries().map((e) => e.event.type)).toEqual(["E2", "E3", "E4"])
    expect(ring.base).toMatchObject({ value: "s1", context: { i: 1 } })
    expect(ring.last(2).map((e) => e.event.type)).toEqual(["E3", "E4"])
    expect(() => new RecordBuffer(0)).toThrow(RangeError)
  })

  it("a session's record stays within its capacity, and still replays from its base", async () => {
    const { model, client, clock } = await inspectedPair({ recordCapacity: 4 })
    for (let i = 0; i < 6; i++) {
      await client.request("tools/call", { name: "echo", arguments: { text: `n${i}` } })
      clock.increment(1_000)
      await flush()
    }
    const c = actorOf(model, "legacyClientSession")
    const file = model.record(c.sessionId)!
    expect(file.records.length).toBe(4)
    expect(file.dropped).toBeGreaterThan(0)
    const result = replayRecord(parseRecord(JSON.stringify(file)))
    expect(result.divergence).toBeUndefined()
    expect(result.steps.length).toBe(4)
    await client.close()
  })
})

describe("replay", () => {
  const recordOfAClosedClient = async (): Promise<RecordFile> => {
    const { model, client, clock } = await inspectedPair()
    await client.request("tools/call", { name: "echo", arguments: { text: "secret-text" } })
    clock.increment(1_000)
    await flush()
    await client.close()
    await flush()
    return JSON.parse(JSON.stringify(model.record(actorOf(model, "legacyClientSession").sessionId)!)) as RecordFile
  }
  const keepaliveRecordOfAClient = async (): Promise<RecordFile> => {
    const { model, client, clock } = await inspectedPair()
    await client.request("tools/call", { name: "echo", arguments: { text: "x" } })
    clock.increment(1_000)
    await flush()
    const record = JSON.parse(JSON.stringify(model.record(actorOf(model, "keepalive").sessionId)!)) as RecordFile
    await client.close()
    return record
  }

  it("a client session's record replays through the pure chart: the same path of states, the timers that fired, the end", async () => {
    const record = await recordOfAClosedClient()
    const result = replayRecord(parseRecord(JSON.stringify(record)))
    expect(result.divergence).toBeUndefined()
    expect(result.steps.every((s) => s.agrees)).toBe(true)
    expect(result.steps.map((s) => s.replayed).at(-1)).toBe("closed (done)")
    expect(result.ended).toContain("closed by client")
    expect(formatReplay(result, record)).toContain("replay agrees with the record")
    // Its keepalive child's record replays too, with the ping timer that fired.
    const keepalive = await keepaliveRecordOfAClient()
    const k = replayRecord(parseRecord(JSON.stringify(keepalive)))
    expect(k.divergence).toBeUndefined()
    expect(k.timers.map((t) => t.event)).toContain("xstate.after.pingInterval.keepalive.idle")
    expect(formatReplay(k, keepalive)).toContain("⏱ xstate.after.pingInterval")
  })

  it("the server session's record replays through the pure chart", async () => {
    const { model, client } = await inspectedPair()
    await client.request("tools/call", { name: "echo", arguments: { text: "x" } })
    await client.close()
    await flush()
    const record = model.record(actorOf(model, "legacyServerSession").sessionId)!
    expect(record.records.map((r) => (r.event as { type: string }).type)).toEqual(expect.arrayContaining(["INITIALIZE", "INITIALIZED"]))
    const result = replayRecord(parseRecord(JSON.stringify(record)))
    expect(result.divergence).toBeUndefined()
    expect(result.steps.at(-1)?.replayed).toBe("closed (done)")
  })

  it("a record whose states the chart does not give fails at the first divergence", async () => {
    const record = await recordOfAClosedClient()
    const altered = structuredClone(record) as unknown as { records: Array<{ value: unknown; event: { type: string } }> }
    const i = altered.records.findIndex((r) => r.event.type === "INITIALIZE_RESULT")
    expect(i).toBeGreaterThanOrEqual(0)
    altered.records[i]!.value = "closing"
    const result = replayRecord(parseRecord(altered))
    expect(result.divergence?.index).toBe(i)
    expect(result.divergence?.step).toMatchObject({ event: "INITIALIZE_RESULT", recorded: "closing", agrees: false })
    expect(formatReplay(result, record)).toContain(`DIVERGED at event #${i + 1} (INITIALIZE_RESULT)`)
  })

  it("refuses what is not a record or names an unknown chart", () => {
    expect(() => parseRecord("{")).toThrow(/not JSON/)
    expect(() => parseRecord({ format: "other" })).toThrow(/not an mcp-actors record/)
    const bogus = { format: "mcp-actors.record/1", machine: "nope", sessionId: "x:1", id: "x:1", parentId: undefined, startedAt: 0, base: { t: 0, value: "a", context: {}, status: "active" }, records: [], dropped: 0, end: undefined, redacted: true } as const
    expect(() => replayRecord(parseRecord(bogus))).toThrow(/no chart "nope"/)
  })
})

describe("redaction", () => {
  it("hides argument values, tokens and live objects by default, shows them on opt-in", () => {
    class Live {}
    const value = { arguments: { text: "s3cret" }, token: "t0k", nested: { Authorization: "Bearer x", api_key: "k" }, name: "echo", live: new Live(), fn: () => 1 }
    expect(toJsonSafe(value)).toEqual({ arguments: REDACTED, token: REDACTED, nested: { Authorization: REDACTED, api_key: REDACTED }, name: "echo", live: "[Live]" })
    expect(toJsonSafe(value, { showSecrets: true })).toMatchObject({ arguments: { text: "s3cret" }, token: "t0k", nested: { Authorization: "Bearer x" } })
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    expect(toJsonSafe(cyclic)).toEqual({ a: 1, self: "[cycle]" })
    expect(redactId("68vqVM-HMbehNNPc9x3Z6w", false)).toBe("68vqVM-H…")
    expect(redactId("68vqVM-HMbehNNPc9x3Z6w", true)).toBe("68vqVM-HMbehNNPc9x3Z6w")
  })

  it("the feed and the records never carry a tool's argument values unless secrets are shown", async () => {
    const { model, client } = await inspectedPair()
    const lines: Array<string> = []
    const revealed: Array<string> = []
    model.subscribe((m: FeedMessage) => {
      lines.push(JSON.stringify(feedObject(model, m, false)))
      revealed.push(JSON.stringify(feedObject(model, m, true)))
    })
    await client.request("tools/call", { name: "echo", arguments: { text: "very-secret-argument" } })
    await flush()
    const s = actorOf(model, "legacyServerSession")
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.join("\n")).not.toContain("very-secret-argument")
    expect(revealed.join("\n")).toContain("very-secret-argument")
    for (const m of model.snapshotMessages()) expect(JSON.stringify(feedObject(model, m, false))).not.toContain(s.id)
    expect(JSON.stringify(model.record(actorOf(model, "legacyClientSession").sessionId, false))).not.toContain("very-secret-argument")
    await client.close()
  })
})

describe("inspector model: session summaries read when asked, followed only while a feed listens", () => {
  it("nobody watching: chart steps build no summary; a read gets the live one, with each request's age from when the session received it", async () => {
    const { model, client, server } = await inspectedPair()
    const s = actorOf(model, "legacyServerSession")
    let built = 0
    const info = server.info.bind(server)
    server.info = () => (built++, info())
    for (let i = 0; i < 50; i++) await client.request("tools/call", { name: "echo", arguments: { text: `n${i}` } })
    // 50 calls, each a request edge and a response edge on the session: no summary was built for nobody.
    expect(built).toBe(0)
    // A slow call in flight: the read lists it, aged from when the session got it.
    const before = Date.now()
    const abort = new AbortController()
    const slow = client.request("tools/call", { name: "slow", arguments: { ms: 60_000 } }, { signal: abort.signal }).catch(() => undefined)
    await flush()
    const read = model.infoOf(s)!
    expect(built).toBe(1)
    expect(read.inFlight).toBe(1)
    expect(read.requests).toEqual([{ id: expect.anything(), method: "tools/call", since: expect.any(Number) }])
    expect(read.requests![0]!.since).toBeGreaterThanOrEqual(before)
    expect(s.requests?.size).toBe(1)
    const since = [...s.requests!.values()][0]!.since
    expect(since).toBe(read.requests![0]!.since)
    // The feed's summary of the session is the same read.
    const summary = feedObject(model, { type: "@mcp-actors.session", actor: s, createdAt: 0 }, true) as { inFlight: number; requests: Array<{ since: number }> }
    expect(summary.inFlight).toBe(1)
    expect(summary.requests.map((r) => r.since)).toEqual([since])
    abort.abort("done")
    await slow
    await client.close()
  })

  it("a feed listening: a changed session's line is pushed at the next poll (its infoVersion moved), its summary built once when the feed serializes them; nothing is done per change; the last listener gone, polls push nothing", async () => {
    const { model, registry, client, server } = await inspectedPair()
    const s = actorOf(model, "legacyServerSession")
    let built = 0
    const info = server.info.bind(server)
    server.info = () => (built++, info())
    const lines: Array<FeedMessage> = []
    const off = model.subscribe((m) => lines.push(m), { events: false })
    // Followed by its version: no listener on the session, so its chart steps and requests cost the feed nothing.
    expect(server.listeners?.size ?? 0).toBe(0)
    const pushedNow = () => lines.filter((m) => m.type === "@mcp-actors.session" && m.actor === s)
    await client.request("tools/call", { name: "echo", arguments: { text: "watched" } })
    expect(pushedNow().length).toBe(0) // nothing until the poll
    model.poll()
    const pushed = pushedNow()
    // The request's start and its end: one announcement stands for both until the summary is read again.
    expect(pushed.length).toBe(1)
    expect(built).toBe(0) // told of the changes, nothing built yet
    model.poll()
    expect(pushedNow().length).toBe(1) // nothing moved since
    await client.request("tools/call", { name: "echo", arguments: { text: "unread" } })
    model.poll()
    expect(pushedNow().length).toBe(1)
    // The feed's flush serializes it: the summary is read once, and is the session's current one.
    const serialized = pushed.map((m) => feedObject(model, m, true) as { inFlight: number; protocolVersion: string })
    expect(built).toBe(1)
    expect(serialized.every((o) => o.inFlight === 0 && o.protocolVersion === "2025-11-25")).toBe(true)
    // Read again without a change: the summary kept is the current one, nothing is built.
    feedObject(model, pushed[0]!, true)
    expect(built).toBe(1)
    // Read: the next change is announced again, and read again when serialized.
    await client.request("tools/call", { name: "echo", arguments: { text: "after the read" } })
    model.poll()
    const next = pushedNow()
    expect(next.length).toBe(2)
    feedObject(model, next[1]!, true)
    expect(built).toBe(2)
    off()
    const before = lines.length
    for (let i = 0; i < 20; i++) await client.request("tools/call", { name: "echo", arguments: { text: `again${i}` } })
    model.poll()
    expect(lines.length).toBe(before)
    expect(built).toBe(2)
    expect(registry.listenerCount).toBe(1) // the model's own added/removed subscription
    await client.close()
  })
})
