/**
 * bench/inspectModelSynthetic.ts — the inspector model alone (and, `--page`, with the page's feed
 * batch), per churned session, with no actor and no server: a fake inspection hub hands the model
 * what a churned HTTP session of `serve --http` gives it (one actor, no child; its snapshots: init,
 * `INITIALIZE`, `INITIALIZED`, and `TRANSPORT_CLOSED` into its final state: the echo call takes the
 * chart's fast path, no step), and a real registry registers and removes the session, whose handle
 * tells its end as a server session does (counted from the hub of a real server under churn: 1 actor
 * and 4 snapshots per session; the harness had a snapshot per call and a `stopped` end before). With `--page`, a lean client's batch takes every
 * snapshot and is drained (serialized) every `--flush` sessions (a 50 ms flush at 1 500 sessions/s
 * is ≈ 75), the sessions `--overlap` at a time (born in one flush, ended in the next).
 *
 * Measures the model's CPU per session (ns): rounds alternate between this checkout and `--base DIR`
 * (both loaded in this process), so the machine's load falls on both alike; median [quartiles] of
 * each, and of the per-round difference.
 *
 *   node bench/inspectModelSynthetic.ts [--sessions 20000] [--rounds 15] [--base DIR] [--page] [--flush 75] [--overlap 32] [--max-ended N] [--alloc]
 *
 * `--alloc`: instead, bytes allocated per session (V8's sampling heap profiler, collected objects
 * included), in total and by allocating function, for each checkout; the harness's own (its
 * handles, events and summaries) is reported under `open`/`close`/`info`.
 */
import { pathToFileURL } from "node:url"

const args = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt
}
const SESSIONS = Number(opt("sessions", "20000"))
const ROUNDS = Number(opt("rounds", "15"))
const PAGE = args.includes("--page")
const FLUSH = Number(opt("flush", "75"))
const OVERLAP = Number(opt("overlap", "32"))
/**
 * `--pollute N`: between a session's steps, what a server does between them, roughly: N small objects
 * allocated (the last 4 096 kept, as requests in flight are) and a 256 KB table read through, so the model's
 * own objects are as cold in the caches, and as often moved by the young GC, as in a server under churn
 * (where its per-session cost is 2–4× this harness's without it). The same work for both checkouts.
 */
const POLLUTE = Number(opt("pollute", "0"))
const polluteRing: Array<unknown> = new Array(4096)
const polluteTable = new Float64Array(32_768)
let polluteAt = 0
let polluteSum = 0
const pollute = (): void => {
  for (let i = 0; i < POLLUTE; i++) polluteRing[polluteAt++ & 4095] = [i, polluteAt, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6]
  for (let i = polluteAt & 7; i < polluteTable.length; i += 8) polluteSum += polluteTable[i]!
}
const ALLOC = args.includes("--alloc")
const MAX_ENDED = args.includes("--max-ended") ? Number(opt("max-ended", "64")) : undefined
const roots = [new URL("..", import.meta.url).pathname, ...(args.includes("--base") ? [opt("base", "")] : [])]

type Listener = (e: unknown) => void
interface Subject {
  readonly name: string
  readonly run: () => Promise<number>
  readonly lines: () => number
  /** `n` sessions, as `run` makes them, with no measurement of its own. */
  readonly churn: (n: number) => void
}

type End = { expected: boolean; reason: string }

/**
 * A server session's handle: `ended` made when first read, settled at its release. Why a class: an
 * object literal with a getter, made per session, gets a map of its own (in old space) that holds the
 * getter's closure, and through its context the session, across every scavenge: 30–40 % of what the
 * harness allocated survived and was promoted, with no model at all, and the collector's work that
 * followed was counted as the model's (≈ 1.8 % survives with this class).
 */
