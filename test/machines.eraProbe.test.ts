import { describe, expect, it } from "vitest"
import { createActor, initialTransition, SimulatedClock, transition } from "xstate"
import { adjacencyMapToArray, getAdjacencyMap, getShortestPaths } from "xstate/graph"
import { type EraProbeEvent, type EraProbeInput, eraProbeMachine as machine } from "../machines/eraProbe.ts"
import { MODERN_ERROR_CODES } from "../src/protocol/errors.ts"
import { activeStateIds, advance, afterEvent, allStateIds } from "./support/eventOnlyTwin.ts"

const types = (actions: ReadonlyArray<{ readonly type: string }>) => actions.map((a) => a.type)
const PROBE_TIMEOUT = afterEvent("probeTimeout", "eraProbe.probing")
const input: EraProbeInput = { probeTimeoutMs: 3_000 }

const run = (i: EraProbeInput, ...events: ReadonlyArray<{ readonly type: string }>) => {
  let [snapshot, actions] = initialTransition(machine, i)
  for (const event of events) [snapshot, actions] = transition(machine, snapshot, event as never)
  return { snapshot, actions: types(actions) }
}
const probeError = (code: number | undefined, extra: Partial<Extract<EraProbeEvent, { type: "PROBE_ERROR" }>> = {}) =>
  ({ type: "PROBE_ERROR", code, ...extra }) as EraProbeEvent

