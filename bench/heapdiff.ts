/**
 * Compare two V8 heap snapshots (e.g. before and after opening N idle
 * sessions, from bench/heap-probe.ts's `/__snapshot`): live objects and
 * self size grouped by constructor / type, largest growth first.
 *
 *   node bench/heapdiff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 25]
 *
 * --per N divides the growth by N (bytes and objects per session).
 * Self sizes only (no retained sizes): good enough to see what a session is made of.
 */
import { readFileSync } from "node:fs"

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: ReadonlyArray<string>; readonly node_types: ReadonlyArray<unknown> } }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

/** "(type) name" → [count, self bytes] */
export const histogram = (file: string): Map<string, [number, number]> => {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const width = fields.length
  const iType = fields.indexOf("type"), iName = fields.indexOf("name"), iSize = fields.indexOf("self_size")
  const out = new Map<string, [number, number]>()
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!
    const raw = s.strings[s.nodes[i + iName]!] ?? ""
    // strings, code and numbers are grouped by type only; objects by constructor name
    const name = type === "object" || type === "closure" || type === "native" ? raw.slice(0, 60) : ""
    const key = name ? `(${type}) ${name}` : `(${type})`
    const e = out.get(key) ?? [0, 0]
    e[0]++
    e[1] += s.nodes[i + iSize]!
    out.set(key, e)
  }
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const opt = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d)
  const per = opt("--per", 1)
  const top = opt("--top", 25)
  const files = args.filter((a, i) => !a.startsWith("--") && !["--per", "--top"].includes(args[i - 1] ?? ""))
  if (files.length !== 2) {
    process.stderr.write("Usage: node bench/heapdiff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 25]\n")
    process.exit(2)
  }
  const a = histogram(files[0]!), b = histogram(files[1]!)
  const rows: Array<[string, number, number]> = []
  let dBytes = 0, dCount = 0
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const [c0, s0] = a.get(k) ?? [0, 0]
    const [c1, s1] = b.get(k) ?? [0, 0]
    rows.push([k, c1 - c0, s1 - s0])
    dBytes += s1 - s0
    dCount += c1 - c0
  }
  rows.sort((x, y) => y[2] - x[2])
  process.stdout.write(`Growth: ${(dBytes / 1024).toFixed(1)} KB, ${dCount} objects` +
    (per === 1 ? "\n\n" : `; ÷ ${per} = ${(dBytes / 1024 / per).toFixed(2)} KB, ${(dCount / per).toFixed(1)} objects per session\n\n`))
  process.stdout.write(`| constructor / type | objects${per === 1 ? "" : " per session"} | bytes${per === 1 ? "" : " per session"} |\n|---|---|---|\n`)
  for (const [k, c, bytes] of rows.slice(0, top)) process.stdout.write(`| \`${k}\` | ${(c / per).toFixed(per === 1 ? 0 : 1)} | ${(bytes / per).toFixed(0)} |\n`)
}
