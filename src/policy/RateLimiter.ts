/**
 * Token buckets, in memory: `limit` calls per `windowMs`, refilled continuously
 * (a burst of `limit`, then one call every `windowMs / limit`). Keys are
 * whatever the caller scopes a limit to (identity + tool, session + tool, …).
 * A refused call learns when one token will be back (`retryAfterMs`).
 *
 * Time comes from the owner's clock (`clock`, or `now`), so tests run on
 * virtual time. Memory is bounded (`maxKeys`): when the table is full, buckets
 * that have refilled carry no information and are dropped, then the least
 * recently used.
 */
import { type Clock, systemClock } from "../protocol/clock.ts"

export interface RateVerdict {
  readonly ok: boolean
  /** When refused: ms until a call would be allowed. */
  readonly retryAfterMs: number
}

interface Bucket {
  tokens: number
  /** When the bucket was last refilled: its last use. */
  at: number
  /** Its own limit and refill rate (tokens per ms), so a sweep judges it by them. */
  limit: number
  rate: number
}

/** In-memory token buckets per key, on an injectable clock; memory is bounded by dropping full buckets, then the least recently used. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly now: () => number
  private readonly maxKeys: number

  constructor(options: { readonly now?: () => number; readonly clock?: Pick<Clock, "now">; readonly maxKeys?: number } = {}) {
    // The window is read on the owner's clock (the policy engine's, the runtime's): the one clock.
    const clock = options.clock ?? systemClock
    this.now = options.now ?? (() => clock.now())
    this.maxKeys = Math.max(1, options.maxKeys ?? 100_000)
  }

  /** Take one token from `key`'s bucket, or say how long until one is there. */
  take(key: string, limit: number, windowMs: number): RateVerdict {
    const now = this.now()
    const rate = limit / windowMs
    let b = this.buckets.get(key)
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now)
      b = { tokens: limit, at: now, limit, rate }
      this.buckets.set(key, b)
    } else {
      b.tokens = Math.min(limit, b.tokens + (now - b.at) * rate)
      b.at = now
      b.limit = limit
      b.rate = rate
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

  /**
   * Make room: buckets that have refilled under their own limit carry no
   * information and go first; if that is not enough, the least recently used
   * tenth (a dropped drained bucket starts full again, so never clear them all).
   */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * b.rate >= b.limit) this.buckets.delete(k)
    const room = Math.max(1, Math.floor(this.maxKeys / 10))
    const excess = this.buckets.size - (this.maxKeys - room)
    if (excess <= 0) return
    const oldest = [...this.buckets].sort((x, y) => x[1].at - y[1].at)
    for (let i = 0; i < excess; i++) this.buckets.delete(oldest[i]![0])
  }
}
