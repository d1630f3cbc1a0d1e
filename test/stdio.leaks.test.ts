/**
 * No leaks:
 * - 1 000 in-memory sessions (memory transport pairs + `serveTransport`, each
 *   with real idle/handshake timers armed) opened and closed every way a
 *   session ends: client closes, server closes, closes mid-call, drain deadline,
 *   pending server→client request. None stays live (ended promises, a Registry,
 *   the server's change listeners) and `process.getActiveResourcesInfo()` is
 *   back to its baseline.
 * - 50 stdio child sessions spawned with the official SDK client and closed,
 *   some gracefully mid-call, some killed with SIGKILL mid-call (the SDK client
 *   sees the close and rejects the call). No child process remains and the
 *   process handles are back to baseline.
 */
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { waitForTurns } from "./support/waitFor.ts"
import { childProcesses, resourceCounts, settleToBaseline } from "./support/handles.ts"
import { makeDemoServer } from "../examples/demo.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { makeRegistryUnsafe } from "../src/runtime/Registry.ts"
import type { SessionEnd } from "../src/runtime/SessionHandle.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** The server's change listeners (one per operating session): private, read for the leak check only. */
const changeListeners = (server: McpServer): number => (server as unknown as { listeners: Set<unknown> }).listeners.size


const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------- in-memory

type Ending = "client-closes" | "server-closes" | "client-closes-mid-call" | "drain-deadline-mid-call" | "pending-elicitation"
const ENDINGS: ReadonlyArray<Ending> = ["client-closes", "server-closes", "client-closes-mid-call", "drain-deadline-mid-call", "pending-elicitation"]

/** A raw client on the other end of a memory pair. */
const rawClient = (transport: ReturnType<typeof makeMemoryTransportPair>[0]) => {
  const inbox: Array<JsonRpcMessage & Record<string, any>> = []
  let closed = false
  transport.start({
    onFrame: (t) => void inbox.push(JSON.parse(t)),
    onOversized: () => {},
    onClose: () => void (closed = true)
  })
  const until = (pred: () => boolean, what: string) => waitForTurns(pred, what)
  return {
    inbox,
    get closed() {
      return closed
    },
    send: (m: object) => transport.send(m as JsonRpcMessage),
    until,
    response: async (id: string | number) => {
      await until(() => inbox.some((m) => m.id === id && !("method" in m)), `response ${id}`)
      return inbox.find((m) => m.id === id && !("method" in m))!
    }
  }
}

describe("1 000 in-memory sessions", () => {
  it("are all released: ended settled, registry empty, no server listeners, no timers or handles left", async () => {
    const demo = makeDemoServer()
    // A tool that asks the client something and waits (a pending server→client request with a 60 s deadline).
    demo.tool({ name: "ask", inputSchema: { type: "object" } }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: "?", requestedSchema: { type: "object", properties: {} } }, { timeoutMs: 60_000 })
      return { content: [{ type: "text", text: JSON.stringify(answer) }] }
    })
    const registry = makeRegistryUnsafe()
    const baseline = resourceCounts()
    let live = 0
    let maxLive = 0
    const ends: Array<SessionEnd> = []
    const aborted: Array<string> = []
    let peakTimeouts = 0

    const one = async (i: number) => {
      const ending = ENDINGS[i % ENDINGS.length]!
      const [clientSide, serverSide] = makeMemoryTransportPair()
      // Real timers armed (handshake, idle, drain): closing must clear them all.
      const session = serveTransport(demo, serverSide, { idleTimeoutMs: 60_000, handshakeTimeoutMs: 60_000, drainTimeoutMs: 60_000 })
      const unregister = registry.register(session)
      live++
      maxLive = Math.max(maxLive, live)
      void session.ended.then((end) => {
        live--
        ends.push(end)
        unregister()
      })
      const client = rawClient(clientSide)
      client.send({
        jsonrpc: "2.0",
        id: "init",
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: { elicitation: {} }, clientInfo: { name: `leak-${i}`, version: "1" } }
      })
      expect((await client.response("init")).result.protocolVersion).toBe("2025-11-25")
      client.send({ jsonrpc: "2.0", method: "notifications/initialized" })
      client.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: `s${i}` } } })
      expect((await client.response(1)).result.content[0].text).toBe(`s${i}`)
      expect(session.stateName()).toBe("operating")
      // Sensitivity of the baseline check: open sessions do hold timers (idle deadline on the real clock).
      peakTimeouts = Math.max(peakTimeouts, resourceCounts().Timeout ?? 0)

      switch (ending) {
        case "client-closes":
          await clientSide.close()
          break
        case "server-closes":
          await session.close({ reason: "server shutdown" })
          break
        case "client-closes-mid-call": {
          client.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "slow", arguments: { ms: 60_000 } } })
          await client.until(() => session.inFlightCount === 1, "slow in flight")
          await clientSide.close()
          break
        }
        case "drain-deadline-mid-call": {
          client.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "slow", arguments: { ms: 60_000 } } })
          await client.until(() => session.inFlightCount === 1, "slow in flight")
          await session.close({ drainMs: 0, reason: "drain deadline" })
          // The cancelled call never got a response.
          if (client.inbox.some((m) => m.id === 2)) aborted.push(`response after cancel in session ${i}`)
          break
        }
        case "pending-elicitation": {
          client.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask", arguments: {} } })
          await client.until(() => client.inbox.some((m) => m.method === "elicitation/create"), "elicitation request")
          await clientSide.close()
          break
        }
      }
      await session.ended
      await client.until(() => client.closed, "client side closed")
    }

    const N = 1_000
    const CONCURRENCY = 100
    for (let start = 0; start < N; start += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, N - start) }, (_, k) => one(start + k)))
    }
    await turn()

    expect(maxLive).toBeGreaterThanOrEqual(CONCURRENCY) // they really were open at the same time
    expect(ends).toHaveLength(N)
    expect(live).toBe(0)
    expect(registry.size).toBe(0)
    expect(registry.list()).toEqual([])
    expect(aborted).toEqual([])
    expect(changeListeners(demo)).toBe(0)
    const reasons = new Set(ends.map((e) => e.reason))
    expect(reasons).toEqual(new Set(["peer closed", "server shutdown", "drain deadline"]))
    expect(peakTimeouts).toBeGreaterThan((baseline.Timeout ?? 0) + 50)
    expect(await settleToBaseline(baseline)).toEqual([])
  }, 30_000)
})

