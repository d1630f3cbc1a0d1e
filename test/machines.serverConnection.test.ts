import { describe, expect, it } from "vitest"
import { createActor, SimulatedClock } from "xstate"
import { nextRandom, serverConnectionMachine, type ServerConnectionInput } from "../machines/serverConnection.ts"
import { backoffDelayMs, decideRestart, initialRestartState } from "../src/protocol/restartPolicy.ts"
import { advance } from "./support/eventOnlyTwin.ts"

const restart = {
  baseDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0.2, resetAfterMs: 5_000, maxRestarts: 3, windowMs: 10_000, parkedProbeMs: 20_000
}
const baseInput: ServerConnectionInput = {
  name: "s", restart, connectTimeoutMs: 500, health: { intervalMs: 1_000, timeoutMs: 200, maxMisses: 2 }, seed: 42, now: 0
}

/** A connection actor on a SimulatedClock; the effects are recorded, not executed. */
const start = (overrides: Partial<ServerConnectionInput> = {}) => {
  const clock = new SimulatedClock()
  const effects: Array<string> = []
  const reports: Array<string> = []
  const actor = createActor(
    serverConnectionMachine.provide({
      actions: {
        openConnection: ({ context }) => void effects.push(`open#${context.generation}`),
        startHandshake: ({ context }) => void effects.push(`handshake#${context.generation}`),
        sendHealthProbe: ({ context }) => void effects.push(`probe#${context.generation}`),
        closeConnection: ({ context }) => void effects.push(`close#${context.generation}`),
        reportStatus: (_, params) => void reports.push(params.state)
      }
    }),
    { clock, input: { ...baseInput, ...overrides } }
  ).start()
  const now = () => clock.now()
  const gen = () => actor.getSnapshot().context.generation
  const state = () => {
    const v = actor.getSnapshot().value
    return typeof v === "string" ? v : Object.keys(v)[0]!
  }
  const bringUp = () => {
    actor.send({ type: "SPAWNED", generation: gen(), now: now() })
    actor.send({ type: "READY", generation: gen(), now: now(), protocolVersion: "2025-11-25" })
  }
  const fail = (reason = "boom") => actor.send({ type: "FAILED", generation: gen(), now: now(), reason })
  return { clock, actor, effects, reports, now, gen, state, bringUp, fail, advance: (ms: number) => advance(clock, ms) }
}

