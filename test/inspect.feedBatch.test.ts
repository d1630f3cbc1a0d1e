/**
 * The inspector's feed batch (src/inspect/feedBatch.ts): what one turn of the
 * event loop sends to the page (lean: one snapshot per changed actor, with the
 * turn's steps, context only when it changed, nothing for an actor created and
 * forgotten within the turn) and to a full client (every message, in order,
 * each snapshot as it was when it happened).
 */
import { afterEach, describe, expect, it } from "vitest"
import { assign, createMachine } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { feedObject } from "../src/inspect/feed.ts"
import { BRIEF_LISTED, makeFeedBatch, STEPS_PER_TURN } from "../src/inspect/feedBatch.ts"
import { InspectorModel } from "../src/inspect/InspectorModel.ts"
import { createLeanActor } from "../src/runtime/ActorScheduler.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const toggle = createMachine({
  id: "toggle",
  initial: "off",
  context: { flips: 0, note: "same" },
  states: {
    off: { on: { FLIP: { target: "on", actions: assign({ flips: ({ context }) => context.flips + 1 }) }, POKE: {} } },
    on: { on: { FLIP: { target: "off", actions: assign({ flips: ({ context }) => context.flips + 1 }) }, POKE: {} } }
  }
})

const models: Array<InspectorModel> = []
afterEach(() => {
  for (const m of models.splice(0)) m.close()
  expect(inspection.listenerCount).toBe(0)
})

/** A model and a batch with one lean and one full client, drained by hand (one call = one turn). */
const setup = (modelOptions: ConstructorParameters<typeof InspectorModel>[0] = {}) => {
  const model = new InspectorModel(modelOptions)
  models.push(model)
  const lines = new Map<string, Array<Record<string, unknown>>>([["lean", []], ["full", []]])
  let scheduled = 0
  const batch = makeFeedBatch({
    model,
    showSecrets: false,
    clients: ["lean", "full"],
    isLean: (c) => c === "lean",
    send: (c, line) => lines.get(c)!.push(JSON.parse(line) as Record<string, unknown>),
    schedule: () => void scheduled++
  })
  batch.want(true, true)
  model.subscribe(batch.add, { events: true })
  const take = (c: "lean" | "full") => lines.get(c)!.splice(0)
  return { model, batch, take, scheduled: () => scheduled }
}

