import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

const server = () =>
  new McpServer({ name: "s", version: "1", instructions: "hi" })
    .tool({ name: "wait" }, (_args, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({ content: [] }))))
    .completion(() => ({ completion: { values: [] } }))

const open = (version: string) => {
  const sent: Array<JsonRpcMessage> = []
  const session = new ServerSession(server(), { transport: "memory", send: (m) => void sent.push(m) })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: { roots: {} }, clientInfo: { name: "c", version: "1" } } })
  return { session, sent }
}
const result = (sent: ReadonlyArray<JsonRpcMessage>, id: unknown) => sent.find((m) => "id" in m && m.id === id && "result" in m) as { result: Record<string, unknown> } | undefined

describe("fields a client's version does not know are not sent", () => {
  it("2024-11-05: no completions capability, no instructions", () => {
    const { sent } = open("2024-11-05")
    const r = result(sent, 0)!.result
    expect(r.protocolVersion).toBe("2024-11-05")
    expect(r.capabilities).not.toHaveProperty("completions")
    expect(r).not.toHaveProperty("instructions")
  })
  it("2025-03-26 and later: completions and instructions", () => {
    const { sent } = open("2025-03-26")
    const r = result(sent, 0)!.result
    expect(r.capabilities).toHaveProperty("completions")
    expect(r.instructions).toBe("hi")
  })
})

describe("request ids and server→client requests", () => {
  it("a ping reusing an in-flight id is refused, and the original request still gets its one response", async () => {
    const { session, sent } = open("2025-11-25")
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    session.receive({ jsonrpc: "2.0", id: "dup", method: "tools/call", params: { name: "wait" } })
    session.receive({ jsonrpc: "2.0", id: "dup", method: "ping" })
    const forDup = sent.filter((m) => "id" in m && m.id === "dup")
    expect(forDup).toHaveLength(1)
    expect(forDup[0]).toMatchObject({ error: { code: -32600 } })
    session.receive({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "dup" } })
    await new Promise((r) => setImmediate(r))
    expect(sent.filter((m) => "id" in m && m.id === "dup")).toHaveLength(1)
  })

  it("server→client requests wait for notifications/initialized (lifecycle.mdx:L160-L163)", async () => {
    const { session, sent } = open("2025-11-25")
    await expect(session.request("roots/list")).rejects.toThrow(/must wait until the client has sent notifications\/initialized/)
    expect(sent.some((m) => "method" in m && m.method === "roots/list")).toBe(false)
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    const pending = session.request("roots/list")
    const out = sent.find((m) => "method" in m && m.method === "roots/list") as { id: string }
    expect(out).toBeDefined()
    session.receive({ jsonrpc: "2.0", id: out.id, result: { roots: [] } })
    await expect(pending).resolves.toEqual({ roots: [] })
  })
})

describe("structured tool output is only for 2025-06-18 and later", () => {
  const structured = () =>
    new McpServer({ name: "s", version: "1" }).tool(
      { name: "sum", title: "Sum", inputSchema: { type: "object" }, outputSchema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } },
      () => ({ content: [{ type: "text", text: "3" }], structuredContent: { n: 3 } })
    )
  const run = (version: string) => {
    const sent: Array<JsonRpcMessage> = []
    const session = new ServerSession(structured(), { transport: "memory", send: (m) => void sent.push(m) })
    session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    session.receive({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    session.receive({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "sum" } })
    return { list: result(sent, 1)!.result, call: result(sent, 2)!.result }
  }
  it("2025-03-26: no title/outputSchema in tools/list, no structuredContent in the result, the text stays", () => {
    const { list, call } = run("2025-03-26")
    expect((list.tools as Array<Record<string, unknown>>)[0]).toEqual({ name: "sum", inputSchema: { type: "object" } })
    expect(call).toEqual({ content: [{ type: "text", text: "3" }] })
  })
  it("2025-06-18: both are sent", () => {
    const { list, call } = run("2025-06-18")
    expect((list.tools as Array<Record<string, unknown>>)[0]).toMatchObject({ title: "Sum", outputSchema: { type: "object" } })
    expect(call).toMatchObject({ structuredContent: { n: 3 } })
  })
})