class SyntheticHandle {
  readonly id: string
  endedWith: undefined | End = undefined
  resolveEnded: undefined | ((end: End) => void) = undefined
  endedPromise: undefined | Promise<End> = undefined
  /** As a server session: its actor names it (`ACTOR_SESSION`), a checkout that has that joins them through it. */
  get namedByItsActors(): boolean {
    return true
  }
  constructor(id: string) {
    this.id = id
  }
  info() {
    return { id: this.id, role: "server" as const, era: "legacy" as const, protocolVersion: "2025-06-18", state: "operating", transport: "http" as const, peer: { name: "b", version: "1" }, inFlight: 0, startedAt: 0 }
  }
  subscribe() {
    return () => undefined
  }
  get ended(): Promise<End> {
    return (this.endedPromise ??= this.endedWith !== undefined ? Promise.resolve(this.endedWith) : new Promise<End>((resolve) => (this.resolveEnded = resolve)))
  }
  async close() {}
}

const load = async (root: string, bare = false): Promise<Subject> => {
  const url = (p: string) => new URL(p, pathToFileURL(`${root.replace(/\/+$/, "")}/`)).href
  const { InspectorModel } = await import(url("src/inspect/InspectorModel.ts")) as typeof import("../src/inspect/InspectorModel.ts")
  const { makeRegistryUnsafe } = await import(url("src/runtime/Registry.ts")) as typeof import("../src/runtime/Registry.ts")
  const { makeFeedBatch } = await import(url("src/inspect/feedBatch.ts")) as typeof import("../src/inspect/feedBatch.ts")
  let listener: Listener = () => undefined
  const hub = {
    observer: undefined,
    listenerCount: 1,
    subscribe: (l: Listener) => {
      listener = l
      const stop = (() => undefined) as (() => void) & { want: (k: unknown) => void }
      stop.want = () => undefined
      return stop
    }
  }
  // A server session's actor names its session in its options (chartActor.ts), where the checkout has that.
  const { ACTOR_SESSION } = await import(url("src/runtime/SessionHandle.ts")) as { readonly ACTOR_SESSION?: symbol }
  const registry = makeRegistryUnsafe()
  const model = bare ? undefined! : new InspectorModel({ registry, hub: hub as never, keepSecrets: false, ...(MAX_ENDED === undefined ? {} : { maxEnded: MAX_ENDED }) })
  let lines = 0
  const batch = makeFeedBatch({ model, showSecrets: false, clients: ["page"], isLean: () => true, send: () => void lines++, schedule: () => undefined })
  if (PAGE && !bare) {
    batch.want(true, false)
    model.subscribe(batch.add, { events: false, snapshots: batch.touch })
  }
  const logic = { id: "legacyServerSession" }
  const parent = { sessionId: "x:1" }
  let n = 0
  const events = [
    { type: "INITIALIZE", id: 0, params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "b", version: "1" } }, elapsedMs: 1 },
    { type: "INITIALIZED" }
  ]
  const open = () => {
    const id = `session-${n}`
    const handle = new SyntheticHandle(id)
    const ref = { sessionId: `x:${n++ + 10}`, id, logic, _parent: parent, options: ACTOR_SESSION === undefined ? {} : { [ACTOR_SESSION]: handle } }
    const entry = { handle, unsubscribe: undefined, live: false }
    listener({ type: "@xstate.actor", actorRef: ref, rootId: "x:0" })
    listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event: { type: "xstate.init" }, snapshot: { status: "active", value: "awaitingInitialize", context: {} } })
    registry.add(entry)
    listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event: events[0], snapshot: { status: "active", value: "operating", context: {} } })
    if (POLLUTE === 0) initialized(ref)
    return { ref, handle, entry }
  }
  /** The client's `notifications/initialized`: with `--pollute`, a request of its own, later. */
  const initialized = (ref: object) =>
    listener({ type: "@xstate.snapshot", actorRef: ref, rootId: "x:0", event: events[1], snapshot: { status: "active", value: "operating", context: {} } })
  /** One session opened, one (the oldest) closed; with `--pollute`, each step a request of its own among the others' work. */
  const step = () => {
    live.push(open())
    if (POLLUTE > 0) {
      pollute()
      initialized(live[live.length >> 1]!.ref)
      pollute()
    }
    if (live.length > OVERLAP) close(live.shift()!)
    if (POLLUTE > 0) pollute()
  }
  const close = (s: ReturnType<typeof open>) => {
    const end = { expected: true, reason: "terminated by the client (DELETE)" }
    s.handle.endedWith = end
    const closed = { type: "TRANSPORT_CLOSED", reason: end.reason }
    listener({ type: "@xstate.snapshot", actorRef: s.ref, rootId: "x:0", event: closed, snapshot: { status: "done", value: "closed", context: { closeReason: end.reason } } })
    registry.remove(s.entry)
    s.handle.resolveEnded?.(end)
  }
  const live: Array<ReturnType<typeof open>> = []
  const cpu = () => process.cpuUsage().user * 1000
  return {
    name: root,
    lines: () => lines,
    churn: (count: number) => {
      for (let i = 0; i < count; i++) {
        step()
        if (PAGE && i % FLUSH === FLUSH - 1) batch.drain()
      }
    },
    run: async () => {
      const t0 = cpu()
      for (let i = 0; i < SESSIONS; i++) {
        step()
        if (PAGE && i % FLUSH === FLUSH - 1) batch.drain()
        // A turn ends every few sessions: promise reactions (an awaited `ended`) run then, as in a server.
        if (i % 8 === 7) await undefined
      }
      return (cpu() - t0) / SESSIONS
    }
  }
}

