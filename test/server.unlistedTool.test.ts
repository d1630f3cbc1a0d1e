/**
 * `McpServer.unlistedTool`: a tools/call for a name that is not registered asks the hook; a
 * handler it returns runs as a tool (its result and failures treated as any tool's, structured
 * content stripped for old eras), undefined keeps -32602; the guard admits or refuses it first.
 */
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpError } from "../src/protocol/errors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

const session = (server: McpServer, version = "2025-11-25") => {
  const sent: Array<JsonRpcMessage> = []
  const s = new ServerSession(server, { transport: "memory", send: (m) => void sent.push(m) })
  s.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  s.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  let id = 0
  const call = async (name: unknown, args?: unknown) => {
    const n = ++id
    s.receive({ jsonrpc: "2.0", id: n, method: "tools/call", params: { name, ...(args === undefined ? {} : { arguments: args }) } as never })
    for (let i = 0; i < 5 && !sent.some((m) => "id" in m && m.id === n); i++) await Promise.resolve()
    return sent.find((m) => "id" in m && m.id === n) as { result?: Record<string, unknown>; error?: { code: number; message: string } }
  }
  return { call }
}

describe("McpServer.unlistedTool", () => {
  const server = () => {
    const asked: Array<string> = []
    const s = new McpServer({ name: "s", version: "1" }).tool({ name: "listed" }, () => ({ content: [{ type: "text", text: "listed" }] }))
    s.unlistedTool = (name) => {
      asked.push(name)
      if (name === "later") return async (args) => ({ content: [{ type: "text", text: `later ${JSON.stringify(args)}` }], structuredContent: { x: 1 } })
      if (name === "throws") return () => Promise.reject(new Error("server restarting"))
      if (name === "protocol") return () => Promise.reject(new McpError(-32001, "gone"))
      return undefined
    }
    return { s, asked }
  }

  it("a known unlisted name runs its handler; an unknown one (prototype names too) is -32602; a listed one never asks", async () => {
    const { s, asked } = server()
    const { call } = session(s)
    expect((await call("later", { a: 1 })).result).toEqual({ content: [{ type: "text", text: 'later {"a":1}' }], structuredContent: { x: 1 } })
    expect((await call("throws")).result).toEqual({ content: [{ type: "text", text: "server restarting" }], isError: true })
    expect((await call("protocol")).error).toMatchObject({ code: -32001, message: "gone" })
    for (const name of ["nope", "constructor", "__proto__", "toString"]) {
      expect((await call(name)).error).toMatchObject({ code: -32602, message: `Invalid params: unknown tool "${name}"` })
    }
    expect((await call("later", [1])).error).toMatchObject({ code: -32602, message: "Invalid params: arguments must be an object" })
    expect((await call("listed")).result).toEqual({ content: [{ type: "text", text: "listed" }] })
    expect(asked).toEqual(["later", "throws", "protocol", "nope", "constructor", "__proto__", "toString", "later"])
    // Old eras get no structuredContent, as from a listed tool.
    expect((await session(s, "2025-03-26").call("later")).result).toEqual({ content: [{ type: "text", text: "later {}" }] })
  })

  it("the guard decides before the hook is asked (a refused caller learns nothing)", async () => {
    const { s, asked } = server()
    const admitted: Array<string> = []
    s.guard = {
      admit: (call) => {
        if (call.name === "later") throw new McpError(-32001, "denied by policy")
        admitted.push(call.name)
        return undefined
      },
      filter: (_kind, items) => items
    }
    const { call } = session(s)
    expect((await call("later")).error).toMatchObject({ code: -32001, message: "denied by policy" })
    expect(asked).toEqual([])
    expect((await call("throws")).result).toMatchObject({ isError: true })
    expect(admitted).toEqual(["throws"])
  })
})
