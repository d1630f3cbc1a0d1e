/**
 * Young-GC counters of HTTP session churn: what each scavenge keeps alive and promotes.
 *
 *   node bench/gcChurn.ts [--root DIR] [--concurrency 32] [--ops 8000] [--skip 6] [--port 0] [--inspect [--page]] [--serve-args="ARGS"]
 *                         [--calls legacy|modern [--tool slow] [--tool-args '{"ms":0}'] [--progress] [--wire http|ws|stdio] [--full-gc]] [-- NODE_FLAGS...]
 *
 * Starts `node --trace-gc-nvp src/cli/main.ts serve --http` from `--root` (default: this checkout;
 * give another checkout to compare), pinned to CPU 1, drives it with the neutral driver
 * (`bench/peers/mcp-bench.mjs http-churn`, initialize → initialized → DELETE) pinned to CPU 0, and
 * prints one JSON line: the medians over the scavenges after the first `--skip` (start-up) of
 * `new_space_survived` and `promoted` (KB), the scavenge pause (ms), sessions per scavenge, scavenge
 * pause per session (µs, steady state), full GCs, and the driver's server CPU µs per session.
 * `--inspect` serves the live inspector with nobody watching (`serve … --inspect 0`); `--page` also opens the
 * page's lean feed on it from another process (as `bench/inspectPaired.ts`'s page mode); `--serve-args=ARGS`
 * appends other arguments to `serve` (split at spaces; give it with `=`, as its value starts with a dash).
 * `--calls` churns calls instead of sessions: `tools/call` of `--tool` with `--tool-args`, `--concurrency`
 * at a time, on as many legacy sessions opened first (`legacy`) or as stateless 2026-07-28 requests
 * (`modern`); `--progress` asks for progress (the answer then comes as SSE). The default tool, `slow`
 * with 0 ms, answers in a later turn (an async handler); `echo` answers at once. "sessions" in the output
 * are then calls. This driver is ours (the neutral one has no modern era and no slow tool), run the same
 * way: its own process, pinned to CPU 0. `--wire ws` makes the legacy calls on `--concurrency` WebSocket
 * sessions (`serve --ws`), one call in flight on each; `--wire stdio` on the one session of `serve --stdio`,
 * `--concurrency` calls in flight on it (the driver spawns that server, line-buffered with `stdbuf -oL` so
 * that V8's trace lines and our JSON lines share its stdout whole, and writes the trace lines to the log).
 * `--full-gc` forces a full GC in the server a quarter of the calls in (as in bench/gcGateway.ts: a long-lived
 * process gets one, and only then are its per-session tables in old space) and takes the medians over
 * the scavenges after it (but its first).
 * See docs/performance.md, "Why churned sessions survived the young GC".
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, openSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { summarizeGcTrace } from "./gcTrace.ts"
import { PAGE_FEED } from "./inspectServers.ts"
import { parseArgs } from "node:util"

const { values, positionals } = parseArgs({
  options: {
    root: { type: "string", default: resolve(import.meta.dirname, "..") },
    concurrency: { type: "string", default: "32" },
    ops: { type: "string", default: "8000" },
    skip: { type: "string", default: "6" },
    port: { type: "string", default: String(47000 + Math.floor(Math.random() * 2000)) },
    inspect: { type: "boolean", default: false },
    page: { type: "boolean", default: false },
    "serve-args": { type: "string", default: "" },
    calls: { type: "string" },
    tool: { type: "string", default: "slow" },
    "tool-args": { type: "string", default: '{"ms":0}' },
    progress: { type: "boolean", default: false },
    wire: { type: "string", default: "http" },
    "full-gc": { type: "boolean", default: false },
    /** (Internal: where the stdio driver writes the server's trace lines.) */
    log: { type: "string" },
    /** (Internal: the calls driver, run by this script in its own process.) */
    "drive-calls": { type: "string" },
    pid: { type: "string" }
  },
  allowPositionals: true
})
if (values.calls !== undefined && values.calls !== "legacy" && values.calls !== "modern") throw new Error(`--calls takes legacy or modern, got ${values.calls}`)
const root = resolve(values.root)
let closing: Promise<unknown> = Promise.resolve()
/** The call a quarter in, at which the driver has the server run a full GC (`--full-gc`; its preload calls gc() on SIGUSR2). */
const fullGcAt = values["full-gc"] ? Math.floor(Number(values.ops) / 4) : -1
if (values.wire !== "http" && values.wire !== "ws" && values.wire !== "stdio") throw new Error(`--wire takes http, ws or stdio, got ${values.wire}`)
if (values.wire !== "http" && values.calls !== "legacy") throw new Error("--wire ws|stdio is for --calls legacy")
if (values["drive-calls"] !== undefined) {
  const result = values.wire === "http"
    ? await driveCalls(values["drive-calls"], values.calls === "modern", Number(values.concurrency), Number(values.ops), Number(values.pid))
    : await driveMessageCalls(values["drive-calls"], Number(values.concurrency), Number(values.ops), Number(values.pid))
  console.log(JSON.stringify(result))
  process.exit(0)
}

