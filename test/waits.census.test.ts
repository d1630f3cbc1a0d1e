/**
 * The census of waits in test/ (docs/testing.md "Waits"): every line that
 * sleeps, polls or arms a real timer has a class, and the only lines of the
 * classes to convert — (C) timer logic on real time, (D) fixed sleeps — are the
 * ones listed in the doc with their reason.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { census, classify, countByClass } from "./support/waitCensus.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The (C)/(D) lines still accepted, by file (docs/testing.md "What is left"). */
const ACCEPTED: Record<string, number> = {
  "test/host.real-servers.test.ts": 1
}

describe("waits in test/", () => {
  const hits = census(root)

  it("every hit has a class (a new sleep, poll or timer gets a rule in test/support/waitCensus.ts)", () => {
    expect(hits.length).toBeGreaterThan(100)
    expect(hits.filter((h) => h.cls === "?").map((h) => `${h.file}:${h.line} ${h.text}`)).toEqual([])
  })

  it("no (C) timer logic on real time and no (D) fixed sleep beyond the accepted ones", () => {
    const byFile: Record<string, number> = {}
    for (const h of hits) if (h.cls === "C" || h.cls === "D") byFile[h.file] = (byFile[h.file] ?? 0) + 1
    for (const [file, n] of Object.entries(byFile)) expect(n, `${file}: (C)/(D) lines`).toBeLessThanOrEqual(ACCEPTED[file] ?? 0)
    expect(countByClass(hits)["?"]).toBe(0)
  })

  it("the rules tell a guard, a real peer, a virtual timer and a fixed sleep apart", () => {
    expect(classify("test/x.test.ts", "const t = setTimeout(() => reject(new Error(\"no URL\")), 30_000)").cls).toBe("A")
    expect(classify("test/transports.stdio.test.ts", "await waitUntil(() => frames.length === 1)").cls).toBe("B")
    expect(classify("test/x.test.ts", "clock.setTimeout(() => fired++, 1_000)").cls).toBe("V")
    expect(classify("test/x.test.ts", "await new Promise((r) => setImmediate(r))").cls).toBe("T")
    expect(classify("test/x.test.ts", "await sleep(50)").cls).toBe("?")
  })
})
