/**
 * `npm run campaign`: the hostile/fault campaign of issue 8, rerun at full
 * scale against the real servers (`node src/cli/main.ts serve --http 0 | --ws 0
 * | --stdio`, default settings) after the fixes. Prints a Markdown table: what
 * was done, what was measured, the expectation, the verdict. Not a test: the
 * figures depend on the machine; every phase is bounded in time.
 *
 *   npm run campaign                              # every phase (~8–10 min on 2 cores)
 *   npm run campaign -- --only flood,ws,guess     # a subset
 *   npm run campaign -- --frames 2000 --seed 7    # fuzz frames per transport, fuzz seed
 *
 * Phases: flood (HTTP session exhaustion), ws (WebSocket exhaustion), slow
 * (slowloris, half-open), inflight (1,000 calls dropped), kill (kill -9,
 * SIGSTOP of a stdio server), rebind (Host/Origin), guess (session ids),
 * state (tampered requestState), fuzz (hostile frames). Server stats the CLI
 * does not print (live timers and sockets) are read over the server's
 * inspector (`--inspect=127.0.0.1:0`, which changes no server setting).
 */
import { randomBytes } from "node:crypto"
import http from "node:http"
import net from "node:net"
import { cpus, loadavg } from "node:os"
import { parseArgs } from "node:util"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Pool } from "undici"
import WebSocket from "ws"
import { ClientSession } from "../src/client/ClientSession.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeStdioClientTransport } from "../src/transports/stdioClient.ts"
import { runCampaign } from "../test/fuzz/campaign.ts"
import { BIN, ROOT, type ServerProcess, spawnNetworkServer } from "../test/fuzz/servers.ts"

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    frames: { type: "string" },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" }
  }
})
const PHASES = ["flood", "ws", "slow", "inflight", "kill", "rebind", "guess", "state", "fuzz"] as const
if (values.help) {
  process.stdout.write(`Usage: npm run campaign -- [--only ${PHASES.join(",")}] [--frames N] [--seed N]\n`)
  process.exit(0)
}
const only = new Set((values.only ?? PHASES.join(",")).split(",").map((s) => s.trim()))
const FRAMES = Number(values.frames ?? 10_000)
const SEED = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31))
/** The CLI's default `--max-message-bytes` (the fuzz helpers pass their own otherwise). */
const DEFAULT_MAX_MESSAGE_BYTES = 4_194_304

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const log = (s: string) => process.stderr.write(`campaign: ${s}\n`)
const ms = (x: number) => `${Math.round(x)} ms`
const s1 = (x: number) => `${(x / 1_000).toFixed(1)} s`
const pct = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const count = <T>(xs: Iterable<T>): Map<T, number> => {
  const m = new Map<T, number>()
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}
const showCounts = (m: Map<unknown, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(k)}: ${n}`).join(", ")

interface Row {
  readonly phase: string
  readonly done: string
  readonly measured: string
  readonly expected: string
  verdict: "held" | "**FAILED**" | "finding" | "info"
}
const rows: Array<Row> = []
const row = (r: Row) => {
  rows.push(r)
  log(`${r.phase}: ${r.verdict} — ${r.measured}`)
}
const held = (ok: boolean): Row["verdict"] => (ok ? "held" : "**FAILED**")

/** Run `fn` with at most `n` at a time. */
const pool = async <T>(items: number, n: number, fn: (i: number) => Promise<T>): Promise<Array<T>> => {
  const out = new Array<T>(items)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(n, items) }, async () => {
    while (next < items) {
      const i = next++
      out[i] = await fn(i)
    }
  }))
  return out
}

// ---------------------------------------------------------------- servers and raw HTTP

const children: Array<ServerProcess> = []
const serve = async (kind: "http" | "ws", inspect = false): Promise<ServerProcess> => {
  const p = await spawnNetworkServer(kind, { maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES, ...(inspect ? { nodeArgs: ["--inspect=127.0.0.1:0"] } : {}) })
  children.push(p)
  return p
}

const ACCEPT = { accept: "application/json, text/event-stream", "content-type": "application/json" }
const INIT = (id: number | string = 1) => JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "campaign", version: "1" } } })
const rpc = (id: number | string, method: string, params?: object) => JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })

interface Reply {
  readonly status: number
  readonly session: string | undefined
  readonly body: string
}
const post = async (p: Pool, body: string, headers: Record<string, string> = {}): Promise<Reply> => {
  const r = await p.request({ path: "/mcp", method: "POST", headers: { ...ACCEPT, "mcp-protocol-version": "2025-11-25", ...headers }, body })
  const text = await r.body.text()
  const sid = r.headers["mcp-session-id"]
  return { status: r.statusCode, session: typeof sid === "string" ? sid : undefined, body: text }
}
const originOf = (url: string) => new URL(url).origin

/** An initialized legacy session over raw POSTs (for sentinels). */
const rawSession = async (p: Pool): Promise<string> => {
  const r = await post(p, INIT())
  if (r.session === undefined) throw new Error(`initialize: ${r.status} ${r.body}`)
  await post(p, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }), { "mcp-session-id": r.session })
  return r.session
}

/** The SDK's client: connect, initialize, call echo. */
const sdkEcho = async (url: string): Promise<{ ok: boolean; ms: number; error?: string }> => {
  const t0 = performance.now()
  const client = new Client({ name: "well-behaved", version: "1" })
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    const r = await client.callTool({ name: "echo", arguments: { text: "still here" } })
    const ok = JSON.stringify(r.content).includes("still here")
    return { ok, ms: performance.now() - t0 }
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) }
  } finally {
    await client.close().catch(() => {})
  }
}

/** Evaluate expressions in a server started with `--inspect=127.0.0.1:0`. */
class Inspector {
  private socket!: WebSocket
  private next = 1
  private readonly waiting = new Map<number, (v: unknown) => void>()
  static async attach(proc: ServerProcess): Promise<Inspector> {
    const deadline = Date.now() + 15_000
    let url: string | undefined
    while ((url = /Debugger listening on (ws:\/\/\S+)/.exec(proc.stderr())?.[1]) === undefined) {
      if (Date.now() > deadline) throw new Error("no inspector URL")
      await sleep(50)
    }
    const i = new Inspector()
    i.socket = new WebSocket(url)
    await new Promise<void>((ok, fail) => {
      i.socket.once("open", () => ok())
      i.socket.once("error", fail)
    })
    i.socket.on("message", (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { id?: number; result?: { result?: { value?: unknown } } }
      if (m.id !== undefined) i.waiting.get(m.id)?.(m.result?.result?.value)
    })
    return i
  }
  eval<T>(expression: string): Promise<T> {
    const id = this.next++
    const p = new Promise<unknown>((r) => this.waiting.set(id, r))
    this.socket.send(JSON.stringify({ id, method: "Runtime.evaluate", params: { expression, returnByValue: true } }))
    return p as Promise<T>
  }
  /** Live libuv resources by kind (`Timeout`, `TCPSocketWrap`, …). */
  handles(): Promise<Record<string, number>> {
    return this.eval("(() => { const h = {}; for (const k of process.getActiveResourcesInfo()) h[k] = (h[k] ?? 0) + 1; return h })()")
  }
  close(): void {
    this.socket.terminate()
  }
}

// ---------------------------------------------------------------- 1. HTTP session exhaustion

const phaseFlood = async (): Promise<void> => {
  const srv = await serve("http")
  const url = srv.url
  const p = new Pool(originOf(url), { connections: 64 })
  const N = 10_000
  const statuses: Array<number> = []
  const ids: Array<string> = []
  let during: Promise<{ ok: boolean; ms: number; error?: string }> | undefined
  const t0 = performance.now()
  await pool(N, 256, async (i) => {
    if (i === N / 2) during = sdkEcho(url)
    const r = await post(p, INIT(i)).catch(() => ({ status: 0, session: undefined, body: "" }))
    statuses.push(r.status)
    if (r.session !== undefined) ids.push(r.session)
  })
  const floodMs = performance.now() - t0
  const floodEnd = Date.now()
  const after = await sdkEcho(url)
  const mid = await during!
  const c = count(statuses)
  row({
    phase: "session exhaustion (HTTP)",
    done: `${N.toLocaleString("en")} unauthenticated \`initialize\` POSTs (256 concurrent, 64 connections), then the SDK client (\`StreamableHTTPClientTransport\` + \`Client\`) initializes and calls \`echo\``,
    measured: `flood in ${s1(floodMs)} (${Math.round(N / (floodMs / 1_000)).toLocaleString("en")}/s): ${showCounts(c)}; SDK client after the flood: ${after.ok ? "echo answered" : `failed (${after.error})`} in ${ms(after.ms)}`,
    expected: "the flood gets 200 (sessions beyond the handshake budget evicted, none refused), the client is served (no 503)",
    verdict: held(after.ok && (c.get(503) ?? 0) === 0)
  })
  row({
    phase: "session exhaustion (HTTP), client during the flood",
    done: "the same SDK client started halfway through the flood",
    measured: mid.ok ? `echo answered in ${ms(mid.ms)}` : `failed after ${ms(mid.ms)}: ${mid.error}`,
    expected: "served, unless its handshake took longer than the flood needs to open 1,000 sessions (then evicted: 404, by design)",
    verdict: mid.ok ? "held" : "info"
  })
  // Which flood sessions are still alive (a ping to a dead one is 404), and when the last is reaped.
  const alive = async (id: string) => (await post(p, rpc("probe", "ping"), { "mcp-session-id": id }).catch(() => ({ status: 0 }))).status !== 404
  let live = ids
  const firstLive = (await pool(live.length, 64, (i) => alive(live[i]!)))
  live = live.filter((_, i) => firstLive[i])
  const liveAfter = live.length
  const liveAt = Date.now() - floodEnd
  while (live.length > 0 && Date.now() - floodEnd < 40_000) {
    await sleep(500)
    const still = await pool(live.length, 64, (i) => alive(live[i]!))
    live = live.filter((_, i) => still[i])
  }
  const reapedAt = Date.now() - floodEnd
  row({
    phase: "session exhaustion (HTTP), reaping",
    done: "every flood session probed with a `ping` (404 = gone), then the live ones every 0.5 s",
    measured: `${liveAfter} of ${ids.length} flood sessions alive ${s1(liveAt)} after the flood; ${live.length === 0 ? `all reaped ${s1(reapedAt)} after the flood's end` : `${live.length} still alive after 40 s`}`,
    expected: "≤ 1,000 left (handshake budget, `maxSessions / 10`), all gone within the 10 s handshake deadline",
    verdict: held(liveAfter <= 1_000 && live.length === 0 && reapedAt <= 12_000 + liveAt)
  })
  await p.close()
  await srv.stop()
}