/** The server's CPU (utime + stime, /proc), µs. */
function cpuUsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / 100 // at USER_HZ 100
}

/** `tools/call` params of `--tool`, with a progress token when `--progress`. */
function callParams(id: number, meta: Record<string, unknown> = {}): unknown {
  const all = { ...meta, ...(values.progress ? { progressToken: id } : {}) }
  return { name: values.tool, arguments: JSON.parse(values["tool-args"]) as unknown, ...(Object.keys(all).length > 0 ? { _meta: all } : {}) }
}

/**
 * Legacy calls over one message per frame or line: `--wire ws` on `concurrency` sessions at `target`
 * (ws://…), one call in flight on each; `--wire stdio` on one session of a server this driver spawns
 * (`target` is the JSON array of its command line), `concurrency` calls in flight on it.
 */
async function driveMessageCalls(target: string, concurrency: number, ops: number, pid: number): Promise<{ sessions: number; server_cpu_us_per_op: number }> {
  interface Line {
    send(message: unknown): void
    /** Resolves with the response to `id` (notifications are skipped). */
    call(id: number, message: unknown): Promise<{ readonly error?: unknown }>
  }
  const pending = new Map<number, (m: { readonly error?: unknown }) => void>()
  const receive = (text: string, reply: (text: string) => void) => {
    const m = JSON.parse(text) as { id?: number | string; method?: unknown; error?: unknown }
    if (m.method !== undefined) {
      // A request of the server's (its keepalive ping): answered, as a client does.
      if (m.id !== undefined) reply(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: {} }))
    } else if (typeof m.id === "number") {
      const settle = pending.get(m.id)
      pending.delete(m.id)
      settle?.(m)
    }
  }
  const lineOf = (send: (text: string) => void): Line => ({
    send: (message) => send(JSON.stringify(message)),
    call: (id, message) => new Promise((resolve) => {
      pending.set(id, resolve)
      send(JSON.stringify(message))
    })
  })
  const lines: Array<Line> = []
  let serverPid = pid, close = () => {}
  if (values.wire === "ws") {
    const { default: WebSocket } = await import("ws")
    const sockets: Array<InstanceType<typeof WebSocket>> = []
    for (let i = 0; i < concurrency; i++) {
      const ws = new WebSocket(target, ["mcp"])
      await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject))
      ws.on("message", (data) => receive(String(data), (text) => ws.send(text)))
      sockets.push(ws)
      lines.push(lineOf((text) => ws.send(text)))
    }
    close = () => sockets.forEach((ws) => ws.close(1000))
  } else {
    const { createInterface } = await import("node:readline")
    const { appendFileSync } = await import("node:fs")
    const [cmd, ...args] = JSON.parse(target) as Array<string>
    const child = spawn(cmd!, args, { cwd: root, stdio: ["pipe", "pipe", "inherit"] })
    serverPid = child.pid!
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("{")) receive(line, (text) => child.stdin!.write(`${text}\n`))
      else appendFileSync(values.log!, `${line}\n`)
    })
    lines.push(lineOf((text) => child.stdin!.write(`${text}\n`)))
    const exited = new Promise((r) => child.once("exit", r))
    close = () => child.stdin!.end()
    closing = exited
  }
  let id = 0
  for (const line of lines) {
    const init = await line.call(++id, { jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "gcChurn", version: "1" } } })
    if (init.error !== undefined) throw new Error(`initialize failed: ${JSON.stringify(init.error)}`)
    line.send({ jsonrpc: "2.0", method: "notifications/initialized" })
  }
  let next = 0, failed = 0
  const worker = async (w: number) => {
    const line = lines[w % lines.length]!
    while (next < ops) {
      if (++next === fullGcAt) process.kill(serverPid, "SIGUSR2")
      const callId = ++id
      const r = await line.call(callId, { jsonrpc: "2.0", id: callId, method: "tools/call", params: callParams(callId) })
      if (r.error !== undefined) failed++
    }
  }
  const before = cpuUsOf(serverPid)
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const cpu = cpuUsOf(serverPid) - before
  close()
  await closing
  if (failed > 0) throw new Error(`${failed} of ${ops} calls failed`)
  return { sessions: ops, server_cpu_us_per_op: Number((cpu / ops).toFixed(1)) }
}

