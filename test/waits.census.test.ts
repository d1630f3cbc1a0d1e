/**
 * The census of waits in test/ (docs/testing.md "Waits"): every line that
 * sleeps, polls or arms a real timer has a class, and the only lines of the
 * classes to convert — (C) timer logic on real time, (D) fixed sleeps — are the
 * ones listed in the doc with their reason.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { census, classify } from "./support/waitCensus.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The (C)/(D) lines still accepted, by file, each with its reason in docs/testing.md ("What is left"): none now. */
const ACCEPTED: Record<string, number> = {}

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
  })

  it("every (B) wait is in a file that talks to a real peer (a process, a socket, a browser)", () => {
    const realPeer = /spawn\(|fork\(|execFile|createServer|new WebSocket|WebSocketServer|makeHttpServer|makeWsServer|serveGateway|StdioClientTransport|StreamableHTTPClientTransport|makeStdioClientTransport|connectHttp|connectWs|connectAutoHttp|startSdkHttpServer|spawnSdkServer|ModernHttpWire|startEffectMcpServer|server\.alive\(|fetch\(|chromium|process\.kill|getActiveResourcesInfo|makeRealClock/ // the last: the OS timer itself under test
    const files = [...new Set(hits.filter((h) => h.cls === "B").map((h) => h.file))]
    expect(files.length).toBeGreaterThan(10)
    expect(files.filter((file) => !realPeer.test(readFileSync(join(root, file), "utf8")))).toEqual([])
  })

  it("the rules tell a guard, a real peer, a virtual timer and a fixed sleep apart", () => {
    expect(classify("test/x.test.ts", "const t = setTimeout(() => reject(new Error(\"no URL\")), 30_000)").cls).toBe("A")
    expect(classify("test/transports.stdio.test.ts", "await waitUntil(() => frames.length === 1)").cls).toBe("B")
    expect(classify("test/x.test.ts", "clock.setTimeout(() => fired++, 1_000)").cls).toBe("V")
    expect(classify("test/x.test.ts", "await new Promise((r) => setImmediate(r))").cls).toBe("T")
    expect(classify("test/x.test.ts", "await sleep(50)").cls).toBe("?")
  })
})
