/**
 * What the host asks of and tells its upstreams on a caller's behalf, against real
 * peer processes: sampling asked by a legacy upstream (server-everything over stdio)
 * reaches the gateway's client (the official SDK client) and its answer gets back,
 * a client that declared no sampling gets a tool error, not a hang; cancelling
 * `host.callTool` (AbortSignal) sends `notifications/cancelled` for that request to
 * the upstream, legacy (server-everything) and modern (our demo, 2026-07-28), seen
 * in a log of everything the child read on its stdin.
 *
 * Real time, generous bounds (a busy 2-core machine); waits are on events or on the
 * real processes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, type GatewayHttpHandle, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { RequestCancelled } from "../src/protocol/requestErrors.ts"
import { groupMembers } from "./support/processes.ts"
import { condition } from "./support/condition.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

const dir = mkdtempSync(join(tmpdir(), "host-upstream-requests-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const textOf = (r: { readonly content?: unknown }): string =>
  ((r.content ?? []) as ReadonlyArray<{ type: string; text?: string }>).filter((c) => c.type === "text").map((c) => c.text).join("\n")

describe("sampling from a legacy upstream (server-everything, stdio) through the gateway", { timeout: 60_000 }, () => {
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  let pgid: number

  beforeAll(async () => {
    host = await startHost({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"], protocol: "legacy" } } }, { stateFile: false, onStderr: () => {} })
    pgid = host.connection("everything")!.pid!
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })

  afterAll(async () => {
    await http?.close()
    gateway?.close()
    await host?.close()
    if (pgid !== undefined) expect(groupMembers(pgid)).toEqual([])
  })

  it("the SDK client's sampling handler gets server-everything's sampling/createMessage, and the tool returns its answer", async () => {
    const asked: Array<Record<string, unknown>> = []
    const client = new Client({ name: "sampler", version: "1.0.0" }, { capabilities: { sampling: {} } })
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push(request.params as Record<string, unknown>)
      return { model: "fixed-model-7", role: "assistant", content: { type: "text", text: "a fixed answer from the gateway's client" } }
    })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toContain("everything__trigger-sampling-request")
      const result = await client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "Tell me about actors", maxTokens: 37 } })
      expect(asked).toHaveLength(1)
      expect(asked[0]).toMatchObject({
        messages: [{ role: "user", content: { type: "text", text: "Resource trigger-sampling-request context: Tell me about actors" } }],
        systemPrompt: "You are a helpful test server.",
        maxTokens: 37,
        temperature: 0.7
      })
      expect(result.isError).not.toBe(true)
      const text = textOf(result as never)
      expect(text).toContain("LLM sampling result:")
      expect(text).toContain("a fixed answer from the gateway's client")
      expect(text).toContain("fixed-model-7")
    } finally {
      await client.close()
    }
  })

  it("a gateway client that declared no sampling: the tool ends with an error result naming the capability, promptly, and nobody is asked", async () => {
    const asked: Array<string> = []
    const client = new Client({ name: "no-sampling", version: "1.0.0" }, { capabilities: {} })
    // (The SDK refuses a handler for an undeclared capability.) Any request the gateway sends this client is recorded and answered.
    client.fallbackRequestHandler = async (request) => {
      asked.push(request.method)
      return { model: "m", role: "assistant", content: { type: "text", text: "should not be asked" } } as never
    }
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url)))
    try {
      const t0 = Date.now()
      const result = await client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "anyone?" } }, undefined, { timeout: 20_000 })
      expect(Date.now() - t0).toBeLessThan(15_000)
      expect(asked).toEqual([])
      expect(result.isError).toBe(true)
      // server-everything's tool got the gateway's refusal as a JSON-RPC error and reports it (the SDK's tool error).
      expect(textOf(result as never)).toMatch(/^MCP error -32601: Client did not negotiate the "sampling" capability required by sampling\/createMessage$/)
      // The upstream is fine afterwards.
      expect(textOf(await client.callTool({ name: "everything__echo", arguments: { message: "still fine" } }) as never)).toBe("Echo: still fine")
    } finally {
      await client.close()
    }
  })
})

/** A stdio server whose stdin is also copied to `log` (each line one JSON-RPC frame the host sent it). */
const teed = (log: string, command: string, args: ReadonlyArray<string>) => ({
  command: "/bin/sh",
  args: ["-c", "log=$1; shift; tee \"$log\" | \"$@\"", "teed", log, command, ...args]
})