describe("eraProbe: pure steps", () => {
  it("a cached verdict skips the probe", () => {
    const modern = run({ cachedEra: "modern" })
    expect(modern.snapshot.value).toBe("modern")
    expect(modern.snapshot.context).toMatchObject({ era: "modern", protocolVersion: "2026-07-28", basis: { _tag: "Cached" } })
    expect(modern.actions).not.toContain("sendDiscover")
    expect(modern.actions).not.toContain("cacheVerdict")
    const legacy = run({ cachedEra: "legacy" })
    expect(legacy.snapshot.value).toBe("legacy")
    expect(legacy.actions).not.toContain("sendDiscover")
  })

  it("the era verdict: a cached modern one is unconfirmed until VERDICT_CONFIRMED; probed ones are confirmed", () => {
    const cached = run({ cachedEra: "modern" })
    expect(cached.snapshot.context.confirmed).toBe(false)
    const [confirmed] = transition(machine, cached.snapshot, { type: "VERDICT_CONFIRMED" })
    expect(confirmed.value).toBe("modern")
    expect(confirmed.context.confirmed).toBe(true)
    // Revoked before any confirmation, then probed again: the probe's verdict is confirmed.
    const reprobed = run({ cachedEra: "modern" }, { type: "CACHED_VERDICT_FAILED" }, { type: "DISCOVER_RESULT", supportedVersions: ["2026-07-28"] } as never)
    expect(reprobed.snapshot.context).toMatchObject({ era: "modern", confirmed: true, basis: { _tag: "DiscoverResult" } })
    // While the re-probe runs, the verdict is still unconfirmed (a failed re-probe leaves it so).
    const probing = run({ cachedEra: "modern" }, { type: "CACHED_VERDICT_FAILED" })
    expect(probing.snapshot.value).toBe("probing")
    expect(probing.snapshot.context.confirmed).toBe(false)
    expect(run({ cachedEra: "legacy" }).snapshot.context.confirmed).toBe(true)
    expect(run(input, probeError(-32601)).snapshot.context.confirmed).toBe(true)
  })

  it("without a cache it probes with server/discover and a deadline from input", () => {
    const [s0, actions] = initialTransition(machine, input)
    expect(s0.value).toBe("probing")
    expect(types(actions)).toContain("sendDiscover")
    expect(actions.find((a) => a.type === "xstate.raise")?.params).toMatchObject({ id: PROBE_TIMEOUT.type, delay: 3_000 })
  })

  it("a DiscoverResult means modern, and the verdict is cached", () => {
    const { snapshot, actions } = run(input, {
      type: "DISCOVER_RESULT",
      supportedVersions: ["2026-07-28"],
      capabilities: { tools: {} },
      instructions: "hi"
    } as never)
    expect(snapshot.value).toBe("modern")
    expect(actions).toContain("cacheVerdict")
    expect(snapshot.context).toMatchObject({
      era: "modern",
      protocolVersion: "2026-07-28",
      retry: false,
      serverCapabilities: { tools: {} },
      instructions: "hi"
    })
  })

  it("a DiscoverResult naming none of our versions (or none at all: a legacy server answering any method) means legacy", () => {
    for (const supportedVersions of [[], ["2027-01-01"], [42]]) {
      const { snapshot } = run(input, { type: "DISCOVER_RESULT", supportedVersions } as never)
      expect(snapshot.value).toBe("legacy")
      expect(snapshot.context.basis).toEqual({ _tag: "NoMutualModernVersion", serverSupported: supportedVersions.filter((v) => typeof v === "string") })
    }
  })

  it("each recognised modern error (-32020, -32021, -32022) means modern, with a retry", () => {
    for (const code of [-32020, -32021, -32022]) {
      const { snapshot, actions } = run(input, probeError(code, { httpStatus: 400 }))
      expect(snapshot.value, String(code)).toBe("modern")
      expect(actions).toContain("cacheVerdict")
      expect(snapshot.context.retry).toBe(true)
      expect(snapshot.context.basis).toEqual({ _tag: "ModernError", code, httpStatus: 400 })
    }
  })

  it("-32022 picks a mutually supported version from data.supported", () => {
    const picked = run(input, probeError(-32022, { data: { supported: ["2027-01-01", "2026-07-28"], requested: "x" } }))
    expect(picked.snapshot.value).toBe("modern")
    expect(picked.snapshot.context.protocolVersion).toBe("2026-07-28")
    const none = run(input, probeError(-32022, { data: { supported: ["2027-01-01"] } }))
    expect(none.snapshot.value).toBe("legacy") // nothing to retry with: try initialize
    expect(none.snapshot.context.basis).toEqual({ _tag: "NoMutualModernVersion", serverSupported: ["2027-01-01"] })
  })

  it("any other error, whatever its code or HTTP status, means legacy", () => {
    const others = [
      probeError(-32601),
      probeError(-32602),
      probeError(-32600),
      probeError(-32603),
      probeError(-32000),
      probeError(-32001),
      probeError(undefined, { httpStatus: 404 }),
      probeError(undefined, { httpStatus: 405 }),
      probeError(-32601, { httpStatus: 404 })
    ]
    for (const event of others) {
      const { snapshot, actions } = run(input, event)
      expect(snapshot.value, JSON.stringify(event)).toBe("legacy")
      expect(actions).toContain("cacheVerdict")
      expect(snapshot.context.basis?._tag).toBe("OtherError")
    }
  })

  it("a timeout means legacy, and the verdict is cached", () => {
    const { snapshot, actions } = run(input, PROBE_TIMEOUT)
    expect(snapshot.value).toBe("legacy")
    expect(actions).toContain("cacheVerdict")
    expect(snapshot.context.basis).toEqual({ _tag: "Timeout", timeoutMs: 3_000 })
  })

  it("CACHED_VERDICT_FAILED clears the cache and probes again, from modern and from legacy", () => {
    for (const cachedEra of ["modern", "legacy"] as const) {
      const { snapshot, actions } = run({ ...input, cachedEra }, { type: "CACHED_VERDICT_FAILED" })
      expect(snapshot.value).toBe("probing")
      expect(actions).toEqual(expect.arrayContaining(["clearCache", "sendDiscover"]))
      expect(snapshot.context).toMatchObject({ cachedEra: undefined, era: undefined, protocolVersion: undefined })
    }
  })
})

