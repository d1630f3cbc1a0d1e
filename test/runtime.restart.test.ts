import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Scope, Exit } from "effect"
import { TestClock } from "effect/testing"
import {
  backoffDelayMs,
  decideRestart,
  defaultRestartPolicy,
  initialRestartState,
  makeRestartPolicy,
  type RestartDecision,
  type RestartEvent,
  type RestartState
} from "../src/runtime/RestartPolicy.ts"
import type { SessionHandle } from "../src/runtime/SessionHandle.ts"
import { supervise, type SupervisionStatus } from "../src/runtime/supervise.ts"
import { type FakeSession, makeFakeSession } from "./support/fakeSession.ts"

/** mulberry32: a small seeded PRNG, so jitter tests are reproducible. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const connectFailed: RestartEvent = { type: "connect-failed", reason: "ECONNREFUSED" }
const died = (uptimeMs: number): RestartEvent => ({ type: "ended", reason: "peer lost", uptimeMs })

const restartOf = (d: RestartDecision) => {
  if (d.next !== "restart") throw new Error(`expected restart, got parked: ${d.reason}`)
  return d
}

/** Run failures spaced `gapMs` apart with random = 0.5 (no jitter effect); return the decisions. */
const runFailures = (policy = defaultRestartPolicy, events: ReadonlyArray<RestartEvent>, gapMs: number, start = 1_000_000) => {
  let state: RestartState = initialRestartState
  let now = start
  const out: Array<RestartDecision> = []
  for (const event of events) {
    const decision = decideRestart(policy, state, event, now, 0.5)
    out.push(decision)
    state = decision.state
    now += gapMs
  }
  return out
}

describe("decideRestart", () => {
  it("grows exponentially from baseDelayMs by factor", () => {
    const policy = makeRestartPolicy({ maxRestarts: 100 })
    const decisions = runFailures(policy, Array(6).fill(connectFailed), 1_000).map(restartOf)
    assert.deepStrictEqual(decisions.map((d) => d.attempt), [1, 2, 3, 4, 5, 6])
    assert.deepStrictEqual(decisions.map((d) => d.delayMs), [250, 500, 1_000, 2_000, 4_000, 8_000])
  })

  it("caps the delay at maxDelayMs", () => {
    const policy = makeRestartPolicy({ maxRestarts: 100, windowMs: 1 })
    const delays = runFailures(policy, Array(12).fill(connectFailed), 100_000).map((d) => restartOf(d).delayMs)
    assert.deepStrictEqual(delays.slice(6), [16_000, 30_000, 30_000, 30_000, 30_000, 30_000])
    assert.strictEqual(backoffDelayMs(policy, 50), 30_000)
  })

  it("keeps jitter within ±jitter of the capped delay (seeded random)", () => {
    const random = seeded(42)
    const policy = makeRestartPolicy({ jitter: 0.2 })
    const seen = new Set<number>()
    for (let attempt = 0; attempt < 10; attempt++) {
      const state: RestartState = { attempt, failures: [] }
      const expected = backoffDelayMs(policy, attempt + 1)
      for (let i = 0; i < 200; i++) {
        const d = restartOf(decideRestart(policy, state, connectFailed, 0, random()))
        assert.isAtLeast(d.delayMs, Math.floor(expected * 0.8))
        assert.isAtMost(d.delayMs, Math.ceil(expected * 1.2))
        if (attempt === 0) seen.add(d.delayMs)
      }
    }
    // Jitter actually spreads the delays, down to the edges of the range.
    assert.isAbove(seen.size, 50)
    assert.strictEqual(restartOf(decideRestart(policy, initialRestartState, connectFailed, 0, 0)).delayMs, 200)
    assert.strictEqual(restartOf(decideRestart(policy, initialRestartState, connectFailed, 0, 1)).delayMs, 300)
  })

  it("resets the attempt counter after sustained uptime, not before", () => {
    const policy = makeRestartPolicy({ maxRestarts: 100 })
    let state: RestartState = initialRestartState
    for (let i = 0; i < 4; i++) state = decideRestart(policy, state, connectFailed, i * 100_000, 0.5).state
    assert.strictEqual(state.attempt, 4)
    const shortRun = restartOf(decideRestart(policy, state, died(59_999), 500_000, 0.5))
    assert.strictEqual(shortRun.attempt, 5)
    assert.strictEqual(shortRun.delayMs, 4_000)
    const longRun = restartOf(decideRestart(policy, state, died(60_000), 500_000, 0.5))
    assert.strictEqual(longRun.attempt, 1)
    assert.strictEqual(longRun.delayMs, 250)
  })

  it("parks on more than maxRestarts failures within windowMs", () => {
    const decisions = runFailures(defaultRestartPolicy, Array(6).fill(died(10)), 1_000)
    assert.deepStrictEqual(decisions.map((d) => d.next), ["restart", "restart", "restart", "restart", "restart", "parked"])
    const last = decisions[5]!
    assert.strictEqual(last.next, "parked")
    if (last.next === "parked") {
      assert.match(last.reason, /crash loop: 6 failures within 60000 ms \(limit 5\); last: peer lost/)
    }
  })

  it("does not park when failures are spread wider than the window", () => {
    const decisions = runFailures(makeRestartPolicy({ maxRestarts: 2, windowMs: 10_000 }), Array(10).fill(connectFailed), 5_001)
    assert.isTrue(decisions.every((d) => d.next === "restart"))
    assert.isAtMost(decisions[9]!.state.failures.length, 2)
  })

  it("rejects an invalid policy", () => {
    assert.throws(() => makeRestartPolicy({ jitter: 1.5 }), RangeError)
    assert.throws(() => makeRestartPolicy({ baseDelayMs: -1 }), RangeError)
    assert.throws(() => makeRestartPolicy({ factor: 0.5 }), RangeError)
  })
})