/** `ops` calls, `concurrency` at a time; the server's CPU (utime + stime, /proc) per call. */
async function driveCalls(url: string, modern: boolean, concurrency: number, ops: number, pid: number): Promise<{ sessions: number; server_cpu_us_per_op: number }> {
  const { Agent, request } = await import("node:http")
  const target = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const post = (message: unknown, headers: Record<string, string>) => new Promise<{ readonly status: number; readonly sid: string | undefined }>((resolve, reject) => {
    const body = JSON.stringify(message)
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers: {
      "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": String(Buffer.byteLength(body)), ...headers
    } }, (res) => {
      res.resume()
      res.on("end", () => resolve({ status: res.statusCode ?? 0, sid: res.headers["mcp-session-id"] as string | undefined }))
    })
    req.on("error", reject)
    req.end(body)
  })
  const cpuUs = () => cpuUsOf(pid)
  const params = (id: number) => callParams(id, modern ? { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } : {})
  const modernHeaders = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": values.tool }
  const sessions: Array<Record<string, string>> = []
  if (!modern) {
    for (let i = 0; i < concurrency; i++) {
      const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "gcChurn", version: "1" } } }, {})
      const headers = { "mcp-session-id": init.sid!, "mcp-protocol-version": "2025-11-25" }
      await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers)
      sessions.push(headers)
    }
  }
  let next = 0, failed = 0
  const worker = async (w: number) => {
    while (next < ops) {
      const id = ++next
      if (id === fullGcAt) process.kill(pid, "SIGUSR2")
      const r = await post({ jsonrpc: "2.0", id, method: "tools/call", params: params(id) }, modern ? modernHeaders : sessions[w]!)
      if (r.status !== 200) failed++
    }
  }
  const before = cpuUs()
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const cpu = cpuUs() - before
  agent.destroy()
  if (failed > 0) throw new Error(`${failed} of ${ops} calls failed`)
  return { sessions: ops, server_cpu_us_per_op: Number((cpu / ops).toFixed(1)) }
}

const serveArgs = [...(values.inspect || values.page ? ["--inspect", "0"] : []), ...values["serve-args"].split(" ").filter(Boolean)]
const port = values.port
const log = join(mkdtempSync(join(tmpdir(), "gc-churn-")), "nvp.log")
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0
const pinned = (cpu: number, args: Array<string>): [string, Array<string>] => hasTaskset ? ["taskset", ["-c", String(cpu), ...args]] : [args[0]!, args.slice(1)]

const preload = `data:text/javascript,process.on("SIGUSR2",()=>{console.log("forced-full-gc");globalThis.gc()})`
const serveCommand = (wire: string): Array<string> => [process.execPath, "--trace-gc-nvp", ...(values["full-gc"] ? ["--expose-gc", "--import", preload] : []), ...positionals, "src/cli/main.ts", "serve",
  ...(wire === "stdio" ? ["--stdio"] : [`--${wire}`, port]), ...serveArgs]
