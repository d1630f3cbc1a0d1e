/**
 * `npm run fuzz`: long fuzz campaigns against the real servers (by default
 * 100,000 frames per transport), the same generators and oracle as the suite's
 * `test/fuzz.*.test.ts`. Prints a report (frames per transport, per expected
 * answer, failures with their seed, durations) and writes it as JSON with `--json FILE`.
 * Exit 1 when a campaign failed.
 *
 *   npm run fuzz                                  # 100,000 frames × stdio, ws, http; a random seed
 *   npm run fuzz -- --frames 5000 --seed 42 --transports ws
 */
import { writeFileSync } from "node:fs"
import { scriptArgs } from "../support/scriptArgs.ts"
import { type CampaignResult, runCampaign, type Transport } from "./campaign.ts"

const USAGE = `Usage: npm run fuzz -- [--frames N] [--seed N] [--transports stdio,ws,http] [--window N] [--json FILE]

  --frames N        frames per transport (default 100000)
  --seed N          fast-check seed (default: random; printed, and a failure names it)
  --transports L    comma-separated subset of stdio, ws, http (default all)
  --window N        frames per fast-check run (default 50)
  --json FILE       also write the report as JSON`

const { values, count, usageError } = scriptArgs(USAGE, {
  frames: { type: "string" },
  seed: { type: "string" },
  transports: { type: "string" },
  window: { type: "string" },
  json: { type: "string" }
})
const frames = count("frames") ?? 100_000
const seed = count("seed") ?? Math.floor(Math.random() * 2 ** 31)
const windowSize = count("window") || 50
const transports = (values.transports ?? "stdio,ws,http").split(",").map((t) => t.trim()) as Array<Transport>
for (const t of transports) if (!["stdio", "ws", "http"].includes(t)) usageError(`unknown transport ${t}`)

process.stderr.write(`fuzz: ${frames} frames per transport (${transports.join(", ")}), seed ${seed}\n`)
const results: Array<CampaignResult> = []
for (const transport of transports) {
  let last = 0
  const started = Date.now()
  const r = await runCampaign({
    transport,
    frames,
    seed,
    windowSize,
    onProgress: (s) => {
      if (Date.now() - last < 10_000) return
      last = Date.now()
      const rate = s.frames / ((Date.now() - started) / 1_000)
      process.stderr.write(`  ${transport}: ${s.frames} frames, ${rate.toFixed(0)}/s, ${s.connections} connections\n`)
    }
  })
  results.push(r)
  process.stderr.write(`  ${transport}: ${r.failure === undefined && r.serverExit === "ok" ? "passed" : "FAILED"} (${r.stats.frames} frames, ${(r.durationMs / 1_000).toFixed(1)} s)\n`)
}

const lines: Array<string> = []
lines.push(`# Fuzz report (seed ${seed})`, "")
lines.push("| transport | frames | sent (after line split) | connections/sessions | duration | frames/s | result |")
lines.push("|---|---:|---:|---:|---:|---:|---|")
for (const r of results) {
  const ok = r.failure === undefined && r.serverExit === "ok"
  lines.push(`| ${r.transport} | ${r.stats.frames} | ${r.stats.pieces} | ${r.stats.connections} | ${(r.durationMs / 1_000).toFixed(1)} s | ${(r.stats.frames / (r.durationMs / 1_000)).toFixed(0)} | ${ok ? "passed" : "**FAILED**"} |`)
}
for (const r of results) {
  lines.push("", `## ${r.transport}: frames per expected answer`, "", "| expected | frames |", "|---|---:|")
  for (const [label, n] of [...r.stats.byLabel].sort((a, b) => b[1] - a[1])) lines.push(`| ${label} | ${n} |`)
  if ((r.stats.retried ?? 0) > 0) lines.push("", `${r.stats.retried} requests retried on a new connection: reset on a pooled socket the server had closed for idleness`)
  if (r.failure !== undefined) lines.push("", "Failure:", "", "```", r.failure, "```")
  if (r.serverExit !== "ok") lines.push("", `Server: ${r.serverExit}`)
}
process.stdout.write(lines.join("\n") + "\n")
if (values.json !== undefined) {
  writeFileSync(values.json, JSON.stringify({ seed, frames, results: results.map((r) => ({ ...r, stats: { ...r.stats, byLabel: Object.fromEntries(r.stats.byLabel) } })) }, null, 2))
}
process.exitCode = results.every((r) => r.failure === undefined && r.serverExit === "ok") ? 0 : 1
