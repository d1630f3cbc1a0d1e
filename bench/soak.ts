/**
 * `npm run soak -- --minutes 60`: mixed traffic against real servers for a long
 * time, and whether their memory stays flat.
 *
 * Three server processes (`serve --stdio`, `--http 0`, `--ws 0`), each started
 * with `--expose-gc --inspect=127.0.0.1:0`. Every `--sample` seconds the soak
 * asks each one, over the inspector protocol, to collect garbage and report
 * `process.memoryUsage()`: heap after GC and RSS, without any code in the
 * server for it. After the warm-up it fits a least-squares line to each series
 * and reports the slope as % growth per hour of the mean (target: < 1 %/h).
 *
 * Traffic, all at once, for the whole run:
 * - HTTP: session churn (initialize → initialized → calls → DELETE); sessions
 *   abandoned after a call (reaped by the idle timeout) or in the handshake
 *   (reaped by the handshake deadline); modern stateless calls; progress
 *   streams whose socket is dropped mid-way; malformed POSTs.
 * - WebSocket: connection churn with calls; sockets that never initialize
 *   (handshake deadline); sockets dropped (terminate) with a call in flight.
 * - stdio: one long-lived process with calls, cancelled slow calls, modern
 *   requests and malformed lines; plus short-lived processes (spawned, one
 *   call, then stdin closed or SIGKILL).
 *
 * The report (Markdown table + JSON) goes to `--out` (default soak-report.md /
 * soak-report.json) and to stdout, ready for docs/reliability.md.
 */
import { writeFileSync } from "node:fs"
import WebSocket from "ws"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { type ServerProcess, spawnNetworkServer, spawnStdioServer, stdioConnection } from "../test/fuzz/servers.ts"
import { httpTraffic, INIT, MODERN_META, rpc } from "./traffic.ts"

const USAGE = `Usage: npm run soak -- [--minutes N] [--warmup N] [--sample S] [--out FILE] [--concurrency N] [--pace MS]

  --minutes N      run length in minutes (default 60; fractions allowed)
  --warmup N       minutes excluded from the fit (default: a sixth of the run, at most 10)
  --sample S       seconds between memory samples (default 10)
  --concurrency N  client loops per traffic kind (default 4)
  --pace MS        each client loop starts an iteration at most every MS ms (default 0: as fast as it can);
                   a fixed rate keeps the servers' working set steady when the machine's load changes
  --out FILE       Markdown report path (default soak-report.md; JSON next to it)`

const { values, positive } = scriptArgs(USAGE, {
  minutes: { type: "string" },
  warmup: { type: "string" },
  sample: { type: "string" },
  concurrency: { type: "string" },
  pace: { type: "string" },
  out: { type: "string" }
})
const minutes = positive("minutes") ?? 60
const warmupMin = values.warmup !== undefined ? positive("warmup")! : Math.min(10, minutes / 6)
const sampleMs = (positive("sample") ?? 10) * 1_000
const concurrency = Math.round(positive("concurrency") ?? 4)
const paceMs = values.pace !== undefined ? positive("pace")! : 0
const outMd = values.out ?? "soak-report.md"
const outJson = outMd.replace(/\.md$/, "") + ".json"

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const log = (s: string) => process.stderr.write(`soak: ${s}\n`)

// ---------------------------------------------------------------- inspector probe

/**
 * Evaluated in the server: full GC, then memoryUsage, the V8 heap's committed
 * size (heapTotal: pages V8 keeps even when heap after GC is flat), and the
 * live libuv handles by kind (sockets, timers, …), so that a leak of native
 * resources shows up as a count, not only as RSS.
 */
const PROBE_EXPRESSION = `(() => {
  globalThis.gc(); globalThis.gc()
  const m = process.memoryUsage()
  const handles = {}
  for (const k of process.getActiveResourcesInfo()) handles[k] = (handles[k] ?? 0) + 1
  const spaces = {}
  let codeUsed = 0
  for (const sp of process.getBuiltinModule("node:v8").getHeapSpaceStatistics()) {
    spaces[sp.space_name] = sp.space_size
    if (sp.space_name === "code_space" || sp.space_name === "code_large_object_space") codeUsed += sp.space_used_size
  }
  return JSON.stringify({ heapUsed: m.heapUsed, codeUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, handles, spaces })
})()`

