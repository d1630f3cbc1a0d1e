/**
 * stdin EOF on a stdio server (issue 8.6): stop reading, let in-flight requests
 * finish within the drain deadline, write their replies, then end. The drain
 * deadline is the chart's `closing` timer, run here on a simulated clock; the
 * real CLI process is covered in cli.test.ts.
 */
import { PassThrough } from "node:stream"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import type { CallToolResult } from "../src/server/types.ts"
import { makeStdioServerTransport } from "../src/transports/stdioServer.ts"

const setup = (drainTimeoutMs: number) => {
  const gates = new Map<unknown, { readonly ctx: RequestContext; readonly resolve: (r: CallToolResult) => void }>()
  const server = new McpServer({ name: "s", version: "1" })
    .tool({ name: "gate" }, (_args, ctx) => new Promise<CallToolResult>((resolve) => gates.set(ctx.requestId, { ctx, resolve })))
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const replies: Array<Record<string, any>> = []
  let buffered = ""
  stdout.setEncoding("utf8").on("data", (c: string) => {
    buffered += c
    const lines = buffered.split("\n")
    buffered = lines.pop()!
    for (const l of lines) replies.push(JSON.parse(l))
  })
  const clock = new SimulatedClock()
  const transport = makeStdioServerTransport({ stdin, stdout })
  const session = serveTransport(server, transport, { clock, now: () => clock.now(), drainTimeoutMs })
  let ended = false
  void session.ended.then(() => (ended = true))
  const write = (...messages: ReadonlyArray<unknown>) => stdin.write(messages.map((m) => JSON.stringify(m) + "\n").join(""))
  return { gates, stdin, replies, clock, session, write, isEnded: () => ended }
}

const handshake = [
  { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } },
  { jsonrpc: "2.0", method: "notifications/initialized" }
]
const call = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "gate", arguments: {} } })
/** Let stream events and the output batcher run (real event-loop turns, no timers). */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

describe("stdio server: stdin EOF drains in-flight requests", () => {
  it("a request still running at EOF is answered when it finishes within the drain deadline, then the session ends", async () => {
    const t = setup(1_000)
    t.write(...handshake, call(1))
    t.stdin.end()
    await turns()
    expect(t.session.stateName()).toBe("closing")
    expect(t.gates.get(1)!.ctx.signal.aborted).toBe(false)
    t.clock.increment(999)
    await turns()
    expect(t.isEnded()).toBe(false)
    t.gates.get(1)!.resolve({ content: [{ type: "text", text: "done" }] })
    await turns()
    expect(t.replies.map((m) => m.id)).toEqual([0, 1])
    expect(t.replies[1]!.result.content[0].text).toBe("done")
    expect(t.isEnded()).toBe(true)
    expect((await t.session.ended).reason).toBe("stdin ended")
  })

  it("a request that never ends is cancelled at the drain deadline (its signal aborts) and the session ends without its reply", async () => {
    const t = setup(1_000)
    t.write(...handshake, call(1))
    t.stdin.end()
    await turns()
    t.clock.increment(999)
    await turns()
    expect(t.isEnded()).toBe(false)
    t.clock.increment(1)
    await turns()
    expect(t.gates.get(1)!.ctx.signal.aborted).toBe(true)
    expect(t.isEnded()).toBe(true)
    expect(t.replies.map((m) => m.id)).toEqual([0])
  })

  it("EOF with nothing in flight ends the session at once", async () => {
    const t = setup(1_000)
    t.write(...handshake)
    t.stdin.end()
    await turns()
    expect(t.isEnded()).toBe(true)
    expect((await t.session.ended).reason).toBe("stdin ended")
  })
})
