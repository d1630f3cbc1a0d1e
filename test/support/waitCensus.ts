/**
 * The census of real-time waits in `test/` (issue 13, "one clock"): every line
 * that sleeps, polls or arms a timer, classified. `node test/support/waitCensus.ts`
 * prints the counts and the lines of each class; `--list` prints every hit;
 * `test/waits.census.test.ts` fails on a line no rule classifies and on a
 * (C)/(D) line not in the accepted list. docs/testing.md explains the classes.
 *
 * What counts as a hit (one per line): a call of `setTimeout(`, `setInterval(`,
 * `setImmediate(`, `sleep(`, `delay(`, `waitFor…(`, `.waitFor(`, `until(`,
 * `waitUntil(`, `eventually(`, `settles(`, `driveUntil(`, `expect.poll(`,
 * `vi.waitFor(`/`vi.waitUntil(`, `Effect.sleep(`. A helper that only renames a
 * primitive (`const sleep = (ms) => new Promise(r => setTimeout(r, ms))`) is
 * not counted; its call sites are. A polling loop inside a helper with another
 * name is counted once, at the line that sleeps.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

/** The classes of docs/testing.md ("Waits"). */
export type WaitClass =
  | "A" // a bound that fires only when the test fails (a guard)
  | "B" // a wait or poll on a real peer: a process, a socket, a browser, the OS
  | "C" // our timer logic run on real time (to convert: a simulated or Effect test clock)
  | "D" // a fixed sleep hoping something settled (to convert: await the event)
  | "T" // event-loop turns (setImmediate): in-process ordering, no real time
  | "V" // a timer of a virtual clock (SimulatedClock, TestClock, the simulation's)
  | "X" // not a wait: an import, a helper's definition, a child's keep-alive interval

export const realTime: ReadonlyArray<WaitClass> = ["A", "B", "C", "D"]

export interface Hit {
  readonly file: string
  readonly line: number
  readonly text: string
  readonly cls: WaitClass | "?"
  readonly why: string
  /** For (B): whether it awaits the peer's own event, or polls (or sleeps at a peer's pace). */
  readonly mode?: "event" | "poll"
}

/**
 * (B) lines that await an event of the peer through an API named `waitFor…`:
 * Playwright's locators and page events (mutation- and event-driven) and
 * xstate's `waitFor(actor, …)` (the actor's snapshots), and a scripted WebSocket
 * peer's `until`, woken by each message it receives, and a CLI host child's
 * `host.until` (test/cli.host.flags.test.ts), woken by each line it prints. The event waits of
 * test/support/condition.ts (`when`, `whenChanged`, `chartReaches`) and
 * `once(emitter, …)` are not hits at all: they neither sleep nor poll.
 */
