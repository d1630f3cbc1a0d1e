/**
 * bench/inspectRepeat.ts — `bench/inspectPaired.ts` run `--runs N` times, each with fresh server
 * processes, and the runs summarized: per suite and mode, the median over runs of each run's median
 * overhead (with the range, and how many runs met `--target`), and with `--base` the median of each
 * run's per-session difference (this − base).
 *
 * Why: one paired run resolves a few % between modes of the same processes, but a server process's
 * own luck (where its heap and code land) moves a churn's CPU per session by several points from one
 * run to the next: the same code read +1.9 % and +9.3 % minutes apart (docs/performance.md, "The
 * unwatched inspector, joined through objects"). A 3 % target is read over many runs.
 *
 *   node bench/inspectRepeat.ts [--runs 6] [--target 3] [-- ARGS for inspectPaired.ts]
 *   e.g. node bench/inspectRepeat.ts --runs 8 -- --suites churn --modes off,idle --slices 60 --churn-ops 1500 --base /tmp/base
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { median } from "./lib.ts"

const argv = process.argv.slice(2)
const split = argv.indexOf("--")
const own = split < 0 ? argv : argv.slice(0, split)
const passed = split < 0 ? [] : argv.slice(split + 1)
const opt = (name: string, dflt: string) => {
  const i = own.indexOf(`--${name}`)
  return i >= 0 && own[i + 1] !== undefined ? own[i + 1]! : dflt
}
const RUNS = Number(opt("runs", "6"))
const TARGET = Number(opt("target", "3"))
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isFinite(TARGET)) throw new Error("usage: node bench/inspectRepeat.ts [--runs N] [--target PCT] [-- inspectPaired args]")

/** With a base, which side's servers start first alternates from run to run (see `--base-first` in inspectPaired.ts). */
const ALTERNATE = passed.includes("--base") && !passed.includes("--base-first")
const script = fileURLToPath(new URL("./inspectPaired.ts", import.meta.url))
/** Per "suite mode": each run's overhead % (the first table), and its added µs minus base's (the second). */
const overheads = new Map<string, Array<number>>()
const diffs = new Map<string, Array<number>>()
const push = (m: Map<string, Array<number>>, k: string, v: number) => void (m.get(k) ?? m.set(k, []).get(k)!).push(v)

/** A run's rows: `| suite | mode | cpu [..] | rate | **+7.7 %** … |` and `| suite | mode | **+7.6** […] | **+12.5** […] | **-4.6** […] |`. */
const parse = (out: string): void => {
  for (const line of out.split("\n")) {
    const cells = line.split("|").map((c) => c.trim())
    if (cells.length < 5 || !/^\w+$/.test(cells[1] ?? "")) continue
    const key = `${cells[1]} ${cells[2]}`
    const pct = /^\*\*([+-]?[\d.]+) %\*\*/.exec(cells[5] ?? "")
    if (/^[\d.]+ \[/.test(cells[3] ?? "") && pct !== null) push(overheads, key, Number(pct[1]))
    const diff = /^\*\*([+-]?[\d.]+)\*\*/.exec(cells[5] ?? "")
    if (/^\*\*[+-]?[\d.]+\*\*/.test(cells[3] ?? "") && diff !== null) push(diffs, key, Number(diff[1]))
  }
}

for (let r = 1; r <= RUNS; r++) {
  const started = Date.now()
  const order = [...(ALTERNATE && r % 2 === 0 ? ["--base-first"] : []), ...(r % 2 === 0 ? ["--reverse-start"] : [])]
  const run = spawnSync(process.execPath, [script, ...passed, ...order], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`inspectPaired run ${r} failed (${run.status}): ${run.stderr.slice(-2000)}`)
  parse(run.stdout)
  console.error(`run ${r}/${RUNS} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
}

const f = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`
console.log(`\n${RUNS} runs of bench/inspectPaired.ts ${passed.join(" ")}${ALTERNATE ? " (the base's servers started first in the even runs)" : ""}; the modes started in reverse order (\`--reverse-start\`) in the even runs; each run's median, then over runs: median (min..max).\n`)
console.log(`| suite | mode | overhead vs off, % | runs ≤ ${TARGET} % | this − base, µs/op |`)
console.log("|---|---|---|---|---|")
for (const [key, xs] of overheads) {
  const [suite, mode] = key.split(" ")
  const d = diffs.get(key)
  console.log(`| ${suite} | ${mode} | **${f(median(xs)!)}** (${f(Math.min(...xs))}..${f(Math.max(...xs))}) | ${xs.filter((x) => x <= TARGET).length} of ${xs.length} | ${d === undefined ? "—" : `**${f(median(d)!)}** (${f(Math.min(...d))}..${f(Math.max(...d))}; ${d.filter((x) => x < 0).length} of ${d.length} < 0)`} |`)
}
console.log("\nEach run, in order: overhead vs off, %; this − base, µs/op.\n")
for (const [key, xs] of overheads) console.log(`- ${key}: ${xs.map(f).join(", ")}${diffs.has(key) ? `; ${diffs.get(key)!.map(f).join(", ")}` : ""}`)
// The start-order effect, if any: the odd runs started the modes in the given order, the even runs reversed.
const odd = (xs: ReadonlyArray<number>) => xs.filter((_, i) => i % 2 === 0)
const even = (xs: ReadonlyArray<number>) => xs.filter((_, i) => i % 2 === 1)
if (RUNS > 1) {
  console.log("\nBy start order, overhead vs off, median: modes in the given order (odd runs) / reversed (even runs).\n")
  for (const [key, xs] of overheads) console.log(`- ${key}: ${f(median(odd(xs))!)} / ${f(median(even(xs))!)}`)
}
