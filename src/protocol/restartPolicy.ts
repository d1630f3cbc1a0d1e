/**
 * When a session (or a host's server connection) should be restarted, as data plus a pure decision.
 *
 * {@link decideRestart} is the whole policy: given what happened so far, the
 * failure that just occurred, the time and a random number, it says "restart
 * after `delayMs`" or "park: this is a crash loop". No I/O, no clock, no
 * randomness of its own, so it is table-tested; `supervise` and the `serverConnection` chart execute it.
 *
 * @since 0.1.0
 */
import { backoffDelay, jittered } from "./backoff.ts"

/** Restart tuning. All durations are milliseconds. */
export interface RestartPolicy {
  /** Delay before the first restart. */
  readonly baseDelayMs: number
  /** Growth per consecutive failure: delay = base × factor^(attempt − 1). */
  readonly factor: number
  /** Ceiling on the (pre-jitter) delay. */
  readonly maxDelayMs: number
  /** Relative jitter: the delay is multiplied by a uniform factor in [1 − jitter, 1 + jitter]. */
  readonly jitter: number
  /** A session that stayed up this long before failing counts as healthy: the attempt counter restarts at 1. */
  readonly resetAfterMs: number
  /** More than this many failures within `windowMs` is a crash loop: supervision parks. */
  readonly maxRestarts: number
  readonly windowMs: number
}

/**
 * Exponential backoff from 250 ms to 30 s with ±20 % jitter; more than 5 failures in a
 * minute parks supervision (a crash loop is not retried forever).
 */
export const defaultRestartPolicy: RestartPolicy = {
  baseDelayMs: 250,
  factor: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
  resetAfterMs: 60_000,
  maxRestarts: 5,
  windowMs: 60_000
}

/** Fill in defaults and reject nonsense (negative delays, jitter ≥ 1, factor < 1). */
export const makeRestartPolicy = (overrides: Partial<RestartPolicy> = {}): RestartPolicy => {
  const policy: RestartPolicy = { ...defaultRestartPolicy, ...overrides }
  const problems: Array<string> = []
  if (!(policy.baseDelayMs >= 0)) problems.push("baseDelayMs must be >= 0")
  if (!(policy.factor >= 1)) problems.push("factor must be >= 1")
  if (!(policy.maxDelayMs >= policy.baseDelayMs)) problems.push("maxDelayMs must be >= baseDelayMs")
  if (!(policy.jitter >= 0 && policy.jitter < 1)) problems.push("jitter must be in [0, 1)")
  if (!(policy.resetAfterMs >= 0)) problems.push("resetAfterMs must be >= 0")
  if (!(Number.isInteger(policy.maxRestarts) && policy.maxRestarts >= 0)) problems.push("maxRestarts must be an integer >= 0")
  if (!(policy.windowMs >= 0)) problems.push("windowMs must be >= 0")
  if (problems.length > 0) throw new RangeError(`invalid restart policy: ${problems.join("; ")}`)
  return policy
}

/** What the policy remembers between failures. */
export interface RestartState {
  /** Consecutive failures since the last healthy run (0 = none yet). */
  readonly attempt: number
  /** Times (ms) of the failures still inside the crash-loop window, oldest first. */
  readonly failures: ReadonlyArray<number>
}

export const initialRestartState: RestartState = { attempt: 0, failures: [] }

/** A failure the policy reacts to. An expected end is not one: supervision just stops. */
export type RestartEvent =
  /** Connecting failed: nothing ran. */
  | { readonly type: "connect-failed"; readonly reason: string }
  /** A running session ended unexpectedly after `uptimeMs`. */
  | { readonly type: "ended"; readonly reason: string; readonly uptimeMs: number }

export type RestartDecision =
  | {
    readonly next: "restart"
    /** 1-based number of this restart since the last healthy run. */
    readonly attempt: number
    readonly delayMs: number
    readonly state: RestartState
  }
  | {
    readonly next: "parked"
    readonly reason: string
    readonly state: RestartState
  }

/** The un-jittered delay of a 1-based attempt: base × factor^(attempt − 1), capped at maxDelayMs. */
export const backoffDelayMs = (policy: RestartPolicy, attempt: number): number =>
  backoffDelay({ baseMs: policy.baseDelayMs, factor: policy.factor, maxMs: policy.maxDelayMs }, attempt)

/**
 * Decide what to do after a failure.
 *
 * - The failure is recorded; failures older than `windowMs` are forgotten. More
 *   than `maxRestarts` failures inside the window ⇒ `parked` (a crash loop:
 *   restarting again would only burn the peer and our logs).
 * - Otherwise the attempt counter grows (or restarts at 1 when the session had
 *   been up for `resetAfterMs`), and the delay is the capped exponential
 *   delay × a uniform factor in [1 − jitter, 1 + jitter], so that many clients
 *   that lost the same server do not reconnect in lockstep. The cap applies
 *   before jitter, as with Effect's `Schedule.jittered` on a capped schedule.
 *
 * @param random a number in [0, 1), e.g. `Math.random()` or Effect's `Random.next`.
 */
export const decideRestart = (
  policy: RestartPolicy,
  state: RestartState,
  event: RestartEvent,
  now: number,
  random: number
): RestartDecision => {
  const failures = [...state.failures.filter((at) => now - at < policy.windowMs), now]
  const healthy = event.type === "ended" && event.uptimeMs >= policy.resetAfterMs
  const attempt = (healthy ? 0 : state.attempt) + 1
  const next: RestartState = { attempt, failures }
  if (failures.length > policy.maxRestarts) {
    return {
      next: "parked",
      reason: `crash loop: ${failures.length} failures within ${policy.windowMs} ms (limit ${policy.maxRestarts}); last: ${event.reason}`,
      state: next
    }
  }
  return { next: "restart", attempt, delayMs: jittered(backoffDelayMs(policy, attempt), policy.jitter, random), state: next }
}
