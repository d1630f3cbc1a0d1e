/**
 * Wrong error codes for hostile input (issue 8, part 4):
 * - params nested 10,000 deep used to reach `JSON.stringify` in an error path
 *   and come back -32603 "Maximum call stack size exceeded"; the decoder now
 *   bounds nesting (`maxNestingDepth`, default 100): -32602 with the id for a
 *   request's params, -32600 for a response, nothing for a notification;
 * - `resources/read` of `demo://greeting/%ZZ` used to be -32603 "URI malformed";
 *   a malformed percent-encoding in a template variable is now -32602.
 * Unit checks on the decoder, then the real stdio CLI process and legacy HTTP.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { DEFAULT_MAX_NESTING_DEPTH, decodeText, oversizedResponseId } from "../src/protocol/jsonrpc.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { flush } from "./support/wireTap.ts"
import { openSession, post } from "./support/mcpHttp.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

/** A JSON object nested `depth` levels (`{"a":{"a":…1…}}`), as text. */
const nested = (depth: number): string => `${'{"a":'.repeat(depth - 1)}{"a":1}${"}".repeat(depth - 1)}`
/** A tools/call whose `arguments` nest so that the whole message is `depth` levels deep. */
const callAtDepth = (id: number | string, depth: number): string =>
  `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":${nested(depth - 2)}}}`

const TOO_DEEP = (id: number | string, limit = DEFAULT_MAX_NESTING_DEPTH) => ({
  jsonrpc: "2.0",
  id,
  error: { code: ErrorCode.InvalidParams, message: `Invalid params: nesting deeper than ${limit} levels` }
})

describe("nesting-depth limit at decode", () => {
  it("the limit is on the whole message; exactly the limit passes, one more is -32602 with the id", () => {
    expect(DEFAULT_MAX_NESTING_DEPTH).toBe(100)
    expect(decodeText(callAtDepth(1, 100))._tag).toBe("Message")
    expect(decodeText(callAtDepth(1, 101))).toEqual({ _tag: "Invalid", reply: TOO_DEEP(1) })
    expect(decodeText(callAtDepth("x", 10_000))).toEqual({ _tag: "Invalid", reply: TOO_DEEP("x") })
    // Arrays count like objects.
    expect(decodeText(`{"jsonrpc":"2.0","id":2,"method":"m","params":{"a":${"[".repeat(99)}${"]".repeat(99)}}}`)).toEqual({ _tag: "Invalid", reply: TOO_DEEP(2) })
    // A custom limit.
    expect(decodeText(callAtDepth(3, 6), 5)).toEqual({ _tag: "Invalid", reply: TOO_DEEP(3, 5) })
    expect(decodeText(callAtDepth(3, 5), 5)._tag).toBe("Message")
  })

  it("a deep notification gets no reply; a deep response is -32600", () => {
    expect(decodeText(`{"jsonrpc":"2.0","method":"notifications/x","params":${nested(10_000)}}`)).toEqual({ _tag: "Invalid", reply: undefined })
    expect(decodeText(`{"jsonrpc":"2.0","id":4,"result":${nested(10_000)}}`)).toEqual({
      _tag: "Invalid",
      reply: { jsonrpc: "2.0", id: 4, error: { code: ErrorCode.InvalidRequest, message: "Invalid Request: nesting deeper than 100 levels" } },
      // A client fails its request 4 with this (invalidResponseError) instead of waiting out its deadline.
      responseId: 4
    })
    expect(decodeText(`{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":"m","data":${nested(10_000)}}}`)._tag).toBe("Invalid")
  })

  it("real payloads fit: a tools/list result with a JSON schema nested 20 levels", () => {
    let schema: Record<string, unknown> = { type: "string" }
    for (let i = 0; i < 20; i++) schema = { type: "object", properties: { child: schema, list: { type: "array", items: { type: "string" } } }, required: ["child"] }
    const message = { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "t", inputSchema: schema, outputSchema: schema }] } }
    expect(decodeText(JSON.stringify(message))._tag).toBe("Message")
  })

  it("ServerSession takes the limit as an option (maxNestingDepth)", async () => {
    const [client, server] = makeMemoryTransportPair()
    const session = serveTransport(makeDemoServer(), server, { maxNestingDepth: 8 })
    const got: Array<unknown> = []
    let answered!: () => void
    const answer = new Promise<void>((resolve) => (answered = resolve))
    client.start({
      onFrame: (t) => {
        got.push(JSON.parse(t))
        answered()
      },
      onOversized: () => {},
      onClose: () => {}
    })
    // The memory pair carries messages: a deep one is sent as its decoded value.
    client.send(JSON.parse(callAtDepth(7, 9)))
    await answer
    await flush() // anything else it would send has been delivered too
    expect(got).toEqual([TOO_DEEP(7, 8)])
    await session.close()
  })
})

