import { describe, expect, it } from "vitest"
import { type ActorRefFrom, type AnyActorRef, createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths } from "xstate/graph"
import { keepaliveMachine, type KeepaliveMachine } from "../machines/keepalive.ts"
import {
  type LegacyClientSessionEvent,
  type LegacyClientSessionInput,
  legacyClientSessionMachine as machine
} from "../machines/legacyClientSession.ts"
import type { OutboundRequestsLogic } from "../machines/outboundRequests.ts"
import { activeStateIds, advance, afterEvent, allStateIds } from "./support/eventOnlyTwin.ts"

const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const INIT_TIMEOUT = afterEvent("initializeTimeout", "legacyClientSession.initializing")
const CLOSE_TIMEOUT = afterEvent("closeTimeout", "legacyClientSession.closing")
const requestSent = (requestId: number) =>
  ({ type: "REQUEST_SENT", requestId, method: "tools/call", timeoutMs: 1_000 }) as const
/** The session's `requests` child (the table of in-flight request charts). */
const requestsOf = (actor: AnyActorRef) => actor.getSnapshot().children.requests as ActorRefFrom<OutboundRequestsLogic>
const KEEPALIVE_DONE = {
  type: "xstate.done.actor.keepalive",
  output: { _tag: "PeerUnresponsive", reason: "peer unresponsive", misses: 3 },
  actorId: "keepalive"
} as const

const serverInfo = { name: "everything", version: "1.0.0" }
const capabilities = { tools: { listChanged: true } }
const initializeResult = (protocolVersion: unknown): LegacyClientSessionEvent => ({
  type: "INITIALIZE_RESULT",
  protocolVersion,
  capabilities,
  serverInfo,
  instructions: "be nice"
})
const input: LegacyClientSessionInput = {
  initializeTimeoutMs: 5_000,
  closeTimeoutMs: 2_000,
  pingIntervalMs: 1_000,
  pingTimeoutMs: 200,
  maxMisses: 3
}

const run = (i: LegacyClientSessionInput, ...events: ReadonlyArray<{ readonly type: string }>) => {
  let [snapshot, actions] = initialTransition(machine, i)
  for (const event of events) [snapshot, actions] = transition(machine, snapshot, event as never)
  return { snapshot, actions: types(actions) }
}
const ready = { type: "TRANSPORT_READY" } as const