// ---------------------------------------------------------------- 2. WebSocket exhaustion

const phaseWs = async (): Promise<void> => {
  const srv = await serve("ws")
  const N = 9_000
  const closes: Array<{ code: number; at: number }> = []
  const sockets: Array<WebSocket> = []
  let refused = 0
  const t0 = Date.now()
  await pool(N, 200, (i) => new Promise<void>((done) => {
    const ws = new WebSocket(srv.url, "mcp")
    sockets.push(ws)
    let opened = false
    ws.once("open", () => {
      opened = true
      done()
    })
    ws.once("error", () => {
      if (!opened) refused++
      done()
    })
    ws.once("close", (code) => {
      closes.push({ code, at: Date.now() - t0 })
      if (!opened) done()
    })
    void i
  }))
  const openedMs = Date.now() - t0
  // The well-behaved client, once the 9,000 are open.
  const c0 = performance.now()
  let clientOk = false
  let clientErr = ""
  try {
    const client = await connectWs(srv.url)
    const r = await client.callTool("echo", { text: "still here" })
    clientOk = JSON.stringify(r).includes("still here")
    await client.close()
  } catch (e) {
    clientErr = e instanceof Error ? e.message : String(e)
  }
  const clientMs = performance.now() - c0
  const deadline = Date.now() + 25_000
  while (closes.length < N - refused && Date.now() < deadline) await sleep(250)
  const codes = count(closes.map((c) => c.code))
  const idle = closes.filter((c) => c.code === 4408).map((c) => c.at)
  const evicted = closes.filter((c) => c.code === 1013).map((c) => c.at)
  const stillOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length
  row({
    phase: "session exhaustion (WebSocket)",
    done: `${N.toLocaleString("en")} WebSocket connections (subprotocol \`mcp\`) that never initialize, then our client (\`connectWs\`) connects and calls \`echo\``,
    measured: `opened in ${s1(openedMs)} (${refused} refused); client: ${clientOk ? "echo answered" : `failed (${clientErr})`} in ${ms(clientMs)}; closes: ${showCounts(codes)}; 4408 at ${idle.length > 0 ? `${s1(Math.min(...idle))}–${s1(Math.max(...idle))}` : "—"} after the first connect; 1013 (evicted: handshake budget) at ${evicted.length > 0 ? `${s1(Math.min(...evicted))}–${s1(Math.max(...evicted))}` : "—"}; still open after 25 s: ${stillOpen}`,
    expected: "no refusal, the client is served; idle connections evicted (1013) beyond the handshake budget of 1,000 or closed 4408 at the 10 s handshake deadline; none left",
    verdict: held(clientOk && refused === 0 && stillOpen === 0 && idle.every((t) => t <= openedMs + 12_000))
  })
  for (const s of sockets) s.terminate()
  await srv.stop()
}

