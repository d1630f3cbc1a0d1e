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
import { bPolls, census, classify } from "./support/waitCensus.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The (C)/(D) lines still accepted, by file, each with its reason in docs/testing.md ("What is left"): none now. */
const ACCEPTED: Record<string, number> = {}

/**
 * The (B) lines that still poll or sleep, by file (docs/testing.md, "What is left"): OS state
 * with no event (handles, process groups, `ps`), a real peer's own pace, and a few server
 * counters with no change feed. A new one needs its file's count raised here, after checking
 * that the peer has no event to await (test/support/condition.ts).
 */
const B_POLLS: Record<string, number> = {
  "test/cli.host.test.ts": 1, // a process's death (kill -0): not our child
  "test/cli.signals.test.ts": 1, // the server processes' death: not our children
  "test/client.default-runtime.test.ts": 2, // OS socket handles
  "test/client.tree.test.ts": 1, // a process group, by ps
  "test/fixtures/sdk-http-server.ts": 4, // the SDK fixture's tools do timed work (a peer's pace)
  "test/fixtures/slow-stdio-reader.mjs": 1, // a slow reader process's pace (the stdio server's flush deadline is tested)
  "test/fixtures/slow-ws-reader.mjs": 1, // a slow reader process's pace (the WebSocket server's close deadline is tested)
  "test/fuzz/MessageFuzzer.ts": 4, // a reply woken by each message, re-checked every 200 ms; a dying server's exit
  "test/host.lifecycle.test.ts": 2, // process groups
  "test/host.health.test.ts": 3, // a SIGSTOPped server's process state, process groups
  "test/host.stateFile.test.ts": 3, // process groups and a lifeline watcher that are not our children
  "test/host.supervision.test.ts": 1, // OS handles back to the baseline
  "test/hostile.server-http.test.ts": 1, // OS handles back to the baseline
  "test/hostile.server-ws.test.ts": 1, // OS handles back to the baseline
  "test/http.client-recovery.test.ts": 3, // a child exchange chart's state, moved by socket I/O
  "test/http.era.test.ts": 3, // OS socket handles; the count tool's pace
  "test/http.sdk-interop.test.ts": 2, // the server's pending exchanges; the SDK client's own retry timer
  "test/inspect.browser.test.ts": 1, // a process group
  "test/interop.effect-modern.test.ts": 1, // the Effect server's listen outcome (no change feed)
  "test/interop.inspector-cli.test.ts": 1, // sessions hibernated by the server (no change feed)
  "test/interop.server-everything.stdio.test.ts": 1, // the reference server's tools appear as it starts
  "test/observability.e2e.test.ts": 4, // spans and metrics an OTLP receiver gets from real processes
  "test/runtime.clock.test.ts": 1, // the real clock under test
  "test/subscriptions.test.ts": 1, // the server's modern requests in flight (no change feed)
  "test/support/handles.ts": 1, // OS handles: their release has no event
  "test/support/httpPeers.ts": 1, // OS handles of real peers
  "test/transports.stdio.test.ts": 1, // a grandchild's death: not our child
  "test/transports.ws.test.ts": 1 // OS socket handles
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
  })

  it("no (B) poll or sleep beyond the listed ones: a real peer's event is awaited wherever it has one", () => {
    const polls = bPolls(hits)
    for (const [file, n] of Object.entries(polls)) expect(n, `${file}: (B) polls/sleeps`).toBeLessThanOrEqual(B_POLLS[file] ?? 0)
    expect(Object.values(polls).reduce((a, b) => a + b, 0)).toBeGreaterThan(0) // the census still sees polls at all
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
