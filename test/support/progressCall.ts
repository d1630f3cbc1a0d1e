/**
 * A server session on a simulated clock with one `tools/call` in flight that
 * asked for progress (token "t"): the tests drive its progress through `ctx()`
 * and end it with `finish()`. Shared by the progress rate-limit and progress
 * barrier tests.
 */
import { SimulatedClock } from "xstate"
import type { JsonRpcMessage } from "../../src/protocol/jsonrpc.ts"
import { McpServer } from "../../src/server/McpServer.ts"
import type { RequestContext } from "../../src/server/RequestContext.ts"
import { ServerSession, type ServerSessionOptions } from "../../src/server/ServerSession.ts"

export const progressCall = (options: Partial<ServerSessionOptions> & Pick<ServerSessionOptions, "transport">, clientName = "c") => {
  const clock = new SimulatedClock()
  const sent: Array<JsonRpcMessage> = []
  let ctx!: RequestContext
  let finish!: () => void
  const server = new McpServer({ name: "s", version: "1" }).tool({ name: "work" }, (_a, c) => {
    ctx = c
    return new Promise((resolve) => (finish = () => resolve({ content: [{ type: "text", text: "done" }] })))
  })
  const session = new ServerSession(server, { send: (m) => void sent.push(m), clock, now: () => clock.now(), ...options })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: clientName, version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "work", _meta: { progressToken: "t" } } })
  return { clock, sent, session, ctx: () => ctx, finish: () => finish() }
}
