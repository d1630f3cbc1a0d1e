/**
 * Modern-era (2026-07-28) calls over the message transports: stdio pipelined `tools/call`
 * and WebSocket echo, `--inflight` requests kept in flight for `--duration` seconds. Reports
 * calls/s and the server's CPU per call (user + system from /proc/<pid>/stat), so a change to
 * how a session serves modern requests (src/server/session/ModernRequestRun.ts, the chart and
 * its fast path) can be measured before/after:
 *
 *   node bench/modernMessages.ts [--duration 5] [--inflight 64] [--rounds 2] [--call echo|progress] [--root DIR]…
 *
 * Each `--root` (a `git worktree` of main next to this tree) is measured in turn, rows interleaved
 * (base, yours, base, yours…). `--call progress` calls the demo's `count` (n=1, stepMs=0, a
 * progress token): the request's path through the chart is not pure (its actor starts).
 */
import { spawn } from "node:child_process"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import WebSocket from "ws"
import { freePort, modernToolCall, processCpuMs, ROOT } from "./lib.ts"

const { values } = parseArgs({
  options: {
    duration: { type: "string" }, inflight: { type: "string" }, rounds: { type: "string" }, root: { type: "string", multiple: true },
    call: { type: "string" }, transports: { type: "string" }
  }
})
const DURATION = Number(values.duration ?? 5)
const INFLIGHT = Number(values.inflight ?? 64)
const ROUNDS = Number(values.rounds ?? 2)
const ROOTS = values.root ?? [ROOT]
const PROGRESS = values.call === "progress"
const TRANSPORTS = (values.transports ?? "stdio,ws").split(",")
const WARMUP_MS = 1_500

const cpuMs = processCpuMs

const line = (id: number) => modernToolCall(id, PROGRESS)

/** A channel to one server: send a line, be told of each line back. */
interface Channel {
  readonly pid: number
  send(text: string): void
  onLine(fn: (text: string) => void): void
  stop(): Promise<void>
}

const stdioChannel = async (root: string): Promise<Channel> => {
  const child = spawn(process.execPath, [join(root, "src/cli/mcp-actors.cjs"), "serve", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "ignore"] })
  const rl = createInterface({ input: child.stdout })
  return {
    pid: child.pid!,
    send: (text) => void child.stdin.write(text + "\n"),
    onLine: (fn) => void rl.on("line", fn),
    stop: () => new Promise<void>((r) => { child.once("exit", () => r()); child.stdin.end(); child.kill("SIGTERM") })
  }
}

const wsChannel = async (root: string): Promise<Channel> => {
  const port = await freePort()
  const child = spawn(process.execPath, [join(root, "src/cli/mcp-actors.cjs"), "serve", "--ws", String(port), "--host", "127.0.0.1"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c))
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c))
  // The server says when it listens (a real peer's own pace).
  await new Promise<void>((resolve, reject) => {
    const check = () => (out.includes(`:${port}`) ? resolve() : child.exitCode !== null ? reject(new Error(out)) : undefined)
    child.stdout.on("data", check)
    child.stderr.on("data", check)
  })
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mcp`, "mcp")
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("error", reject)
  })
  return {
    pid: child.pid!,
    send: (text) => ws.send(text),
    onLine: (fn) => void ws.on("message", (d) => fn(String(d))),
    stop: () => new Promise<void>((r) => { child.once("exit", () => r()); ws.close(); child.kill("SIGTERM") })
  }
}

/** Keep INFLIGHT calls in flight: warm-up, then DURATION s measured. */
const measure = async (channel: Channel) => {
  let next = 1
  let answered = 0
  let measuring = false
  let stopAt = Infinity
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  let outstanding = 0
  let first!: () => void
  const started = new Promise<void>((r) => (first = r))
  channel.onLine((text) => {
    first()
    if (!text.includes('"result"') && !text.includes('"error"')) return
    if (text.includes('"error"')) throw new Error(`error answer: ${text.slice(0, 200)}`)
    outstanding--
    if (measuring) answered++
    if (performance.now() < stopAt) {
      outstanding++
      channel.send(line(next++))
    } else if (outstanding === 0) done()
  })
  for (let i = 0; i < INFLIGHT; i++) {
    outstanding++
    channel.send(line(next++))
  }
  // The server answers (it has started), then warms up (JIT) before the measured window.
  await started
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  const cpu0 = cpuMs(channel.pid)
  const t0 = performance.now()
  measuring = true
  stopAt = t0 + DURATION * 1_000
  await finished
  const seconds = (performance.now() - t0) / 1_000
  const cpu = cpuMs(channel.pid) - cpu0
  return { callsPerS: Math.round(answered / seconds), cpuUsPerCall: Math.round((cpu * 1_000 / answered) * 10) / 10 }
}

const rows: Array<{ round: number; root: string; transport: string; callsPerS: number; cpuUsPerCall: number }> = []
for (let round = 1; round <= ROUNDS; round++) {
  for (const transport of TRANSPORTS) {
    for (const root of ROOTS) {
      const channel = transport === "ws" ? await wsChannel(root) : await stdioChannel(root)
      try {
        const r = await measure(channel)
        const row = { round, root, transport, ...r }
        rows.push(row)
        process.stderr.write(`${JSON.stringify(row)}\n`)
      } finally {
        await channel.stop()
      }
    }
  }
}
console.log(`| transport | root | calls/s (per round) | server CPU µs/call (per round) |`)
console.log(`|---|---|---|---|`)
for (const transport of TRANSPORTS) {
  for (const root of ROOTS) {
    const mine = rows.filter((r) => r.transport === transport && r.root === root)
    console.log(`| ${transport}${PROGRESS ? " (progress)" : ""} | ${root} | ${mine.map((r) => r.callsPerS).join(", ")} | ${mine.map((r) => r.cpuUsPerCall).join(", ")} |`)
  }
}
