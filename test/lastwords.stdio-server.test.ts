/**
 * Last words of a stdio server (docs/reliability.md, "Last words and close ordering (s24)"):
 * `mcp-actors serve --stdio` as a real child of this process (its stdout is then a socket,
 * whose writes Node makes asynchronously), requests written and stdin ended at once.
 * Every reply must reach the parent before the process exits, even when the parent reads
 * slowly: the flush deadline is for a reader that stopped, not for one that is slow.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

const requests = (calls: number, bytes: number, tool = "echo"): string => {
  const text = "x".repeat(bytes)
  const messages: Array<object> = [
    { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } },
    { jsonrpc: "2.0", method: "notifications/initialized" }
  ]
  for (let id = 1; id <= calls; id++) messages.push({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { text } } })
  return messages.map((m) => JSON.stringify(m)).join("\n") + "\n"
}

const READER = fileURLToPath(new URL("./fixtures/slow-stdio-reader.mjs", import.meta.url))

/**
 * Through a reader process of its own (its pace, not the test's): spawn the CLI with `args`, send `input`
 * once its stderr says `ready` (at once without it), end stdin; read stdout pausing `paceMs` after each chunk.
 */
const serveAndRead = (args: ReadonlyArray<string>, input: string, paceMs: number, ready?: RegExp) => {
  const inputFile = join(dir, `input-${paceMs}-${args.join("-").replace(/\W+/g, "_")}.jsonl`)
  writeFileSync(inputFile, input)
  return new Promise<{ readonly ids: ReadonlyArray<unknown>; readonly code: number | null; readonly stderr: string }>((resolve, reject) =>
    execFile(process.execPath, [READER, String(paceMs), ready?.source ?? "-", inputFile, process.execPath, CLI, ...args], { maxBuffer: 16 << 20 }, (error, stdout) =>
      error !== null ? reject(error) : resolve(JSON.parse(stdout))
    )
  )
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mcp-lastwords-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("serve --stdio: replies written before stdin's end reach a slow reader before the exit", () => {
  it("3 MB of replies read at ≈ 640 KB/s (≈ 5 s, beyond the 2 s flush deadline + the 1 s exit timer): all 31 arrive, exit 0", async () => {
    const { ids, code, stderr } = await serveAndRead(["serve", "--stdio"], requests(30, 100_000), 100)
    expect(stderr).toMatch(/session ended \(stdin ended\)/)
    expect(ids).toEqual(Array.from({ length: 31 }, (_, i) => i))
    expect(code).toBe(0)
  }, 30_000)
})

describe("host --serve-stdio: the gateway's replies reach a slow reader before the host exits", () => {
  it("30 echoes of 100 kB through the gateway, stdin ended at once, read at ≈ 2 MB/s: all 31 replies, exit 0", async () => {
    const config = join(dir, "host.json")
    writeFileSync(config, JSON.stringify({ mcpServers: { demo: { command: process.execPath, args: [CLI, "serve", "--stdio"] } } }))
    // Before: the session's end exited the process while stdout still held most of the replies (4 of 31 arrived).
    const { ids, code } = await serveAndRead(["host", config, "--serve-stdio"], requests(30, 100_000, "demo__echo"), 30, /host: ready/)
    expect(ids).toEqual(Array.from({ length: 31 }, (_, i) => i))
    expect(code).toBe(0)
  }, 30_000)
})