describe("eraProbe: the fallback is not keyed to one error code", () => {
  /** Codes whose verdict is wrong: modern codes that fell back, or other codes taken for modern. */
  const misjudged = (m: typeof machine) => {
    const wrong: Array<number> = []
    for (let code = -32768; code <= -31990; code++) {
      const [s0] = initialTransition(m, input)
      const [s1] = transition(m, s0, probeError(code))
      const expected = MODERN_ERROR_CODES.has(code) ? "modern" : "legacy"
      if (s1.value !== expected) wrong.push(code)
    }
    return wrong
  }

  it("every JSON-RPC reserved code gets the right verdict", () => {
    expect(misjudged(machine)).toEqual([])
  })

  it("the check has teeth: a guard keyed to -32022 alone is caught", () => {
    const keyed = machine.provide({
      guards: { isRecognisedModernError: ({ event }) => event.type === "PROBE_ERROR" && event.code === -32022 }
    })
    expect(misjudged(keyed)).toEqual([-32021, -32020])
  })
})

describe("eraProbe: timers on a simulated clock", () => {
  it("the probe deadline fires at exactly probeTimeoutMs; a re-probe restarts it", () => {
    const clock = new SimulatedClock()
    const calls: Array<string> = []
    const actor = createActor(
      machine.provide({
        actions: {
          sendDiscover: () => void calls.push("sendDiscover"),
          cacheVerdict: () => void calls.push("cacheVerdict"),
          clearCache: () => void calls.push("clearCache")
        }
      }),
      { clock, input }
    ).start()
    advance(clock, 2_999)
    expect(actor.getSnapshot().value).toBe("probing")
    advance(clock, 1)
    expect(actor.getSnapshot().value).toBe("legacy")
    actor.send({ type: "CACHED_VERDICT_FAILED" })
    advance(clock, 1_000)
    actor.send({ type: "DISCOVER_RESULT", supportedVersions: ["2026-07-28"] })
    advance(clock, 10_000)
    expect(actor.getSnapshot().value).toBe("modern")
    expect(calls).toEqual(["sendDiscover", "cacheVerdict", "clearCache", "sendDiscover", "cacheVerdict"])
  })
})

describe("eraProbe: generated paths", () => {
  const events = [
    { type: "DISCOVER_RESULT", supportedVersions: ["2026-07-28"] },
    { type: "DISCOVER_RESULT", supportedVersions: [] },
    probeError(-32022, { data: { supported: ["2026-07-28"] } }),
    probeError(-32022, { data: { supported: ["2027-01-01"] } }),
    probeError(-32601),
    probeError(undefined, { httpStatus: 404 }),
    { type: "CACHED_VERDICT_FAILED" },
    PROBE_TIMEOUT
  ] as never[]

  it("every state is reachable (checkingCache is transient)", () => {
    const reached = new Set<string>()
    for (const i of [input, { ...input, cachedEra: "modern" as const }, { ...input, cachedEra: "legacy" as const }]) {
      for (const path of getShortestPaths(machine, { events, input: i })) {
        for (const id of activeStateIds(machine, path.state.value)) reached.add(id)
      }
    }
    expect([...reached].sort()).toEqual(allStateIds(machine).filter((id) => id !== "eraProbe.checkingCache").sort())
  })

  it("from probing, modern needs a DiscoverResult or a recognised modern error; legacy anything else", () => {
    const edges = adjacencyMapToArray(getAdjacencyMap(machine, { events, input }))
      .filter(({ state, nextState }) => state.value === "probing" && nextState.value !== "probing")
    expect(edges.length).toBe(7)
    for (const { event, nextState } of edges) {
      const e = event as EraProbeEvent
      const supported = e.type === "PROBE_ERROR" ? (e.data as { supported?: ReadonlyArray<string> } | undefined)?.supported : undefined
      const mutual = supported === undefined || supported.includes("2026-07-28")
      const modern = (e.type === "DISCOVER_RESULT" && e.supportedVersions.includes("2026-07-28")) ||
        (e.type === "PROBE_ERROR" && e.code !== undefined && MODERN_ERROR_CODES.has(e.code) && mutual)
      expect(nextState.value, JSON.stringify(e)).toBe(modern ? "modern" : "legacy")
    }
  })
})
