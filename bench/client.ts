/**
 * Client-side cost per request: the client process's CPU µs per `tools/call echo`, with 1, 8 and
 * 64 calls in flight, against the raw-Node stdio echo server (`bench/peers/raw-stdio-server.mjs`,
 * no MCP code: nearly all of the work measured is the client's). The official SDK client
 * (`Client` + `StdioClientTransport`) runs in the same run as the reference.
 *
 * Each cell is a fresh worker process (this file with `--worker`) that connects, warms up, then
 * keeps `inflight` calls going for `--duration` s and reports `process.cpuUsage()` per call; rows
 * are interleaved (SDK, ours, ours at `--roots`…) round by round, so load swings hit them alike.
 * `--roots a,b` runs our client from other checkouts too (e.g. a detached worktree of main at the
 * commit before a change), for a before/after in one run. `--era modern` measures our modern
 * client (`ModernClient` over the same stdio child, no handshake; the raw server answers its
 * `tools/call` like any other) instead of the legacy session.
 *
 *   node bench/client.ts [--duration 3] [--rounds 3] [--inflight 1,8,64] [--roots /tmp/base] [--era legacy|modern] [--wire stdio|memory]
 *
 * `--wire memory` replaces the child and its pipes with an in-process peer (see `memoryReply`):
 * the client's own CPU per call, without the kernel's part.
 *   node bench/client.ts --worker ours|sdk --inflight 1 [--era modern] --profile DIR   (one cell, CPU profile of its measured window)
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import { loadavg } from "node:os"

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)))
const SERVER = join(ROOT, "bench", "peers", "raw-stdio-server.mjs")

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    inflight: { type: "string", default: "1,8,64" },
    roots: { type: "string", default: "" },
    worker: { type: "string" },
    root: { type: "string" },
    warmup: { type: "string", default: "500" },
    era: { type: "string", default: "legacy" },
    wire: { type: "string", default: "stdio" },
    profile: { type: "string" }
  }
})

interface Cell {
  readonly calls: number
  readonly callsPerSec: number
  readonly cpuUsPerCall: number
}

/**
 * `--wire memory`: no process and no pipe. The peer answers as the raw stdio server does, one
 * microtask later, after a JSON round trip each way (as a wire would cost): what is measured is
 * the client's own code per call, without the kernel's writes, reads and wake-ups.
 */
const memoryReply = (text: string): string | undefined => {
  const m = JSON.parse(text) as { readonly id?: unknown; readonly method?: string; readonly params?: { readonly protocolVersion?: string; readonly arguments?: { readonly text?: unknown } } }
  if (m.id === undefined || m.method === undefined) return undefined
  const result = m.method === "initialize"
    ? { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "memory-peer", version: "1.0.0" } }
    : m.method === "tools/call" ? { content: [{ type: "text", text: m.params?.arguments?.text }] } : {}
  return JSON.stringify({ jsonrpc: "2.0", id: m.id, result })
}
/** Our `Transport` over {@link memoryReply}. */
const memoryTransport = () => {
  let handlers: { onFrame(text: string): void; onClose(closed: { expected: boolean; reason: string }): void } | undefined
  let closed = false
  return {
    kind: "memory",
    authoritativeLiveness: true,
    start: (h: typeof handlers) => void (handlers = h),
    send: (message: unknown) => {
      const reply = memoryReply(JSON.stringify(message))
      if (reply !== undefined) queueMicrotask(() => closed || handlers?.onFrame(reply))
    },
    close: async () => {
      if (closed) return
      closed = true
      handlers?.onClose({ expected: true, reason: "closed" })
    }
  }
}