// ---------------------------------------------------------------- 3. slowloris, half-open

const phaseSlow = async (): Promise<void> => {
  const httpSrv = await serve("http")
  const wsSrv = await serve("ws")
  const hu = new URL(httpSrv.url)
  const wu = new URL(wsSrv.url)
  const N = 100
  const CAP_MS = 95_000
  const t0 = Date.now()
  type Probe = { kind: string; closedAt: number | undefined; socket: net.Socket; timer?: NodeJS.Timeout }
  const probes: Array<Probe> = []
  const open = (u: URL, kind: string, head: string, trickle: string | undefined) => {
    const socket = net.connect(Number(u.port), u.hostname)
    const pr: Probe = { kind, closedAt: undefined, socket }
    probes.push(pr)
    socket.on("error", () => {})
    socket.once("close", () => {
      pr.closedAt = Date.now() - t0
      if (pr.timer) clearInterval(pr.timer)
    })
    // Never read: pause the socket so nothing is consumed (half-open: the server's writes pile up).
    socket.pause()
    socket.once("connect", () => {
      socket.write(head)
      if (trickle !== undefined) {
        let i = 0
        pr.timer = setInterval(() => {
          if (i < trickle.length && !socket.destroyed) socket.write(trickle[i++]!)
        }, 1_000)
      }
    })
  }
  const body = INIT()
  const postHead = `POST ${hu.pathname} HTTP/1.1\r\nHost: ${hu.host}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
  const upgrade = `GET ${wu.pathname} HTTP/1.1\r\nHost: ${wu.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n\r\n`
  for (let i = 0; i < N; i++) {
    open(hu, "slow body (HTTP)", postHead, body)
    open(wu, "slow upgrade (WS)", "", upgrade)
    open(hu, "half-open, half the headers (HTTP)", postHead.slice(0, postHead.length >> 1), undefined)
    open(hu, "half-open, half the body (HTTP)", postHead + body.slice(0, body.length >> 1), undefined)
    open(wu, "half-open, half the upgrade (WS)", upgrade.slice(0, upgrade.length >> 1), undefined)
  }
  // Sentinels: a ping on an initialized HTTP session and on a WebSocket session, every 200 ms.
  const p = new Pool(originOf(httpSrv.url), { connections: 2 })
  const sid = await rawSession(p)
  const wsClient = await connectWs(wsSrv.url)
  const lat = { http: [] as Array<number>, ws: [] as Array<number> }
  let failures = 0
  while (Date.now() - t0 < CAP_MS && probes.some((x) => x.closedAt === undefined)) {
    const a = performance.now()
    const r = await post(p, rpc("s", "ping"), { "mcp-session-id": sid }).catch(() => ({ status: 0 }))
    if (r.status !== 200) failures++
    lat.http.push(performance.now() - a)
    const b = performance.now()
    await wsClient.ping().catch(() => void failures++)
    lat.ws.push(performance.now() - b)
    await sleep(200)
  }
  for (const kind of [...new Set(probes.map((x) => x.kind))]) {
    const of = probes.filter((x) => x.kind === kind)
    const closed = of.filter((x) => x.closedAt !== undefined).map((x) => x.closedAt!)
    const all = closed.length === of.length
    row({
      phase: "slowloris / half-open",
      done: `${N} sockets: ${kind}${kind.startsWith("slow") ? ", one byte per second" : ", never read"}`,
      measured: closed.length === 0 ? `none closed by the server within ${s1(CAP_MS)}` : `${closed.length}/${of.length} closed by the server, at ${s1(pct(closed, 0))}–${s1(pct(closed, 100))} (median ${s1(pct(closed, 50))})`,
      expected: "closed eventually (Node's `headersTimeout` 60 s / `requestTimeout` 300 s; no timeout of our own)",
      verdict: all ? "held" : "finding"
    })
  }
  row({
    phase: "slowloris / half-open, sentinel",
    done: `during the ${N * 5} sockets above: a \`ping\` every 200 ms on an HTTP session and on a WebSocket session`,
    measured: `HTTP p50 ${ms(pct(lat.http, 50))}, p99 ${ms(pct(lat.http, 99))}; WS p50 ${ms(pct(lat.ws, 50))}, p99 ${ms(pct(lat.ws, 99))}; ${lat.http.length} rounds, ${failures} failures`,
    expected: "served throughout",
    verdict: held(failures === 0)
  })
  await wsClient.close()
  for (const x of probes) {
    if (x.timer) clearInterval(x.timer)
    x.socket.destroy()
  }
  await p.close()
  await httpSrv.stop()
  await wsSrv.stop()
}