describe("legacyClientSession: pure steps", () => {
  it("connects, then sends initialize with a deadline from input", () => {
    const s0 = run(input)
    expect(s0.snapshot.value).toBe("connecting")
    expect(s0.actions).toEqual(["xstate.spawnChild"]) // the `requests` child, for the session's whole life
    expect(Object.keys(s0.snapshot.children)).toEqual(["requests"])
    const [s1, actions] = transition(machine, s0.snapshot, ready)
    expect(s1.value).toBe("initializing")
    expect(types(actions)).toContain("sendInitialize")
    expect(actions.find((a) => a.type === "xstate.raise")?.params).toMatchObject({ id: INIT_TIMEOUT.type, delay: 5_000 })
    expect(s1.context.requestedVersion).toBe("2025-11-25")
    expect(s1.hasTag("ready")).toBe(false) // lifecycle.mdx:L157-L159
  })

  it("a supported version → sendInitialized → operating (keepalive child invoked), context filled", () => {
    const { snapshot, actions } = run(input, ready, initializeResult("2025-06-18"))
    expect(snapshot.value).toBe("operating")
    expect(actions).toContain("sendInitialized")
    expect(actions).toContain("xstate.spawnChild") // the keepalive, as a child actor
    expect(Object.keys(snapshot.children).sort()).toEqual(["keepalive", "requests"])
    expect(actions).not.toContain("disconnect")
    expect(snapshot.hasTag("ready")).toBe(true)
    expect(snapshot.context).toMatchObject({
      protocolVersion: "2025-06-18",
      serverCapabilities: capabilities,
      serverInfo,
      instructions: "be nice",
      failure: undefined
    })
  })

  it("an unsupported version → failed (UnsupportedProtocolVersion) and disconnect, no initialized", () => {
    const { snapshot, actions } = run(input, ready, initializeResult("2099-01-01"))
    expect(snapshot.value).toBe("failed")
    expect(actions).toContain("disconnect")
    expect(actions).not.toContain("sendInitialized")
    expect(snapshot.context.failure).toMatchObject({
      _tag: "UnsupportedProtocolVersion",
      requested: "2025-11-25",
      received: "2099-01-01"
    })
    expect(snapshot.output).toMatchObject({ expected: false, failure: { _tag: "UnsupportedProtocolVersion" } })
  })

  it("the supported list can be narrowed via input", () => {
    const narrowed = { ...input, supportedVersions: ["2025-11-25"] as const }
    expect(run(narrowed, ready, initializeResult("2025-06-18")).snapshot.value).toBe("failed")
    expect(run(narrowed, ready, initializeResult("2025-11-25")).snapshot.matches("operating")).toBe(true)
    // A modern version is not a legacy one: isLegacyVersion rejects it.
    expect(run(input, ready, initializeResult("2026-07-28")).snapshot.value).toBe("failed")
  })

  it("INITIALIZE_ERROR → failed with the error", () => {
    const error = { code: -32602, message: "Unsupported protocol version" }
    const { snapshot, actions } = run(input, ready, { type: "INITIALIZE_ERROR", error } as never)
    expect(snapshot.value).toBe("failed")
    expect(snapshot.context.failure).toMatchObject({ _tag: "InitializeError", error })
    expect(actions).toContain("disconnect")
  })

  it("INITIALIZE_LOST (the transport failed initialize and stays up) → failed at once, not at the deadline", () => {
    const { snapshot, actions } = run(input, ready, { type: "INITIALIZE_LOST", reason: "initialize: connection lost before the answer" } as never)
    expect(snapshot.value).toBe("failed")
    expect(snapshot.context.failure).toEqual({ _tag: "TransportLost", reason: "initialize: connection lost before the answer" })
    expect(actions).toContain("disconnect")
  })

  it("initialize deadline → failed (InitializeTimeout)", () => {
    const { snapshot, actions } = run(input, ready, INIT_TIMEOUT)
    expect(snapshot.value).toBe("failed")
    expect(snapshot.context.failure).toEqual({
      _tag: "InitializeTimeout",
      reason: "no initialize response within 5000 ms",
      timeoutMs: 5_000
    })
    expect(actions).toContain("disconnect")
  })

  it("answers the server's ping in every live state without changing state", () => {
    const prefixes: ReadonlyArray<ReadonlyArray<{ readonly type: string }>> = [
      [],
      [ready],
      [ready, initializeResult("2025-11-25")],
      [ready, initializeResult("2025-11-25"), { type: "PEER_ACTIVITY" }],
      [ready, initializeResult("2025-11-25"), { type: "CLOSE" }]
    ]
    for (const prefix of prefixes) {
      const before = run(input, ...prefix).snapshot
      const [after, actions] = transition(machine, before, { type: "PING_RECEIVED", id: 42 })
      expect(after.value).toEqual(before.value)
      expect(types(actions)).toEqual(["replyPong"])
    }
  })

  it("TRANSPORT_CLOSED from any live state: expected → closed, unexpected → dead", () => {
    for (const prefix of [[], [ready], [ready, initializeResult("2025-11-25")]]) {
      const ok = run(input, ...prefix, { type: "TRANSPORT_CLOSED", expected: true, reason: "EOF" } as never).snapshot
      expect(ok.value).toBe("closed")
      expect(ok.output).toEqual({ expected: true, reason: "EOF", failure: undefined })
      const lost = run(input, ...prefix, { type: "TRANSPORT_CLOSED", expected: false, reason: "SIGKILL" } as never).snapshot
      expect(lost.value).toBe("dead")
      expect(lost.output).toEqual({ expected: false, reason: "SIGKILL", failure: { _tag: "TransportLost", reason: "SIGKILL" } })
    }
  })

  it("CLOSE → closing (drainAndClose) → CLOSED → closed; a second CLOSE is a no-op", () => {
    const closing = run(input, ready, initializeResult("2025-11-25"), { type: "CLOSE", reason: "bye" } as never)
    expect(closing.snapshot.value).toBe("closing")
    expect(closing.actions).toContain("drainAndClose")
    const [again, againActions] = transition(machine, closing.snapshot, { type: "CLOSE" })
    expect(again.value).toBe("closing")
    expect(types(againActions)).toEqual([]) // no second drain, deadline not restarted
    const [closed] = transition(machine, closing.snapshot, { type: "CLOSED" })
    expect(closed.value).toBe("closed")
    expect(closed.output).toEqual({ expected: true, reason: "bye", failure: undefined })
    const [forced, forcedActions] = transition(machine, closing.snapshot, CLOSE_TIMEOUT as never)
    expect(forced.value).toBe("closed")
    expect(types(forcedActions)).toContain("forceClose")
  })

  it("requests run in the session's `requests` child: busy while any is in flight, idle once done, no session step", () => {
    const clock = new SimulatedClock()
    const actor = createActor(machine, { clock, input }).start()
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    const operating = actor.getSnapshot()
    expect(Object.keys(operating.children).sort()).toEqual(["keepalive", "requests"])
    const requests = requestsOf(actor)
    requests.send(requestSent(1))
    expect(requests.getSnapshot().value).toBe("busy")
    expect(requests.getSnapshot().context.inFlight).toBe(1)
    requests.send(requestSent(2))
    expect(requests.getSnapshot().context.inFlight).toBe(2)
    requests.send({ type: "RESPONSE", requestId: 1, result: {} })
    expect(requests.getSnapshot().value).toBe("busy")
    expect((requests.getSnapshot().context.requests as ReadonlyArray<{ requestId: unknown }>).map((r) => r.requestId)).toEqual([2])
    requests.send({ type: "RESPONSE", requestId: 2, result: {} })
    expect(requests.getSnapshot().value).toBe("idle")
    expect(requests.getSnapshot().context.inFlight).toBe(0)
    // The session chart took no step for any of it: no child per request, nothing to copy.
    expect(actor.getSnapshot()).toBe(operating)
    expect(Object.keys(actor.getSnapshot().children).sort()).toEqual(["keepalive", "requests"])
    actor.stop()
  })

  it("the keepalive child's end (peer unresponsive) → dead, disconnect, misses from its output", () => {
    const { snapshot, actions } = run(input, ready, initializeResult("2025-11-25"), KEEPALIVE_DONE)
    expect(snapshot.value).toBe("dead")
    expect(actions).toContain("disconnect")
    expect(snapshot.context.failure).toEqual({ _tag: "PeerUnresponsive", reason: "peer unresponsive", misses: 3 })
  })
})

