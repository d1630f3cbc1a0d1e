/**
 * `npm run sim -- --seed N`: replay one seed, print its trace and what broke.
 * `npm run sim -- --runs 1000 [--from S]`: explore seeds S…S+999 and print a summary.
 * Options: --clients N, --duration MS, --profile calm|stream|lossy|hostile, --no-progress, --quiet (no trace),
 * --all (collect every violation instead of stopping at the first), --sabotage (see SimOptions).
 */
import { scriptArgs } from "../support/scriptArgs.ts"
import { PROFILES, reproCommand, runSimulation, type Sabotage, type SimOptions, type SimReport } from "./Simulation.ts"

const USAGE = `npm run sim -- --seed N              replay one seed: its trace, summary, and the invariant that broke (exit 1)
npm run sim -- --runs 1000 [--from S]  explore seeds S..S+999 (default 1): failures with their seeds, steps, time
options: --clients N (4)  --duration MS (30000)  --profile calm|stream|lossy|hostile (drawn from the seed)
         --no-progress  --quiet (no trace)  --all (every violation, not just the first)
         --sabotage misroute|double-send|drop-clear|stuck-handler|stray-actor (prove an invariant fails)
docs/reliability.md, "Deterministic simulation"`

const { values, count: int, usageError } = scriptArgs(
  USAGE,
  {
    seed: { type: "string" },
    runs: { type: "string" },
    from: { type: "string" },
    clients: { type: "string" },
    duration: { type: "string" },
    profile: { type: "string" },
    quiet: { type: "boolean", default: false },
    all: { type: "boolean", default: false },
    sabotage: { type: "string" },
    progress: { type: "boolean", default: true }
  },
  { allowNegative: true }
)

const clients = int("clients")
const durationMs = int("duration")
const profile = values.profile
if (profile !== undefined && !PROFILES.some((p) => p.name === profile)) usageError(`--profile must be one of ${PROFILES.map((p) => p.name).join(", ")}`)
const base = (seed: number): SimOptions => ({
  seed,
  ...(clients !== undefined ? { clients } : {}),
  ...(durationMs !== undefined ? { durationMs } : {}),
  ...(profile !== undefined ? { profile } : {}),
  ...(values.sabotage !== undefined ? { sabotage: values.sabotage as Sabotage } : {}),
  ...(values.progress ? {} : { progress: false })
})

const summary = (r: SimReport): string =>
  `seed ${r.seed} [${r.profile}] hash ${r.hash.slice(0, 16)} steps ${r.steps} virtual ${(r.virtualMs / 1000).toFixed(1)} s ` +
  `calls ${r.calls} connections ${r.connections} actors ${r.actors} outcomes ${JSON.stringify(r.outcomes)} faults ${JSON.stringify(r.faults)}`

const seed = int("seed")
if (seed !== undefined) {
  const started = performance.now()
  const report = await runSimulation({ ...base(seed), keepTrace: !values.quiet, stopOnViolation: !values.all })
  if (!values.quiet) for (const line of report.trace) console.log(line)
  console.log(summary(report))
  console.log(`wall-clock reads by the runtime (informational): ${JSON.stringify(report.wallClockReads)}`)
  console.log(`wall ${(performance.now() - started).toFixed(0)} ms`)
  if (report.violations.length > 0) {
    for (const v of report.violations) console.log(`VIOLATION at ${v.at} ms: ${v.invariant}: ${v.detail}`)
    process.exit(1)
  }
  console.log("all invariants held")
} else {
  const runs = int("runs") ?? 100
  const from = int("from") ?? 1
  const started = performance.now()
  const failures: Array<SimReport> = []
  let steps = 0
  let calls = 0
  let virtualMs = 0
  const profiles: Record<string, number> = {}
  const outcomes: Record<string, number> = {}
  for (let s = from; s < from + runs; s++) {
    const report = await runSimulation({ ...base(s), keepTrace: false })
    steps += report.steps
    calls += report.calls
    virtualMs += report.virtualMs
    profiles[report.profile] = (profiles[report.profile] ?? 0) + 1
    for (const [k, v] of Object.entries(report.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v
    if (report.violations.length > 0) {
      failures.push(report)
      const v = report.violations[0]!
      console.log(`FAIL seed ${s} [${report.profile}]: ${v.invariant} at ${v.at} ms: ${v.detail}`)
      console.log(`  repro: ${reproCommand(base(s))}`)
    }
    const done = s - from + 1
    if (done % 100 === 0 && done < runs) {
      console.log(`… ${done} runs, ${failures.length} failure(s), ${((performance.now() - started) / 1000).toFixed(0)} s`)
    }
  }
  const wall = performance.now() - started
  console.log(
    `runs ${runs} (seeds ${from}..${from + runs - 1}), failures ${failures.length}` +
      (failures.length > 0 ? ` (seeds ${failures.map((f) => f.seed).join(", ")})` : "") +
      `, steps ${steps}, calls ${calls}, virtual ${(virtualMs / 1000).toFixed(0)} s, wall ${(wall / 1000).toFixed(1)} s` +
      ` (${(wall / runs).toFixed(0)} ms/run)`
  )
  console.log(`profiles ${JSON.stringify(profiles)} outcomes ${JSON.stringify(outcomes)}`)
  if (failures.length > 0) process.exit(1)
}
