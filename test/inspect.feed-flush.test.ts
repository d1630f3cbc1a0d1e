/**
 * The inspector's feed is sent once per `flushMs` (on the inspector's clock, simulated
 * here): whatever a session did meanwhile reaches the page's lean feed as one message
 * with one summary line for that session, its summary read once, however many changes
 * it went through.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { createMachine } from "xstate"
import { BRIEF_LISTED, makeFeedBatch } from "../src/inspect/feedBatch.ts"
import { makeFeedFlusher } from "../src/inspect/feedFlusher.ts"
import { type FeedMessage, InspectorModel } from "../src/inspect/InspectorModel.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { type Msg, openFeed } from "./support/inspectorFeed.ts"

describe("inspector feed: one flush per flushMs", () => {
  it("twenty calls between two flushes: one message, one summary line for the session, read once", async () => {
    const clock = new SimulatedClock()
    const http = await makeHttpServer(makeDemoServer(), { port: 0, inspect: { clock, flushMs: 50 } })
    const inspector = http.inspector!
    const frames: Array<number> = []
    const feed = await openFeed(`ws://127.0.0.1:${inspector.port}/feed?definitions=0&token=${inspector.token}`, { origin: inspector.origin })
    feed.ws.on("message", (d) => frames.push(String(d).split("\n").length))
    const client = new Client({ name: "flushed", version: "1.0.0" })
    try {
      // The hello and the snapshot of what exists go out at the first flush.
      clock.increment(50)
      await feed.waitFor((m) => m.type === "@mcp-actors.synced", "synced")
      await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
      clock.increment(50)
      // A session new in the flush comes as its summary alone (with its recent transitions).
      const actor = await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.machine === "legacyServerSession", "the session's summary")
      expect(Array.isArray(actor.recent) && actor.recent.length > 0).toBe(true)
      expect(feed.messages.some((m) => m.type === "@xstate.actor" && m.sessionId === actor.sessionId)).toBe(false)
      const sessionId = actor.sessionId as string
      const session = inspector.model.get(sessionId)!
      const before = { frames: frames.length, messages: feed.messages.length }
      let changes = 0
      const off = inspector.registry.subscribe((c) => c.type === "updated" && c.id === session.id && changes++)

      let built = 0
      const handle = inspector.registry.get(session.id)!
      const info = handle.info.bind(handle)
      handle.info = () => (built++, info())
      for (let i = 0; i < 20; i++) await client.callTool({ name: "echo", arguments: { text: `n${i}` } })
      // Nothing is sent until the flush.
      expect(frames.length).toBe(before.frames)
      expect(built).toBe(0)
      expect(changes).toBeGreaterThanOrEqual(40) // each call's start and end (in-flight edges)
      off()

      clock.increment(50)
      const summary = await feed.waitFor((m) => m.type === "@mcp-actors.session" && m.sessionId === sessionId && feed.messages.indexOf(m) >= before.messages, "the summary")
      expect(frames.length).toBe(before.frames + 1)
      const flushed: Array<Msg> = feed.messages.slice(before.messages).filter((m) => m.sessionId === sessionId)
      expect(flushed.filter((m) => m.type === "@mcp-actors.session")).toHaveLength(1)
      // (The calls took the chart's fast path: no transition, so no snapshot line.)
      expect(flushed.filter((m) => m.type === "@xstate.snapshot").length).toBeLessThanOrEqual(1)
      expect(summary).toMatchObject({ inFlight: 0, state: "operating" })
      // Its identity went out with its first line: a later one carries what changed (the page merges them).
      expect(actor).toMatchObject({ machine: "legacyServerSession", peer: { name: "flushed" }, transport: "http" })
      for (const same of ["machine", "peer", "transport", "startedAt", "rootId"]) expect(summary).not.toHaveProperty(same)
      expect(built).toBe(1)
    } finally {
      await client.close()
      feed.ws.close()
      await http.close()
    }
    expect(inspection.listenerCount).toBe(0)
  })

  it("a request in flight on the fast path (no chart step) is announced at the next poll by the session's infoVersion, with no listener on the session", async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const server = new McpServer({ name: "gated", version: "1" }).tool({ name: "gate" }, async () => {
      started()
      await held
      return { content: [{ type: "text", text: "through" }] }
    })
    const http = await makeHttpServer(server, { port: 0, inspect: true })
    const model = http.inspector!.model
    // A feed listening as the page's does (snapshots as calls, no events): what the flush polls for.
    const lines: Array<FeedMessage> = []
    const off = model.subscribe((m) => lines.push(m), { events: false, snapshots: () => undefined })
    const client = new Client({ name: "gated", version: "1.0.0" })
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
      const view = [...model.actors()].find((a) => a.machine === "legacyServerSession")!
      const handle = http.inspector!.registry.get(view.id) as unknown as { listeners?: { size: number } }
      // Polled, not followed: the feed costs the session nothing per change.
      expect(handle.listeners?.size ?? 0).toBe(0)
      const announced = () => lines.filter((m) => m.type === "@mcp-actors.session" && m.actor === view).length
      model.poll()
      model.infoOf(view) // read: the next change is announced again
      const quiet = announced()
      const call = client.callTool({ name: "gate", arguments: {} })
      await running
      expect(announced()).toBe(quiet) // nothing per change
      model.poll()
      expect(announced()).toBe(quiet + 1)
      expect(model.infoOf(view)).toMatchObject({ inFlight: 1, requests: [{ method: "tools/call" }] })
      release()
      await call
      model.poll()
      expect(announced()).toBe(quiet + 2)
      expect(model.infoOf(view)).toMatchObject({ inFlight: 0 })
      expect(handle.listeners?.size ?? 0).toBe(0)
    } finally {
      release()
      off()
      await client.close()
      await http.close()
    }
    expect(inspection.listenerCount).toBe(0)
  })

  it("actors held back under churn go out at the next flush, even when nothing else happens", () => {
    // The inspector's own pieces, wired as InspectorServer wires them, on a simulated clock: the page's
    // lines are queued by the batch and sent by the flusher (no socket: what is sent is what is queued).
    const clock = new SimulatedClock()
    const model = new InspectorModel()
    const queued: Array<Msg> = []
    const sent: Array<Msg> = []
    const batch = makeFeedBatch({
      model,
      showSecrets: false,
      clients: ["page"],
      isLean: () => true,
      send: (_, line) => {
        queued.push(JSON.parse(line) as Msg)
        flusher.schedule()
      },
      schedule: () => flusher.schedule()
    })
    const flusher = makeFeedFlusher(clock, 50, () => {
      const held = batch.drain()
      sent.push(...queued.splice(0))
      return held
    })
    batch.want(true, false)
    const unsubscribe = model.subscribe(batch.add, { events: false, snapshots: batch.touch })
    const idle = createMachine({ id: "idleSession", initial: "on", states: { on: {} } })
    const actors: Array<ReturnType<typeof createLeanActor<typeof idle>>> = []
    try {
      for (let i = 0; i < BRIEF_LISTED + 3; i++) actors.push(createLeanActor(idle).start())
      clock.increment(50)
      expect(sent.some((m) => m.sessionId === actors[BRIEF_LISTED - 1]!.sessionId)).toBe(true)
      const late = actors.slice(BRIEF_LISTED).map((a) => a.sessionId)
      expect(sent.filter((m) => late.includes(m.sessionId as string))).toEqual([])
      // Nothing else happens: the held ones still go out, at the next flush.
      clock.increment(50)
      for (const id of late) expect(sent.some((m) => m.type === "@xstate.actor" && m.sessionId === id)).toBe(true)
    } finally {
      for (const a of actors) a.stop()
      unsubscribe()
      flusher.cancel()
      model.close()
    }
    expect(inspection.listenerCount).toBe(0)
  })
})