const EVENT_WAIT = /\.waitFor\(|\bwaitFor(?:Event|Response|Function|URL)\(|\bwaitFor\(chart\(|\bpeer\.until\(|\bhost\.until\(/

interface Rule {
  /** A path relative to the repository root, or a pattern on it. */
  readonly file?: string | RegExp
  /** The line's text; absent: every hit of the file not matched before. */
  readonly text?: RegExp
  readonly cls: WaitClass
  readonly why: string
}

const HIT =
  /\bsetTimeout\(|\bsetInterval\(|\bsetImmediate\(|\bsleep\(|\bdelay\(|\bwaitFor\w*[(<]|\.waitFor\(|\buntil\(|\bwaitUntil\(|\beventually\(|\bsettles\(|\bdriveUntil\(|\bexpect\.poll\(|\bvi\.wait(?:For|Until)\(|\bEffect\.sleep\(/

/** Files that are the waiting machinery itself, or this census. */
const SKIP = new Set(["test/support/waitFor.ts", "test/support/waitCensus.ts", "test/waits.census.test.ts"])

/** First match wins: line rules, then the general rules, then file defaults. */
const LINE_RULES: ReadonlyArray<Rule> = [

  // ---- allowed: bounds and real peers that the general rules do not recognise.
  { file: "test/http.server.test.ts", text: /\(args\.ms as number \| undefined\) \?\? 10_000|^\s*const t = setTimeout\(\(\) => \{$/, cls: "A", why: "the abortable tool's fallback answer: the tests abort it" },
  { file: "test/http.era.test.ts", text: /setTimeout\(\(\) => resolve\(\{ content: \[\{ type: "text", text: "finished" \}\] \}\), 10_000\)/, cls: "A", why: "the abortable tool's fallback answer: the tests abort it" },
  { file: "test/http.era.test.ts", text: /await sleep\(5\)/, cls: "B", why: "the count tool's steps: progress and logs spread in real time over a real HTTP stream (a peer's pace, not awaited by the test)" },
  { file: "test/http.sdk-interop.test.ts", text: /await sleep\(150\)/, cls: "B", why: "a quiet period on a real peer: the SDK client's own retry timer, which no clock of ours drives" },
  { file: "test/fixtures/sdk-http-server.ts", cls: "B", why: "the SDK fixture server's tools do timed work (a real peer's pace)" },
  { file: /^test\/fixtures\/slow-(stdio|ws)-reader\.mjs$/, text: /\.resume\(\), paceMs\)/, cls: "B", why: "a slow reader process's own pace (a real peer's: the server's flush or close deadline is what is tested)" },
  { file: "test/runtime.clock.test.ts", text: /makeRealClock|clock\.setTimeout\(resolve, 0\)/, cls: "B", why: "the real clock is the thing under test (a 0 ms timer)" },
  { file: "test/sim.test.ts", cls: "X", why: "the real-time guard's own test: real timers armed and cleared at once, on purpose" },
  { file: /^test\/fixtures\/.*\.(m?js|ts)$/, text: /setInterval\(\(\) => \{\}, /, cls: "X", why: "keeps a child process alive (not a wait)" },
  { file: /^test\/(host\.(lifecycle|supervision)|cli\.host\.flags)\.test\.ts$/, text: /setInterval\(\(\) => \{\}, 1e6\)/, cls: "X", why: "keeps a child process alive (not a wait)" },
  { file: "test/runtime.supervisor.test.ts", text: /Effect\.sleep\("1 second"\)/, cls: "V", why: "Effect's TestClock (it.effect)" },
  { file: "test/stdio.leaks.test.ts", text: /\buntil\(/, cls: "T", why: "event-loop turns (waitForTurns) on an in-memory pair" },
  { file: "test/server.session.test.ts", text: /waitFor\(\(\) =>/, cls: "T", why: "event-loop turns (waitForTurns)" },
  { file: "test/runtime.supervisor.test.ts", text: /eventually\(/, cls: "T", why: "event-loop turns (a bounded setImmediate loop)" },
  { file: /^test\/(cli\.host|host\.lifecycle|host\.policy|observability\.e2e)\.test\.ts$/, text: /eventually\(/, cls: "B", why: "real processes (exit, process groups, stderr lines, an OTLP receiver)" },
  { file: /^test\/host\.(health|stateFile|upstream-requests)\.test\.ts$/, text: /eventually\(/, cls: "B", why: "real processes: a stopped process's state, process groups by ps, what a child read on its stdin (a tee's log)" },
  { file: "test/cli.host.flags.test.ts", text: /\bhost\.until\(/, cls: "B", why: "the CLI host child's output (woken by each line it prints)" },
  { file: /^test\/sim\//, text: /Effect\.sleep\(|\bsleep\(/, cls: "V", why: "the simulation's TestClock" }
]

const GENERAL_RULES: ReadonlyArray<Rule> = [
  { text: /^\s*(\/\/|\*|\/\*)/, cls: "X", why: "a comment" },
  { text: /^\s*import\b/, cls: "X", why: "an import" },
  {
    text: /^\s*(export )?const (sleep|pause|until|waitUntil|eventually|waitFor) = /,
    cls: "X",
    why: "a helper's definition (its call sites are counted)"
  },
  { text: /^\s*(export )?const \w+ = \(\) => new Promise(<void>)?\(\((resolve|r)\) => setImmediate\((resolve|r)\)\)/, cls: "T", why: "a turn helper (setImmediate)" },
  { text: /setImmediate\(|waitForTurns\(/, cls: "T", why: "event-loop turns" },
  { text: /\b(clock|sim|inner|harness\.clock|this\.clock)\.setTimeout\(/, cls: "V", why: "a virtual clock's timer" },
  {
    text: /setTimeout\(\(\) => (\{?\s*$|reject|fail|r\("timeout"\)|r\(undefined\)|finish\(|void proc\.stop|socket\.terminate|child\.kill|\w+\.kill\()|setTimeout\(r, left\)|no answer in|\.unref\(\)\]/,
    cls: "A",
    why: "a bound: fires only when what is awaited never comes"
  },
  { text: /\bfeed\.waitFor\(/, cls: "A", why: "awaits an inspector-feed message event (bounded): event-driven, the bound fires only on failure" }
]

/** Files whose remaining hits all wait on real peers (processes, sockets, browsers, OS handles). */
const FILE_DEFAULTS: ReadonlyArray<Rule> = [
  { file: /^test\/fuzz\//, cls: "B", why: "fuzzing real server processes and sockets" },
  { file: "test/inspect.browser.test.ts", cls: "B", why: "a real chromium over the DevTools protocol" },
  { file: "test/transports.stdio.test.ts", cls: "B", why: "real child processes (cat, node fixtures) and their pipes" },
  { file: "test/stdio.leaks.test.ts", cls: "B", why: "real child processes and OS handles" },
  { file: "test/cli.signals.test.ts", cls: "B", why: "the real CLI process and its signals" },
  { file: "test/interop.server-everything.stdio.test.ts", cls: "B", why: "the reference server process (its tools appear as it starts)" },
  { file: "test/interop.inspector-cli.test.ts", cls: "B", why: "real Inspector CLI processes" },
  { file: "test/interop.effect-modern.test.ts", cls: "B", why: "a real server over HTTP" },
  { file: "test/http.client.test.ts", cls: "B", why: "the SDK's HTTP server over real sockets" },
  { file: "test/http.client-recovery.test.ts", cls: "B", why: "a scripted HTTP server over real sockets" },
  { file: "test/http.era.test.ts", cls: "B", why: "real HTTP servers (ours, the SDK's) and their sockets" },
  { file: "test/http.sdk-interop.test.ts", cls: "B", why: "the SDK client against our server over real sockets" },
  { file: "test/http.server.test.ts", cls: "B", why: "our server over real sockets (requests and streams arrive by I/O), or a real process" },
  { file: "test/transports.ws.test.ts", cls: "B", why: "real WebSocket sockets (the server sees a close by I/O), or a real process" },
  { file: "test/server.limits.test.ts", cls: "B", why: "real WebSocket sockets" },
  { file: "test/leak.tree-events.test.ts", cls: "B", why: "real HTTP/WebSocket sockets: sessions end and their scopes close as the I/O arrives" },
  { file: "test/subscriptions.test.ts", cls: "B", why: "real HTTP servers and sockets" },
  { file: "test/runtime.tree.test.ts", cls: "B", why: "real sockets and OS handles on four transports" },
  { file: "test/support/httpPeers.ts", cls: "B", why: "OS handles of real sockets and processes" },
  { file: "test/support/handles.ts", cls: "B", why: "OS handles of real sockets and processes (a handle's release has no event)" },
  { file: "test/http.modernRequest.test.ts", cls: "B", why: "our HTTP server over real sockets (the request and the stream's close arrive by I/O)" },
  { file: "test/host.supervision.test.ts", cls: "B", why: "real server processes and sockets: generations end by I/O (exits, process groups by ps), OS handles" },
  { file: "test/client.default-runtime.test.ts", text: /waitFor\(/, cls: "B", why: "the HTTP case's real sockets (their close arrives by I/O); the memory cases await events" },
  { file: "test/client.tree.test.ts", cls: "B", why: "real sockets, real server processes and OS handles on three transports (ends arrive by I/O, process groups by ps)" },
  { file: "test/machines.httpClientSession.test.ts", cls: "B", why: "the production session against the official SDK server over a real socket" },
  { file: "test/machines.outboundRequests.test.ts", cls: "B", why: "ClientSession against a scripted peer over a real WebSocket (what the peer holds arrives by I/O)" },
  { file: "test/client.modern-chart.test.ts", cls: "B", why: "ModernClient against a scripted peer over a real WebSocket (what the peer holds arrives by I/O)" },
  { file: "test/support/requestChartOverWire.ts", cls: "B", why: "a scripted peer over a real WebSocket (what it holds arrives by I/O)" },
  { file: "test/server.chartOverWire.test.ts", cls: "B", why: "a raw peer over a real WebSocket: answers and the close arrive by I/O (woken per frame, no polling)" },
  { file: "test/policy.approval-timeout.sdk.test.ts", cls: "B", why: "what the SDK client received over a real socket (the deadline itself is on a SimulatedClock)" }
]

const matches = (rule: Rule, file: string, text: string): boolean =>
  (rule.file === undefined || (typeof rule.file === "string" ? rule.file === file : rule.file.test(file))) &&
  (rule.text === undefined || rule.text.test(text))

export const classify = (file: string, text: string): { cls: WaitClass | "?"; why: string } => {
  for (const rules of [LINE_RULES, GENERAL_RULES, FILE_DEFAULTS]) {
    const rule = rules.find((r) => matches(r, file, text))
    if (rule !== undefined) return { cls: rule.cls, why: rule.why }
  }
  return { cls: "?", why: "no rule: classify it in test/support/waitCensus.ts" }
}

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === "node_modules" ? [] : filesUnder(path)
    return /\.(ts|mts|js|mjs|cjs)$/.test(name) ? [path] : []
  })

/** Every hit under `root/test`, classified. */
export const census = (root: string): Array<Hit> =>
  filesUnder(join(root, "test"))
    .map((path) => relative(root, path).split("\\").join("/"))
    .filter((file) => !SKIP.has(file))
    .sort()
    .flatMap((file) =>
      readFileSync(join(root, file), "utf8").split("\n").flatMap((text, i) =>
        HIT.test(text) ? [withMode({ file, line: i + 1, text: text.trim(), ...classify(file, text) })] : []
      )
    )

const withMode = (hit: Hit): Hit => hit.cls === "B" ? { ...hit, mode: EVENT_WAIT.test(hit.text) ? "event" : "poll" } : hit

/** The (B) lines that poll or sleep (the ones an event could replace), by file. */
export const bPolls = (hits: ReadonlyArray<Hit>): Record<string, number> => {
  const byFile: Record<string, number> = {}
  for (const h of hits) if (h.mode === "poll") byFile[h.file] = (byFile[h.file] ?? 0) + 1
  return byFile
}

export const countByClass = (hits: ReadonlyArray<Hit>): Record<string, number> => {
  const counts: Record<string, number> = { A: 0, B: 0, C: 0, D: 0, T: 0, V: 0, X: 0, "?": 0 }
  for (const h of hits) counts[h.cls]! += 1
  return counts
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("../..", import.meta.url))
  const hits = census(root)
  const counts = countByClass(hits)
  const real = realTime.reduce((n, c) => n + counts[c]!, 0)
  const polls = Object.values(bPolls(hits)).reduce((a, b) => a + b, 0)
  console.log(`hits ${hits.length}; real-time (A+B+C+D) ${real}; ` + Object.entries(counts).map(([c, n]) => `${c} ${n}`).join(", ") +
    `; B: ${counts["B"]! - polls} event, ${polls} poll/sleep`)
  const show = process.argv.includes("--list") ? hits : hits.filter((h) => h.cls === "C" || h.cls === "D" || h.cls === "?")
  for (const h of show) console.log(`${h.cls}${h.mode === "poll" ? "p" : h.mode === "event" ? "e" : " "} ${h.file}:${h.line}  ${h.text.slice(0, 110)}${process.argv.includes("--why") ? `  — ${h.why}` : ""}`)
}
