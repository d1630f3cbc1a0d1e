/** The in-process era cache is bounded: least recently used entries go first, and verdicts expire. */
import { describe, expect, it } from "vitest"
import { DEFAULT_ERA_CACHE_MAX_ENTRIES, defaultEraCache, MemoryEraCache } from "../src/client/EraCache.ts"

describe("MemoryEraCache", () => {
  it("keeps at most maxEntries, evicting the least recently used", () => {
    const cache = new MemoryEraCache({ maxEntries: 2 })
    cache.set("a", { era: "legacy" })
    cache.set("b", { era: "modern", protocolVersion: "2026-07-28" })
    expect(cache.get("a")).toEqual({ era: "legacy" }) // a is now the most recently used
    cache.set("c", { era: "legacy" })
    expect(cache.size).toBe(2)
    expect(cache.get("b")).toBeUndefined() // evicted
    expect(cache.get("a")).toEqual({ era: "legacy" })
    expect(cache.get("c")).toEqual({ era: "legacy" })
  })

  it("forgets a verdict once it is ttlMs old", () => {
    let now = 1_000
    const cache = new MemoryEraCache({ ttlMs: 500, now: () => now })
    cache.set("a", { era: "modern" })
    now += 499
    expect(cache.get("a")).toEqual({ era: "modern" })
    now += 1
    expect(cache.get("a")).toBeUndefined()
    expect(cache.size).toBe(0)
    // Setting again restarts its clock.
    cache.set("a", { era: "legacy" })
    now += 499
    expect(cache.get("a")).toEqual({ era: "legacy" })
  })

  it("the process-wide default is bounded too", () => {
    const cache = defaultEraCache as MemoryEraCache
    expect(cache).toBeInstanceOf(MemoryEraCache)
    const before = cache.size
    for (let i = 0; i < DEFAULT_ERA_CACHE_MAX_ENTRIES + 10; i++) cache.set(`test-key-${i}`, { era: "legacy" })
    expect(cache.size).toBe(DEFAULT_ERA_CACHE_MAX_ENTRIES)
    for (let i = 0; i < DEFAULT_ERA_CACHE_MAX_ENTRIES + 10; i++) cache.delete(`test-key-${i}`)
    expect(cache.size).toBeLessThanOrEqual(before)
  })
})