// ---------------------------------------------------------------- 4. 1,000 in-flight calls dropped

const MODERN_META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }

/**
 * Wait until the server holds `extra` more timers than `base` (the `slow` handlers' sleeps), or until
 * the count has not moved for 1 s (a session's own timers, e.g. its idle timer, are cleared while it is
 * busy, so the sum can fall a few short); returns the increase.
 */
const waitTimers = async (insp: Inspector, base: number, extra: number): Promise<number> => {
  const until = Date.now() + 30_000
  let n = 0
  let last = -1
  let since = Date.now()
  while ((n = (await insp.handles()).Timeout ?? 0) < base + extra && Date.now() < until) {
    if (n !== last) {
      last = n
      since = Date.now()
    } else if (Date.now() - since > 1_000 && n >= base + extra * 0.95) break
    await sleep(50)
  }
  return n - base
}
/** Poll every 5 ms until the timers are back to `base`: ms since `t0`, NaN if not within 10 s. */
const timersBack = async (insp: Inspector, base: number, t0: number): Promise<number> => {
  while (performance.now() - t0 < 10_000) {
    if (((await insp.handles()).Timeout ?? 0) <= base) return performance.now() - t0
    await sleep(5)
  }
  return NaN
}
const rawPost = (u: URL, agent: http.Agent, body: string, headers: Record<string, string>, method = "POST"): http.ClientRequest => {
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, agent, headers: { ...ACCEPT, ...headers, "content-length": Buffer.byteLength(body) } })
  req.on("error", () => {})
  req.on("response", (res) => res.resume())
  req.end(body)
  return req
}
const SLOW = (id: string) => rpc(id, "tools/call", { name: "slow", arguments: { ms: 120_000 } })