/** Heap after a full GC and RSS of a server process, asked over its inspector (`--expose-gc --inspect`). */
class Probe {
  private socket: WebSocket | undefined
  private next = 1
  private readonly waiting = new Map<number, (v: unknown) => void>()
  private readonly proc: ServerProcess

  constructor(proc: ServerProcess) {
    this.proc = proc
  }

  async connect(): Promise<void> {
    const deadline = Date.now() + 15_000
    let url: string | undefined
    while (url === undefined) {
      url = /Debugger listening on (ws:\/\/\S+)/.exec(this.proc.stderr())?.[1]
      if (url === undefined) {
        if (Date.now() > deadline) throw new Error(`no inspector URL from the server: ${this.proc.stderr()}`)
        await sleep(100)
      }
    }
    const socket = new WebSocket(url)
    await new Promise<void>((ok, fail) => {
      socket.once("open", () => ok())
      socket.once("error", fail)
    })
    socket.on("message", (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown }
      if (m.id !== undefined) {
        this.waiting.get(m.id)?.(m.result)
        this.waiting.delete(m.id)
      }
    })
    this.socket = socket
  }

  async sample(): Promise<Omit<Sample, "t">> {
    const id = this.next++
    const result = new Promise<unknown>((r) => this.waiting.set(id, r))
    this.socket!.send(JSON.stringify({
      id,
      method: "Runtime.evaluate",
      params: { expression: PROBE_EXPRESSION, returnByValue: true }
    }))
    const r = await Promise.race([result, sleep(30_000).then(() => undefined)]) as { result?: { value?: string } } | undefined
    if (typeof r?.result?.value !== "string") throw new Error("inspector did not answer")
    return JSON.parse(r.result.value) as Omit<Sample, "t">
  }

  close(): void {
    this.socket?.terminate()
  }
}

// ---------------------------------------------------------------- counters

interface Counters {
  ops: number
  unexpected: number
  lastUnexpected: string | undefined
}
const counters: Record<"stdio" | "http" | "ws", Counters> = {
  stdio: { ops: 0, unexpected: 0, lastUnexpected: undefined },
  http: { ops: 0, unexpected: 0, lastUnexpected: undefined },
  ws: { ops: 0, unexpected: 0, lastUnexpected: undefined }
}
const unexpected = (t: keyof typeof counters, what: string) => {
  counters[t].unexpected++
  counters[t].lastUnexpected = what.slice(0, 300)
}

let stopping = false
const loop = async (body: () => Promise<void>, pauseMs = 0): Promise<void> => {
  while (!stopping) {
    const began = Date.now()
    try {
      await body()
    } catch {
      // A dropped connection mid-way is part of the traffic; real surprises are counted by the bodies.
    }
    const wait = Math.max(pauseMs, paceMs - (Date.now() - began))
    if (wait > 0) await sleep(wait)
  }
}

// ---------------------------------------------------------------- HTTP traffic

const httpLoops = (url: string): Array<Promise<void>> => {
  const { churn, abandoned, handshake, modern, dropped, malformed } = httpTraffic(url, {
    op: () => void counters.http.ops++,
    unexpected: (what) => unexpected("http", what)
  })
  return [
    ...Array.from({ length: concurrency }, () => loop(churn)),
    loop(abandoned, 200),
    loop(handshake, 500),
    ...Array.from({ length: 2 }, () => loop(modern)),
    loop(dropped, 100),
    loop(malformed, 50)
  ]
}

// ---------------------------------------------------------------- WebSocket traffic

