/**
 * The modern client chart (`machines/modernClient.ts`): requests in its invoked `requests`
 * child (no step of the client chart per request), the drain on close (virtual time), and the
 * chart as it runs inside `ModernClient` (one inspect observer sees the client and its requests).
 */
import { describe, expect, it } from "vitest"
import { type AnyActorRef, createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { modernClientMachine as machine } from "../machines/modernClient.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const sent = (requestId: string) => ({ type: "REQUEST_SENT", requestId, method: "tools/list", timeoutMs: 1_000 }) as const

describe("modernClient: pure steps", () => {
  it("the requests child is invoked from the start and stays while closing; `open` carries the tag", () => {
    const [open, actions] = initialTransition(machine, {})
    expect(open.value).toBe("open")
    expect(open.hasTag("open")).toBe(true)
    expect(Object.keys(open.children)).toEqual(["requests"])
    expect(types(actions)).toContain("xstate.spawnChild")
    const [draining] = transition(machine, open, { type: "CLOSE", drainMs: 1_000 })
    expect(draining.value).toEqual({ closing: "draining" })
    expect(Object.keys(draining.children)).toEqual(["requests"])
    // REQUESTS_IDLE means nothing while open (the runtime sends it only while closing).
    const [still] = transition(machine, open, { type: "REQUESTS_IDLE" })
    expect(still.value).toBe("open")
  })

  it("CLOSE with drainMs 0 releases the wire at once; WIRE_CLOSED ends it", () => {
    const [open] = initialTransition(machine, {})
    const [now, nowActions] = transition(machine, open, { type: "CLOSE", drainMs: 0 })
    expect(now.value).toEqual({ closing: "releasing" })
    expect(now.hasTag("open")).toBe(false)
    expect(types(nowActions)).toContain("releaseWire")
    const [closed] = transition(machine, now, { type: "WIRE_CLOSED", expected: true, reason: "closed" })
    expect(closed.status).toBe("done")
    expect(closed.output).toEqual({ expected: true, reason: "client closed" })
  })

  it("CLOSE drains until the requests child reports idle", () => {
    const [open] = initialTransition(machine, {})
    const [draining, actions] = transition(machine, open, { type: "CLOSE", drainMs: 5_000 })
    expect(draining.value).toEqual({ closing: "draining" })
    expect(types(actions)).not.toContain("releaseWire")
    const [releasing, after] = transition(machine, draining, { type: "REQUESTS_IDLE" })
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
  it("releases the wire when drainMs elapses with a request still in flight in the requests child", () => {
    const clock = new SimulatedClock()
    let released = 0
    const actor = createActor(machine.provide({ actions: { releaseWire: () => void released++ } }), { clock, input: {} }).start()
    const requests = actor.getSnapshot().children.requests as AnyActorRef
    requests.send(sent("m1"))
    expect(requests.getSnapshot().value).toBe("busy")
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
  it("one inspect observer sees the client and its requests child; every call runs there, no actor per request", async () => {
    const server = new McpServer({ name: "tree", version: "1.0.0" }).tool({ name: "noop" }, () => ({ content: [] }))
    const [serverSide, clientSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide)
    const actors: Array<AnyActorRef> = []
    const toRequests: Array<string> = []
    const client = ModernClient.create(clientSide, {
      inspect: (e) => {
        if (e.type === "@xstate.actor") actors.push(e.actorRef as AnyActorRef)
        if (e.type === "@xstate.event" && (e.actorRef as AnyActorRef).id === "requests") toRequests.push(e.event.type)
      }
    })
    await client.listTools()
    await client.callTool("noop")
    const root = client.chart
    expect(actors[0]).toBe(root)
    expect(actors.slice(1).map((a) => a.id)).toEqual(["requests"])
    expect(actors[1]!._parent).toBe(root)
    // Both calls ran in the requests child: sent, answered.
    expect(toRequests.filter((t) => t !== "xstate.init")).toEqual(["REQUEST_SENT", "RESPONSE", "REQUEST_SENT", "RESPONSE"])
    expect(Object.keys(root.getSnapshot().children)).toEqual(["requests"])
    expect((root.getSnapshot().children.requests as AnyActorRef).getSnapshot().context.inFlight).toBe(0) // settled
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
