/**
 * The one backoff formula of mcp-actors: restarts (`restartPolicy.ts`), HTTP
 * stream reconnection (`HttpClientTransport`) and `subscriptions/listen`
 * reconnection (`machines/listenStream.ts`) all compute their delay here.
 *
 * Pure (no clock, no randomness of its own), so charts can use it in delays
 * and tests can table it.
 *
 * @since 0.1.0
 */

/** Capped exponential growth. All durations are milliseconds. */
export interface Backoff {
  /** Delay of the first attempt. */
  readonly baseMs: number
  /** Growth per attempt (≥ 1). */
  readonly factor: number
  /** Ceiling of the (pre-jitter) delay. */
  readonly maxMs: number
}

/** The delay of 1-based `attempt`: base × factor^(attempt − 1), capped at `maxMs` (no jitter). */
export const backoffDelay = (backoff: Backoff, attempt: number): number =>
  Math.min(backoff.maxMs, backoff.baseMs * backoff.factor ** Math.max(0, attempt - 1))

/**
 * `delayMs` × a uniform factor in [1 − jitter, 1 + jitter], rounded, never negative, so that many
 * clients that lost the same peer do not retry in lockstep.
 *
 * @param random a number in [0, 1), e.g. `Math.random()` or Effect's `Random.next`.
 */
export const jittered = (delayMs: number, jitter: number, random: number): number => {
  const r = Math.min(Math.max(random, 0), 1)
  return Math.max(0, Math.round(delayMs * (1 + jitter * (2 * r - 1))))
}

/**
 * mulberry32: one step of a tiny deterministic PRNG → [a number in [0, 1), the next seed].
 * Why here: a chart that jitters keeps a 32-bit seed in its context and draws the `random`
 * of {@link jittered} with it, so its delays read only context (and replay exactly).
 */
export const nextRandom = (seed: number): readonly [number, number] => {
  const next = (seed + 0x6d2b79f5) | 0
  let t = next
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next]
}
