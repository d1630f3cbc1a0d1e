/**
 * Running `@modelcontextprotocol/conformance` (0.1.16, a pinned devDependency)
 * from tests and reading its results.
 *
 * - {@link runConformance} spawns the package's CLI with the current Node
 *   (no npx: no PATH lookup, no registry access) and `force-localhost.cjs`
 *   preloaded, so every server the tool starts binds 127.0.0.1 only
 *   (conformance.md §3.2 "Binding").
 * - {@link summarizeResults} reads every `checks.json` below an output folder
 *   (`-o DIR`; server mode writes `DIR/server-<scenario>-<ts>/`, client mode
 *   `DIR/<scenario>-<ts>/` and `DIR/auth/<scenario>-<ts>/`) into per-scenario
 *   status counts. A scenario passes when it has no FAILURE; WARNINGs are
 *   reported but only fail client mode (§0 "Exit codes").
 * - {@link formatSummary} prints them the way `../shared/tools/conformance-summary.mjs`
 *   does, plus a totals line.
 */
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url))
export const FORCE_LOCALHOST = fileURLToPath(new URL("./force-localhost.cjs", import.meta.url))

/** The conformance CLI entry (`bin.conformance` of the installed package). */
export const conformanceBin = (): string => {
  const require = createRequire(join(PROJECT_ROOT, "package.json"))
  const pkgJson = require.resolve("@modelcontextprotocol/conformance/package.json")
  const pkg = JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string; bin: string | Record<string, string> }
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin.conformance
  if (!bin) throw new Error("@modelcontextprotocol/conformance has no 'conformance' bin")
  return join(dirname(pkgJson), bin)
}

export interface RunResult {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Run `conformance <args…>` to completion (killed after `timeoutMs`). */
export const runConformance = (args: ReadonlyArray<string>, options: { readonly timeoutMs?: number; readonly env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const nodeOptions = [process.env.NODE_OPTIONS, `--require ${FORCE_LOCALHOST}`].filter(Boolean).join(" ")
    const child = spawn(process.execPath, [conformanceBin(), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...options.env, NODE_OPTIONS: nodeOptions, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer)
      resolve({ exitCode, signal, stdout, stderr, ms: Date.now() - started })
    })
  })

export type CheckStatus = "SUCCESS" | "FAILURE" | "WARNING" | "INFO"

export interface Check {
  readonly id: string
  readonly name?: string
  readonly description?: string
  readonly status: CheckStatus
  readonly errorMessage?: string
  readonly details?: unknown
}

export interface ScenarioResult {
  /** Scenario name as the tool lists it (`tools-call-simple-text`, `auth/metadata-default`, `sse-retry`). */
  readonly scenario: string
  readonly folder: string
  readonly counts: Readonly<Record<CheckStatus, number>>
  readonly checks: ReadonlyArray<Check>
  /** No FAILURE check (and at least one check). */
  readonly passed: boolean
}

export interface ResultsSummary {
  readonly scenarios: ReadonlyArray<ScenarioResult>
  readonly passed: number
  readonly total: number
  readonly totals: Readonly<Record<CheckStatus, number>>
}

const TIMESTAMP = /-\d{4}-\d\d-\d\dT[\d-]+Z?$/

const findChecks = (dir: string): Array<string> => {
  if (!existsSync(dir)) return []
  const out: Array<string> = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...findChecks(p))
    else if (name === "checks.json") out.push(p)
  }
  return out
}

/** Read every `checks.json` under `dir`; `mode` strips the `server-` folder prefix of server mode. */
export const summarizeResults = (dir: string, mode: "server" | "client"): ResultsSummary => {
  const scenarios: Array<ScenarioResult> = []
  const totals: Record<CheckStatus, number> = { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0 }
  for (const file of findChecks(dir).sort()) {
    const folder = relative(dir, dirname(file))
    let scenario = folder.replace(TIMESTAMP, "")
    if (mode === "server") scenario = scenario.replace(/^server-/, "")
    const checks = JSON.parse(readFileSync(file, "utf8")) as Array<Check>
    const counts: Record<CheckStatus, number> = { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0 }
    for (const c of checks) {
      counts[c.status] = (counts[c.status] ?? 0) + 1
      totals[c.status] = (totals[c.status] ?? 0) + 1
    }
    scenarios.push({ scenario, folder, counts, checks, passed: checks.length > 0 && counts.FAILURE === 0 })
  }
  return { scenarios, passed: scenarios.filter((s) => s.passed).length, total: scenarios.length, totals }
}

/** One line per scenario with its counts, FAILURE/WARNING checks indented below, then the totals. */
export const formatSummary = (title: string, summary: ResultsSummary): string => {
  const lines = [`${title}: scenarios ${summary.passed}/${summary.total} passed; checks SUCCESS ${summary.totals.SUCCESS}, FAILURE ${summary.totals.FAILURE}, WARNING ${summary.totals.WARNING}, INFO ${summary.totals.INFO}`]
  for (const s of summary.scenarios) {
    const c = s.counts
    lines.push(`  ${s.passed ? "✓" : "✗"} ${s.scenario.padEnd(44)} SUCCESS ${c.SUCCESS}  FAILURE ${c.FAILURE}  WARNING ${c.WARNING}  INFO ${c.INFO}`)
    for (const k of s.checks) {
      if (k.status === "FAILURE" || k.status === "WARNING") lines.push(`      ${k.status} ${k.id}: ${(k.errorMessage ?? "").slice(0, 200)}`)
    }
  }
  return lines.join("\n")
}

/** Scenario names `conformance list --server|--client` prints (lines of the form `  - name`). */
export const listScenarios = async (mode: "server" | "client", extra: ReadonlyArray<string> = []): Promise<Array<string>> => {
  const r = await runConformance(["list", `--${mode}`, ...extra], { timeoutMs: 60_000 })
  return r.stdout.split("\n").map((l) => /^\s*[-•*]\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined)
}