const wsTraffic = (url: string): Array<Promise<void>> => {
  const connect = async (): Promise<WebSocket> => {
    const ws = new WebSocket(url, "mcp")
    ws.on("error", () => {})
    await new Promise<void>((ok, fail) => {
      ws.once("open", () => ok())
      ws.once("error", fail)
    })
    return ws
  }
  const call = (ws: WebSocket, id: number | string, method: string, params?: object): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const m = JSON.parse(data.toString()) as Record<string, unknown>
        if (m.id === id) {
          ws.off("message", onMessage)
          resolve(m)
        }
      }
      ws.on("message", onMessage)
      ws.once("close", () => reject(new Error("closed")))
      ws.send(rpc(id, method, params))
    })
  let n = 0
  const churn = async () => {
    const ws = await connect()
    const init = await call(ws, 0, "initialize", INIT())
    if (init.result === undefined) unexpected("ws", `initialize: ${JSON.stringify(init)}`)
    ws.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    for (let i = 0; i < 3; i++) {
      const r = await call(ws, ++n, "tools/call", { name: "echo", arguments: { text: "ws soak" } })
      counters.ws.ops++
      if (r.result === undefined) unexpected("ws", JSON.stringify(r))
    }
    const modern = await call(ws, ++n, "tools/call", { name: "echo", arguments: { text: "m" }, _meta: MODERN_META })
    if (modern.result === undefined) unexpected("ws", JSON.stringify(modern))
    ws.close(1000)
    await new Promise((r) => ws.once("close", r))
  }
  const neverInitialized = async () => {
    const ws = await connect()
    counters.ws.ops++
    // Left open without a word: the handshake deadline closes it (10 s).
    await new Promise((r) => ws.once("close", r))
  }
  const dropped = async () => {
    const ws = await connect()
    await call(ws, 0, "initialize", INIT())
    ws.send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    ws.send(rpc(++n, "tools/call", { name: "slow", arguments: { ms: 5_000 } }))
    await sleep(20)
    ws.terminate() // no close frame: the server finds out from the TCP close
    counters.ws.ops++
  }
  return [
    ...Array.from({ length: concurrency }, () => loop(churn)),
    ...Array.from({ length: 3 }, () => loop(neverInitialized)),
    loop(dropped, 100)
  ]
}

// ---------------------------------------------------------------- stdio traffic

const stdioTraffic = (proc: ServerProcess): Array<Promise<void>> => {
  const waiting = new Map<string | number, (m: Record<string, unknown>) => void>()
  // The fuzzer's line reader (splits on "\n" only; a line that is not JSON comes as `{ unparsable }`).
  stdioConnection(proc).onMessage = (message) => {
    const m = message as Record<string, unknown>
    if ("unparsable" in m) return unexpected("stdio", `not JSON: ${String(m.unparsable)}`)
    const w = waiting.get(m.id as string)
    if (w !== undefined) {
      waiting.delete(m.id as string)
      w(m)
    }
  }
  const send = (s: string) => proc.child.stdin.write(s + "\n")
  const call = (id: string, method: string, params?: object) =>
    new Promise<Record<string, unknown>>((resolve) => {
      waiting.set(id, resolve)
      send(rpc(id, method, params))
    })
  let n = 0
  const ready = (async () => {
    await call("init", "initialize", INIT())
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
  })()
  const calls = async () => {
    await ready
    const id = `c${++n}`
    const r = await call(id, "tools/call", { name: "echo", arguments: { text: id } })
    counters.stdio.ops++
    if (r.result === undefined) unexpected("stdio", JSON.stringify(r))
    const m = await call(`m${n}`, "resources/read", { uri: "demo://readme", _meta: MODERN_META })
    if (m.result === undefined) unexpected("stdio", JSON.stringify(m))
  }
  const cancelled = async () => {
    await ready
    const id = `slow${++n}`
    send(rpc(id, "tools/call", { name: "slow", arguments: { ms: 10_000 } }))
    await sleep(5)
    send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "soak" } }))
    counters.stdio.ops++
    await sleep(20)
  }
  const malformed = async () => {
    await ready
    send('{"jsonrpc":"2.0","id":"bad","method":"__proto__"}')
    send("{not json")
    const r = await call(`p${++n}`, "ping")
    counters.stdio.ops++
    if (r.result === undefined) unexpected("stdio", JSON.stringify(r))
    waiting.delete("bad")
  }
  // Short-lived processes: spawn, one call, then stdin EOF (must answer and exit 0) or SIGKILL.
  const shortLived = async () => {
    const p = spawnStdioServer()
    let out = ""
    p.child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    p.child.stdin.write(rpc(1, "initialize", INIT()) + "\n")
    p.child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    p.child.stdin.write(rpc(2, "tools/call", { name: "echo", arguments: { text: "short" } }) + "\n")
    const kill = ++n % 3 === 0
    if (kill) {
      await sleep(300)
      p.child.kill("SIGKILL")
      await p.exited
    } else {
      p.child.stdin.end()
      const t0 = Date.now()
      // Generous: a Node start-up alone takes seconds on a loaded 2-core machine.
      const code = await Promise.race([p.exited, sleep(30_000).then(() => "timeout")])
      if (code !== 0 || !out.includes('"id":2')) {
        unexpected("stdio", `short-lived: exit ${String(code)} after ${Date.now() - t0} ms, answered: ${out.includes('"id":2')}; stderr: ${p.stderr().slice(-300)}`)
      }
      if (code === "timeout") await p.stop()
    }
    counters.stdio.ops++
  }
  return [
    ...Array.from({ length: concurrency }, () => loop(calls)),
    loop(cancelled, 20),
    loop(malformed, 50),
    loop(shortLived, 1_000)
  ]
}

