/**
 * A tool's result on its way out (dispatch.ts `toolResult`): checked against the
 * tool's outputSchema, and stripped of structuredContent for eras before it — the
 * same for a handler that answers at once and one that answers with a promise.
 */
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

const outputSchema = { type: "object", properties: { n: { type: "number" } }, required: ["n"] }
type Out = { content: Array<{ type: "text"; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean }

const call = async (version: string, answer: Out, async: boolean) => {
  const server = new McpServer({ name: "s", version: "1" }).tool(
    { name: "t", inputSchema: { type: "object" }, outputSchema },
    () => (async ? Promise.resolve(answer) : answer)
  )
  const sent: Array<JsonRpcMessage> = []
  const session = new ServerSession(server, { transport: "memory", send: (m) => void sent.push(m) })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t" } })
  for (let i = 0; i < 3 && !sent.some((m) => "id" in m && m.id === 1); i++) await Promise.resolve()
  const r = sent.find((m) => "id" in m && m.id === 1) as { result: Out } | undefined
  expect(r).toBeDefined()
  return r!.result
}

describe.each([["synchronous", false], ["promised", true]] as const)("a %s tool result", (_, async) => {
  it("that matches its outputSchema is sent as is (2025-06-18)", async () => {
    const r = await call("2025-06-18", { content: [{ type: "text", text: "3" }], structuredContent: { n: 3 } }, async)
    expect(r).toEqual({ content: [{ type: "text", text: "3" }], structuredContent: { n: 3 } })
  })
  it("that does not match it is a tool error naming the tool", async () => {
    const r = await call("2025-06-18", { content: [], structuredContent: { n: "three" } }, async)
    expect(r.isError).toBe(true)
    expect(r.content[0]!.text).toMatch(/^Tool t returned structuredContent that does not match its outputSchema: /)
  })
  it("without structuredContent is a tool error; an isError result is not checked", async () => {
    const missing = await call("2025-06-18", { content: [] }, async)
    expect(missing.isError).toBe(true)
    expect(missing.content[0]!.text).toBe("Tool t declares an outputSchema but returned no structuredContent")
    const failed = await call("2025-06-18", { content: [{ type: "text", text: "boom" }], isError: true }, async)
    expect(failed).toEqual({ content: [{ type: "text", text: "boom" }], isError: true })
  })
  it("loses structuredContent for 2025-03-26, keeps its text", async () => {
    const r = await call("2025-03-26", { content: [{ type: "text", text: "3" }], structuredContent: { n: 3 } }, async)
    expect(r).toEqual({ content: [{ type: "text", text: "3" }] })
  })
})
