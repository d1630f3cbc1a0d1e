import { describe, expect, it } from "vitest"
import { listenReconnectDelay } from "../machines/listenStream.ts"
import { backoffDelay, jittered } from "../src/protocol/backoff.ts"
import { backoffDelayMs, decideRestart, initialRestartState, makeRestartPolicy } from "../src/protocol/restartPolicy.ts"
import { reconnectDelay } from "../src/transports/http/client/HttpClientTransport.ts"

// One backoff formula: restarts, HTTP reconnection and listen reconnection all compute it here.
describe("backoff", () => {
  it("grows by factor per attempt from base, capped at max", () => {
    const b = { baseMs: 100, factor: 3, maxMs: 2_000 }
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(b, n))).toEqual([100, 300, 900, 2_000, 2_000])
    expect(backoffDelay(b, 0)).toBe(100) // attempts below 1 count as the first
  })

  it("jitter stays within ±jitter of the delay, rounded and never negative", () => {
    expect(jittered(1_000, 0.2, 0)).toBe(800)
    expect(jittered(1_000, 0.2, 0.5)).toBe(1_000)
    expect(jittered(1_000, 0.2, 0.999_999)).toBe(1_200)
    expect(jittered(1_000, 0.2, 7)).toBe(1_200) // out-of-range randoms are clamped
    expect(jittered(0, 0.5, 0)).toBe(0)
  })

  it("the restart policy, HTTP reconnection and listen reconnection use the same formula", () => {
    const policy = makeRestartPolicy({ baseDelayMs: 250, factor: 2, maxDelayMs: 5_000, jitter: 0 })
    const http = { initialDelayMs: 250, factor: 2, maxDelayMs: 5_000, maxAttempts: 5 }
    for (let attempt = 1; attempt <= 8; attempt++) {
      const expected = backoffDelay({ baseMs: 250, factor: 2, maxMs: 5_000 }, attempt)
      expect(backoffDelayMs(policy, attempt)).toBe(expected)
      expect(reconnectDelay(attempt, undefined, http)).toBe(expected)
      expect(listenReconnectDelay(attempt, 250, 5_000)).toBe(expected)
    }
    // A server's `retry:` above the cap raises the cap (never below what the server asked for).
    expect(reconnectDelay(3, 8_000, http)).toBe(8_000)
    // decideRestart jitters the shared delay.
    const d = decideRestart(makeRestartPolicy({ baseDelayMs: 1_000, jitter: 0.2 }), initialRestartState, { type: "connect-failed", reason: "x" }, 0, 0)
    expect(d).toMatchObject({ next: "restart", attempt: 1, delayMs: 800 })
  })
})