describe("inspector feed batch", () => {
  it("lean: one snapshot per changed actor per turn, carrying the turn's steps, and no context (the full feed has it)", () => {
    const t = setup()
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    actor.send({ type: "FLIP" })
    actor.send({ type: "FLIP" })
    expect(t.scheduled()).toBeGreaterThan(0)
    t.batch.drain()
    const lean = t.take("lean")
    expect(lean.map((m) => m.type)).toEqual(["@xstate.actor", "@xstate.snapshot"])
    expect(lean[0]!.snapshot).not.toHaveProperty("context")
    const snap = lean[1]!
    expect(snap).toMatchObject({ sessionId: actor.sessionId, event: { type: "FLIP" }, snapshot: { value: "on", status: "active" } })
    expect(snap.snapshot).not.toHaveProperty("context")
    // The full clients' messages of the same turn carry each context as it was.
    expect(t.take("full").filter((m) => m.type === "@xstate.snapshot").at(-1)).toMatchObject({ snapshot: { value: "on", context: { flips: 3, note: "same" } } })
    expect((snap.steps as Array<unknown>).map((s) => (s as Array<unknown>).slice(1))).toEqual([["FLIP", "on", "active"], ["FLIP", "off", "active"], ["FLIP", "on", "active"]])
    actor.send({ type: "POKE" })
    t.batch.drain()
    const [again] = t.take("lean")
    expect(again).toMatchObject({ type: "@xstate.snapshot", event: { type: "POKE" }, snapshot: { value: "on", status: "active" } })
    expect(again!.snapshot).not.toHaveProperty("context")
    actor.stop()
  })

  it("full: every message in order, each snapshot as it was when it happened, the events too", () => {
    const t = setup()
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    actor.send({ type: "FLIP" })
    t.batch.drain()
    const full = t.take("full")
    const announced = full.find((m) => m.type === "@xstate.actor")
    expect(announced).toMatchObject({ sessionId: actor.sessionId, name: "toggle", snapshot: { value: "off" } })
    expect(typeof announced!.definition).toBe("string") // the machine's definition, for Stately's inspector
    expect(full.indexOf(announced!)).toBeLessThan(full.findIndex((m) => m.type === "@xstate.snapshot"))
    expect(full.filter((m) => m.type === "@xstate.snapshot").map((m) => (m.snapshot as { value: unknown }).value)).toEqual(["off", "on", "off"])
    expect(full.filter((m) => m.type === "@xstate.event").map((m) => (m.event as { type: string }).type)).toEqual(["xstate.init", "FLIP", "FLIP"])
    for (const m of full) expect(m).toMatchObject({ sessionId: actor.sessionId, rootId: actor.sessionId, _version: "mcp-actors.inspect/1" })
    actor.stop()
  })

  it("an actor created and forgotten within one turn never reaches the page; one the page saw is forgotten there", () => {
    const t = setup({ retainEndedMs: 0 })
    const seen = createLeanActor(toggle).start()
    t.batch.drain()
    expect(t.take("lean").map((m) => m.type)).toEqual(["@xstate.actor", "@xstate.snapshot"])
    seen.stop()
    const brief = createLeanActor(toggle).start() // its creation prunes `seen` (ended, kept 0 ms)
    brief.stop()
    createLeanActor(toggle).start().stop() // … and this one prunes `brief`
    t.batch.drain()
    const lean = t.take("lean")
    expect(lean.filter((m) => m.sessionId === brief.sessionId)).toEqual([])
    expect(lean.filter((m) => m.type === "@mcp-actors.forget").map((m) => m.sessionId)).toContain(seen.sessionId)
    // The full feed still tells the whole story.
    expect(t.take("full").some((m) => m.type === "@mcp-actors.forget" && m.sessionId === brief.sessionId)).toBe(true)
  })

  it("churn: beyond the first few actors born and ended well within one turn, the page gets a count, not a line each; one that failed is listed", () => {
    const t = setup()
    const failing = createMachine({ id: "failing", initial: "a", states: { a: { on: { BOOM: { actions: () => { throw new Error("boom") } } } } } })
    const done: Array<string> = []
    for (let i = 0; i < BRIEF_LISTED + 10; i++) {
      const a = createLeanActor(toggle).start()
      a.send({ type: "FLIP" })
      a.stop()
      done.push(a.sessionId)
    }
    const broken = createLeanActor(failing)
    broken.subscribe({ error: () => {} })
    broken.start()
    broken.send({ type: "BOOM" })
    t.batch.drain()
    const lean = t.take("lean")
    const listed = new Set(lean.filter((m) => m.type !== "@mcp-actors.brief").map((m) => m.sessionId))
    expect(done.filter((id) => listed.has(id))).toEqual(done.slice(0, BRIEF_LISTED))
    expect(listed.has(broken.sessionId)).toBe(true) // ended with an error: always listed
    expect(lean.filter((m) => m.type === "@mcp-actors.brief")).toEqual([expect.objectContaining({ count: 10 })])
    // The model keeps them all, and the full feed tells each one's story.
    for (const id of done) expect(t.model.get(id)?.end?.status).toBe("stopped")
    const full = t.take("full")
    for (const id of done) expect(full.some((m) => m.type === "@xstate.actor" && m.sessionId === id)).toBe(true)
  })

  it("churn: new sessions still live beyond the first few wait one flush: those ended by then are counted with the brief ones, the others listed, with the steps of both flushes", () => {
    const t = setup()
    // A session's chart (its id says so): the page lists it as a session.
    const toggleSession = createMachine({ ...toggle.config, id: "toggleSession" })
    const first: Array<ReturnType<typeof createLeanActor<typeof toggleSession>>> = []
    const heldBack: Array<ReturnType<typeof createLeanActor<typeof toggleSession>>> = []
    for (let i = 0; i < BRIEF_LISTED; i++) first.push(createLeanActor(toggleSession).start())
    for (let i = 0; i < 20; i++) heldBack.push(createLeanActor(toggleSession).start())
    for (const a of [...first, ...heldBack]) a.send({ type: "FLIP" })
    expect(t.batch.drain()).toBe(true) // some held for the next drain
    const one = t.take("lean")
    const listed = new Set(one.map((m) => m.sessionId))
    expect(first.every((a) => listed.has(a.sessionId))).toBe(true)
    // Was: a line for each of the 36 at once, and for 18 of them another at their end, a flush later.
    expect(heldBack.filter((a) => listed.has(a.sessionId))).toEqual([])
    for (const a of heldBack.slice(0, 18)) a.stop()
    for (const a of heldBack.slice(18)) a.send({ type: "FLIP" })
    expect(t.batch.drain()).toBe(false)
    const two = t.take("lean")
    const ended = heldBack.slice(0, 18).map((a) => a.sessionId)
    const listedNow = new Set(two.filter((m) => m.type !== "@mcp-actors.brief").map((m) => m.sessionId))
    expect(ended.filter((id) => listedNow.has(id))).toEqual(ended.slice(0, BRIEF_LISTED))
    expect(two.filter((m) => m.type === "@mcp-actors.brief")).toEqual([expect.objectContaining({ count: 2 })])
    for (const a of heldBack.slice(18)) {
      const snapshot = two.find((m) => m.type === "@xstate.snapshot" && m.sessionId === a.sessionId) as { steps: Array<unknown> } | undefined
      expect(two.some((m) => m.type === "@xstate.actor" && m.sessionId === a.sessionId)).toBe(true)
      expect(snapshot?.steps).toHaveLength(2) // the flip of each flush
    }
    // The full feed is not held.
    expect(t.take("full").filter((m) => m.type === "@xstate.actor").length).toBe(36)
    for (const a of [...first, ...heldBack.slice(18)]) a.stop()
    t.batch.drain()
    t.take("lean")
    // A churning flush (more born and ended in it than are listed): every new one still live waits.
    for (let i = 0; i < BRIEF_LISTED + 4; i++) createLeanActor(toggleSession).start().stop()
    const live = [createLeanActor(toggleSession).start(), createLeanActor(toggleSession).start()]
    expect(t.batch.drain()).toBe(true)
    const churned = t.take("lean")
    expect(churned.filter((m) => live.some((a) => a.sessionId === m.sessionId))).toEqual([])
    expect(churned.filter((m) => m.type === "@mcp-actors.brief")).toEqual([expect.objectContaining({ count: 4 })])
    expect(t.batch.drain()).toBe(false)
    const after = t.take("lean")
    for (const a of live) expect(after.some((m) => m.type === "@xstate.actor" && m.sessionId === a.sessionId)).toBe(true)
    for (const a of live) a.stop()
  })

  it("a child that is not a session, created and ended within the turn (a request), is not sent to the page, nor its forget", () => {
    const t = setup({ retainEndedMs: 0 })
    const parent = createLeanActor(toggle).start()
    t.batch.drain()
    t.take("lean")
    const child = createLeanActor(toggle, { parent }).start()
    child.send({ type: "FLIP" })
    child.stop()
    t.batch.drain()
    expect(t.take("lean").filter((m) => m.sessionId === child.sessionId)).toEqual([])
    createLeanActor(toggle, { parent }).start() // prunes the ended child
    t.batch.drain()
    expect(t.take("lean").filter((m) => m.sessionId === child.sessionId)).toEqual([])
    // The full feed has it all.
    const full = t.take("full").filter((m) => m.sessionId === child.sessionId).map((m) => m.type)
    expect(full).toEqual(expect.arrayContaining(["@xstate.actor", "@xstate.snapshot", "@mcp-actors.forget"]))
    parent.stop()
  })

  it("a closed model leaves no view (nor its record) reachable from an actor that lives on", () => {
    const model = new InspectorModel()
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    const views = () => Object.getOwnPropertySymbols(actor).map((k) => (actor as unknown as Record<symbol, unknown>)[k]).filter((v) => v !== undefined && typeof v === "object" && "record" in (v as object))
    expect(views()).toHaveLength(1)
    model.close()
    expect(views()).toEqual([])
    actor.stop()
  })

  it("an ended actor's view lets go of the actor (kept for a while, it must not keep the actor alive), and keeps its state, record, end and definition", () => {
    const model = new InspectorModel()
    models.push(model)
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    const view = model.get(actor.sessionId)!
    expect(view.ref).toBe(actor)
    actor.stop()
    expect(view.ref).toBeUndefined()
    const linked = Object.getOwnPropertySymbols(actor).map((k) => (actor as unknown as Record<symbol, unknown>)[k]).filter((v) => v !== undefined)
    expect(linked).toEqual([])
    expect(view.end).toMatchObject({ status: "stopped" })
    expect(view.value).toBe("on")
    expect(view.record.entries().map((e) => e.event.type)).toEqual(["FLIP", "xstate.stop"])
    const announced = feedObject(model, { type: "@xstate.actor", actor: view, createdAt: 0 }, false)
    expect(typeof announced.definition).toBe("string")
    expect(announced).toMatchObject({ name: "toggle", snapshot: { value: "on", status: "stopped" } })
  })

  it("without a full client the model does not even take xstate's events from the hub", () => {
    const model = new InspectorModel()
    models.push(model)
    const got: Array<string> = []
    const stop = model.subscribe((m) => void got.push(m.type), { events: false })
    const actor = createLeanActor(toggle).start()
    actor.send({ type: "FLIP" })
    expect(got).not.toContain("@xstate.event")
    expect(got).toContain("@xstate.snapshot")
    stop()
    actor.stop()
  })

  /** A model and a batch with one lean client only, as the page alone: snapshots come as calls, not messages. */
  const leanOnly = () => {
    const model = new InspectorModel()
    models.push(model)
    const lines: Array<Record<string, unknown>> = []
    const batch = makeFeedBatch({ model, showSecrets: false, clients: ["lean"], isLean: () => true, send: (_, line) => void lines.push(JSON.parse(line) as Record<string, unknown>), schedule: () => undefined })
    batch.want(true, false)
    const messages: Array<string> = []
    model.subscribe((m) => {
      messages.push(m.type)
      batch.add(m)
    }, { events: false, snapshots: batch.touch })
    return { model, batch, messages, take: () => lines.splice(0) }
  }

  it("lean only: no snapshot message per event, and the turn's steps (read from the record) are the actor's transitions in order, at most the page's window", () => {
    const t = leanOnly()
    const actor = createLeanActor(toggle).start()
    t.batch.drain()
    expect(t.take().map((m) => m.type)).toEqual(["@xstate.actor", "@xstate.snapshot"])
    for (let i = 0; i < 3; i++) actor.send({ type: "FLIP" })
    t.batch.drain()
    const [three] = t.take()
    expect(three).toMatchObject({ type: "@xstate.snapshot", event: { type: "FLIP" }, snapshot: { value: "on", status: "active" } })
    expect(three!.snapshot).not.toHaveProperty("context")
    expect((three!.steps as Array<Array<unknown>>).map((s) => s.slice(1))).toEqual([["FLIP", "on", "active"], ["FLIP", "off", "active"], ["FLIP", "on", "active"]])
    expect(three).not.toHaveProperty("skipped")
    // A busy turn: the newest STEPS_PER_TURN steps, in order, and how many were left out (the record has them all).
    for (let i = 0; i < STEPS_PER_TURN + 11; i++) actor.send({ type: i % 2 === 0 ? "FLIP" : "POKE" })
    t.batch.drain()
    const [busy] = t.take()
    const steps = busy!.steps as Array<[number, string, unknown, string]>
    expect(steps).toHaveLength(STEPS_PER_TURN)
    expect(busy!.skipped).toBe(11)
    const record = t.model.get(actor.sessionId)!.record.last(STEPS_PER_TURN)
    expect(steps.map((s) => [s[1], s[2]])).toEqual(record.map((e) => [e.event.type, e.value]))
    expect(steps.map((s) => s[1])).toEqual(Array.from({ length: STEPS_PER_TURN }, (_, i) => ((i + 11) % 2 === 0 ? "FLIP" : "POKE")))
    expect(busy!.snapshot).toMatchObject({ value: actor.getSnapshot().value })
    // The model made no @xstate.snapshot message for this listener.
    expect(t.messages).not.toContain("@xstate.snapshot")
    expect(t.messages).toContain("@xstate.actor")
    actor.stop()
  })

  it("lean only: a request sent and answered within one turn is in the client's requests record with its outcome, and the page's feed shows the session's state changes in order", async () => {
    const t = leanOnly()
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const server = serveTransport(makeDemoServer(), serverSide)
    const client = await ClientSession.connect(clientSide, { keepalive: false })
    t.batch.drain()
    const announced = t.take()
    const clientView = [...t.model.actors()].find((b) => b.machine === "legacyClientSession")!
    const requests = [...t.model.actors()].find((a) => a.id === "requests" && a.parentId === clientView.sessionId)!
    expect(requests, "the client's requests table is listed").toBeDefined()
    expect(announced.some((m) => m.type === "@xstate.actor" && m.sessionId === requests.sessionId)).toBe(true)
    const before = requests.record.total
    // No drain between: one turn.
    await client.request("tools/call", { name: "echo", arguments: { text: "one" } })
    await client.request("tools/call", { name: "echo", arguments: { text: "two" } })
    const made = requests.record.entries().slice(before - requests.record.total)
    expect(made.map((e) => e.event.type)).toEqual(["REQUEST_SENT", "RESPONSE", "REQUEST_SENT", "RESPONSE"])
    expect(made.map((e) => e.value)).toEqual(["busy", "idle", "busy", "idle"])
    expect((made[1]!.event as { result?: unknown }).result).toMatchObject({ content: [{ type: "text" }] })
    t.batch.drain()
    const lean = t.take()
    const snaps = lean.filter((m) => m.type === "@xstate.snapshot" && m.sessionId === requests.sessionId)
    expect(snaps, "one snapshot line for the turn").toHaveLength(1)
    expect((snaps[0]!.steps as Array<Array<unknown>>).map((s) => [s[1], s[2]])).toEqual([["REQUEST_SENT", "busy"], ["RESPONSE", "idle"], ["REQUEST_SENT", "busy"], ["RESPONSE", "idle"]])
    // Times never go backwards.
    const times = (snaps[0]!.steps as Array<Array<number>>).map((s) => s[0]!)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    await client.close()
    await server.ended
    t.batch.drain()
    const ended = t.take().filter((m) => m.type === "@xstate.snapshot").map((m) => (m.snapshot as { status: string }).status)
    expect(ended).toContain("done")
  })
})