// ---------------------------------------------------------------- fit and report

interface Sample {
  readonly t: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly rss: number
  readonly external: number
  readonly arrayBuffers: number
  /** `process.getActiveResourcesInfo()` counted by kind. */
  readonly handles: Readonly<Record<string, number>>
  /** Committed size of each V8 heap space (`v8.getHeapSpaceStatistics()`). */
  readonly spaces: Readonly<Record<string, number>>
  /** Bytes of JIT-compiled code in the heap (code spaces, used): grows while V8 still optimizes late. */
  readonly codeUsed: number
}

/** Least-squares slope (per hour) and the mean, of `y` over `t` (ms). */
export const fit = (points: ReadonlyArray<{ readonly t: number; readonly y: number }>): { slopePerHour: number; mean: number } => {
  const n = points.length
  if (n < 2) return { slopePerHour: 0, mean: n === 1 ? points[0]!.y : 0 }
  const mt = points.reduce((s, p) => s + p.t, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.t - mt) * (p.y - my)
    den += (p.t - mt) ** 2
  }
  return { slopePerHour: den === 0 ? 0 : (num / den) * 3_600_000, mean: my }
}

const main = async (): Promise<void> => {
  const nodeArgs = ["--expose-gc", "--inspect=127.0.0.1:0"]
  log(`${minutes} min (warm-up ${warmupMin.toFixed(1)} min), a sample every ${sampleMs / 1_000} s${paceMs > 0 ? `, loops paced at ${paceMs} ms` : ""}`)
  const stdio = spawnStdioServer({ nodeArgs, maxMessageBytes: 4_194_304 })
  const http = await spawnNetworkServer("http", { nodeArgs, maxMessageBytes: 4_194_304, extraArgs: ["--idle-timeout", "30000"] })
  const ws = await spawnNetworkServer("ws", { nodeArgs, maxMessageBytes: 4_194_304, extraArgs: ["--idle-timeout", "30000"] })
  const servers = { stdio, http, ws } as const
  const probes = { stdio: new Probe(stdio), http: new Probe(http), ws: new Probe(ws) }
  for (const p of Object.values(probes)) await p.connect()
  const samples: Record<keyof typeof servers, Array<Sample>> = { stdio: [], http: [], ws: [] }

  const started = Date.now()
  const traffic = [...httpLoops(http.url), ...wsTraffic(ws.url), ...stdioTraffic(stdio)]
  const end = started + minutes * 60_000
  while (Date.now() < end) {
    await sleep(Math.min(sampleMs, Math.max(0, end - Date.now())))
    for (const [name, probe] of Object.entries(probes) as Array<[keyof typeof servers, Probe]>) {
      try {
        const s = await probe.sample()
        samples[name].push({ t: Date.now() - started, ...s })
      } catch (e) {
        log(`${name}: sample failed (${(e as Error).message})`)
      }
    }
    const last = (k: keyof typeof servers) => samples[k].at(-1)
    log(`${((Date.now() - started) / 60_000).toFixed(1)} min: ` + (Object.keys(servers) as Array<keyof typeof servers>)
      .map((k) => {
        const l = last(k)
        const mb = (x: number | undefined, d = 1) => ((x ?? 0) / 1e6).toFixed(d)
        const handles = Object.entries(l?.handles ?? {}).map(([h, c]) => `${h}:${c}`).join(",")
        const spaces = Object.entries(l?.spaces ?? {}).filter(([, b]) => b >= 1e6).map(([n, b]) => `${n.replace(/_space$/, "")}:${mb(b)}`).join(",")
        return `${k} spaces ${spaces} heap ${mb(l?.heapUsed, 2)}/${mb(l?.heapTotal)} MB rss ${mb(l?.rss)} MB ext ${mb(l?.external)} ab ${mb(l?.arrayBuffers)} MB handles ${handles} ops ${counters[k].ops}`
      }).join(" · "))
  }
  stopping = true
  await Promise.race([Promise.all(traffic), sleep(20_000)])
  for (const p of Object.values(probes)) p.close()
  const exits: Record<string, string> = {}
  for (const [name, s] of Object.entries(servers)) {
    if (name === "stdio") s.child.stdin.end()
    const alive = s.child.exitCode === null && s.child.signalCode === null
    exits[name] = alive ? "running until the end" : `exited early (${String(s.child.exitCode ?? s.child.signalCode)})`
    await s.stop()
  }

  const warmupMs = warmupMin * 60_000
  const rows = (Object.keys(servers) as Array<keyof typeof servers>).map((k) => {
    const after = samples[k].filter((s) => s.t >= warmupMs)
    const heap = fit(after.map((s) => ({ t: s.t, y: s.heapUsed })))
    const rss = fit(after.map((s) => ({ t: s.t, y: s.rss })))
    // The same heap without compiled code: tells a leak (data) from V8 still compiling under slow traffic.
    const data = fit(after.map((s) => ({ t: s.t, y: s.heapUsed - (s.codeUsed ?? 0) })))
    const pct = (f: { slopePerHour: number; mean: number }) => (f.mean === 0 ? 0 : (f.slopePerHour / f.mean) * 100)
    return {
      transport: k,
      samples: after.length,
      heapFirstMB: (after[0]?.heapUsed ?? 0) / 1e6,
      heapLastMB: (after.at(-1)?.heapUsed ?? 0) / 1e6,
      heapSlopeKBPerHour: heap.slopePerHour / 1e3,
      heapPctPerHour: pct(heap),
      dataPctPerHour: pct(data),
      codeFirstMB: (after[0]?.codeUsed ?? 0) / 1e6,
      codeLastMB: (after.at(-1)?.codeUsed ?? 0) / 1e6,
      rssFirstMB: (after[0]?.rss ?? 0) / 1e6,
      rssLastMB: (after.at(-1)?.rss ?? 0) / 1e6,
      rssSlopeKBPerHour: rss.slopePerHour / 1e3,
      rssPctPerHour: pct(rss),
      ops: counters[k].ops,
      unexpected: counters[k].unexpected,
      lastUnexpected: counters[k].lastUnexpected,
      server: exits[k]!,
      flat: pct(heap) < 1 && after.length >= 3
    }
  })
  const f1 = (x: number) => x.toFixed(1)
  const f2 = (x: number) => x.toFixed(2)
  const md = [
    `Soak: ${minutes} min (fit after ${warmupMin.toFixed(1)} min of warm-up), heap after GC and RSS sampled every ${sampleMs / 1_000} s${paceMs > 0 ? `, client loops paced at ${paceMs} ms` : ""}, ${new Date(started).toISOString()}, Node ${process.version}.`,
    "",
    "| transport | samples | heap after GC (MB) first → last | heap slope | heap %/h | RSS (MB) first → last | RSS slope | RSS %/h | heap without code %/h | code (MB) first → last | operations | unexpected answers | flat (< 1 %/h heap) |",
    "|---|---:|---|---:|---:|---|---:|---:|---:|---|---:|---:|---|",
    ...rows.map((r) =>
      `| ${r.transport} | ${r.samples} | ${f2(r.heapFirstMB)} → ${f2(r.heapLastMB)} | ${f1(r.heapSlopeKBPerHour)} KB/h | ${f2(r.heapPctPerHour)} | ${f1(r.rssFirstMB)} → ${f1(r.rssLastMB)} | ${f1(r.rssSlopeKBPerHour)} KB/h | ${f2(r.rssPctPerHour)} | ${f2(r.dataPctPerHour)} | ${f2(r.codeFirstMB)} → ${f2(r.codeLastMB)} | ${r.ops} | ${r.unexpected} | ${r.flat ? "yes" : "**no**"} |`
    ),
    "",
    ...rows.filter((r) => r.unexpected > 0 || !r.server.startsWith("running")).map((r) => `- ${r.transport}: server ${r.server}; last unexpected answer: ${r.lastUnexpected ?? "none"}`)
  ].join("\n")
  writeFileSync(outMd, md + "\n")
  writeFileSync(outJson, JSON.stringify({ minutes, warmupMinutes: warmupMin, sampleSeconds: sampleMs / 1_000, started: new Date(started).toISOString(), node: process.version, rows, samples }, null, 2))
  process.stdout.write(md + "\n")
  log(`report written to ${outMd} and ${outJson}`)
  process.exit(rows.every((r) => r.server.startsWith("running")) ? 0 : 1)
}

await main()