describe("hostile depth and percent-encoding against real servers", () => {
  it("stdio (the real CLI process): 10,000-deep params → -32602; %ZZ → -32602; the process answers on", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--stdio"], { cwd: CWD })
    const lines: Array<Record<string, any>> = []
    let wake: (() => void) | undefined
    createInterface({ input: child.stdout }).on("line", (l) => {
      lines.push(JSON.parse(l))
      wake?.()
    })
    // Woken by each line (or the process exiting); the timer only bounds a failure.
    const answer = (id: number) =>
      new Promise<Record<string, any>>((resolve, reject) => {
        const done = () => {
          clearTimeout(bound)
          child.off("exit", gone)
          wake = undefined
        }
        const look = () => {
          const m = lines.find((x) => x.id === id)
          if (m === undefined) return
          done()
          resolve(m)
        }
        const gone = () => {
          done()
          reject(new Error(`the server exited without answering ${id}: ${JSON.stringify(lines)}`))
        }
        const bound = setTimeout(() => {
          done()
          reject(new Error(`no answer for ${id}: ${JSON.stringify(lines)}`))
        }, 20_000)
        wake = look
        child.once("exit", gone)
        look()
      })
    try {
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`)
      expect((await answer(1)).result).toBeDefined()
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`)
      child.stdin.write(`${callAtDepth(2, 10_000)}\n`)
      expect(await answer(2)).toEqual(TOO_DEEP(2))
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 3, method: "resources/read", params: { uri: "demo://greeting/%ZZ" } })}\n`)
      const bad = await answer(3)
      expect(bad.error.code).toBe(ErrorCode.InvalidParams)
      expect(bad.error.message).toMatch(/malformed percent-encoding/)
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 4, method: "resources/read", params: { uri: "demo://greeting/Ada%20L" } })}\n`)
      expect((await answer(4)).result.contents[0].text).toBe("Hello, Ada L!")
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ping" })}\n`)
      expect((await answer(5)).result).toEqual({})
      expect(child.exitCode).toBeNull()
    } finally {
      child.kill("SIGKILL")
    }
  }, 60_000)

  it("legacy HTTP: the same answers, nothing left pending", async () => {
    const http = await makeHttpServer(makeDemoServer())
    try {
      const { headers } = await openSession(http.url)
      const deep = await post(http.url, callAtDepth(2, 10_000), headers)
      expect(await deep.json()).toEqual(TOO_DEEP(2))
      const bad = await post(http.url, { jsonrpc: "2.0", id: 3, method: "resources/read", params: { uri: "demo://greeting/%ZZ" } }, headers)
      expect(((await bad.json()) as Record<string, any>).error.code).toBe(ErrorCode.InvalidParams)
      expect(http.stats().pendingExchanges).toBe(0)
    } finally {
      await http.close({ drainMs: 0 })
    }
  })
})

describe("the response an oversized frame was (oversizedResponseId)", () => {
  const big = "x".repeat(10)
  it("reads a top-level id at the start or as the last member, only for a result or an error", () => {
    expect(oversizedResponseId(`{"jsonrpc":"2.0","id":5,"result":{"content":"${big}`, `${big}"}}`)).toBe(5)
    expect(oversizedResponseId(`{"result":{"content":[{"text":"${big}`, `${big}"}]},"jsonrpc":"2.0","id":7}`)).toBe(7)
    expect(oversizedResponseId(`{"result":{"text":"${big}`, `${big}"},"jsonrpc":"2.0","id":"a\\"b"}\r`)).toBe('a"b')
    expect(oversizedResponseId(`{"error":{"code":1,"message":"${big}`, `${big}"},"jsonrpc":"2.0","id":"q"}`)).toBe("q")
  })
  it("is not fooled by a request's id, a nested id, an id that is not last, or an id inside a string", () => {
    expect(oversizedResponseId(`{"method":"x","params":{"a":"${big}`, `${big}"},"jsonrpc":"2.0","id":7}`)).toBeUndefined()
    expect(oversizedResponseId(`{"jsonrpc":"2.0","id":3,"method":"x","params":{"a":"${big}`, `"}}`)).toBeUndefined()
    expect(oversizedResponseId(`{"jsonrpc":"2.0","params":{"a":"${big}`, `"},"id":4}`)).toBeUndefined()
    expect(oversizedResponseId(`{"result":{"x":{"id":9,"y":"${big}`, `${big}","id":8}}}`)).toBeUndefined()
    expect(oversizedResponseId(`{"error":{"code":1,"message":"${big}`, `${big}"},"id":"q","jsonrpc":"2.0"}`)).toBeUndefined()
    expect(oversizedResponseId(`{"result":{"text":"${big}`, `${big},\\"id\\":6}"}`)).toBeUndefined()
    expect(oversizedResponseId(`garbage {"result":`, `"id":1}`)).toBeUndefined()
  })
})