/** One worker: connect one client, warm up, keep `inflight` calls going, report CPU per call. */
const worker = async (kind: string, root: string, inflight: number, durationMs: number, warmup: number): Promise<Cell> => {
  let call: () => Promise<unknown>
  let close: () => Promise<void>
  if (values.wire === "memory") {
    if (kind === "sdk") {
      const { Client } = await import("@modelcontextprotocol/sdk/client/index.js")
      const transport = {
        onmessage: undefined as ((m: unknown) => void) | undefined,
        start: async () => {},
        close: async () => {},
        send: async (message: unknown) => {
          const reply = memoryReply(JSON.stringify(message))
          if (reply !== undefined) queueMicrotask(() => transport.onmessage?.(JSON.parse(reply)))
        }
      }
      const client = new Client({ name: "bench", version: "1.0.0" })
      await client.connect(transport as never)
      call = () => client.callTool({ name: "echo", arguments: { text: "hi" } })
      close = () => client.close()
    } else if (values.era === "modern") {
      const api = await import(pathToFileURL(join(root, "src", "index.ts")).href) as {
        ModernClient: { create(transport: unknown): { callTool(name: string, args: Record<string, unknown>): Promise<unknown>; close(): Promise<void> } }
      }
      const client = api.ModernClient.create(memoryTransport())
      call = () => client.callTool("echo", { text: "hi" })
      close = () => client.close()
    } else {
      type Legacy = Promise<{ callTool(name: string, args: Record<string, unknown>): Promise<unknown>; close(): Promise<void> }>
      // `openClient` (era "legacy": the same path as connectStdio) since the one-client change; a base
      // checkout has connectLegacyClient (its own file since the client-runtime change, in clientConnection.ts before).
      const wire = join(root, "src", "client", "messageClientWire.ts")
      const own = join(root, "src", "client", "connectLegacyClient.ts")
      const client = existsSync(wire)
        ? await (async () => {
          const { openClient } = await import(pathToFileURL(join(root, "src", "client", "clientConnection.ts")).href) as { openClient: (w: unknown, o: object) => Legacy }
          const { messageClientWire } = await import(pathToFileURL(wire).href) as { messageClientWire: (t: unknown, opened?: Promise<unknown>) => unknown }
          return openClient(messageClientWire(memoryTransport(), Promise.resolve()), { era: "legacy" })
        })()
        : await (await import(pathToFileURL(existsSync(own) ? own : join(root, "src", "client", "clientConnection.ts")).href) as {
          connectLegacyClient: (t: unknown, opened: Promise<unknown>, o: object) => Legacy
        }).connectLegacyClient(memoryTransport(), Promise.resolve(), {})
      call = () => client.callTool("echo", { text: "hi" })
      close = () => client.close()
    }
  } else if (kind === "sdk") {
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js")
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js")
    const client = new Client({ name: "bench", version: "1.0.0" })
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER] }))
    call = () => client.callTool({ name: "echo", arguments: { text: "hi" } })
    close = () => client.close()
  } else if (values.era === "modern") {
    const api = await import(pathToFileURL(join(root, "src", "index.ts")).href) as {
      makeStdioClientTransport: (o: { command: string; args: Array<string> }) => unknown
      ModernClient: {
        create(transport: unknown): { callTool(name: string, args: Record<string, unknown>): Promise<unknown>; close(): Promise<void> }
      }
    }
    const client = api.ModernClient.create(api.makeStdioClientTransport({ command: process.execPath, args: [SERVER] }))
    call = () => client.callTool("echo", { text: "hi" })
    close = () => client.close()
  } else {
    const api = await import(pathToFileURL(join(root, "src", "index.ts")).href) as {
      connectStdio: (o: { command: string; args: Array<string> }) => Promise<{
        callTool(name: string, args: Record<string, unknown>): Promise<unknown>
        close(): Promise<void>
      }>
    }
    const client = await api.connectStdio({ command: process.execPath, args: [SERVER] })
    call = () => client.callTool("echo", { text: "hi" })
    close = () => client.close()
  }
  for (let i = 0; i < warmup; i++) await call()
  const profiler = values.profile === undefined ? undefined : await startProfile()
  let calls = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const deadline = t0 + durationMs
  const loop = async () => {
    while (performance.now() < deadline) {
      await call()
      calls++
    }
  }
  await Promise.all(Array.from({ length: inflight }, loop))
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (profiler !== undefined) await profiler(`${values.profile}/${kind}-${values.era}-${inflight}-${process.pid}.cpuprofile`)
  await close()
  return { calls, callsPerSec: (calls * 1000) / elapsed, cpuUsPerCall: (cpu.user + cpu.system) / calls }
}

/** `--profile DIR` (with `--worker`): a V8 CPU profile of the measured window only (no start-up, no warm-up). */
const startProfile = async (): Promise<(file: string) => Promise<void>> => {
  const { Session } = await import("node:inspector/promises")
  const { writeFileSync } = await import("node:fs")
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
  return async (file) => {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

const runWorker = (kind: string, root: string, inflight: number): Promise<Cell> =>
  new Promise((ok, fail) => {
    const child = spawn(process.execPath, [
      fileURLToPath(import.meta.url),
      "--worker", kind, "--root", root, "--inflight", String(inflight), "--duration", String(values.duration), "--warmup", String(values.warmup),
      "--era", values.era, "--wire", values.wire
    ], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("exit", (code) => {
      if (code !== 0) return fail(new Error(`worker ${kind} ${root} exited ${code}`))
      try {
        ok(JSON.parse(out.trim().split("\n").pop()!) as Cell)
      } catch (e) {
        fail(e)
      }
    })
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

if (values.worker !== undefined) {
  const cell = await worker(values.worker, values.root ?? ROOT, Number(values.inflight), Number(values.duration) * 1000, Number(values.warmup))
  process.stdout.write(JSON.stringify(cell) + "\n")
  process.exit(0)
}

const levels = values.inflight.split(",").map(Number)
const roots = [ROOT, ...values.roots.split(",").filter((r) => r !== "").map((r) => resolve(r))]
const variants: Array<{ readonly label: string; readonly kind: string; readonly root: string }> = [
  { label: "SDK client", kind: "sdk", root: ROOT },
  ...roots.map((root, i) => ({ label: i === 0 ? "ours (this tree)" : `ours (${root})`, kind: "ours", root }))
]
const results = new Map<string, Array<Cell>>()
const key = (label: string, n: number) => `${label}@${n}`
for (let r = 0; r < Number(values.rounds); r++) {
  process.stderr.write(`round ${r + 1}, load ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`)
  for (const n of levels) {
    for (const v of variants) {
      const cell = await runWorker(v.kind, v.root, n)
      const list = results.get(key(v.label, n)) ?? []
      list.push(cell)
      results.set(key(v.label, n), list)
    }
  }
}
const peer = values.wire === "memory" ? "in-memory peer (no process, no pipe)" : "raw-Node stdio echo server"
console.log(`\n${values.era} client CPU µs per tools/call (median of ${values.rounds} rounds [min–max]), ${peer}, ${values.duration} s per cell\n`)
console.log("| in flight | client | CPU µs/call | calls/s | × SDK CPU |")
console.log("|---:|---|---:|---:|---:|")
for (const n of levels) {
  const sdk = median(results.get(key("SDK client", n))!.map((c) => c.cpuUsPerCall))
  for (const v of variants) {
    const cells = results.get(key(v.label, n))!
    const cpu = cells.map((c) => c.cpuUsPerCall)
    const rate = median(cells.map((c) => c.callsPerSec))
    console.log(
      `| ${n} | ${v.label} | ${median(cpu).toFixed(1)} [${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}] | ${rate.toFixed(0)} | ${(median(cpu) / sdk).toFixed(2)} |`
    )
  }
}