const phaseInflight = async (): Promise<void> => {
  const N = 1_000
  // HTTP, modern (2026-07-28) stateless calls: a dropped connection is the call's cancellation.
  {
    const srv = await serve("http", true)
    const insp = await Inspector.attach(srv)
    const u = new URL(srv.url)
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    const base = (await insp.handles()).Timeout ?? 0
    const reqs = Array.from({ length: N }, (_, i) => rawPost(u, agent,
      rpc(`m${i}`, "tools/call", { name: "slow", arguments: { ms: 120_000 }, _meta: MODERN_META }),
      { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "slow" }))
    const live = await waitTimers(insp, base, N)
    const t0 = performance.now()
    for (const r of reqs) r.destroy()
    const back = await timersBack(insp, base, t0)
    const h = await insp.handles()
    row({
      phase: "1,000 in-flight calls dropped (HTTP, modern)",
      done: `${N} modern (2026-07-28) stateless \`slow\` calls (120 s), one socket each; every client socket destroyed at once`,
      measured: `${live} handlers running; ${Number.isNaN(back) ? "NOT all aborted within 10 s" : `all aborted (timers back to the baseline) ${ms(back)} after the drop`}; server afterwards: ${h.Timeout ?? 0} timers, ${h.TCPSocketWrap ?? 0} TCP sockets`,
      expected: "a dropped modern request is cancelled: every handler aborted (< 75 ms in the original campaign), nothing left",
      verdict: held(live >= N * 0.95 && !Number.isNaN(back))
    })
    insp.close()
    agent.destroy()
    await srv.stop()
  }
  // HTTP, legacy sessions: a dropped connection is NOT a cancellation (the client may resume the stream); DELETE ends them.
  {
    const srv = await serve("http", true)
    const insp = await Inspector.attach(srv)
    const u = new URL(srv.url)
    const setup = new Pool(u.origin, { connections: 4 })
    const SESSIONS = 10
    const sids = await Promise.all(Array.from({ length: SESSIONS }, () => rawSession(setup)))
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    const base = (await insp.handles()).Timeout ?? 0
    const reqs = Array.from({ length: N }, (_, i) => rawPost(u, agent, SLOW(`s${i}`), { "mcp-protocol-version": "2025-11-25", "mcp-session-id": sids[i % SESSIONS]! }))
    const live = await waitTimers(insp, base, N)
    for (const r of reqs) r.destroy()
    await sleep(1_000)
    const stillRunning = ((await insp.handles()).Timeout ?? 0) - base
    const again = await post(setup, SLOW("s0"), { "mcp-session-id": sids[0]! })
    const t0 = performance.now()
    await Promise.all(sids.map((sid) => setup.request({ path: u.pathname, method: "DELETE", headers: { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" } }).then((r) => r.body.dump())))
    const back = await timersBack(insp, base, t0)
    row({
      phase: "1,000 in-flight calls dropped (HTTP, legacy sessions)",
      done: `${N} \`slow\` calls in ${SESSIONS} legacy sessions, one socket each; every client socket destroyed, then after 1 s the ${SESSIONS} sessions DELETEd at once`,
      measured: `${live} handlers running; 1 s after the drop ${stillRunning} still run (a request id reused: ${again.status}, ${(() => { try { return String(JSON.parse(again.body).error?.code) } catch { return "?" } })()}); after DELETE ${Number.isNaN(back) ? "NOT all aborted within 10 s" : `all aborted ${ms(back)} later`}`,
      expected: "by the spec a dropped connection is not a cancellation (the client may resume with `Last-Event-ID`): the calls keep running; ending the session aborts them all",
      verdict: held(live >= N * 0.95 && !Number.isNaN(back))
    })
    insp.close()
    agent.destroy()
    await setup.close()
    await srv.stop()
  }
  // WebSocket: the connection is the session; terminating it aborts its calls.
  {
    const srv = await serve("ws", true)
    const insp = await Inspector.attach(srv)
    const CONNS = 10
    const sockets = await Promise.all(Array.from({ length: CONNS }, async () => {
      const ws = new WebSocket(srv.url, "mcp")
      await new Promise<void>((ok, fail) => {
        ws.once("open", () => ok())
        ws.once("error", fail)
      })
      ws.on("error", () => {})
      const initialized = new Promise<void>((ok) => ws.once("message", () => ok()))
      ws.send(INIT())
      await initialized
      ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
      return ws
    }))
    const base = (await insp.handles()).Timeout ?? 0
    for (let i = 0; i < N; i++) sockets[i % CONNS]!.send(SLOW(`w${i}`))
    const live = await waitTimers(insp, base, N)
    const t0 = performance.now()
    for (const ws of sockets) ws.terminate()
    const back = await timersBack(insp, base, t0)
    row({
      phase: "1,000 in-flight calls dropped (WebSocket)",
      done: `${N} \`slow\` calls over ${CONNS} WebSocket sessions; every socket terminated at once`,
      measured: `${live} handlers running; ${Number.isNaN(back) ? "NOT all aborted within 10 s" : `all aborted ${ms(back)} after the drop`}`,
      expected: "every handler aborted, nothing left",
      verdict: held(live >= N * 0.95 && !Number.isNaN(back))
    })
    insp.close()
    await srv.stop()
  }
}

// ---------------------------------------------------------------- 5. kill -9, SIGSTOP

const stdioClient = async (keepalive: boolean | undefined) => {
  const transport = makeStdioClientTransport({ command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: ROOT, stderr: "ignore" })
  await transport.spawned
  const client = await ClientSession.connect(transport, keepalive === undefined ? {} : { keepalive })
  return { client, pid: transport.pid! }
}
const errName = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 80)}` : String(e))

const phaseKill = async (): Promise<void> => {
  const { client, pid } = await stdioClient(undefined)
  await client.callTool("echo", { text: "warm" })
  const call = client.callTool("slow", { ms: 60_000 }).then(() => "answered", (e: unknown) => errName(e))
  const ended = client.ended.then((e) => JSON.stringify(e).slice(0, 80))
  await sleep(200)
  const t0 = performance.now()
  process.kill(pid, "SIGKILL")
  const outcome = await call
  const callMs = performance.now() - t0
  await ended
  const endMs = performance.now() - t0
  const next = await client.callTool("echo", { text: "x" }).then(() => "answered", (e: unknown) => errName(e))
  row({
    phase: "kill -9 (stdio)",
    done: "`connectStdio`-style client (`makeStdioClientTransport` + `ClientSession`), a `slow` call in flight, server SIGKILLed",
    measured: `in-flight call: ${outcome} after ${ms(callMs)}; session ended after ${ms(endMs)}; next call: ${next}`,
    expected: "typed errors within milliseconds",
    verdict: held(outcome !== "answered" && callMs < 1_000 && next !== "answered")
  })
}

/** SIGSTOP: runs in the background (the default keepalive needs ~100 s); resolves with its rows. */
const phaseStop = async (): Promise<Array<Row>> => {
  const out: Array<Row> = []
  const a = await stdioClient(undefined)
  const b = await stdioClient(true)
  try {
    const t0 = performance.now()
    process.kill(a.pid, "SIGSTOP")
    process.kill(b.pid, "SIGSTOP")
    const bEnded = b.client.ended.then((e) => ({ at: performance.now() - t0, why: JSON.stringify(e).slice(0, 100) }))
    const aCall = a.client.callTool("echo", { text: "x" }).then(() => "answered", (e: unknown) => errName(e)).then((r) => ({ r, at: performance.now() - t0 }))
    const cap = sleep(150_000).then(() => undefined)
    const [ae, be] = await Promise.all([Promise.race([aCall, cap]), Promise.race([bEnded, cap])])
    out.push({
      phase: "SIGSTOP (stdio), default options",
      done: "server SIGSTOPped under a client with default options (keepalive off on stdio: the child's exit is the liveness signal), then `echo` called",
      measured: ae === undefined ? "no answer, no error within 150 s" : `the call: ${ae.r} after ${s1(ae.at)}; the session stays \`${a.client.state}\``,
      expected: "the call fails at its request timeout (60 s default); a stopped peer is not detected otherwise",
      verdict: ae !== undefined && ae.r !== "answered" ? "info" : "**FAILED**"
    })
    out.push({
      phase: "SIGSTOP (stdio), keepalive on",
      done: "server SIGSTOPped under a client with `keepalive: true` (default interval 30 s, timeout 10 s, 3 misses), idle",
      measured: be === undefined ? "not detected within 150 s" : `dead peer detected after ${s1(be.at)} (${be.why})`,
      expected: "detected by keepalive: 3 missed pings, one every 30 s (~90–130 s)",
      verdict: held(be !== undefined && be.at < 130_000)
    })
  } finally {
    for (const x of [a, b]) {
      try {
        process.kill(x.pid, "SIGKILL")
      } catch {}
      await x.client.close().catch(() => {})
    }
  }
  return out
}