const framesIn = (log: string): Array<Record<string, unknown>> => {
  if (!existsSync(log)) return []
  return readFileSync(log, "utf8").split("\n").filter((l) => l.trim() !== "").flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>]
    } catch {
      return [] // a frame still being written
    }
  })
}

describe("host.callTool cancellation reaches the upstream (stdio; the child's stdin logged)", { timeout: 60_000 }, () => {
  const cases = [
    {
      era: "legacy (server-everything)",
      server: (log: string) => ({ ...teed(log, process.execPath, [EVERYTHING, "stdio"]), protocol: "legacy" as const }),
      tool: "trigger-long-running-operation",
      args: { duration: 60, steps: 60 },
      echo: { message: "after" }
    },
    {
      era: "modern 2026-07-28 (our demo)",
      server: (log: string) => ({ ...teed(log, process.execPath, [MAIN, "serve", "--stdio", "--example", "demo"]), protocol: "2026-07-28" as const }),
      tool: "count",
      args: { n: 600, stepMs: 100 },
      echo: { text: "after" }
    }
  ]

  for (const c of cases) {
    it(`${c.era}: an aborted call rejects with RequestCancelled and the upstream gets notifications/cancelled for that request`, async () => {
      const log = join(dir, `wire-${c.tool}.jsonl`)
      // The child's tee appends each line it read: an event (inotify) per write, no polling.
      writeFileSync(log, "")
      const written = condition()
      const watcher = watch(log, () => written.changed())
      const host = await startHost({ mcpServers: { up: { ...c.server(log), keepalive: false } } }, { stateFile: false, onStderr: () => {} })
      const pgid = host.connection("up")!.pid!
      try {
        expect(host.status()[0]).toMatchObject({ state: "ready", era: c.era.startsWith("legacy") ? "legacy" : "modern" })
        const controller = new AbortController()
        // Abort once the upstream is running the call: its first progress arrived.
        let running!: () => void
        const underWay = new Promise<void>((resolve) => (running = resolve))
        const call = host.callTool(`up__${c.tool}`, c.args, { signal: controller.signal, onProgress: () => running() })
        const settled = call.then(() => "resolved", (e: unknown) => e)
        await underWay
        controller.abort("changed my mind")
        expect(await settled).toBeInstanceOf(RequestCancelled)

        const calls = () => framesIn(log).filter((f) => f.method === "tools/call" && (f.params as { name?: unknown } | undefined)?.name === c.tool)
        const cancels = () => framesIn(log).filter((f) => f.method === "notifications/cancelled")
        expect(calls()).toHaveLength(1)
        const id = calls()[0]!.id
        expect(id).toBeDefined()
        // The cancel reaches the child's stdin (through tee): a wait on the real process.
        await written.when(() => cancels().length > 0, "notifications/cancelled in the tee's log")
        expect(cancels()).toHaveLength(1)
        expect(cancels()[0]).toMatchObject({ jsonrpc: "2.0", params: { requestId: id, reason: expect.any(String) } })
        expect("id" in cancels()[0]!).toBe(false)
        const order = framesIn(log).map((f) => (f.method === "notifications/cancelled" ? "cancel" : f.id === id && f.method === "tools/call" ? "call" : "-"))
        expect(order.indexOf("call")).toBeLessThan(order.indexOf("cancel"))
        // The connection is still usable.
        expect(textOf(await host.callTool("up__echo", c.echo))).toContain("after")
      } finally {
        watcher.close()
        await host.close()
      }
      expect(groupMembers(pgid)).toEqual([])
    })
  }
})
