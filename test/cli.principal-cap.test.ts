/**
 * Issue 8, finding 3: "Add optional caps per remote address and per
 * authenticated principal." The library has both; since the CLI authenticates
 * (issue 12: `--jwks`, `--api-keys`), `serve` takes the per-principal cap too:
 * `--max-sessions-per-principal N`. A principal at its cap with a finished
 * handshake gets 429 (HTTP) or a refused upgrade (WebSocket); another
 * principal is served. Real `serve` processes, API keys.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { condition } from "./support/condition.ts"
import { initializeRequest, post } from "./support/mcpHttp.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

/** `mcp-actors serve --ws 0 …`: its URL from stdout, and a stop that waits for the exit. */
const serveWs = async (extra: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [CLI, "serve", "--ws", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] })
  const output: Array<string> = []
  let url: string | undefined
  let exited = false
  const lines = condition() // each output line and the exit, as events
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (l) => {
      output.push(l)
      url ??= /^(ws:\/\/\S+)/.exec(l)?.[1]
      lines.changed()
    })
  }
  child.once("exit", () => ((exited = true), lines.changed()))
  await lines.when(() => url !== undefined || exited, "the WebSocket URL on stdout", 45_000)
  if (url === undefined) throw new Error(`serve --ws did not start: ${output.join("\n")}`)
  return {
    url,
    stop: async () => {
      if (exited) return
      child.kill("SIGTERM")
      await lines.when(() => exited, "serve --ws to exit", 30_000)
    }
  }
}

/** Open a WebSocket with `key` and finish the handshake; or the HTTP status the upgrade was refused with. */
const wsSession = (url: string, key: string) =>
  new Promise<{ ws: WebSocket } | { refused: number }>((resolve, reject) => {
    const ws = new WebSocket(url, ["mcp"], { headers: { authorization: `Bearer ${key}` } })
    ws.once("unexpected-response", (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 })
      res.resume()
      ws.terminate()
    })
    ws.once("error", reject)
    ws.once("open", () => ws.send(JSON.stringify(initializeRequest("2025-11-25", 1))))
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { id?: unknown }
      if (m.id !== 1) return
      ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
      // A ping after initialized: its answer means the handshake is done on the server.
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }))
      ws.on("message", (d) => (JSON.parse(String(d)) as { id?: unknown }).id === 2 && resolve({ ws }))
    })
  })

describe("serve --max-sessions-per-principal", { timeout: 120_000 }, () => {
  let dir: string
  let flags: Array<string>
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cli-principal-cap-"))
    writeFileSync(join(dir, "keys.yaml"), "keys:\n  - { name: alice, key: k-alice-1 }\n  - { name: bob, key: k-bob-2 }\n")
    writeFileSync(join(dir, "policy.yaml"), "default: allow\n")
    flags = ["--api-keys", join(dir, "keys.yaml"), "--policy", join(dir, "policy.yaml"), "--max-sessions-per-principal", "1"]
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("HTTP: a second session of the same principal gets 429 with Retry-After; another principal is served", async () => {
    const { spawnOurServer } = await import("./support/httpPeers.ts")
    const server = await spawnOurServer(flags)
    const alice = new Client({ name: "cap-test", version: "1.0.0" })
    try {
      await alice.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: "Bearer k-alice-1" } } }))
      const again = await post(server.url, initializeRequest(), { authorization: "Bearer k-alice-1" })
      expect(again.status).toBe(429)
      expect(again.headers.get("retry-after")).toBe("5")
      expect((await post(server.url, initializeRequest(), { authorization: "Bearer k-bob-2" })).status).toBe(200)
      expect(await alice.ping()).toEqual({}) // the first session is untouched
    } finally {
      await alice.close().catch(() => {})
      await server.stop()
    }
  })

  it("WebSocket: the same principal's second upgrade is refused with 429; another principal is served", async () => {
    const server = await serveWs(flags)
    const open: Array<WebSocket> = []
    try {
      const first = await wsSession(server.url, "k-alice-1")
      expect(first).toHaveProperty("ws")
      open.push((first as { ws: WebSocket }).ws)
      expect(await wsSession(server.url, "k-alice-1")).toEqual({ refused: 429 })
      const bob = await wsSession(server.url, "k-bob-2")
      expect(bob).toHaveProperty("ws")
      open.push((bob as { ws: WebSocket }).ws)
    } finally {
      for (const ws of open) ws.terminate()
      await server.stop()
    }
  })
})
