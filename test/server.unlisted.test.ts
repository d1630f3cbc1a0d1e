/**
 * `McpServer.unlisted`: a tools/call, prompts/get or resources/read for a name that is not
 * registered (a resource: no resource, no template matches) asks the lookup of its kind; a handler
 * it returns runs as a registered one would (its result and failures treated alike, structured
 * content stripped for old eras), undefined keeps today's answer (-32602 unknown tool/prompt,
 * resource not found: -32002 legacy, -32602 modern); the guard admits or refuses the call first.
 */
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpError } from "../src/protocol/errors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

type Reply = { result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } }

const session = (server: McpServer, version = "2025-11-25") => {
  const sent: Array<JsonRpcMessage> = []
  const s = new ServerSession(server, { transport: "memory", send: (m) => void sent.push(m) })
  s.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  s.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  let id = 0
  const request = async (method: string, params: Record<string, unknown>): Promise<Reply> => {
    const n = ++id
    s.receive({ jsonrpc: "2.0", id: n, method, params: params as never })
    for (let i = 0; i < 5 && !sent.some((m) => "id" in m && m.id === n); i++) await Promise.resolve()
    return sent.find((m) => "id" in m && m.id === n) as Reply
  }
  const call = (name: unknown, args?: unknown) => request("tools/call", { name, ...(args === undefined ? {} : { arguments: args }) })
  const get = (name: unknown, args?: unknown) => request("prompts/get", { name, ...(args === undefined ? {} : { arguments: args }) })
  const read = (uri: unknown) => request("resources/read", { uri })
  return { call, get, read }
}

const RESTARTING = { _tag: "ServerUnavailable", server: "up", state: "restarting" }

