/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`
 * 0.1.16, server mode, suite `all` = 32 scenarios) against our Streamable HTTP
 * server serving the conformance fixture (`examples/conformance.ts`), started
 * exactly as a user would: `node bin/mcp-actors.js serve --http 0 --example conformance`.
 *
 * The per-scenario counts are printed; the test asserts every scenario the
 * tool lists ran and none has a FAILURE check (WARNINGs are printed, not
 * fatal: server mode itself only fails on FAILURE, conformance.md §0).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatSummary, listScenarios, PROJECT_ROOT, runConformance, summarizeResults } from "./conformance/harness.ts"

const BIN = join(PROJECT_ROOT, "bin", "mcp-actors.js")

/** Start the CLI's HTTP server on an ephemeral port; resolves with the MCP endpoint URL it prints. */
const startServer = (): Promise<{ child: ChildProcess; url: string; output: () => string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--http", "0", "--example", "conformance"], {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let settled = false
    const onData = (c: Buffer) => {
      out += c.toString()
      const m = /https?:\/\/[^\s"'<>]+/.exec(out)
      if (m && !settled) {
        settled = true
        clearTimeout(timer)
        resolve({ child, url: m[0].replace(/[.,;)]+$/, ""), output: () => out })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    const fail = (why: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(new Error(`${why}; server output:\n${out}`))
    }
    const timer = setTimeout(() => fail("the server printed no URL within 20 s"), 20_000)
    child.on("exit", (code, signal) => fail(`the server exited early (code ${code}, signal ${signal})`))
    child.on("error", (e) => fail(`spawn failed: ${e.message}`))
  })

const stopServer = async (child: ChildProcess | undefined) => {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
  await exited
  clearTimeout(timer)
}

describe("conformance 0.1.16, server mode, suite all", () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined
  let outDir: string

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "mcp-actors-conformance-server-"))
    server = await startServer()
  }, 30_000)

  afterAll(async () => {
    await stopServer(server?.child)
    if (outDir) rmSync(outDir, { recursive: true, force: true })
  })

  it("passes all 32 scenarios with no FAILURE check", async () => {
    const expected = await listScenarios("server")
    const run = await runConformance(["server", "--url", server!.url, "--suite", "all", "-o", outDir], { timeoutMs: 150_000 })
    const summary = summarizeResults(outDir, "server")
    console.log(`${formatSummary(`conformance server --suite all against ${server!.url} (${run.ms} ms, exit ${run.exitCode})`, summary)}`)
    const failing = summary.scenarios.filter((s) => !s.passed).map((s) => s.scenario)
    if (failing.length > 0 || run.exitCode !== 0) console.log(`conformance stdout (tail):\n${run.stdout.slice(-4000)}\nstderr:\n${run.stderr.slice(-2000)}`)

    expect(summary.scenarios.map((s) => s.scenario).sort()).toEqual([...expected].sort())
    expect(summary.total).toBe(32)
    expect(failing).toEqual([])
    expect(summary.passed).toBe(32)
    expect(summary.totals.FAILURE).toBe(0)
    expect(run.exitCode).toBe(0)
  }, 180_000)
})
