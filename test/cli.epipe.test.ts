/**
 * The CLI's long-running commands piped into a reader that leaves early
 * (`mcp-actors host CONFIG --json | head`, `mcp-actors inspect URL --json | head`):
 * the next write gets EPIPE. They stop as on a signal (the host gracefully, its
 * servers stopped; inspect with exit 0), not with an unhandled 'error' stack trace.
 * The commands that print a report and end (`mcp-actors audit query FILE | head`,
 * `mcp-actors --help | head -1`) end with their own exit code, the rest of the output dropped.
 * Real processes; the reader's end of the pipe is closed by destroying it here.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { EventEmitter } from "node:events"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { outputMayBeCut } from "../src/cli/outputMayBeCut.ts"
import { processGroupAlive } from "./support/processes.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const MEMORY = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-memory/dist/index.js", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "mcp-actors-epipe-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const collect = (child: ChildProcess) => {
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr += d))
  // "close": after its output is read (an "exit" can come first)
  const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)))
  return { stderr: () => stderr, exited }
}

describe("CLI output piped into a reader that leaves", () => {
  it("host CONFIG --json: a closed stdout shuts the host down gracefully (exit 0, no EPIPE trace, no server left)", async () => {
    const config = join(dir, "mcp.json")
    writeFileSync(config, JSON.stringify({
      mcpServers: {
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(dir, "m.jsonl") } },
        // Exits at once, again and again: its restarts keep writing status lines after the reader left.
        flaky: { command: process.execPath, args: ["-e", "process.exit(3)"] }
      }
    }))
    const child = spawn(process.execPath, [MAIN, "host", config, "--json", "--state-file", join(dir, "state.json")], { stdio: ["ignore", "pipe", "pipe"] })
    const { stderr, exited } = collect(child)
    const first = await new Promise<Record<string, unknown>>((resolve) =>
      createInterface({ input: child.stdout! }).on("line", (l) => {
        const line = JSON.parse(l) as Record<string, unknown>
        if (line.name === "memory" && line.state === "ready") resolve(line)
      })
    )
    child.stdout!.destroy() // `| head -1` exits
    expect(await exited).toBe(0)
    expect(stderr()).not.toContain("EPIPE")
    expect(stderr()).toContain("mcp-actors: stdout closed, shutting down")
    expect(stderr().trimEnd().split("\n").at(-1)).toBe("mcp-actors: stopped")
    expect(processGroupAlive(first.pid as number)).toBe(false)
  }, 60_000)

  it.each([
    ["--help", 0],
    ["examples", 0],
    ["policy check POLICY", 0],
    ["charts --help", 0]
  ])("%s into a reader gone before the first line: its own exit code (%i), no EPIPE trace", async (line, code) => {
    const policy = join(dir, "policy.yaml")
    writeFileSync(policy, "default: deny\nrules:\n  - { id: echo, tool: echo, effect: allow }\n")
    const args = line.split(" ").map((a) => (a === "POLICY" ? policy : a))
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout!.destroy() // the reader left before the command wrote anything: its first write gets EPIPE
    const { stderr, exited } = collect(child)
    expect(await exited).toBe(code)
    expect(stderr()).not.toContain("EPIPE")
    expect(stderr()).not.toContain("Unhandled 'error' event")
  }, 30_000)

  it("inspect URL --json: a closed stdout ends the follow with exit 0, no EPIPE trace", async () => {
    const server = spawn(process.execPath, [MAIN, "serve", "--http", "0", "--inspect"], { stdio: ["ignore", "pipe", "pipe"] })
    try {
      const inspectorUrl = await new Promise<string>((resolve) =>
        createInterface({ input: server.stderr! }).on("line", (line) => {
          const m = /inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})/.exec(line)
          if (m !== null) resolve(m[1]!)
        })
      )
      const mcpUrl = await new Promise<string>((resolve) => createInterface({ input: server.stdout! }).once("line", resolve))
      const follower = spawn(process.execPath, [MAIN, "inspect", inspectorUrl, "--json"], { stdio: ["ignore", "pipe", "pipe"] })
      const { stderr, exited } = collect(follower)
      await new Promise((resolve) => createInterface({ input: follower.stdout! }).once("line", resolve))
      follower.stdout!.destroy() // the reader left
      // A new session: the feed has more lines for the follower to write.
      const init = await fetch(mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "epipe", version: "1" } } })
      })
      expect(init.status).toBe(200)
      expect(await exited).toBe(0)
      expect(stderr()).not.toContain("EPIPE")
    } finally {
      server.kill("SIGTERM")
      await new Promise((r) => server.once("close", r))
    }
  }, 60_000)
})

describe("outputMayBeCut (the CLI's stdout 'error' listener)", () => {
  const error = (code: string) => Object.assign(new Error(`write ${code}`), { code })

  it("drops EPIPE; another error is fatal when nothing else listens, as without the listener", () => {
    const stream = new EventEmitter()
    outputMayBeCut(stream)
    expect(() => stream.emit("error", error("EPIPE"))).not.toThrow()
    expect(() => stream.emit("error", error("EIO"))).toThrow("write EIO")
  })

  it("leaves another error to the stream's other listeners (serve --stdio's transport ends its session on it)", () => {
    const stream = new EventEmitter()
    outputMayBeCut(stream) // main() adds it before any command's listener
    const seen: Array<string> = []
    stream.on("error", (e: NodeJS.ErrnoException) => seen.push(e.code!))
    expect(() => stream.emit("error", error("EIO"))).not.toThrow()
    expect(() => stream.emit("error", error("EPIPE"))).not.toThrow()
    expect(seen).toEqual(["EIO", "EPIPE"])
  })
})