describe("legacyClientSession: timers on a simulated clock", () => {
  const start = (i: LegacyClientSessionInput = input, m = machine) => {
    const clock = new SimulatedClock()
    const calls: Array<string> = []
    const record = (name: string) => () => void calls.push(name)
    const actor = createActor(
      m.provide({
        actions: {
          sendInitialize: record("sendInitialize"),
          sendInitialized: record("sendInitialized"),
          disconnect: record("disconnect"),
          drainAndClose: record("drainAndClose"),
          forceClose: record("forceClose"),
          replyPong: record("replyPong")
        },
        actors: { keepalive: keepaliveMachine.provide({ actions: { sendPing: record("sendPing") } }) }
      }),
      { clock, input: i }
    ).start()
    const keepalive = () => {
      const child = actor.getSnapshot().children.keepalive
      if (child === undefined) throw new Error("no keepalive child")
      return (child as ActorRefFrom<KeepaliveMachine>).getSnapshot()
    }
    return { actor, calls, keepalive, advance: (ms: number) => advance(clock, ms) }
  }

  it("keepalive: false → the keepalive child sits in disabled and never pings", () => {
    const { actor, calls, keepalive, advance } = start({ ...input, keepalive: false })
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    expect(keepalive().value).toBe("disabled")
    advance(60_000)
    expect(calls).not.toContain("sendPing")
  })

  it("the session and its children form one tree that one inspect observer sees", () => {
    const clock = new SimulatedClock()
    const seen = new Set<string>()
    const sentToRequests: Array<string> = []
    const actor = createActor(machine, {
      clock,
      input,
      inspect: (e) => {
        if (e.type === "@xstate.actor") seen.add((e.actorRef as AnyActorRef).id)
        if (e.type === "@xstate.event" && (e.actorRef as AnyActorRef).id === "requests") sentToRequests.push(e.event.type)
      }
    }).start()
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    requestsOf(actor).send(requestSent(7))
    expect(seen).toEqual(new Set([actor.id, "keepalive", "requests"]))
    expect(sentToRequests).toEqual(["xstate.init", "REQUEST_SENT"])
    actor.stop()
  })

  it("initialize deadline fires at exactly initializeTimeoutMs", () => {
    const { actor, calls, advance } = start()
    actor.send(ready)
    advance(4_999)
    expect(actor.getSnapshot().value).toBe("initializing")
    advance(1)
    expect(actor.getSnapshot().value).toBe("failed")
    expect(actor.getSnapshot().context.failure?._tag).toBe("InitializeTimeout")
    expect(calls).toEqual(["sendInitialize", "disconnect"])
  })

  it("an answer before the deadline cancels it", () => {
    const { actor, advance } = start({ ...input, keepalive: false })
    actor.send(ready)
    advance(4_000)
    actor.send(initializeResult("2025-11-25"))
    advance(10_000)
    expect(actor.getSnapshot().context.failure).toBeUndefined()
    expect(actor.getSnapshot().matches("operating")).toBe(true)
  })

  it("two missed pings keep the session; the third kills it with 'peer unresponsive'", () => {
    const { actor, calls, keepalive, advance } = start()
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    advance(2 * (1_000 + 200))
    expect(actor.getSnapshot().matches("operating")).toBe(true)
    expect(keepalive().context.misses).toBe(2)
    advance(1_000 + 200)
    expect(actor.getSnapshot().value).toBe("dead")
    expect(actor.getSnapshot().context.failure).toEqual({ _tag: "PeerUnresponsive", reason: "peer unresponsive", misses: 3 })
    expect(actor.getSnapshot().output).toMatchObject({ expected: false, reason: "peer unresponsive" })
    expect(calls.filter((c) => c === "sendPing")).toHaveLength(3)
    expect(calls.at(-1)).toBe("disconnect")
  })

  it("a pong in between keeps it alive", () => {
    const { actor, advance } = start()
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    advance(2 * (1_000 + 200) + 1_000)
    actor.send({ type: "PONG" })
    advance(2 * (1_000 + 200))
    expect(actor.getSnapshot().matches("operating")).toBe(true)
  })

  it("ping -32601 latches: no pings for the rest of the session", () => {
    const { actor, calls, keepalive, advance } = start()
    actor.send(ready)
    actor.send(initializeResult("2025-11-25"))
    advance(1_000)
    actor.send({ type: "PING_UNSUPPORTED" })
    advance(50_000)
    expect(calls.filter((c) => c === "sendPing")).toHaveLength(1)
    expect(keepalive().value).toBe("unsupported")
  })

  it("closeTimeout forces the close", () => {
    const { actor, calls, advance } = start()
    actor.send(ready)
    actor.send({ type: "CLOSE" })
    advance(1_999)
    expect(actor.getSnapshot().value).toBe("closing")
    advance(1)
    expect(actor.getSnapshot().value).toBe("closed")
    expect(calls).toEqual(["sendInitialize", "drainAndClose", "forceClose"])
  })

  it("delays are overridable per instance with provide({ delays })", () => {
    const { actor, advance } = start(input, machine.provide({ delays: { initializeTimeout: 10 } }))
    actor.send(ready)
    advance(10)
    expect(actor.getSnapshot().value).toBe("failed")
  })
})