// ---------------------------------------------------------------- 6. DNS rebinding

const phaseRebind = async (): Promise<void> => {
  const httpSrv = await serve("http")
  const wsSrv = await serve("ws")
  const results: Array<string> = []
  let right = 0
  let total = 0
  for (const srv of [httpSrv, wsSrv]) {
    const u = new URL(srv.url)
    const P = u.port
    const hosts: Array<[string, boolean]> = [[`127.0.0.1:${P}`, true], [`localhost:${P}`, true], [`evil.example:${P}`, false], [`127.0.0.1.nip.io:${P}`, false]]
    const origins: Array<[string | undefined, boolean]> = [
      [undefined, true], [`http://127.0.0.1:${P}`, true], [`http://localhost:${P}`, true], ["https://localhost", true],
      ["http://evil.example", false], ["null", false], [`http://localhost.evil.example:${P}`, false], ["file://", false]
    ]
    for (const [host, hostOk] of hosts) {
      for (const [origin, originOk] of origins) {
        const allowed = hostOk && originOk
        const status = await new Promise<number>((done) => {
          const isWs = srv === wsSrv
          const body = INIT()
          const req = http.request({
            host: u.hostname, port: P, path: u.pathname, method: isWs ? "GET" : "POST", setHost: false,
            headers: {
              host, ...(origin === undefined ? {} : { origin }),
              ...(isWs
                ? { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": randomBytes(16).toString("base64"), "sec-websocket-version": "13", "sec-websocket-protocol": "mcp" }
                : { ...ACCEPT, "content-length": Buffer.byteLength(body) })
            }
          })
          req.on("upgrade", (res, socket) => {
            socket.destroy()
            done(res.statusCode ?? 101)
          })
          req.on("response", (res) => {
            res.resume()
            done(res.statusCode ?? 0)
          })
          req.on("error", () => done(0))
          req.end(isWs ? undefined : body)
        })
        total++
        const ok = allowed ? status === (srv === wsSrv ? 101 : 200) : status === 403
        if (ok) right++
        else results.push(`${srv === wsSrv ? "WS" : "HTTP"} Host ${host} Origin ${origin ?? "(none)"} → ${status}`)
      }
    }
  }
  row({
    phase: "DNS rebinding",
    done: "Host ∈ {127.0.0.1:P, localhost:P, evil.example:P, 127.0.0.1.nip.io:P} × Origin ∈ {none, http://127.0.0.1:P, http://localhost:P, https://localhost, http://evil.example, null, http://localhost.evil.example:P, file://}, on HTTP (`initialize` POST) and WebSocket (upgrade)",
    measured: `${right}/${total} right${results.length > 0 ? `; wrong: ${results.join("; ")}` : ""}`,
    expected: "served (200 / 101) only for a loopback Host and a loopback or absent Origin; 403 otherwise",
    verdict: held(right === total)
  })
  await httpSrv.stop()
  await wsSrv.stop()
}

// ---------------------------------------------------------------- 7. session-id guessing

const phaseGuess = async (): Promise<void> => {
  const srv = await serve("http")
  const p = new Pool(originOf(srv.url), { connections: 32 })
  const real = await rawSession(p)
  // Guesses in the same shape as a real id (length and alphabet).
  const alphabet = [...new Set(real)].join("")
  const hex = /^[0-9a-f-]+$/.test(real)
  const guess = () => hex
    ? real.replace(/[0-9a-f]/g, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]!)
    : Array.from(randomBytes(real.length), (b) => alphabet[b % alphabet.length]).join("")
  const N = 100_000
  const statuses: Array<number> = []
  const guessLat: Array<number> = []
  const realLat: Array<number> = []
  const t0 = performance.now()
  await pool(N, 128, async (i) => {
    const a = performance.now()
    const r = await post(p, rpc(1, "ping"), { "mcp-session-id": guess() }).catch(() => ({ status: 0 }))
    statuses.push(r.status)
    guessLat.push(performance.now() - a)
    if (i % 100 === 0) {
      const b = performance.now()
      await post(p, rpc(1, "ping"), { "mcp-session-id": real })
      realLat.push(performance.now() - b)
    }
  })
  const took = performance.now() - t0
  const c = count(statuses)
  row({
    phase: "session-id guessing",
    done: `${N.toLocaleString("en")} random ids shaped like a real one (\`${real.length}\` chars) sent with a \`ping\`, 128 at a time; a real session pinged every 100 guesses`,
    measured: `${showCounts(c)} in ${s1(took)} (${Math.round(N / (took / 1_000)).toLocaleString("en")}/s); latency p50 guess ${ms(pct(guessLat, 50))} vs real ${ms(pct(realLat, 50))} (crude, under load)`,
    expected: "all 404",
    verdict: held((c.get(404) ?? 0) === N)
  })
  await p.close()
  await srv.stop()
}

