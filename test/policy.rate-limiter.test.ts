/**
 * The rate limiter's bound on memory must not open the limits: when the table
 * is full, only buckets that are full under their *own* limit carry no
 * information and may go. Before, the sweep judged every bucket by the limit
 * of the key being added (a drained bucket of a large limit looked full next
 * to a limit of 2) and, if nothing was full, cleared the whole table: every
 * drained bucket was full again, so fresh keys reset everybody's limits.
 */
import { describe, expect, it } from "vitest"
import { RateLimiter } from "../src/policy/RateLimiter.ts"

describe("rate limiter: bounded memory without resetting limits", () => {
  it("a drained bucket of a larger limit survives a sweep caused by a key with a smaller one", () => {
    let now = 0
    const limiter = new RateLimiter({ now: () => now, maxKeys: 2 })
    expect(limiter.take("small-1", 2, 1_000).ok).toBe(true)
    for (let i = 0; i < 60; i++) expect(limiter.take("big", 100, 100_000).ok).toBe(true) // 40 of 100 left, used last
    expect(limiter.take("small-2", 2, 1_000).ok).toBe(true) // table full: sweep
    for (let i = 0; i < 40; i++) expect(limiter.take("big", 100, 100_000).ok).toBe(true)
    expect(limiter.take("big", 100, 100_000)).toEqual({ ok: false, retryAfterMs: 1_000 })
  })

  it("new keys at the cap do not reset drained buckets; the least recently used go first", () => {
    let now = 0
    const limiter = new RateLimiter({ now: () => now, maxKeys: 10 })
    for (let k = 0; k < 10; k++) expect(limiter.take(`user${k}`, 1, 60_000).ok).toBe(true) // all drained
    now = 1
    expect(limiter.take("user9", 1, 60_000).ok).toBe(false) // touched last
    now = 2
    // Nine new keys: the table stays bounded; the nine least recently used buckets made room, the last used is kept.
    for (let k = 10; k < 19; k++) expect(limiter.take(`user${k}`, 1, 60_000).ok).toBe(true)
    expect(limiter.size).toBeLessThanOrEqual(10)
    expect(limiter.take("user9", 1, 60_000)).toMatchObject({ ok: false })
    expect(limiter.take("user18", 1, 60_000)).toMatchObject({ ok: false })
  })
})