describe("legacyClientSession: generated paths", () => {
  const events = [
    ready,
    initializeResult("2025-11-25"),
    initializeResult("1999-01-01"),
    { type: "INITIALIZE_ERROR", error: { code: -32603, message: "boom" } },
    KEEPALIVE_DONE,
    { type: "PING_RECEIVED", id: 1 },
    { type: "PONG" },
    { type: "PING_FAILED" },
    { type: "PING_UNSUPPORTED" },
    { type: "PEER_ACTIVITY" },
    { type: "TRANSPORT_CLOSED", expected: true, reason: "EOF" },
    { type: "TRANSPORT_CLOSED", expected: false, reason: "crash" },
    { type: "CLOSE" },
    { type: "CLOSED" },
    INIT_TIMEOUT,
    CLOSE_TIMEOUT
  ] as never[]
  // (Requests do not go through this chart: they are events of its `requests` child.)
  const eventsFor = () => events

  it("every state is reachable", () => {
    const reached = new Set<string>()
    for (const i of [input, { ...input, keepalive: false }]) {
      for (const path of getShortestPaths(machine, { events: eventsFor as never, input: i })) {
        for (const id of activeStateIds(machine, path.state.value)) reached.add(id)
      }
    }
    expect([...reached].sort()).toEqual([...allStateIds(machine)].sort())
  })

  it("dead is reached only by an unexpected transport close or the keepalive child's end", () => {
    const into = adjacencyMapToArray(getAdjacencyMap(machine, { events: eventsFor as never, input }))
      .filter(({ state, nextState }) => nextState.value === "dead" && state.value !== "dead")
    expect(into.length).toBeGreaterThan(0)
    for (const { state, event } of into) {
      const e = event as LegacyClientSessionEvent
      const byTransport = e.type === "TRANSPORT_CLOSED" && !e.expected
      const byKeepalive = e.type === KEEPALIVE_DONE.type && state.matches("operating")
      expect(byTransport || byKeepalive, `${JSON.stringify(state.value)} --${e.type}--> dead`).toBe(true)
    }
    const kinds = new Set(into.map(({ event }) => (event as LegacyClientSessionEvent).type))
    expect(kinds).toEqual(new Set(["TRANSPORT_CLOSED", KEEPALIVE_DONE.type]))
  })

  it("failed is reached only from initializing (timeout, error, unsupported version)", () => {
    const into = adjacencyMapToArray(getAdjacencyMap(machine, { events: eventsFor as never, input }))
      .filter(({ state, nextState }) => nextState.value === "failed" && state.value !== "failed")
    expect(new Set(into.map(({ state }) => state.value))).toEqual(new Set(["initializing"]))
    expect(new Set(into.map(({ event }) => (event as { type: string }).type)))
      .toEqual(new Set([INIT_TIMEOUT.type, "INITIALIZE_ERROR", "INITIALIZE_RESULT"]))
    for (const { event } of into) {
      if ((event as LegacyClientSessionEvent).type === "INITIALIZE_RESULT") {
        expect((event as { protocolVersion: unknown }).protocolVersion).toBe("1999-01-01")
      }
    }
  })
})