/** A connect that fails `failures` times, then hands out fake sessions; records virtual connect times. */
const scriptedConnect = (failures: number, sessions: Array<FakeSession>, connectTimes: Array<number>, released: Array<string>) =>
  Effect.gen(function*() {
    connectTimes.push(yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe())))
    const n = connectTimes.length
    yield* Effect.addFinalizer(() => Effect.sync(() => released.push(`attempt${n}`)))
    if (n <= failures) return yield* Effect.fail(new Error(`connect failed #${n}`))
    const session = makeFakeSession(`session${n}`)
    sessions.push(session)
    return session as SessionHandle
  })

const tags = (history: ReadonlyArray<SupervisionStatus>) =>
  history.map((s) =>
    s._tag === "backoff" ? `backoff(${s.attempt},${s.delayMs})` : s._tag === "connecting" ? `connecting(${s.attempt})` : s._tag
  )

describe("supervise", () => {
  it.effect("reconnects after the decided delays: fails 3 times, then runs", () =>
    Effect.gen(function*() {
      const sessions: Array<FakeSession> = []
      const times: Array<number> = []
      const released: Array<string> = []
      const history: Array<SupervisionStatus> = []
      const supervised = yield* supervise(scriptedConnect(3, sessions, times, released), { jitter: 0 })
      supervised.subscribe((s) => history.push(s))
      yield* Effect.yieldNow
      assert.deepStrictEqual(times, [0])
      assert.strictEqual(supervised.getStatus()._tag, "backoff")

      // Delays 250, 500, 1000: check one millisecond before and at each deadline.
      for (const [deadline, attempts] of [[250, 2], [750, 3], [1_750, 4]] as const) {
        const now = times.length === 0 ? 0 : times[times.length - 1]!
        yield* TestClock.adjust(deadline - now - 1)
        assert.strictEqual(times.length, attempts - 1, `not reconnected before ${deadline} ms`)
        yield* TestClock.adjust(1)
        assert.strictEqual(times.length, attempts, `reconnected at ${deadline} ms`)
      }
      assert.deepStrictEqual(times, [0, 250, 750, 1_750])
      const status = supervised.getStatus()
      assert.strictEqual(status._tag, "running")
      assert.strictEqual(supervised.current(), sessions[0])
      assert.deepStrictEqual(tags(history), [
        "connecting(0)", "backoff(1,250)", "connecting(1)", "backoff(2,500)", "connecting(2)", "backoff(3,1000)",
        "connecting(3)", "running"
      ])
      // Each failed attempt's scope was released before the next one started.
      assert.deepStrictEqual(released, ["attempt1", "attempt2", "attempt3"])
    }))

  it.effect("restarts a session that died, with the backoff delay", () =>
    Effect.gen(function*() {
      const sessions: Array<FakeSession> = []
      const times: Array<number> = []
      const released: Array<string> = []
      const supervised = yield* supervise(scriptedConnect(0, sessions, times, released), { jitter: 0 })
      yield* Effect.yieldNow
      assert.strictEqual(supervised.getStatus()._tag, "running")
      yield* TestClock.adjust("10 seconds")
      sessions[0]!.end({ expected: false, reason: "peer lost" })
      yield* Effect.promise(() => sessions[0]!.ended)
      yield* Effect.yieldNow
      const status = supervised.getStatus()
      assert.deepStrictEqual(status._tag === "backoff" ? [status.attempt, status.delayMs] : status._tag, [1, 250])
      assert.deepStrictEqual(released, ["attempt1"])
      yield* TestClock.adjust(249)
      assert.strictEqual(times.length, 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(times.length, 2)
      assert.strictEqual(supervised.getStatus()._tag, "running")
      assert.strictEqual(supervised.current(), sessions[1])
    }))

  it.effect("a session that keeps dying quickly ends parked with the reason and last error", () =>
    Effect.gen(function*() {
      const connects = yield* Ref.make(0)
      const supervised = yield* supervise(
        Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(connects, (k) => k + 1)
          const session = makeFakeSession(`s${n}`)
          session.end({ expected: false, reason: `crashed #${n}` }) // dies at once
          return session as SessionHandle
        }),
        { jitter: 0 }
      )
      const final = yield* Effect.forkChild(supervised.done)
      yield* TestClock.adjust("1 minute")
      const status = yield* Fiber.join(final)
      assert.strictEqual(status._tag, "parked")
      if (status._tag === "parked") {
        assert.match(status.reason, /crash loop: 6 failures/)
        assert.match(status.reason, /crashed #6/)
        assert.deepStrictEqual(status.lastError, { expected: false, reason: "crashed #6" })
      }
      assert.strictEqual(yield* Ref.get(connects), 6)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* Ref.get(connects), 6) // no more attempts once parked
      assert.strictEqual(supervised.current(), undefined)
    }))

  it.effect("a broken handle (a defect in supervision) parks instead of hanging", () =>
    Effect.gen(function*() {
      const broken = { ...makeFakeSession("broken"), ended: undefined } as unknown as SessionHandle
      const supervised = yield* supervise(Effect.succeed(broken), { jitter: 0 })
      const final = yield* supervised.done
      assert.strictEqual(final._tag, "parked")
      if (final._tag === "parked") assert.match(final.reason, /^supervision crashed: /)
    }))

  it.effect("a connect error that cannot be JSON-encoded is still described", () =>
    Effect.gen(function*() {
      const circular: { self?: unknown } = {}
      circular.self = circular
      const supervised = yield* supervise(Effect.fail(circular), { jitter: 0, maxRestarts: 0 })
      const final = yield* supervised.done
      assert.strictEqual(final._tag, "parked")
      if (final._tag === "parked") {
        assert.match(final.reason, /crash loop: 1 failures .* last: connect failed: \[object Object\]/)
        assert.strictEqual(final.lastError, circular)
      }
    }))

  it.effect("an expected end stops supervision", () =>
    Effect.gen(function*() {
      const sessions: Array<FakeSession> = []
      const times: Array<number> = []
      const supervised = yield* supervise(scriptedConnect(0, sessions, times, []), { jitter: 0 })
      yield* Effect.yieldNow
      sessions[0]!.end({ expected: true, reason: "server said goodbye" })
      const final = yield* supervised.done
      assert.deepStrictEqual(final, { _tag: "stopped", reason: "server said goodbye" })
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(times.length, 1)
    }))

  it.effect("stop closes the running session with the drain deadline and releases its scope", () =>
    Effect.gen(function*() {
      const sessions: Array<FakeSession> = []
      const released: Array<string> = []
      const supervised = yield* supervise(scriptedConnect(0, sessions, [], released), { jitter: 0 }, { drainMs: 3_000 })
      yield* Effect.yieldNow
      assert.strictEqual(supervised.getStatus()._tag, "running")
      yield* supervised.stop({ reason: "user quit" })
      assert.deepStrictEqual(sessions[0]!.closeCalls, [{ drainMs: 3_000, reason: "user quit" }])
      assert.deepStrictEqual(released, ["attempt1"])
      assert.deepStrictEqual(supervised.getStatus(), { _tag: "stopped", reason: "user quit" })
      assert.strictEqual(supervised.current(), undefined)
    }))

  it.effect("closing the owning scope stops supervision during backoff", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const times: Array<number> = []
      const supervised = yield* supervise(scriptedConnect(100, [], times, []), { jitter: 0 }).pipe(Scope.provide(scope))
      yield* Effect.yieldNow
      assert.strictEqual(supervised.getStatus()._tag, "backoff")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(supervised.getStatus()._tag, "stopped")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(times.length, 1)
    }))
})
