import { describe, expect, it } from "vitest"
import { progressCall } from "./support/progressCall.ts"
import { waitForTurns } from "./support/waitFor.ts"

// Progress rate limit (progress.mdx: "SHOULD rate-limit"): with progressIntervalMs,
// at most one notification per interval; the latest value wins; nothing after the response.
const setup = () => {
  const t = progressCall({ transport: "memory", progressIntervalMs: 100 })
  const progress = () => t.sent.filter((m) => "method" in m && m.method === "notifications/progress").map((m) => (m as unknown as { params: { progress: number } }).params.progress)
  return { ...t, progress }
}

describe("progress rate limit", () => {
  it("sends the first value at once, then at most one per interval with the latest value", () => {
    const { clock, ctx, progress } = setup()
    for (let i = 1; i <= 50; i++) ctx().progress(i, 100)
    expect(progress()).toEqual([1])
    clock.increment(99)
    expect(progress()).toEqual([1])
    clock.increment(1)
    expect(progress()).toEqual([1, 50])
    ctx().progress(60, 100)
    ctx().progress(70, 100)
    clock.increment(100)
    expect(progress()).toEqual([1, 50, 70])
  })

  it("flushes a held-back value before the response, and nothing follows the response", async () => {
    const { clock, sent, ctx, finish, progress } = setup()
    ctx().progress(1)
    ctx().progress(2)
    finish()
    // In memory: no progress barrier (stdio/ws only), the response follows within a few turns.
    await waitForTurns(() => sent.some((m) => "id" in m && m.id === 1 && "result" in m), "the response")
    expect(progress()).toEqual([1, 2])
    const responseAt = sent.findIndex((m) => "id" in m && m.id === 1 && "result" in m)
    const lastProgressAt = sent.findLastIndex((m) => "method" in m && m.method === "notifications/progress")
    expect(responseAt).toBeGreaterThan(lastProgressAt)
    ctx().progress(3)
    clock.increment(500)
    expect(progress()).toEqual([1, 2])
  })
})