/** `--bare`: one more subject, the harness with no model (its own cost: with `--pollute`, most of a session's). */
const BARE = args.includes("--bare")
const subjects = await Promise.all([...roots.map((root) => load(root)), ...(BARE ? [load(roots[0]!, true).then((s) => ({ ...s, name: "(no model)" }))] : [])])
if (ALLOC) {
  const { Session } = await import("node:inspector/promises")
  const session = new Session()
  session.connect()
  await session.post("HeapProfiler.enable")
  interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Array<Node> }
  for (const subject of subjects) {
    subject.churn(SESSIONS) // warm up (optimized code, steady maps)
    await session.post("HeapProfiler.startSampling", { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never)
    subject.churn(SESSIONS)
    const { profile } = await session.post("HeapProfiler.stopSampling") as unknown as { profile: { head: Node } }
    const by = new Map<string, number>()
    let total = 0
    const walk = (n: Node): void => {
      if (n.selfSize > 0) {
        const k = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}`
        by.set(k, (by.get(k) ?? 0) + n.selfSize)
        total += n.selfSize
      }
      for (const c of n.children) walk(c)
    }
    walk(profile.head)
    console.log(`${subject.name}: ${(total / SESSIONS).toFixed(0)} bytes allocated per session (sampled), by function:`)
    for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${(v / SESSIONS).toFixed(0).padStart(6)}  ${k}`)
  }
  process.exit(0)
}
const per = subjects.map(() => [] as Array<number>)
for (let r = 0; r < ROUNDS + 2; r++) {
  // Rotate the order; the first two rounds warm up.
  for (let k = 0; k < subjects.length; k++) {
    const j = (k + r) % subjects.length
    const x = await subjects[j]!.run()
    if (r >= 2) per[j]!.push(x)
  }
}
const q = (xs: Array<number>, p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!
const fmt = (xs: Array<number>) => `${q(xs, 0.5).toFixed(0)} [${q(xs, 0.25).toFixed(0)} – ${q(xs, 0.75).toFixed(0)}]`
console.log(`${PAGE ? `page (flush every ${FLUSH} sessions, ${OVERLAP} live)` : "nobody watching"}, ${ROUNDS} rounds of ${SESSIONS} sessions; model CPU ns/session, median [quartiles]:`)
for (let j = 0; j < subjects.length; j++) console.log(`  ${subjects[j]!.name}: ${fmt(per[j]!)}${PAGE ? `; ${(subjects[j]!.lines() / ((ROUNDS + 2) * SESSIONS)).toFixed(2)} feed lines per session` : ""}`)
if (roots.length === 2) console.log(`  difference (this − base), per round: ${fmt(per[0]!.map((x, i) => x - per[1]![i]!))}`)
if (BARE) for (let j = 0; j < roots.length; j++) console.log(`  ${subjects[j]!.name} − (no model), per round: ${fmt(per[j]!.map((x, i) => x - per.at(-1)![i]!))}`)
