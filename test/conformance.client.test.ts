/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`
 * 0.1.16, client mode) against our client: the tool hosts each scenario's
 * server and runs `node test/conformance/client.ts <url>` (built on
 * `connectHttp`), with `MCP_CONFORMANCE_SCENARIO` naming the scenario.
 *
 * Scenarios: `initialize`, `tools_call`, `elicitation-sep1034-client-defaults`
 * (run in parallel), then `sse-retry` alone — its check measures the delay
 * before our GET reconnection (retry: 500 ms; 450–700 ms SUCCESS, up to
 * 1000 ms WARNING), and parallel start-ups skew it (conformance.md §5, §7.8).
 *
 * Asserted: 4/4 scenarios passed, no FAILURE check, every check SUCCESS or
 * INFO except a retry-timing WARNING (a late reconnection under CPU load,
 * printed when it happens); the tool's exit code is 0 unless that WARNING is
 * the reason.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { applySchemaDefaults } from "./conformance/client.ts"
import { formatSummary, runConformance, type ScenarioResult, summarizeResults } from "./conformance/harness.ts"

const CLIENT = fileURLToPath(new URL("./conformance/client.ts", import.meta.url))
const PARALLEL = ["initialize", "tools_call", "elicitation-sep1034-client-defaults"] as const
const ALONE = ["sse-retry"] as const
/** The one check allowed to WARN: a reconnection later than retry + 200 ms, not later than 2 × retry. */
const TOLERATED_WARNING = "client-sse-retry-timing"

const outDir = mkdtempSync(join(tmpdir(), "mcp-actors-conformance-client-"))
afterAll(() => rmSync(outDir, { recursive: true, force: true }))

const runScenario = async (scenario: string): Promise<{ result: ScenarioResult | undefined; exitCode: number | null; output: string }> => {
  const dir = join(outDir, scenario)
  // `--command` is split on spaces: the path must have none (it is absolute, under the project).
  const run = await runConformance(["client", "--command", `${process.execPath} ${CLIENT}`, "--scenario", scenario, "-o", dir], { timeoutMs: 90_000 })
  const summary = summarizeResults(dir, "client")
  return { result: summary.scenarios.find((s) => s.scenario === scenario), exitCode: run.exitCode, output: `${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}` }
}

describe("conformance 0.1.16, client mode, against test/conformance/client.ts", () => {
  it("passes initialize, tools_call, elicitation-sep1034-client-defaults and sse-retry (4/4)", async () => {
    expect(process.execPath + CLIENT).not.toMatch(/\s/)
    const first = await Promise.all(PARALLEL.map(runScenario))
    const last = await Promise.all(ALONE.map(runScenario))
    const runs = [...first, ...last]
    const results = runs.map((r) => r.result).filter((r): r is ScenarioResult => r !== undefined)
    const totals = { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0 }
    for (const r of results) for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r.counts[k]
    console.log(formatSummary("conformance 0.1.16 client (initialize, tools_call, elicitation-sep1034-client-defaults in parallel; sse-retry alone)", {
      scenarios: results,
      passed: results.filter((r) => r.passed).length,
      total: results.length,
      totals
    }))
    const timing = results.flatMap((r) => r.checks).find((c) => c.id === TOLERATED_WARNING)
    console.log(`sse-retry reconnection delay: ${JSON.stringify((timing?.details as { actualDelayMs?: number } | undefined)?.actualDelayMs)} ms (retry: 500)`)
    for (const [i, r] of runs.entries()) {
      if (r.result?.passed !== true || r.exitCode !== 0) console.log(`--- ${[...PARALLEL, ...ALONE][i]} (exit ${r.exitCode}) output tail:\n${r.output}`)
    }

    expect(results.map((r) => r.scenario)).toEqual([...PARALLEL, ...ALONE])
    expect(results.filter((r) => r.passed)).toHaveLength(4)
    expect(totals.FAILURE).toBe(0)
    for (const [i, r] of runs.entries()) {
      const unexpected = r.result!.checks.filter((c) => c.status !== "SUCCESS" && c.status !== "INFO" && c.id !== TOLERATED_WARNING)
      expect(unexpected, `${r.result!.scenario}: unexpected non-success checks`).toEqual([])
      const warned = r.result!.checks.some((c) => c.status === "WARNING")
      if (!warned) expect(r.exitCode, `${[...PARALLEL, ...ALONE][i]} exit code`).toBe(0)
    }
    // The scenario-specific SUCCESS checks really ran (not just an absence of failures).
    const ids = new Set(results.flatMap((r) => r.checks.filter((c) => c.status === "SUCCESS").map((c) => c.id)))
    for (const id of [
      "mcp-client-initialization",
      "tool-add-numbers",
      "client-elicitation-sep1034-string-default",
      "client-elicitation-sep1034-integer-default",
      "client-elicitation-sep1034-number-default",
      "client-elicitation-sep1034-enum-default",
      "client-elicitation-sep1034-boolean-default",
      "client-sse-graceful-reconnect",
      "client-sse-last-event-id"
    ]) expect(ids, id).toContain(id)
  }, 240_000)

  it("applySchemaDefaults fills only the properties the user left empty", () => {
    const schema = { type: "object", properties: { a: { type: "string", default: "x" }, b: { type: "integer", default: 3 }, c: { type: "boolean" } } }
    expect(applySchemaDefaults(schema)).toEqual({ a: "x", b: 3 })
    expect(applySchemaDefaults(schema, { a: "mine", c: false })).toEqual({ a: "mine", b: 3, c: false })
    expect(applySchemaDefaults(undefined)).toEqual({})
  })
})
