/**
 * How a stdio child is spawned, measured with the transports alone (no MCP
 * client code): our transport with the child in its own process group in our
 * session (the default, `setpgid` + `exec` shim on Linux), the same with
 * `newSession: true` (`setsid`: Node's `detached`, what we shipped before, a
 * new scheduler autogroup on Linux), and the official SDK's
 * `StdioClientTransport` (no group of its own). The child is the raw stdio
 * echo server of bench/peers; each round trip is one `tools/call echo` line
 * out and its answer line back, sequential.
 *
 *   node bench/stdioSpawn.ts [--rounds 5] [--calls 5000] [--spawns 20]
 *
 * Each round runs every variant once, order rotated, so machine noise hits them
 * alike: wall µs and caller CPU µs per round trip, then the time from spawn to
 * the first echo of `cat` (no Node start-up in it, so what the shim's perl
 * start-up adds shows). Rows give each round's value, then the median.
 */
import { join } from "node:path"
import { StdioClientTransport as SdkStdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { makeStdioClientTransport } from "../src/transports/stdioClient.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"
import { log, machineNote, median, ROOT, rotate } from "./lib.ts"

const { count } = scriptArgs("Usage: node bench/stdioSpawn.ts [--rounds N] [--calls N] [--spawns N]", {
  rounds: { type: "string" }, calls: { type: "string" }, spawns: { type: "string" }
})
const ROUNDS = count("rounds") ?? 5
const CALLS = count("calls") ?? 5000
const SPAWNS = count("spawns") ?? 20
const SERVER = { command: process.execPath, args: [join(ROOT, "bench", "peers", "raw-stdio-server.mjs")] }

const call = (id: number) => ({ jsonrpc: "2.0" as const, id, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } })

/** One child: `roundTrip()` sends a call and resolves on its answer; `close()` ends it. */
interface Peer {
  readonly roundTrip: () => Promise<void>
  readonly close: () => Promise<void>
}

type Child = { readonly command: string; readonly args: ReadonlyArray<string> }
const CAT: Child = { command: "cat", args: [] }

const ours = async (newSession: boolean, child: Child = SERVER): Promise<Peer> => {
  const t = makeStdioClientTransport({ ...child, stderr: "ignore", newSession })
  let waiting: (() => void) | undefined
  t.start({ onFrame: () => waiting?.(), onOversized: () => {}, onClose: () => {} })
  await t.spawned
  let id = 0
  return {
    roundTrip: () => new Promise<void>((resolve) => {
      waiting = resolve
      t.send(call(++id))
    }),
    close: () => t.close()
  }
}

const sdk = async (child: Child = SERVER): Promise<Peer> => {
  const t = new SdkStdioClientTransport({ command: child.command, args: [...child.args], stderr: "ignore" })
  let waiting: (() => void) | undefined
  t.onmessage = () => waiting?.()
  await t.start()
  let id = 0
  return {
    roundTrip: () => new Promise<void>((resolve) => {
      waiting = resolve
      void t.send(call(++id))
    }),
    close: () => t.close()
  }
}

const VARIANTS: Record<string, (child?: Child) => Promise<Peer>> = {
  "ours, own group in our session (shim)": (child) => ours(false, child),
  "ours, own session (detached, before)": (child) => ours(true, child),
  "SDK StdioClientTransport": sdk
}
const names = Object.keys(VARIANTS)

const cpuUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** Sequential round trips on one warm child: wall and caller-CPU µs per round trip. */
const roundTrips = async (make: () => Promise<Peer>) => {
  const peer = await make()
  for (let i = 0; i < 200; i++) await peer.roundTrip() // warm-up
  const c0 = cpuUs()
  const t0 = performance.now()
  for (let i = 0; i < CALLS; i++) await peer.roundTrip()
  const wall = ((performance.now() - t0) * 1000) / CALLS
  const cpu = (cpuUs() - c0) / CALLS
  await peer.close()
  return { wall, cpu }
}

/** Spawn `cat` → first echo → close, `SPAWNS` times: the median ms from spawn to the first echo. */
const spawns = async (make: (child?: Child) => Promise<Peer>) => {
  const times: Array<number> = []
  for (let i = 0; i < SPAWNS; i++) {
    const t0 = performance.now()
    const peer = await make(CAT)
    await peer.roundTrip()
    times.push(performance.now() - t0)
    await peer.close()
  }
  return median(times)!
}

log(`bench/stdioSpawn: ${ROUNDS} rounds × ${names.length} variants; ${CALLS} round trips, ${SPAWNS} spawns each; ${machineNote()}`)
const wall: Record<string, Array<number>> = {}
const cpu: Record<string, Array<number>> = {}
const spawn: Record<string, Array<number>> = {}
const loads: Array<string> = []
for (let r = 0; r < ROUNDS; r++) {
  loads.push((await import("node:os")).loadavg()[0]!.toFixed(1))
  for (const name of rotate(names, r)) {
    const rt = await roundTrips(VARIANTS[name]!)
    ;(wall[name] ??= []).push(rt.wall)
    ;(cpu[name] ??= []).push(rt.cpu)
    ;(spawn[name] ??= []).push(await spawns(VARIANTS[name]!))
    log(`round ${r + 1} ${name}: ${rt.wall.toFixed(0)} µs wall, ${rt.cpu.toFixed(0)} µs CPU per round trip; spawn → first echo of cat ${spawn[name]!.at(-1)!.toFixed(1)} ms`)
  }
}
const row = (xs: ReadonlyArray<number>, digits: number) => `${xs.map((x) => x.toFixed(digits)).join(" / ")} (**${median(xs)!.toFixed(digits)}**)`
process.stdout.write(`\nload average (1 min) at each round: ${loads.join(", ")}\n\n`)
process.stdout.write("| variant | wall µs per round trip | caller CPU µs per round trip | spawn \`cat\` → first echo, median ms |\n|---|---|---|---|\n")
for (const name of names) process.stdout.write(`| ${name} | ${row(wall[name]!, 0)} | ${row(cpu[name]!, 0)} | ${row(spawn[name]!, 1)} |\n`)