describe("McpServer.unlisted", () => {
  const server = () => {
    const asked: Array<string> = []
    const s = new McpServer({ name: "s", version: "1" })
      .tool({ name: "listed" }, () => ({ content: [{ type: "text", text: "listed" }] }))
      .prompt({ name: "listed", arguments: [{ name: "topic", required: true }] }, () => ({ messages: [] }))
      .resource({ uri: "mem://listed", name: "listed" }, (uri) => ({ contents: [{ uri, text: "listed" }] }))
      .resourceTemplate({ uriTemplate: "mem://t/{id}", name: "t" }, (uri, vars) => ({ contents: [{ uri, text: `t ${vars.id}` }] }))
    s.unlisted = {
      tool: (name) => {
        asked.push(`tool ${name}`)
        if (name === "later") return async (args) => ({ content: [{ type: "text", text: `later ${JSON.stringify(args)}` }], structuredContent: { x: 1 } })
        if (name === "throws") return () => Promise.reject(new Error("server restarting"))
        if (name === "protocol") return () => Promise.reject(new McpError(-32001, "gone"))
        return undefined
      },
      prompt: (name) => {
        asked.push(`prompt ${name}`)
        if (name === "later") return (args) => ({ messages: [{ role: "user", content: { type: "text", text: `later ${JSON.stringify(args)}` } }] })
        if (name === "down") return () => Promise.reject(new McpError(-32603, "up is restarting", RESTARTING))
        return undefined
      },
      resource: (uri) => {
        asked.push(`resource ${uri}`)
        if (uri === "mem://later") return (u) => ({ contents: [{ uri: u, text: "later" }] })
        if (uri.startsWith("mem://down/")) return () => Promise.reject(new McpError(-32603, "up is restarting", RESTARTING))
        return undefined
      }
    }
    return { s, asked }
  }

  it("tools: a known unlisted name runs its handler; an unknown one (prototype names too) is -32602; a listed one never asks", async () => {
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
    expect(asked).toEqual(["tool later", "tool throws", "tool protocol", "tool nope", "tool constructor", "tool __proto__", "tool toString", "tool later"])
    // Old eras get no structuredContent, as from a listed tool.
    expect((await session(s, "2025-03-26").call("later")).result).toEqual({ content: [{ type: "text", text: "later {}" }] })
  })

  it("prompts: a known unlisted name runs its handler (its error with data passes through); an unknown one is -32602; a listed one never asks", async () => {
    const { s, asked } = server()
    const { get } = session(s)
    expect((await get("later", { a: "1" })).result).toEqual({ messages: [{ role: "user", content: { type: "text", text: 'later {"a":"1"}' } }] })
    expect((await get("down")).error).toEqual({ code: -32603, message: "up is restarting", data: RESTARTING })
    for (const name of ["nope", "constructor", "__proto__", "hasOwnProperty"]) {
      expect((await get(name)).error).toMatchObject({ code: -32602, message: `Invalid params: unknown prompt "${name}"` })
    }
    // Hostile arguments are refused before the handler runs, as for a listed prompt.
    expect((await get("later", [1])).error).toMatchObject({ code: -32602, message: "Invalid params: arguments must be an object" })
    expect((await get("later", { a: { toString: 1 } })).error).toMatchObject({ code: -32602, message: 'Invalid params: prompt argument "a" must be a string' })
    expect((await get("listed", { topic: "x" })).result).toEqual({ messages: [] })
    expect((await get("listed")).error).toMatchObject({ code: -32602, message: 'Invalid params: prompt "listed" needs argument "topic"' })
    expect(asked).toEqual(["prompt later", "prompt down", "prompt nope", "prompt constructor", "prompt __proto__", "prompt hasOwnProperty", "prompt later", "prompt later"])
  })

  it("resources: asked only when no resource and no template matches; an unknown URI keeps resource not found (legacy -32002)", async () => {
    const { s, asked } = server()
    const { read } = session(s)
    expect((await read("mem://later")).result).toEqual({ contents: [{ uri: "mem://later", text: "later" }] })
    expect((await read("mem://down/7")).error).toEqual({ code: -32603, message: "up is restarting", data: RESTARTING })
    expect((await read("mem://listed")).result).toEqual({ contents: [{ uri: "mem://listed", text: "listed" }] })
    expect((await read("mem://t/3")).result).toEqual({ contents: [{ uri: "mem://t/3", text: "t 3" }] })
    for (const uri of ["mem://nope", "constructor", "__proto__"]) {
      expect((await read(uri)).error).toEqual({ code: -32002, message: `Resource not found: ${uri}`, data: { uri } })
    }
    expect(asked).toEqual(["resource mem://later", "resource mem://down/7", "resource mem://nope", "resource constructor", "resource __proto__"])
  })

  it("a lookup without a kind leaves that kind's answers as they were", async () => {
    const s = new McpServer({ name: "s", version: "1" }).tool({ name: "t" }, () => ({ content: [] })).prompt({ name: "p" }, () => ({ messages: [] }))
      .resource({ uri: "mem://r", name: "r" }, (uri) => ({ contents: [{ uri, text: "" }] }))
    s.unlisted = {}
    const { call, get, read } = session(s)
    expect((await call("x")).error).toMatchObject({ code: -32602, message: 'Invalid params: unknown tool "x"' })
    expect((await get("x")).error).toMatchObject({ code: -32602, message: 'Invalid params: unknown prompt "x"' })
    expect((await read("mem://x")).error).toMatchObject({ code: -32002 })
  })

  it("the guard decides before the lookup is asked, for every kind (a refused caller learns nothing)", async () => {
    const { s, asked } = server()
    const admitted: Array<string> = []
    s.guard = {
      admit: (call) => {
        if (call.name === "later" || call.name === "mem://later") throw new McpError(-32001, "denied by policy")
        admitted.push(`${call.kind} ${call.name}`)
        return undefined
      },
      filter: (_kind, items) => items
    }
    const { call, get, read } = session(s)
    expect((await call("later")).error).toMatchObject({ code: -32001, message: "denied by policy" })
    expect((await get("later")).error).toMatchObject({ code: -32001, message: "denied by policy" })
    expect((await read("mem://later")).error).toMatchObject({ code: -32001, message: "denied by policy" })
    expect(asked).toEqual([])
    expect((await call("throws")).result).toMatchObject({ isError: true })
    expect((await get("down")).error).toMatchObject({ code: -32603 })
    expect((await read("mem://down/1")).error).toMatchObject({ code: -32603 })
    expect(admitted).toEqual(["tool throws", "prompt down", "resource mem://down/1"])
    expect(asked).toEqual(["tool throws", "prompt down", "resource mem://down/1"])
  })
})
