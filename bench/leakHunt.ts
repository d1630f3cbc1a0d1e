/**
 * Leak hunt for the HTTP server, one traffic kind at a time (issue 8 soak).
 *
 *   node bench/leakHunt.ts --kind modern|churn|abandoned|handshake|dropped|malformed [--n 2000] [--idle 1000]
 *
 * Starts the real `serve --http 0` with bench/heap-probe.ts preloaded, runs the
 * kind `warm` times, snapshot A, `n` times, waits for reaping, snapshot B, `n`
 * more, waits, snapshot C. Prints the B→C growth per operation by
 * constructor (A→B still holds JIT/inline-cache warm-up) and the string
 * prefixes that grew (event types, ids: the hint to what a map is keyed by).
 * The same traffic as bench/soak.ts (bench/traffic.ts); `--kind mix` runs one of each per iteration.
 *
 * Result 2026-12-06 (n 1500, idle/handshake timeout 1 s): B→C per op churn 15 B, abandoned 46 B,
 * handshake 20 B, modern 4 B, dropped -715 B, malformed 12 B, mix (6 ops) -558 B; object counts
 * flat (≤ 7 objects over 1,500 ops), no string prefix grew, the growth is (code)/(hidden)
 * (bytecode, feedback vectors). An idle server grows 24 KB of (code) in 26 s on its own.
 */
import { readFileSync } from "node:fs"
import { spawnNetworkServer } from "../test/fuzz/servers.ts"
import { histogram } from "./heapdiff.ts"
import { HTTP_KINDS, httpTraffic } from "./traffic.ts"

const args = process.argv.slice(2)
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d)
const kind = opt("--kind", "modern")
const n = Number(opt("--n", "2000"))
const warm = Number(opt("--warm", "500"))
const idleMs = Number(opt("--idle", "1000"))
const settleMs = Number(opt("--settle", "3000"))
const statsPort = 20_000 + Math.floor(Math.random() * 20_000)
process.env["MCP_BENCH_STATS_PORT"] = String(statsPort)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const server = await spawnNetworkServer("http", {
  nodeArgs: ["--expose-gc", "--import", "./bench/heap-probe.ts"],
  maxMessageBytes: 4_194_304,
  extraArgs: ["--idle-timeout", String(idleMs), "--handshake-timeout", String(idleMs)]
})
// The soak's traffic; an answer it does not expect fails the op (counted below).
const kinds: Record<string, () => Promise<void>> = httpTraffic(server.url, {
  op: () => {},
  unexpected: (what) => {
    throw new Error(what.slice(0, 300))
  }
})
// All kinds at once, interleaved as in the soak (one op of each per iteration).
kinds["mix"] = async () => {
  await Promise.all(HTTP_KINDS.map((k) => kinds[k]!()))
}
const op = kinds[kind]
if (op === undefined) throw new Error(`unknown kind ${kind}`)
let failed = 0
let lastError = ""
const run = async (count: number) => {
  let left = count
  const worker = async () => {
    while (left-- > 0) await op().catch((e: unknown) => { failed++; lastError = String(e) })
  }
  await Promise.all(Array.from({ length: 4 }, worker))
}
const stats = async () => (await (await fetch(`http://127.0.0.1:${statsPort}/__stats?gc=1`)).json()) as { heapUsed: number }
const snapshot = async () => ((await (await fetch(`http://127.0.0.1:${statsPort}/__snapshot`)).json()) as { file: string }).file

/** Strings grouped by their first 24 characters with digits folded: count per prefix. */
const stringPrefixes = (file: string): Map<string, number> => {
  const s = JSON.parse(readFileSync(file, "utf8")) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] }
  const f = s.snapshot.meta.node_fields, types = s.snapshot.meta.node_types[0]
  const w = f.length, iT = f.indexOf("type"), iN = f.indexOf("name")
  const out = new Map<string, number>()
  for (let i = 0; i < s.nodes.length; i += w) {
    const t = types[s.nodes[i + iT]!]
    if (t !== "string" && t !== "concatenated string" && t !== "sliced string") continue
    const k = (s.strings[s.nodes[i + iN]!] ?? "").slice(0, 40).replace(/[0-9a-f]{8,}|[0-9]+/g, "#")
    out.set(k, (out.get(k) ?? 0) + 1)
  }
  return out
}

await run(warm)
await sleep(settleMs + idleMs)
const a = await snapshot()
const hA = (await stats()).heapUsed
await run(n)
await sleep(settleMs + idleMs)
const b = await snapshot()
const hB = (await stats()).heapUsed
await run(n)
await sleep(settleMs + idleMs)
const c = await snapshot()
const hC = (await stats()).heapUsed
await server.stop()

process.stdout.write(`kind ${kind}, n ${n}: heap after GC A ${(hA / 1e6).toFixed(2)} MB, B ${(hB / 1e6).toFixed(2)} MB, C ${(hC / 1e6).toFixed(2)} MB; ` +
  `A→B ${((hB - hA) / n).toFixed(1)} B/op, B→C ${((hC - hB) / n).toFixed(1)} B/op; ${failed} failed ${lastError}\n`)
const hb = histogram(b), hc = histogram(c)
const rows: Array<[string, number, number]> = []
for (const k of new Set([...hb.keys(), ...hc.keys()])) {
  const [c0, s0] = hb.get(k) ?? [0, 0]
  const [c1, s1] = hc.get(k) ?? [0, 0]
  rows.push([k, c1 - c0, s1 - s0])
}
rows.sort((x, y) => y[2] - x[2])
process.stdout.write("B→C growth by constructor (objects, bytes):\n")
for (const [k, cnt, by] of rows.slice(0, 20)) process.stdout.write(`  ${k}: ${cnt} objects, ${by} B (${(by / n).toFixed(1)} B/op)\n`)
const sb = stringPrefixes(b), sc = stringPrefixes(c)
const srows = [...new Set([...sb.keys(), ...sc.keys()])].map((k) => [k, (sc.get(k) ?? 0) - (sb.get(k) ?? 0)] as const)
  .filter(([, d]) => d !== 0).sort((x, y) => y[1] - x[1])
process.stdout.write("B→C string prefixes that grew:\n")
for (const [k, d] of srows.slice(0, 20)) process.stdout.write(`  ${JSON.stringify(k)}: +${d}\n`)
process.stdout.write(`snapshots: ${a} ${b} ${c}\n`)
