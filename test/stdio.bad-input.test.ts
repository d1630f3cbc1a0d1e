/**
 * Bad input on a real stdio server process (`src/cli/main.ts serve --stdio`):
 * raw lines in, raw lines out. Each case checks the exact error (code and id),
 * and that the connection is still usable afterwards (ping/echo answer).
 * One case (a server without prompts) runs in-process over the memory transport,
 * since the CLI has only the demo example.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))

type Msg = { jsonrpc?: string; id?: string | number | null; method?: string; params?: any; result?: any; error?: { code: number; message: string; data?: any } }

/** A raw line peer: write lines, await the messages the server writes back. */
interface LinePeer {
  readonly messages: Array<Msg>
  readonly stderr: () => string
  /** Write one raw line (a newline is appended). */
  line(text: string): void
  send(message: object): void
  /** The next not-yet-consumed message matching `pred` (waits up to `ms`). */
  next(pred: (m: Msg) => boolean, ms?: number): Promise<Msg>
  /** Send a request and await the message with its id. */
  call(id: string | number, method: string, params?: object): Promise<Msg>
  /** Everything received so far that nobody consumed. */
  unconsumed(): Array<Msg>
  close(): Promise<number | null>
}

const spawnServer = (args: ReadonlyArray<string> = []): LinePeer => {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, "serve", "--stdio", ...args], { cwd: CWD })
  const messages: Array<Msg> = []
  const consumed = new Set<Msg>()
  const waiters = new Set<() => void>()
  let stderr = ""
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve((exitCode = code))))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  createInterface({ input: child.stdout }).on("line", (l) => {
    // Every stdout line must be one JSON-RPC message: anything else is itself a failure.
    messages.push(JSON.parse(l) as Msg)
    for (const w of [...waiters]) w()
  })
  const find = (pred: (m: Msg) => boolean) => messages.find((m) => !consumed.has(m) && pred(m))
  const peer: LinePeer = {
    messages,
    stderr: () => stderr,
    line: (text) => void child.stdin.write(text + "\n"),
    send: (message) => peer.line(JSON.stringify(message)),
    next: (pred, ms = 20_000) => // generous: the first reply includes a child process start on a busy machine
      new Promise((resolve, reject) => {
        const check = () => {
          const m = find(pred)
          if (!m) return false
          consumed.add(m)
          waiters.delete(check)
          clearTimeout(timer)
          resolve(m)
          return true
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching message within ${ms} ms (exit ${exitCode}); unconsumed: ${JSON.stringify(peer.unconsumed())}; stderr: ${stderr}`))
        }, ms)
        if (!check()) waiters.add(check)
      }),
    call: (id, method, params) => {
      peer.send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params })
      return peer.next((m) => m.id === id && m.method === undefined)
    },
    unconsumed: () => messages.filter((m) => !consumed.has(m)),
    close: () => {
      child.stdin.end()
      return exited
    }
  }
  return peer
}

const initParams = (protocolVersion = "2025-11-25") => ({
  protocolVersion,
  capabilities: {},
  clientInfo: { name: "bad-input-test", version: "1.0.0" }
})

let nextId = 1000
const fresh = () => ++nextId

/** The connection still answers: a ping, and (when operating) an echo. */
const expectUsable = async (peer: LinePeer, operating = true) => {
  const id = fresh()
  expect(await peer.call(id, "ping")).toEqual({ jsonrpc: "2.0", id, result: {} })
  if (operating) {
    const eid = fresh()
    const echo = await peer.call(eid, "tools/call", { name: "echo", arguments: { text: `still usable ${eid}` } })
    expect(echo.result).toEqual({ content: [{ type: "text", text: `still usable ${eid}` }] })
  }
}

/** Send a raw line that yields an error with id null; return that error. */
const nullIdError = async (peer: LinePeer, text: string) => {
  peer.line(text)
  const m = await peer.next((m) => m.id === null)
  expect(m.jsonrpc).toBe("2.0")
  expect(m.result).toBeUndefined()
  return m.error!
}

const handshake = async (peer: LinePeer, version = "2025-11-25") => {
  const init = await peer.call(fresh(), "initialize", initParams(version))
  expect(init.result?.protocolVersion).toBe(version)
  peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
}

describe("stdio server: the handshake is enforced", { shuffle: false }, () => { // one session, step by step
  let peer: LinePeer
  beforeAll(() => {
    peer = spawnServer()
  })
  afterAll(async () => {
    expect(await peer.close()).toBe(0)
  })

  it("a request before initialize → -32600 (ping is still answered)", async () => {
    const r = await peer.call(1, "tools/list")
    expect(r.error?.code).toBe(-32600)
    expect(r.error?.message).toMatch(/not initialized/)
    await expectUsable(peer, false)
  })

  it("initialize with bad params → -32602, and the session can still initialize", async () => {
    const r = await peer.call(2, "initialize", { protocolVersion: 20250618, capabilities: {}, clientInfo: { name: "x" } })
    expect(r.error?.code).toBe(-32602)
    await expectUsable(peer, false)
  })

  it("a request after the initialize response but before notifications/initialized → -32600", async () => {
    const init = await peer.call(3, "initialize", initParams())
    expect(init.result?.protocolVersion).toBe("2025-11-25")
    const r = await peer.call(4, "tools/call", { name: "echo", arguments: { text: "too early" } })
    expect(r.error?.code).toBe(-32600)
    expect(r.error?.message).toMatch(/before notifications\/initialized/)
    await expectUsable(peer, false)
  })

  it("after notifications/initialized the same request works", async () => {
    peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    await expectUsable(peer)
  })

  it("a second initialize → -32600, and the negotiated session is unchanged", async () => {
    const r = await peer.call(5, "initialize", initParams("2024-11-05"))
    expect(r.error?.code).toBe(-32600)
    await expectUsable(peer)
    // Still 2025-11-25 (not 2024-11-05 or 2025-03-26): a batch is refused.
    const err = await nullIdError(peer, JSON.stringify([{ jsonrpc: "2.0", id: 6, method: "ping" }]))
    expect(err.code).toBe(-32600)
  })
})

describe("stdio server: malformed JSON-RPC (operating session, --max-message-bytes 1024)", () => {
  let peer: LinePeer
  beforeAll(async () => {
    peer = spawnServer(["--max-message-bytes", "1024"])
    await handshake(peer, "2025-06-18")
  })
  afterAll(async () => {
    expect(await peer.close()).toBe(0)
  })

  it("invalid JSON → -32700 with id null", async () => {
    for (const text of ["{not json", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", "\uFEFF{}", "nul"]) {
      const err = await nullIdError(peer, text)
      expect(err.code).toBe(-32700)
    }
    await expectUsable(peer)
  })

  it("not a JSON-RPC object (string, number, null, empty batch) → -32600 with id null", async () => {
    for (const text of ["\"hello\"", "42", "null", "[]", "true"]) {
      const err = await nullIdError(peer, text)
      expect(err.code).toBe(-32600)
    }
    await expectUsable(peer)
  })

  it("missing or wrong jsonrpc → -32600 echoing the id", async () => {
    peer.line(JSON.stringify({ id: 11, method: "ping" }))
    expect((await peer.next((m) => m.id === 11)).error?.code).toBe(-32600)
    peer.line(JSON.stringify({ jsonrpc: "1.0", id: "v1", method: "ping" }))
    expect((await peer.next((m) => m.id === "v1")).error?.code).toBe(-32600)
    await expectUsable(peer)
  })

  it("id null, id true, id 1.5, id {} → -32600 with id null", async () => {
    for (const id of [null, true, 1.5, {}]) {
      const err = await nullIdError(peer, JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }))
      expect(err.code).toBe(-32600)
    }
    await expectUsable(peer)
  })

  it("non-string or empty method → -32600 echoing the id", async () => {
    peer.line(JSON.stringify({ jsonrpc: "2.0", id: 12, method: 42 }))
    expect((await peer.next((m) => m.id === 12)).error?.code).toBe(-32600)
    peer.line(JSON.stringify({ jsonrpc: "2.0", id: 13, method: "" }))
    expect((await peer.next((m) => m.id === 13)).error?.code).toBe(-32600)
    await expectUsable(peer)
  })

  it("params that are not an object (array, string, null) → -32602 echoing the id", async () => {
    for (const [id, params] of [[14, [1, 2]], [15, "x"], [16, null]] as const) {
      peer.line(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params }))
      expect((await peer.next((m) => m.id === id)).error?.code).toBe(-32602)
    }
    await expectUsable(peer)
  })

  it("a response with both result and error → -32600; a stray response to an unknown id is ignored", async () => {
    peer.line(JSON.stringify({ jsonrpc: "2.0", id: 17, result: {}, error: { code: 1, message: "x" } }))
    expect((await peer.next((m) => m.id === 17)).error?.code).toBe(-32600)
    peer.line(JSON.stringify({ jsonrpc: "2.0", id: "nobody-asked", result: {} }))
    await expectUsable(peer)
    expect(peer.messages.some((m) => m.id === "nobody-asked")).toBe(false)
  })

  it("invalid and unknown notifications get no reply at all", async () => {
    const before = peer.messages.length
    peer.line(JSON.stringify({ jsonrpc: "2.0", method: "notifications/whatever", params: { a: 1 } }))
    peer.line(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "not-in-flight" } }))
    peer.line(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: "bad" }))
    await expectUsable(peer)
    // Only the ping and echo responses arrived.
    expect(peer.messages.length - before).toBe(2)
  })

  it("unknown method → -32601", async () => {
    const r = await peer.call(20, "foo/bar", {})
    expect(r.error?.code).toBe(-32601)
    const r2 = await peer.call(21, "tasks/list")
    expect(r2.error?.code).toBe(-32601)
    await expectUsable(peer)
  })

  it("tools/call without a name, or with an unknown tool → -32602", async () => {
    expect((await peer.call(22, "tools/call", { arguments: {} })).error?.code).toBe(-32602)
    expect((await peer.call(23, "tools/call", { name: 7 })).error?.code).toBe(-32602)
    const unknown = await peer.call(24, "tools/call", { name: "nope", arguments: {} })
    expect(unknown.error?.code).toBe(-32602)
    expect(unknown.error?.message).toMatch(/nope/)
    await expectUsable(peer)
  })

  it("invalid tool arguments → a result with isError: true (SEP-1303), not a protocol error", async () => {
    for (const [id, name, args] of [[25, "echo", {}], [26, "echo", { text: 5 }], [27, "count", { n: 0 }], [28, "log", { level: "loud", message: "m" }]] as const) {
      const r = await peer.call(id, "tools/call", { name, arguments: args })
      expect(r.error).toBeUndefined()
      expect(r.result?.isError).toBe(true)
      expect(r.result?.content?.[0]?.type).toBe("text")
      expect(r.result?.content?.[0]?.text).toMatch(new RegExp(`Invalid arguments for tool ${name}`))
    }
    await expectUsable(peer)
  })

  it("other bad params → -32602 (cursor, setLevel, prompt argument, missing uri, completion shape)", async () => {
    expect((await peer.call(30, "tools/list", { cursor: "bogus" })).error?.code).toBe(-32602)
    expect((await peer.call(31, "logging/setLevel", { level: "verbose" })).error?.code).toBe(-32602)
    expect((await peer.call(32, "prompts/get", { name: "greet", arguments: {} })).error?.code).toBe(-32602)
    expect((await peer.call(33, "prompts/get", { name: "nope" })).error?.code).toBe(-32602)
    expect((await peer.call(34, "resources/read", {})).error?.code).toBe(-32602)
    expect((await peer.call(35, "completion/complete", { ref: { type: "ref/prompt", name: "greet" } })).error?.code).toBe(-32602)
    // Legacy resource-not-found code.
    const missing = await peer.call(36, "resources/read", { uri: "demo://missing" })
    expect(missing.error?.code).toBe(-32002)
    expect(missing.error?.data).toEqual({ uri: "demo://missing" })
    await expectUsable(peer)
  })

  it("prompt arguments that are not strings → -32602, never -32603 (found by the fuzzer)", async () => {
    // {toString: [], valueOf: null} cannot even be converted to a string: it used to reach the handler's template literal.
    for (const [id, args] of [[37, { name: [1, { toString: [], valueOf: null }] }], [38, { name: 5 }], [39, { name: "x", extra: {} }], [44, "name"], [45, [1]]] as const) {
      const r = await peer.call(id, "prompts/get", { name: "greet", arguments: args })
      expect(r.error?.code, JSON.stringify(args)).toBe(-32602)
    }
    expect((await peer.call(46, "prompts/get", { name: "greet", arguments: { name: "Ada" } })).result?.messages?.[0]?.content?.text).toBe("Please greet Ada.")
    await expectUsable(peer)
  })

  it("a duplicate in-flight id → -32600; the original still completes", async () => {
    peer.send({ jsonrpc: "2.0", id: "dup", method: "tools/call", params: { name: "slow", arguments: { ms: 200 } } })
    peer.send({ jsonrpc: "2.0", id: "dup", method: "tools/call", params: { name: "echo", arguments: { text: "second" } } })
    const first = await peer.next((m) => m.id === "dup")
    expect(first.error?.code).toBe(-32600)
    const second = await peer.next((m) => m.id === "dup")
    expect(second.result).toEqual({ content: [{ type: "text", text: "waited 200 ms" }] })
    await expectUsable(peer)
    // Once the first finished, the id is free again.
    expect((await peer.call("dup", "tools/call", { name: "echo", arguments: { text: "reused" } })).result?.content).toEqual([{ type: "text", text: "reused" }])
  })

  it("a line over --max-message-bytes → -32600 with id null; the next request still works", async () => {
    const big = JSON.stringify({ jsonrpc: "2.0", id: 40, method: "tools/call", params: { name: "echo", arguments: { text: "x".repeat(2_000) } } })
    const err = await nullIdError(peer, big)
    expect(err.code).toBe(-32600)
    expect(err.message).toMatch(/exceeds the limit/)
    // No answer for id 40 ever: it was discarded unread.
    await expectUsable(peer)
    expect(peer.messages.some((m) => m.id === 40)).toBe(false)
  })

  it("a 200 KB line (many pipe chunks) is discarded as one message; exactly 1024 bytes is accepted, 1025 is not", async () => {
    const huge = JSON.stringify({ jsonrpc: "2.0", id: 41, method: "ping", params: { pad: "y".repeat(200_000) } })
    const err = await nullIdError(peer, huge)
    expect(err.code).toBe(-32600)
    const sized = (id: number, bytes: number) => {
      const base = JSON.stringify({ jsonrpc: "2.0", id, method: "ping", params: { pad: "" } })
      return JSON.stringify({ jsonrpc: "2.0", id, method: "ping", params: { pad: "z".repeat(bytes - base.length) } })
    }
    const exact = sized(42, 1024)
    expect(Buffer.byteLength(exact)).toBe(1024)
    peer.line(exact)
    expect(await peer.next((m) => m.id === 42)).toEqual({ jsonrpc: "2.0", id: 42, result: {} })
    const over = sized(43, 1025)
    expect((await nullIdError(peer, over)).code).toBe(-32600)
    await expectUsable(peer)
    expect(peer.messages.filter((m) => m.id === 41 || m.id === 43)).toEqual([])
  })

  it("a batch on 2025-06-18 → -32600 with id null, and none of its requests run", async () => {
    const err = await nullIdError(peer, JSON.stringify([
      { jsonrpc: "2.0", id: 50, method: "ping" },
      { jsonrpc: "2.0", id: 51, method: "tools/call", params: { name: "echo", arguments: { text: "batched" } } }
    ]))
    expect(err.code).toBe(-32600)
    await expectUsable(peer)
    expect(peer.messages.some((m) => m.id === 50 || m.id === 51)).toBe(false)
  })

  it("CRLF line endings and blank lines are tolerated", async () => {
    peer.line("")
    peer.line("   ")
    peer.line(JSON.stringify({ jsonrpc: "2.0", id: 60, method: "ping" }) + "\r")
    expect(await peer.next((m) => m.id === 60)).toEqual({ jsonrpc: "2.0", id: 60, result: {} })
    await expectUsable(peer)
  })

  it("nothing the server wrote was left unexplained", () => {
    expect(peer.unconsumed()).toEqual([])
  })
})

describe("stdio server: a batch on 2025-03-26 is accepted (control for the -32600 above)", () => {
  let peer: LinePeer
  beforeAll(async () => {
    peer = spawnServer()
    await handshake(peer, "2025-03-26")
  })
  afterAll(async () => {
    expect(await peer.close()).toBe(0)
  })

  it("the batch is answered with one array line: each request's response, an error per invalid item, nothing for the notification", async () => {
    peer.line(JSON.stringify([
      { jsonrpc: "2.0", id: 70, method: "ping" },
      { jsonrpc: "2.0", method: "notifications/whatever" },
      { jsonrpc: "2.0", id: 71, method: "tools/call", params: { name: "echo", arguments: { text: "in a batch" } } },
      { jsonrpc: "2.0", id: 72, method: "initialize", params: initParams("2025-03-26") },
      { jsonrpc: "2.0", id: 73 }
    ]))
    const answer = (await peer.next((m) => Array.isArray(m))) as unknown as Array<Msg>
    expect(answer.map((m) => m.id)).toEqual([70, 71, 72, 73])
    expect(answer[0]!.result).toEqual({})
    expect(answer[1]!.result).toEqual({ content: [{ type: "text", text: "in a batch" }] })
    expect(answer[2]!.error?.code).toBe(-32600)
    expect(answer[3]!.error?.code).toBe(-32600)
    await expectUsable(peer)
    expect(peer.unconsumed()).toEqual([])
  })
})

describe("stdio server: modern-era (2026-07-28) lines on the same connection", () => {
  let peer: LinePeer
  const MODERN = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1" }
  }
  beforeAll(() => {
    peer = spawnServer()
  })
  afterAll(async () => {
    expect(await peer.close()).toBe(0)
  })

  it("server/discover with proper _meta → versions, capabilities, serverInfo, resultType", async () => {
    const r = await peer.call("d1", "server/discover", { _meta: MODERN })
    expect(r.error).toBeUndefined()
    expect(r.result.supportedVersions).toContain("2026-07-28")
    expect(r.result.supportedVersions).toContain("2025-11-25")
    expect(r.result.capabilities).toMatchObject({ tools: {}, prompts: {}, resources: {} })
    expect(r.result.resultType).toBe("complete")
    expect(r.result._meta["io.modelcontextprotocol/serverInfo"]).toEqual({ name: "mcp-actors-demo", version: "0.1.0" })
  })

  it("a modern tools/call needs no handshake", async () => {
    const r = await peer.call("m1", "tools/call", { name: "echo", arguments: { text: "stateless" }, _meta: MODERN })
    expect(r.result).toMatchObject({ content: [{ type: "text", text: "stateless" }], resultType: "complete" })
    // Modern: resource-not-found is -32602.
    const missing = await peer.call("m2", "resources/read", { uri: "demo://missing", _meta: MODERN })
    expect(missing.error?.code).toBe(-32602)
  })

  it("missing _meta fields → -32602", async () => {
    expect((await peer.call("d2", "server/discover")).error?.code).toBe(-32602)
    expect((await peer.call("d3", "server/discover", { _meta: {} })).error?.code).toBe(-32602)
    const noCaps = await peer.call("d4", "tools/list", { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } })
    expect(noCaps.error?.code).toBe(-32602)
    expect(noCaps.error?.message).toMatch(/clientCapabilities/)
  })

  it("an unsupported version → -32022 with data.supported and data.requested", async () => {
    const r = await peer.call("d5", "server/discover", { _meta: { ...MODERN, "io.modelcontextprotocol/protocolVersion": "2099-01-01" } })
    expect(r.error?.code).toBe(-32022)
    expect(r.error?.data).toEqual({ supported: ["2026-07-28"], requested: "2099-01-01" })
  })

  it("methods removed in 2026-07-28 (ping, logging/setLevel) → -32601", async () => {
    expect((await peer.call("d6", "ping", { _meta: MODERN })).error?.code).toBe(-32601)
    expect((await peer.call("d7", "logging/setLevel", { level: "info", _meta: MODERN })).error?.code).toBe(-32601)
  })

  it("the same connection then serves a legacy session too (dual-era), and modern stays available", async () => {
    // Before initialize, a plain (non-modern) request is still refused.
    expect((await peer.call("l0", "tools/list")).error?.code).toBe(-32600)
    await handshake(peer)
    await expectUsable(peer)
    const r = await peer.call("m3", "tools/call", { name: "echo", arguments: { text: "still modern" }, _meta: MODERN })
    expect(r.result?.content).toEqual([{ type: "text", text: "still modern" }])
    expect(peer.unconsumed()).toEqual([])
  })
})

describe("in-process: a server without prompts/completions (memory transport)", () => {
  it("prompts/list, prompts/get, completion/complete → -32601; resources/subscribe without the sub-capability → -32601", async () => {
    const server = new McpServer({ name: "tools-only", version: "1.0.0" })
      .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (a) => ({ content: [{ type: "text", text: String(a.text) }] }))
    expect(server.capabilities()).toEqual({ logging: {}, tools: { listChanged: true } })
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const session = serveTransport(server, serverSide)
    const inbox: Array<Msg> = []
    const waiters: Array<() => void> = []
    clientSide.start({
      onFrame: (t) => {
        inbox.push(JSON.parse(t))
        waiters.splice(0).forEach((w) => w())
      },
      onOversized: () => {},
      onClose: () => {}
    })
    const call = async (id: number, method: string, params?: object): Promise<Msg> => {
      clientSide.send((params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }) as JsonRpcMessage)
      for (;;) {
        const m = inbox.find((x) => x.id === id)
        if (m) return m
        await new Promise<void>((r) => waiters.push(r))
      }
    }
    const init = await call(1, "initialize", initParams())
    expect(init.result?.capabilities).toEqual({ logging: {}, tools: { listChanged: true } })
    clientSide.send({ jsonrpc: "2.0", method: "notifications/initialized" })
    for (const [id, method, params] of [
      [2, "prompts/list", undefined],
      [3, "prompts/get", { name: "greet" }],
      [4, "completion/complete", { ref: { type: "ref/prompt", name: "greet" }, argument: { name: "n", value: "" } }],
      [5, "resources/list", undefined],
      [6, "resources/subscribe", { uri: "x://y" }]
    ] as const) {
      const r = await call(id, method, params)
      expect(r.error?.code, method).toBe(-32601)
    }
    expect((await call(7, "tools/call", { name: "echo", arguments: { text: "ok" } })).result?.content).toEqual([{ type: "text", text: "ok" }])
    await clientSide.close()
    const end = await session.ended
    expect(end.expected).toBe(true)
  })
})
