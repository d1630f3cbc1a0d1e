/**
 * Micro-benchmark of the JSON-RPC decoder's nesting-depth check (issue 8, part 4):
 * `decodeText` of the working tree against the decoder of a base revision (default
 * e41d9dc, the last one without the check; its `src/protocol/jsonrpc.ts` and
 * `errors.ts` are copied to a temp dir and imported), and plain `JSON.parse`, on
 * the frames the benchmarks send (an echo `tools/call`, a ping) and on a larger
 * `tools/call` (a 40-field argument object, 3 levels). Rounds alternate A and B.
 *
 *   node bench/decode.ts [--ms 1000] [--rounds 7] [--base REV]
 *
 * Prints CPU ns per decode (median over rounds) and the difference. Not a test.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeText } from "../src/protocol/jsonrpc.ts"
import { scriptArgs } from "../test/support/scriptArgs.ts"

const { values, count } = scriptArgs("Usage: node bench/decode.ts [--ms 1000] [--rounds 7] [--base REV]", {
  ms: { type: "string" },
  rounds: { type: "string" },
  base: { type: "string", default: "e41d9dc" }
})
const MS = count("ms") ?? 1000
const ROUNDS = count("rounds") ?? 7

const dir = mkdtempSync(join(tmpdir(), "mcp-actors-decode-"))
for (const file of ["jsonrpc.ts", "errors.ts"]) {
  writeFileSync(join(dir, file), execFileSync("git", ["show", `${values.base}:src/protocol/${file}`], { encoding: "utf8" }))
}
const base = (await import(join(dir, "jsonrpc.ts"))) as { decodeText: (t: string) => unknown }

const frames: Record<string, string> = {
  "echo tools/call": JSON.stringify({ jsonrpc: "2.0", id: 12345, method: "tools/call", params: { name: "echo", arguments: { text: "hello world" }, _meta: { progressToken: 7 } } }),
  ping: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  "40-field arguments": JSON.stringify({
    jsonrpc: "2.0",
    id: "req-1",
    method: "tools/call",
    params: { name: "bulk", arguments: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field${i}`, { value: i, tags: ["a", "b"], nested: { ok: true } }])) }
  })
}

/**
 * ns of CPU time per call of `fn(text)`, over MS milliseconds of CPU time: the process's
 * own CPU time (process.cpuUsage), not wall time, so that time spent descheduled on a
 * busy machine does not count.
 */
const measure = (fn: (t: string) => unknown, text: string): number => {
  let n = 0
  let sink = 0
  const start = process.cpuUsage()
  let used = 0
  while (used < MS * 1000) {
    for (let i = 0; i < 1000; i++) sink += fn(text) === undefined ? 0 : 1
    n += 1000
    const u = process.cpuUsage(start)
    used = u.user + u.system
  }
  if (sink < 0) console.log(sink)
  return (used * 1000) / n
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

console.log(`bench/decode: ${ROUNDS} rounds × ${MS} ms per measurement, base ${values.base}, node ${process.version}`)
console.log("| frame | JSON.parse ns | decodeText base ns | decodeText now (depth limit 100) ns | difference |")
console.log("|---|---|---|---|---|")
for (const [name, text] of Object.entries(frames)) {
  const parse: Array<number> = []
  const before: Array<number> = []
  const now: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    parse.push(measure((t) => JSON.parse(t), text))
    if (r % 2 === 0) {
      before.push(measure(base.decodeText, text))
      now.push(measure(decodeText, text))
    } else {
      now.push(measure(decodeText, text))
      before.push(measure(base.decodeText, text))
    }
  }
  const [p, b, f] = [median(parse), median(before), median(now)]
  console.log(`| ${name} (${text.length} B) | ${p.toFixed(0)} | ${b.toFixed(0)} | ${f.toFixed(0)} | ${(f - b).toFixed(0)} ns (${(((f - b) / b) * 100).toFixed(1)} %) |`)
}