// ---------------------------------------------------------------- 8. tampered requestState

const phaseState = async (): Promise<void> => {
  // The CLI's example servers have no tool that answers input_required uncaught, so this runs our
  // real HTTP server in this process with one such tool (modern stateless POSTs, as a client would).
  const server = new McpServer({ name: "mrtr", version: "1.0.0" }).tool({ name: "stepwise" }, (_args, ctx) => {
    if (ctx.requestState === undefined) ctx.inputRequired({ requestState: "step-1" })
    return { content: [{ type: "text", text: `resumed from ${ctx.requestState}` }] }
  })
  const srv = await makeHttpServer(server, { port: 0 })
  const p = new Pool(originOf(srv.url), { connections: 8 })
  const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
  let id = 0
  const call = async (requestState?: string): Promise<any> => {
    const r = await post(p, rpc(++id, "tools/call", { name: "stepwise", ...(requestState === undefined ? {} : { requestState }), _meta: META }), {
      "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "stepwise"
    })
    const text = r.body.startsWith("{") ? r.body : (/^data: (.*)$/m.exec(r.body)?.[1] ?? "{}")
    return JSON.parse(text)
  }
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  let sealed = ""
  for (let i = 0; i < 50 && !/[-_]/.test(sealed.slice(sealed.indexOf(".") + 1)); i++) {
    sealed = (await call()).result?.requestState ?? ""
    await sleep(2)
  }
  const dot = sealed.indexOf(".")
  const mac = sealed.slice(dot + 1)
  const last = ALPHABET.indexOf(mac.at(-1)!)
  const variants: Array<[string, string]> = []
  for (const flip of [1, 2, 3]) variants.push([`last character ^${flip}`, `${sealed.slice(0, -1)}${ALPHABET[last ^ flip]!}`])
  variants.push(["appended =", `${sealed}=`], ["appended ==", `${sealed}==`], ["appended space", `${sealed} `], ["appended !", `${sealed}!`])
  variants.push(["inserted .", `${sealed.slice(0, dot + 10)}.${sealed.slice(dot + 10)}`])
  variants.push(["+/ for -_", `${sealed.slice(0, dot + 1)}${mac.replaceAll("-", "+").replaceAll("_", "/")}`])
  const named = variants.length
  // Random bit flips of the UTF-8 bytes (payload or MAC), skipping flips that leave the text unchanged.
  const bytes = Buffer.from(sealed)
  while (variants.length < named + 1_000) {
    const b = Buffer.from(bytes)
    const n = 1 + Math.floor(Math.random() * 3)
    for (let k = 0; k < n; k++) b[Math.floor(Math.random() * b.length)]! ^= 1 << Math.floor(Math.random() * 8)
    const v = b.toString("utf8")
    if (v !== sealed) variants.push([`bit flip`, v])
  }
  const wrong: Array<string> = []
  const got = await pool(variants.length, 8, async (i) => {
    const r = await call(variants[i]![1])
    const code = r.error?.code as number | undefined
    if (code !== -32602 && wrong.length < 5) wrong.push(`${variants[i]![0]} → ${JSON.stringify(r).slice(0, 120)}`)
    return code === -32602
  })
  const canonical = await call(sealed)
  const resumed = JSON.stringify(canonical.result?.content ?? "").includes("resumed from step-1")
  const right = got.filter(Boolean).length
  row({
    phase: "tampered `requestState`",
    done: `a sealed \`requestState\` (modern stateless \`tools/call\` over HTTP, our server in-process) replayed with the ${named} malleations of issue 8.5 and ${variants.length - named} random 1–3 bit flips`,
    measured: `${right}/${variants.length} answered -32602${wrong.length > 0 ? `; wrong: ${wrong.join("; ")}` : ""}; the canonical string ${resumed ? "resumes" : "does NOT resume"}`,
    expected: "every variant -32602 \"requestState failed verification\"; the canonical one resumes",
    verdict: held(right === variants.length && resumed)
  })
  await p.close()
  await srv.close()
}