const out = openSync(log, "w")
// (With --wire stdio the driver spawns the server: it is its peer.)
const stdioServer = values.wire === "stdio" ? pinned(1, ["stdbuf", "-oL", ...serveCommand("stdio")]) : undefined
const [cmd, args] = pinned(1, serveCommand(values.wire))
const server = stdioServer === undefined ? spawn(cmd, args, { cwd: root, stdio: ["ignore", out, out] }) : undefined
const exited = server === undefined ? Promise.resolve() : new Promise((r) => server.once("exit", r))
if (server !== undefined) await new Promise((r) => setTimeout(r, 2000))
// The page's feed, from a process of its own on the driver's CPU.
const inspectorUrl = /inspector on (\S+)/.exec(readFileSync(log, "utf8"))?.[1]
if (values.page && inspectorUrl === undefined) throw new Error("gcChurn: --page, but the server printed no inspector URL")
const page = values.page ? spawn(...pinned(0, [process.execPath, "-e", PAGE_FEED, inspectorUrl!]), { cwd: root, stdio: ["ignore", "ignore", "ignore"] }) : undefined
const url = stdioServer !== undefined ? JSON.stringify([stdioServer[0], ...stdioServer[1]]) : values.wire === "ws" ? `ws://127.0.0.1:${port}/mcp` : `http://127.0.0.1:${port}/mcp`
const [dcmd, dargs] = values.calls !== undefined
  ? pinned(0, [process.execPath, import.meta.filename, "--drive-calls", url, "--calls", values.calls, "--concurrency", values.concurrency, "--ops", values.ops,
    "--pid", String(server?.pid ?? 0), "--tool", values.tool, `--tool-args=${values["tool-args"]}`, "--wire", values.wire, "--log", log,
    "--root", root, ...(values.progress ? ["--progress"] : []), ...(values["full-gc"] ? ["--full-gc"] : [])])
  : pinned(0, [process.execPath, join(root, "bench/peers/mcp-bench.mjs"), "http-churn", "--url", url,
    "--concurrency", values.concurrency, "--duration", "60", "--warmup", "1", "--max-ops", values.ops, "--pid", String(server?.pid)])
const driver = spawnSync(dcmd, dargs, { encoding: "utf8" })
page?.kill("SIGTERM")
server?.kill("SIGTERM")
await exited
if (driver.status !== 0 || !driver.stdout.trim().startsWith("{")) {
  // (A server that did not start, e.g. its port taken: say so, with what it printed.)
  console.error(`gcChurn: the driver failed (status ${driver.status}): ${driver.stderr.trim()}\nserver log (${log}):\n${readFileSync(log, "utf8").split("\n").filter((l) => !l.includes("pause=")).slice(-20).join("\n")}`)
  process.exit(1)
}
const result = JSON.parse(driver.stdout) as { sessions: number; server_cpu_us_per_op: number }

const gc = summarizeGcTrace(readFileSync(log, "utf8"), result.sessions, Number(values.skip))
// With --full-gc: after the forced full GC.
if (values["full-gc"] && !gc.forced) throw new Error("gcChurn: --full-gc, but the server ran no forced full GC")
console.log(JSON.stringify({
  root,
  serveArgs: serveArgs.join(" "),
  workload: values.calls === undefined ? "session churn" : `${values.calls} calls of ${values.tool} ${values["tool-args"]}${values.progress ? " with progress" : ""} over ${values.wire}`,
  scavenges: gc.scavenges,
  survivedKB: gc.survivedKB,
  promotedKB: gc.promotedKB,
  pauseMs: gc.pauseMs,
  sessionsPerScavenge: gc.unitsPerScavenge,
  scavengePauseUsPerSession: Number(gc.scavengePauseUsPerUnit.toFixed(1)),
  fullGcs: gc.fullGcs,
  serverCpuUsPerSession: result.server_cpu_us_per_op,
  sessions: result.sessions,
  series: gc.series
}))
