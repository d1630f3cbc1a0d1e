/**
 * Token buckets, in memory: `limit` calls per `windowMs`, refilled continuously
 * (a burst of `limit`, then one call every `windowMs / limit`). Keys are
 * whatever the caller scopes a limit to (identity + tool, session + tool, …).
 * A refused call learns when one token will be back (`retryAfterMs`).
 *
 * Time comes from the owner's clock (`clock`, or `now`), so tests run on
 * virtual time. Full buckets carry no information and are dropped when the
 * table grows, bounding memory.
 */
import { type Clock, systemClock } from "../protocol/clock.ts"

export interface RateVerdict {
  readonly ok: boolean
  /** When refused: ms until a call would be allowed. */
  readonly retryAfterMs: number
}

interface Bucket {
  tokens: number
  at: number
}

/** In-memory token buckets per key, on an injectable clock; memory is bounded by dropping full buckets. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly now: () => number
  private readonly maxKeys: number

  constructor(options: { readonly now?: () => number; readonly clock?: Pick<Clock, "now">; readonly maxKeys?: number } = {}) {
    // The window is read on the owner's clock (the policy engine's, the runtime's): the one clock.
    const clock = options.clock ?? systemClock
    this.now = options.now ?? (() => clock.now())
    this.maxKeys = options.maxKeys ?? 100_000
  }

  /** Take one token from `key`'s bucket, or say how long until one is there. */
  take(key: string, limit: number, windowMs: number): RateVerdict {
    const now = this.now()
    const rate = limit / windowMs
    let b = this.buckets.get(key)
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now, rate, limit)
      b = { tokens: limit, at: now }
      this.buckets.set(key, b)
    } else {
      b.tokens = Math.min(limit, b.tokens + (now - b.at) * rate)
      b.at = now
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return { ok: true, retryAfterMs: 0 }
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / rate) }
  }

  /** Give back a token taken for a call that did not happen (refused later, e.g. approval denied). */
  refund(key: string, limit: number): void {
    const b = this.buckets.get(key)
    if (b !== undefined) b.tokens = Math.min(limit, b.tokens + 1)
  }

  get size(): number {
    return this.buckets.size
  }

  private sweep(now: number, rate: number, limit: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * rate >= limit) this.buckets.delete(k)
    if (this.buckets.size >= this.maxKeys) this.buckets.clear()
  }
}