// ---------------------------------------------------------------- 9. hostile frames

const phaseFuzz = async (): Promise<void> => {
  for (const transport of ["stdio", "ws", "http"] as const) {
    const r = await runCampaign({ transport, frames: FRAMES, seed: SEED })
    const ok = r.failure === undefined && r.serverExit === "ok"
    row({
      phase: `hostile frames (${transport})`,
      done: `\`test/fuzz/campaign.ts\`: ${FRAMES.toLocaleString("en")} generated frames, seed ${SEED}, oracle-checked, sentinel after each`,
      measured: `${r.stats.frames} frames, ${r.stats.connections} ${transport === "http" ? "sessions" : "connections"}, ${s1(r.durationMs)}${ok ? "" : `; ${r.failure ?? ""} ${r.serverExit}`.slice(0, 400)}`,
      expected: "every reply as the oracle says, sentinels answered, server alive",
      verdict: held(ok)
    })
  }
}

// ---------------------------------------------------------------- main

const started = Date.now()
log(`phases: ${[...only].join(", ")}; fuzz ${FRAMES} frames per transport, seed ${SEED}`)
const stopRows = only.has("kill") ? phaseStop() : undefined
const run: Record<(typeof PHASES)[number], () => Promise<void>> = {
  flood: phaseFlood, ws: phaseWs, slow: phaseSlow, inflight: phaseInflight, kill: phaseKill,
  rebind: phaseRebind, guess: phaseGuess, state: phaseState, fuzz: phaseFuzz
}
try {
  for (const phase of PHASES) {
    if (!only.has(phase)) continue
    const t = Date.now()
    log(`${phase}…`)
    try {
      await run[phase]()
    } catch (e) {
      row({ phase, done: "(phase crashed)", measured: e instanceof Error ? (e.stack ?? e.message).slice(0, 300) : String(e), expected: "—", verdict: "**FAILED**" })
    }
    log(`${phase} done in ${s1(Date.now() - t)}`)
  }
  if (stopRows !== undefined) rows.push(...(await stopRows))
} finally {
  for (const c of children) await c.stop(2_000)
}
const crashed = children.filter((c) => c.child.exitCode !== null && c.child.exitCode !== 0 && c.child.signalCode === null)
const lines = [
  `Campaign rerun ${new Date(started).toISOString().slice(0, 16).replace("T", " ")} UTC, ${s1(Date.now() - started)}, Node ${process.version}, ${cpus().length} cores, load average at the end ${loadavg().map((x) => x.toFixed(1)).join(" / ")}${crashed.length > 0 ? `; **${crashed.length} server(s) exited non-zero**` : ""}`,
  "",
  "| phase | what was done | measured | expected | verdict |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.phase} | ${r.done} | ${r.measured.replaceAll("|", "\\|")} | ${r.expected} | ${r.verdict} |`)
]
process.stdout.write(lines.join("\n") + "\n")
process.exitCode = rows.some((r) => r.verdict === "**FAILED**") ? 1 : 0
