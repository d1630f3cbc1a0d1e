/**
 * `mcp-actors host` with servers that never come up, for minutes: one exits at
 * once, one prints garbage and exits, one hangs without answering initialize
 * (connect timeout), one crashes a moment after initialize, next to a healthy
 * demo server that a gateway client calls throughout. Restarts with backoff,
 * parking after the intensity, parked probes; the host's heap, handles and fds
 * must not grow with the attempts, and no child may be left.
 *
 *   node bench/chaos/crashloop.ts [--minutes 3]
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { ROOT } from "../lib.ts"
import { descendants, gatewayUrl, orphans, sleep, snapshot, startProbed, stats } from "./probe.ts"

const { values } = parseArgs({ options: { minutes: { type: "string", default: "3" } } })
const minutes = Number(values.minutes)
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)
const marker = `/tmp/s23crash-${process.pid}`
mkdirSync(marker, { recursive: true })
symlinkSync(`${ROOT}/src/cli/main.ts`, `${marker}/main.ts`)
writeFileSync(`${marker}/exit.mjs`, "process.exit(3)\n")
writeFileSync(`${marker}/garbage.mjs`, "process.stdout.write('not json\\n{\"jsonrpc\":\"2.0\"}\\n'); setTimeout(() => process.exit(1), 50)\n")
writeFileSync(`${marker}/mute.mjs`, "process.stdin.resume(); setInterval(() => {}, 1000)\n")
// answers initialize, then dies 300 ms after `initialized`
writeFileSync(`${marker}/late.mjs`, `
import { createInterface } from "node:readline"
createInterface({ input: process.stdin }).on("line", (l) => {
  const m = JSON.parse(l)
  if (m.method === "initialize") process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "late", version: "1" } } }) + "\\n")
  else if (m.method === "tools/list") process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { tools: [] } }) + "\\n")
  else if (m.method === "notifications/initialized") setTimeout(() => process.exit(2), 300)
  else if (m.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "no" } }) + "\\n")
})
`)
const restart = { intensity: 4, period: 20_000, backoff: { initialMs: 100, maxMs: 2000 }, parkedProbeMs: 3000 }
const node = (file: string, extra: object = {}) => ({ command: "node", args: [`${marker}/${file}`], restart, ...extra })
writeFileSync(`${marker}/host.json`, JSON.stringify({
  mcpServers: {
    exits: node("exit.mjs"),
    garbage: node("garbage.mjs"),
    mute: node("mute.mjs", { timeouts: { connect: 1500 } }),
    late: node("late.mjs"),
    demo: { command: "node", args: [`${marker}/main.ts`, "serve", "--stdio"] }
  }
}))

const host = await startProbed([`${marker}/main.ts`, "host", `${marker}/host.json`, "--serve-http", "0", "--json"])
const states = new Map<string, number>()
const restarts = new Map<string, number>()
host.onLine((line) => {
  try {
    const j = JSON.parse(line) as { type: string; name: string; state: string; restarts: number }
    if (j.type !== "status") return
    states.set(`${j.name}:${j.state}`, (states.get(`${j.name}:${j.state}`) ?? 0) + 1)
    restarts.set(j.name, j.restarts)
  } catch {}
})
const url = await gatewayUrl(host)
log(`host ${host.pid} ${url}`)
await sleep(5000)
const outcomes = new Map<string, number>()
let running = true
const client = new Client({ name: "crashloop", version: "0" })
await client.connect(new StreamableHTTPClientTransport(new URL(url!)))
const caller = (async () => {
  while (running) {
    try {
      await client.callTool({ name: "demo__echo", arguments: { text: "x" } }, undefined, { timeout: 10_000 })
      outcomes.set("ok", (outcomes.get("ok") ?? 0) + 1)
    } catch (e) {
      const k = (e as Error).message.slice(0, 80)
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
    }
    await sleep(20)
  }
})()
const sample = async (label: string) => {
  const s = await stats(host)
  const kids = descendants(host.pid)
  log(`${label} heap ${s.heapMB} MB fds ${s.fds} children ${kids.length} handles ${JSON.stringify(s.handles)} restarts ${JSON.stringify(Object.fromEntries(restarts))}`)
  return { ...s, children: kids.length, restarts: Object.fromEntries(restarts) }
}
const first = await sample("start")
const t0 = Date.now()
let warm: Awaited<ReturnType<typeof sample>> | undefined
// heap snapshots after the first minute and at the end (compare with bench/heapdiff.ts --per <restarts between>)
const snapshots: Array<string> = []
while (Date.now() - t0 < minutes * 60_000) {
  await sleep(15_000)
  const s = await sample(`t=${Math.round((Date.now() - t0) / 1000)}s`)
  if (warm === undefined && Date.now() - t0 >= 60_000) {
    warm = s
    snapshots.push(await snapshot(host))
  }
}
snapshots.push(await snapshot(host))
running = false
await caller
const last = await sample("end")
await client.close()
host.child.kill("SIGTERM")
const code = await Promise.race([host.exited, sleep(20_000).then(() => "timeout")])
await sleep(500)
const left = orphans(0, marker).filter((p) => p.pid !== process.pid)
console.log(JSON.stringify({ minutes, snapshots, first, warm, last, exit: code, left: left.map((p) => `${p.pid} ${p.stat} ${p.cmd}`), outcomes: Object.fromEntries(outcomes), states: Object.fromEntries(states) }, null, 2))
rmSync(marker, { recursive: true, force: true })
process.exit(0)
