/**
 * The modern client chart (`machines/modernClient.ts`): requests as spawned children,
 * busy/idle from their count, the drain on close (virtual time), and the chart as it
 * runs inside `ModernClient` (one inspect observer sees the client and its requests).
 */
import { describe, expect, it } from "vitest"
import { type AnyActorRef, createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { modernClientMachine as machine } from "../machines/modernClient.ts"
import { requestChildId } from "../machines/outboundRequest.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const sent = (requestId: string) => ({ type: "REQUEST_SENT", requestId, method: "tools/list", timeoutMs: 1_000 }) as const
const done = (requestId: string) =>
  ({ type: `xstate.done.actor.${requestChildId(requestId)}`, output: { _tag: "Settled", requestId, result: {} }, actorId: requestChildId(requestId) }) as never

describe("modernClient: pure steps", () => {
  it("each request is a spawned child; busy while any is in flight; its done event stops it", () => {
    const [open] = initialTransition(machine, {})
    expect(open.value).toEqual({ open: "idle" })
    expect(open.hasTag("open")).toBe(true)
    const [busy, spawn] = transition(machine, open, sent("m1"))
    expect(types(spawn)).toContain("xstate.spawnChild")
    expect(busy.value).toEqual({ open: "busy" })
    expect(Object.keys(busy.children)).toEqual([requestChildId("m1")])
    const [idle, stop] = transition(machine, busy, done("m1"))
    expect(types(stop)).toContain("xstate.stopChild")
    expect(idle.value).toEqual({ open: "idle" })
    expect(idle.context.inFlight).toBe(0)
    expect(Object.keys(idle.children)).toEqual([])
  })

  it("CLOSE with nothing in flight (or drainMs 0) releases the wire at once; WIRE_CLOSED ends it", () => {
    const [open] = initialTransition(machine, {})
    const [releasing, actions] = transition(machine, open, { type: "CLOSE" })
    expect(releasing.value).toEqual({ closing: "releasing" })
    expect(releasing.hasTag("open")).toBe(false)
    expect(types(actions)).toContain("releaseWire")
    const [busy] = transition(machine, open, sent("m1"))
    const [now, nowActions] = transition(machine, busy, { type: "CLOSE", drainMs: 0 })
    expect(now.value).toEqual({ closing: "releasing" })
    expect(types(nowActions)).toContain("releaseWire")
    const [closed] = transition(machine, now, { type: "WIRE_CLOSED", expected: true, reason: "closed" })
    expect(closed.status).toBe("done")
    expect(closed.output).toEqual({ expected: true, reason: "client closed" })
  })

  it("CLOSE while busy drains until the last request is done", () => {
    const [open] = initialTransition(machine, {})
    const [busy] = transition(machine, open, sent("m1"))
    const [draining, actions] = transition(machine, busy, { type: "CLOSE", drainMs: 5_000 })
    expect(draining.value).toEqual({ closing: "draining" })
    expect(types(actions)).not.toContain("releaseWire")
    const [releasing, after] = transition(machine, draining, done("m1"))
    expect(releasing.value).toEqual({ closing: "releasing" })
    expect(types(after)).toContain("releaseWire")
  })

  it("the wire ending on its own → closed, with the wire's reason", () => {
    const [open] = initialTransition(machine, {})
    const [closed] = transition(machine, open, { type: "WIRE_CLOSED", expected: false, reason: "child exited" })
    expect(closed.output).toEqual({ expected: false, reason: "child exited" })
  })
})

describe("modernClient: drain deadline on a simulated clock", () => {
  it("releases the wire when drainMs elapses with a request still in flight", () => {
    const clock = new SimulatedClock()
    let released = 0
    const actor = createActor(machine.provide({ actions: { releaseWire: () => void released++ } }), { clock, input: {} }).start()
    actor.send(sent("m1"))
    actor.send({ type: "CLOSE", drainMs: 1_000 })
    clock.increment(999)
    expect(released).toBe(0)
    expect(actor.getSnapshot().value).toEqual({ closing: "draining" })
    clock.increment(1)
    expect(released).toBe(1)
    actor.stop()
  })
})

describe("ModernClient runs the chart: one tree per client", () => {
  it("one inspect observer sees the client and each request as its child; done requests are stopped", async () => {
    const server = new McpServer({ name: "tree", version: "1.0.0" }).tool({ name: "noop" }, () => ({ content: [] }))
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide)
    const actors: Array<AnyActorRef> = []
    const client = ModernClient.create(clientSide, {
      inspect: (e) => {
        if (e.type === "@xstate.actor") actors.push(e.actorRef as AnyActorRef)
      }
    })
    await client.listTools()
    await client.callTool("noop")
    const root = client.chart
    expect(actors[0]).toBe(root)
    const children = actors.slice(1)
    expect(children.map((a) => a.id)).toEqual([requestChildId(1), requestChildId(2)])
    for (const child of children) expect(child._parent).toBe(root)
    expect(Object.keys(root.getSnapshot().children)).toEqual([]) // stopped once done
    expect(root.getSnapshot().context.inFlight).toBe(0)
    await client.close()
    expect(root.getSnapshot().status).toBe("done")
  })
})

describe("ClientSession runs the legacy chart: one tree per session", () => {
  it("one inspect observer sees the session, its keepalive child and the requests child each request runs in", async () => {
    const server = new McpServer({ name: "tree", version: "1.0.0" }).tool({ name: "noop" }, () => ({ content: [] }))
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide)
    const actors: Array<AnyActorRef> = []
    const toRequests: Array<string> = []
    const session = await ClientSession.connect(clientSide, {
      inspect: (e) => {
        if (e.type === "@xstate.actor") actors.push(e.actorRef as AnyActorRef)
        if (e.type === "@xstate.event" && (e.actorRef as AnyActorRef).id === "requests") toRequests.push(e.event.type)
      }
    })
    await session.callTool("noop")
    const root = session.chart
    expect(actors[0]).toBe(root)
    const ids = actors.slice(1).map((a) => a.id)
    expect([...ids].sort()).toEqual(["keepalive", "requests"])
    // The call ran in the requests child: sent, answered, no actor of its own.
    expect(toRequests.filter((t) => t !== "xstate.init")).toEqual(["REQUEST_SENT", "RESPONSE"])
    for (const child of actors.slice(1)) expect(child._parent).toBe(root)
    expect(Object.keys(root.getSnapshot().children).sort()).toEqual(["keepalive", "requests"])
    expect((root.getSnapshot().children.requests as AnyActorRef).getSnapshot().context.inFlight).toBe(0) // settled
    await session.close()
  })
})