// ---------------------------------------------------------------- stdio children

type StdioEnding = "graceful" | "graceful-mid-call" | "sigkill-mid-call"

describe("50 stdio child sessions (official SDK client)", () => {
  let compileCache = ""
  beforeAll(() => {
    compileCache = mkdtempSync(join(tmpdir(), "mcp-actors-leaks-"))
  })
  afterAll(() => rmSync(compileCache, { recursive: true, force: true }))

  it("leave no child process and no handles behind, including SIGKILLed ones", async () => {
    const baseline = resourceCounts()
    const pids: Array<number> = []
    const outcomes: Record<StdioEnding, number> = { graceful: 0, "graceful-mid-call": 0, "sigkill-mid-call": 0 }
    const notByThemselves: Array<string> = []
    let peakProcesses = 0

    const one = async (i: number) => {
      const ending: StdioEnding = i % 5 === 0 ? "sigkill-mid-call" : i % 5 === 1 ? "graceful-mid-call" : "graceful"
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "serve", "--stdio"],
        cwd: CWD,
        stderr: "pipe",
        // Node's compile cache: each child starts in ~0.1 s of CPU instead of ~0.3 s (2 shared cores).
        env: { NODE_COMPILE_CACHE: compileCache }
      })
      const client = new Client({ name: `leak-stdio-${i}`, version: "1.0.0" })
      let closedEvents = 0
      client.onclose = () => void closedEvents++
      client.onerror = () => {} // EPIPE after a kill is expected
      await client.connect(transport)
      const pid = transport.pid!
      expect(pid).toBeGreaterThan(0)
      pids.push(pid)
      peakProcesses = Math.max(peakProcesses, resourceCounts().ProcessWrap ?? 0)
      const echo = await client.callTool({ name: "echo", arguments: { text: `child ${i}` } })
      expect((echo.content as Array<{ text: string }>)[0]!.text).toBe(`child ${i}`)

      // StdioClientTransport keeps its ChildProcess private: read once, only to observe how it exits.
      const child = (transport as unknown as { _process: ChildProcess })._process
      const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)))
      if (ending === "graceful") {
        await client.close()
        // The server exits by itself on stdin EOF (no signal handler: SIGTERM would show as the signal).
        const how = await exited
        if (how !== "code 0") notByThemselves.push(`graceful ${i}: ${how}`)
      } else {
        const call = client.callTool({ name: "slow", arguments: { ms: 10_000 } })
        const settled = call.then(() => "resolved", (e: { code?: number }) => `rejected ${e.code}`)
        await client.ping() // answered after the call's line was read (stdio keeps order): the call is in flight
        if (ending === "sigkill-mid-call") {
          process.kill(pid, "SIGKILL")
          // The SDK client sees the close: the call is rejected with ConnectionClosed (-32000).
          expect(await settled).toBe("rejected -32000")
          expect(closedEvents).toBe(1)
          expect(await exited).toBe("SIGKILL")
          await client.close()
        } else {
          await client.close()
          expect(await settled).toBe("rejected -32000")
          const how = await exited
          if (how !== "code 0") notByThemselves.push(`mid-call ${i}: ${how}`)
        }
        expect(closedEvents).toBe(1)
      }
      outcomes[ending]++
    }

    const N = 50
    const CONCURRENCY = 5
    for (let start = 0; start < N; start += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, N - start) }, (_, k) => one(start + k)))
    }

    expect(outcomes).toEqual({ graceful: 30, "graceful-mid-call": 10, "sigkill-mid-call": 10 })
    expect(notByThemselves).toEqual([])
    expect(new Set(pids).size).toBe(N)
    expect(pids.filter(isAlive)).toEqual([])
    expect(childProcesses()).toEqual([])
    // Sensitivity of the baseline check: live children did show up as process handles.
    expect(peakProcesses).toBeGreaterThan(baseline.ProcessWrap ?? 0)
    expect(await settleToBaseline(baseline)).toEqual([])
  }, 300_000) // 50 Node start-ups: ~25 s per 10 at a load average of 24 on 2 cores
})
