/**
 * The deterministic simulation in CI: a fixed set of seeds runs N clients and
 * a server over the simulated network on TestClock (test/sim/), checking the
 * invariants after every step; the same seed replays bit-for-bit; and each
 * invariant is shown to fail when the harness breaks the guarantee it guards.
 *
 * A failing seed prints the command that replays it (`npm run sim -- --seed N`).
 */
import { describe, expect, it } from "vitest"
import { realClock } from "../src/runtime/XStateClock.ts"
import { guardRealTime, type RealTimeApi } from "./sim/RealTimeGuard.ts"
import { reproCommand, runSimulation, type Sabotage, type SimReport } from "./sim/Simulation.ts"

/** Seeds run in CI: every profile (calm, stream, lossy, hostile) is drawn among them. */
const CI_SEEDS = Array.from({ length: 24 }, (_, i) => i + 1)

const failureMessage = (r: SimReport): string =>
  r.violations.map((v) => `${v.invariant} at ${v.at} ms: ${v.detail}`).join("\n") +
  `\nreplay: ${reproCommand({ seed: r.seed })}`

describe("deterministic simulation", () => {
  /** Each seed's report, run once: the coverage test below reads them whatever order the tests run in. */
  const runs = new Map<number, Promise<SimReport>>()
  const reportOf = (seed: number): Promise<SimReport> => {
    if (!runs.has(seed)) runs.set(seed, runSimulation({ seed, keepTrace: false }))
    return runs.get(seed)!
  }

  it.each(CI_SEEDS)("seed %i: every invariant holds after every step and at the end", async (seed) => {
    const report = await reportOf(seed)
    expect(report.violations, failureMessage(report)).toEqual([])
    expect(report.calls).toBeGreaterThan(20)
    expect(report.steps).toBeGreaterThan(100)
    // The actor check sees the runtime's actors: at least a session chart per connection that got through.
    expect(report.actors).toBeGreaterThan(report.connections / 2)
  }, 60_000)

  it("the fixed seeds exercise every profile, every fault, progress and every kind of outcome", async () => {
    const reports: Array<SimReport> = []
    for (const seed of CI_SEEDS) reports.push(await reportOf(seed)) // one run at a time (a run observes every actor)
    expect(reports).toHaveLength(CI_SEEDS.length)
    const profiles = new Set(reports.map((r) => r.profile))
    expect([...profiles].sort()).toEqual(["calm", "hostile", "lossy", "stream"])
    const faults = new Set(reports.flatMap((r) => Object.keys(r.faults)))
    for (const fault of ["crash-client-end", "crash-server-end", "stall", "server-crash", "close-server-session", "hibernate", "list-changed", "resource-updated"]) {
      expect(faults, fault).toContain(fault)
    }
    const outcomes = new Set(reports.flatMap((r) => Object.keys(r.outcomes)))
    for (const outcome of ["ok", "RpcError", "RequestTimeout", "RequestCancelled", "ConnectionLost", "Interrupted"]) expect(outcomes, outcome).toContain(outcome)
    expect(reports.reduce((sum, r) => sum + r.progress, 0)).toBeGreaterThan(0)
    expect(outcomes).not.toContain("unsettled")
    expect(outcomes).not.toContain("untyped")
  }, 60_000) // the seeds not run yet when the tests are shuffled

  it("the same seed replays bit-for-bit: same trace, same hash", async () => {
    const a = await runSimulation({ seed: 11 })
    const b = await runSimulation({ seed: 11 })
    expect(a.trace.length).toBeGreaterThan(1_000)
    expect(b.trace).toEqual(a.trace)
    expect(b.hash).toBe(a.hash)
    expect(b.draws).toBe(a.draws)
  }, 60_000)

  it("different seeds give different traces", async () => {
    // One run at a time: a run observes every actor the process creates.
    const hashes: Array<string> = []
    for (const seed of [12, 13, 14]) hashes.push((await runSimulation({ seed, keepTrace: false })).hash)
    expect(new Set(hashes).size).toBe(3)
  }, 60_000)

  it("the runtime's code reads the wall clock only for informational timestamps", async () => {
    const report = await runSimulation({ seed: 2, keepTrace: false })
    expect(report.violations).toEqual([])
    expect(Object.keys(report.wallClockReads).map((site) => site.replace(/:\d+$/, "")).sort()).toEqual([
      "src/client/ClientSession.ts", // startedAt (SessionInfo)
      "src/server/ServerSession.ts" // startedAt (SessionInfo)
    ])
  }, 60_000)

  it("the real-time guard reports a real timer started by the runtime's code, not by the harness or libraries", () => {
    const uses: Array<[RealTimeApi, string]> = []
    const unguard = guardRealTime((api, site) => void uses.push([api, site]))
    try {
      realClock.clearTimeout(realClock.setTimeout(() => {}, 1_000)) // src/protocol/clock.ts (systemClock)
      clearTimeout(setTimeout(() => {}, 1_000)) // this test file: the harness
    } finally {
      unguard()
    }
    expect(uses).toHaveLength(1)
    expect(uses[0]![0]).toBe("setTimeout")
    expect(uses[0]![1]).toMatch(/^src\/protocol\/clock\.ts:\d+$/)
  })

  it("a failing seed is reported with its one-line replay command", () => {
    expect(reproCommand({ seed: 42 })).toBe("npm run sim -- --seed 42")
    expect(reproCommand({ seed: 7, clients: 8, profile: "hostile" })).toBe("npm run sim -- --seed 7 --clients 8 --profile hostile")
  })

  // Each invariant can fail: break the guarantee it guards and the run reports it.
  const sabotaged: ReadonlyArray<readonly [Sabotage, ReadonlyArray<string>]> = [
    ["misroute", ["wrong-session", "wrong-response"]],
    ["double-send", ["exactly-once"]],
    ["drop-clear", ["timers"]],
    ["stuck-handler", ["back-to-zero"]],
    ["stray-actor", ["back-to-zero"]]
  ]
  it.each(sabotaged)("sabotage %s is caught (%j)", async (sabotage, invariants) => {
    const report = await runSimulation({ seed: 3, sabotage, keepTrace: false })
    expect(report.violations.length).toBeGreaterThan(0)
    expect(invariants).toContain(report.violations[0]!.invariant)
    if (sabotage === "stray-actor") expect(report.violations[0]!.detail).toBe("running actors = 1 at the end")
    if (sabotage === "stuck-handler") expect(report.violations[0]!.detail).toMatch(/^handlers running = \d+ at the end$/)
  }, 60_000)
})