describe("serverConnection chart", () => {
  it("keep-alive: starts at once, starting → initializing → ready, reporting each state", () => {
    const t = start()
    expect(t.state()).toBe("starting")
    expect(t.effects).toEqual(["open#1"])
    t.bringUp()
    expect(t.state()).toBe("ready")
    expect(t.effects).toEqual(["open#1", "handshake#1"])
    expect(t.reports).toEqual(["starting", "initializing", "ready"])
    expect(t.actor.getSnapshot().context.protocolVersion).toBe("2025-11-25")
  })

  it("lazy: stays idle (nothing spawned) until the first call", () => {
    const t = start({ lifecycle: "lazy", idleTimeoutMs: 3_000 })
    expect(t.state()).toBe("idle")
    t.advance(10_000)
    expect(t.effects).toEqual([])
    t.actor.send({ type: "CALL_STARTED", now: t.now() })
    expect(t.state()).toBe("starting")
    expect(t.actor.getSnapshot().context.inFlight).toBe(1)
  })

  it("lazy: stops after idleTimeoutMs without calls, never while a call is in flight", () => {
    const t = start({ lifecycle: "lazy", idleTimeoutMs: 3_000, health: false })
    t.actor.send({ type: "CALL_STARTED", now: t.now() })
    t.bringUp()
    t.advance(5_000)
    expect(t.state()).toBe("ready") // the call is still running
    t.actor.send({ type: "CALL_ENDED", ok: true, now: t.now() })
    t.advance(2_999)
    expect(t.state()).toBe("ready")
    t.advance(1)
    expect(t.state()).toBe("idle")
    expect(t.effects.at(-1)).toBe("close#1")
  })

  it("a start that never answers times out after connectTimeoutMs and backs off with jitter", () => {
    const t = start()
    t.actor.send({ type: "SPAWNED", generation: 1, now: t.now() })
    t.advance(499)
    expect(t.state()).toBe("initializing")
    t.advance(1)
    expect(t.state()).toBe("restarting")
    const c = t.actor.getSnapshot().context
    expect(c.lastError).toBe("timed out after 500 ms")
    expect(t.effects).toContain("close#1")
    expect(c.delayMs).toBeGreaterThanOrEqual(80)
    expect(c.delayMs).toBeLessThanOrEqual(120)
    t.advance(c.delayMs - 1)
    expect(t.state()).toBe("restarting")
    t.advance(1)
    expect(t.state()).toBe("starting")
    expect(t.gen()).toBe(2)
    expect(t.actor.getSnapshot().context.restarts).toBe(1)
  })

  it("backoff grows exponentially, exactly as decideRestart says with the chart's PRNG", () => {
    const t = start()
    let seed = 42
    let state = initialRestartState
    const delays: Array<number> = []
    const expected: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const now = t.now()
      t.fail("exit 1")
      const [r, next] = nextRandom(seed)
      seed = next
      const d = decideRestart(restart, state, { type: "connect-failed", reason: "exit 1" }, now, r)
      if (d.next !== "restart") throw new Error("expected restart")
      state = d.state
      expected.push(d.delayMs)
      delays.push(t.actor.getSnapshot().context.delayMs)
      t.advance(d.delayMs)
    }
    expect(delays).toEqual(expected)
    // un-jittered: 100, 200, 400; each within ±20 %
    delays.forEach((d, i) => expect(Math.abs(d - backoffDelayMs(restart, i + 1))).toBeLessThanOrEqual(0.2 * backoffDelayMs(restart, i + 1)))
  })

  it("the same seed gives the same delays; another seed other delays (jitter is an input)", () => {
    const run = (seed: number) => {
      const t = start({ seed })
      const out: Array<number> = []
      for (let i = 0; i < 3; i++) {
        t.fail()
        out.push(t.actor.getSnapshot().context.delayMs)
        t.advance(t.actor.getSnapshot().context.delayMs)
      }
      return out
    }
    expect(run(7)).toEqual(run(7))
    expect(run(7)).not.toEqual(run(8))
  })

  it("a server that exits at start is parked after maxRestarts+1 failures in the window: reason, next probe, no busy loop", () => {
    const t = start()
    for (let i = 0; i < 3; i++) {
      t.fail("exited with code 1")
      expect(t.state()).toBe("restarting")
      t.advance(t.actor.getSnapshot().context.delayMs)
    }
    t.fail("exited with code 1")
    expect(t.state()).toBe("parked")
    const c = t.actor.getSnapshot().context
    expect(c.parked?.reason).toMatch(/crash loop: 4 failures within 10000 ms \(limit 3\)/)
    expect(c.parked?.nextProbeAt).toBe(t.now() + 20_000)
    const opens = t.effects.filter((e) => e.startsWith("open")).length
    t.advance(19_999)
    expect(t.effects.filter((e) => e.startsWith("open")).length).toBe(opens) // nothing tried while parked
    t.advance(1)
    expect(t.state()).toBe("starting")
    expect(t.actor.getSnapshot().context.probing).toBe(true)
    // half-open: the probe's failure parks again at once, without a backoff round
    t.fail("still broken")
    expect(t.state()).toBe("parked")
    expect(t.actor.getSnapshot().context.parked?.reason).toMatch(/probe failed: still broken|crash loop/)
    // a successful probe closes the circuit
    t.advance(20_000)
    t.bringUp()
    expect(t.state()).toBe("ready")
    expect(t.actor.getSnapshot().context.parked).toBeUndefined()
  })

  it("backoff resets after sustained uptime (resetAfterMs)", () => {
    const t = start({ health: false })
    t.fail()
    t.advance(t.actor.getSnapshot().context.delayMs)
    t.fail()
    expect(t.actor.getSnapshot().context.restartState.attempt).toBe(2)
    t.advance(t.actor.getSnapshot().context.delayMs)
    t.bringUp()
    t.advance(5_000)
    t.fail("crashed after a long run")
    expect(t.actor.getSnapshot().context.restartState.attempt).toBe(1)
    expect(t.actor.getSnapshot().context.delayMs).toBeLessThanOrEqual(120)
  })

  it("health: a missed probe degrades; an answer recovers; maxMisses in a row fail the connection", () => {
    const t = start()
    t.bringUp()
    t.advance(1_000)
    expect(t.effects.at(-1)).toBe("probe#1")
    t.advance(200)
    expect(t.state()).toBe("degraded")
    t.advance(1_000)
    expect(t.effects.at(-1)).toBe("probe#1")
    t.actor.send({ type: "HEALTH_OK", generation: 1, now: t.now() })
    expect(t.state()).toBe("ready")
    expect(t.actor.getSnapshot().context.misses).toBe(0)
    t.advance(1_200) // miss 1
    expect(t.state()).toBe("degraded")
    t.advance(1_200) // miss 2 = maxMisses
    expect(t.state()).toBe("restarting")
    expect(t.actor.getSnapshot().context.lastError).toBe("unresponsive: 2 health probes missed")
  })

  it("events of a replaced connection (an older generation) are ignored", () => {
    const t = start()
    t.fail()
    t.advance(t.actor.getSnapshot().context.delayMs)
    expect(t.gen()).toBe(2)
    t.actor.send({ type: "FAILED", generation: 1, now: t.now(), reason: "late exit of the old process" })
    t.actor.send({ type: "SPAWNED", generation: 1, now: t.now() })
    expect(t.state()).toBe("starting")
    t.bringUp()
    t.actor.send({ type: "FAILED", generation: 1, now: t.now(), reason: "late" })
    expect(t.state()).toBe("ready")
  })

  it("manual RESTART closes and starts again without backoff; STOP is final from anywhere", () => {
    const t = start({ health: false })
    t.bringUp()
    t.actor.send({ type: "RESTART", now: t.now() })
    expect(t.state()).toBe("restarting")
    expect(t.effects).toContain("close#1")
    t.advance(0)
    t.clock.increment(0)
    expect(t.state()).toBe("starting")
    expect(t.gen()).toBe(2)
    t.actor.send({ type: "STOP", now: t.now() })
    expect(t.state()).toBe("stopped")
    expect(t.actor.getSnapshot().status).toBe("done")
    expect(t.effects.at(-1)).toBe("close#2")
  })
})
