/**
 * Every own property name of `Object.prototype` (`constructor`, `__proto__`,
 * `toString`, `hasOwnProperty`, …) as every peer-chosen string the server
 * looks things up by — method, tool name, prompt name, resource URI and
 * template variable, capability key (initialize's `capabilities`, modern
 * `_meta` client capabilities), logging level, `_meta` key, tool argument and
 * prompt argument names, completion refs — on every transport: the real stdio
 * CLI process, legacy and modern Streamable HTTP, WebSocket (before and after
 * initialize, with a bystander connection) and memory (issue 8, part 1).
 *
 * Each frame gets its exact code; every request reuses one id, so a request
 * left "in flight" by a failure would show up as -32600 "already in flight";
 * a sentinel request afterwards must be answered, the process/server must be
 * alive, and (HTTP) no exchange may be left pending.
 *
 * Frames are built with `Object.fromEntries` and sent as text, so that
 * `__proto__` travels as an ordinary key (an object literal would set the
 * prototype instead).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION } from "../src/protocol/modern.ts"
import { encodeHeaderValue } from "../src/protocol/mcpHeaders.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { post } from "./support/mcpHttp.ts"

const NAMES: ReadonlyArray<string> = Object.getOwnPropertyNames(Object.prototype)
const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))
const MODERN = "2026-07-28"
/** Every hostile request uses this id: a failure that leaves it in flight makes the next one -32600. */
const ID = "same-id"

type Json = Record<string, any>
const obj = (entries: ReadonlyArray<readonly [string, unknown]>): Json => Object.fromEntries(entries)
const allNames = (value: unknown): Json => obj(NAMES.map((n) => [n, value]))

/** The demo server plus registrations whose own names are prototype names (in-process transports only). */
const makeServer = (): McpServer =>
  makeDemoServer()
    .tool(
      { name: "strict", inputSchema: { type: "object", properties: { text: { type: "string" } }, additionalProperties: false } },
      () => ({ content: [{ type: "text", text: "ran" }] })
    )
    .tool(
      { name: "needsProto", inputSchema: { type: "object", properties: allNames({ type: "string" }), required: [...NAMES] } },
      () => ({ content: [{ type: "text", text: "ran" }] })
    )
    .prompt(
      { name: "protoArgs", arguments: NAMES.map((name) => ({ name, required: true })) },
      () => ({ messages: [{ role: "user", content: { type: "text", text: "ran" } }] })
    )
    .resourceTemplate(
      { uriTemplate: "proto://{__proto__}/{constructor}", name: "proto" },
      (uri, vars) => ({
        contents: [{ uri, text: `${Object.hasOwn(vars, "__proto__") ? vars["__proto__"] : "missing"}|${Object.hasOwn(vars, "constructor") ? vars["constructor"] : "missing"}` }]
      })
    )

const request = (method: string, params?: Json): Json => params === undefined ? { jsonrpc: "2.0", id: ID, method } : { jsonrpc: "2.0", id: ID, method, params }
const initialize = (capabilities: Json): Json =>
  request("initialize", { protocolVersion: "2025-11-25", capabilities, clientInfo: { name: "hostile", version: "1.0.0" } })
const modernMeta = (extra: ReadonlyArray<readonly [string, unknown]> = []): Json =>
  obj([[META_PROTOCOL_VERSION, MODERN], [META_CLIENT_CAPABILITIES, allNames({})], ...extra])

/** One hostile request and what must come back: an error code, or a check of the result. */
interface Case {
  readonly what: string
  readonly frame: Json
  readonly code?: number
  readonly result?: (result: Json) => void
}

const text = (r: Json): string => r.content?.[0]?.text ?? r.contents?.[0]?.text ?? r.messages?.[0]?.content?.text

/** Cases for an initialized legacy session; `extra`: the in-process server's prototype-named registrations. */
const legacyCases = (extra: boolean): ReadonlyArray<Case> => NAMES.flatMap((n): ReadonlyArray<Case> => [
  { what: `method ${n}`, frame: request(n), code: ErrorCode.MethodNotFound },
  { what: `method ${n} with params`, frame: request(n, obj([[n, {}]])), code: ErrorCode.MethodNotFound },
  { what: `tool ${n}`, frame: request("tools/call", { name: n, arguments: {} }), code: ErrorCode.InvalidParams },
  { what: `prompt ${n}`, frame: request("prompts/get", { name: n }), code: ErrorCode.InvalidParams },
  { what: `resource ${n}`, frame: request("resources/read", { uri: n }), code: ErrorCode.ResourceNotFound },
  { what: `logging level ${n}`, frame: request("logging/setLevel", { level: n }), code: ErrorCode.InvalidParams },
  { what: `template value ${n}`, frame: request("resources/read", { uri: `demo://greeting/${n}` }), result: (r) => expect(text(r)).toBe(`Hello, ${n}!`) },
  {
    what: `_meta key ${n}`,
    frame: request("tools/call", { name: "echo", arguments: obj([["text", "hi"], [n, 1]]), _meta: obj([[n, {}]]) }),
    result: (r) => expect(r).toEqual({ content: [{ type: "text", text: "hi" }] })
  },
  {
    what: `completion ref ${n}`,
    frame: request("completion/complete", { ref: { type: "ref/prompt", name: n }, argument: { name: n, value: "" } }),
    result: (r) => expect(r.completion.values).toEqual([])
  },
  ...(extra
    ? [
      {
        what: `argument ${n} against additionalProperties: false`,
        frame: request("tools/call", { name: "strict", arguments: obj([[n, "x"]]) }),
        result: (r: Json) => expect(r).toEqual({ content: [{ type: "text", text: `Invalid arguments for tool strict: unexpected property "${n}"` }], isError: true })
      },
      {
        what: `template variable ${n}`,
        frame: request("resources/read", { uri: `proto://${n}/${n}` }),
        result: (r: Json) => expect(text(r)).toBe(`${n}|${n}`)
      }
    ]
    : [])
]).concat(extra
  ? [
    {
      what: "required schema properties named after Object.prototype, absent",
      frame: request("tools/call", { name: "needsProto", arguments: {} }),
      result: (r) => expect(r).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/missing required property/) }] })
    },
    { what: "required prompt arguments named after Object.prototype, absent", frame: request("prompts/get", { name: "protoArgs", arguments: {} }), code: ErrorCode.InvalidParams }
  ]
  : [])

/** Cases for modern (2026-07-28) requests: `_meta` carries every prototype name as a client capability. */
const modernCases = (): ReadonlyArray<Case> => NAMES.flatMap((n): ReadonlyArray<Case> => [
  { what: `modern method ${n}`, frame: request(n, { _meta: modernMeta() }), code: ErrorCode.MethodNotFound },
  { what: `modern tool ${n}`, frame: request("tools/call", { name: n, arguments: {}, _meta: modernMeta() }), code: ErrorCode.InvalidParams },
  { what: `modern prompt ${n}`, frame: request("prompts/get", { name: n, _meta: modernMeta() }), code: ErrorCode.InvalidParams },
  { what: `modern resource ${n}`, frame: request("resources/read", { uri: n, _meta: modernMeta() }), code: ErrorCode.InvalidParams },
  {
    what: `modern _meta key and logLevel ${n}`,
    frame: request("tools/call", { name: "log", arguments: { message: "m" }, _meta: modernMeta([[n, 1], [META_LOG_LEVEL, n]]) }),
    result: (r) => expect(r).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "logged: m" }] })
  }
])

/** Check one answer against its case. */
const check = (c: Case, answer: Json): void => {
  expect(answer.id, c.what).toBe(ID)
  if (c.code !== undefined) {
    expect(answer.error?.code, `${c.what}: ${JSON.stringify(answer)}`).toBe(c.code)
    expect(answer.result, c.what).toBeUndefined()
  } else {
    expect(answer.error, `${c.what}: ${JSON.stringify(answer.error)}`).toBeUndefined()
    c.result!(answer.result)
  }
}

// ------------------------------------------------------------------ frame peers (stdio, WebSocket, memory)

interface FramePeer {
  send(message: Json): void
  /** The next message with id `id` (waits up to `ms`); notifications and others are kept aside. */
  answer(id: string | number, ms?: number): Promise<Json>
  /** Messages received that nobody awaited. */
  readonly others: Array<Json>
}

/** `subscribe` hands over each text frame and, once, why the peer is gone (process exit, socket close). */
const framePeer = (write: (text: string) => void, subscribe: (onText: (text: string) => void, onGone: (why: string) => void) => void): FramePeer => {
  const inbox: Array<Json> = []
  const others: Array<Json> = []
  let gone: string | undefined
  let wake: (() => void) | undefined
  subscribe(
    (t) => {
      inbox.push(JSON.parse(t) as Json)
      wake?.()
    },
    (why) => {
      gone ??= why
      wake?.()
    }
  )
  return {
    others,
    send: (message) => write(JSON.stringify(message)),
    // Woken by each frame or by the peer going away; the timer only bounds a failure.
    answer: (id, ms = 10_000) =>
      new Promise<Json>((resolve, reject) => {
        const finish = () => {
          clearTimeout(bound)
          wake = undefined
        }
        const look = () => {
          while (inbox.length > 0) {
            const m = inbox.shift()!
            if (m.id === id && m.method === undefined) {
              finish()
              return resolve(m)
            }
            others.push(m)
          }
          if (gone !== undefined) {
            finish()
            reject(new Error(`peer gone: ${gone}`))
          }
        }
        const bound = setTimeout(() => {
          wake = undefined
          reject(new Error(`no answer for id ${JSON.stringify(id)} within ${ms} ms`))
        }, ms)
        wake = look
        look()
      })
  }
}

/** Run cases one by one (same id each time), then the sentinel. */
const runCases = async (peer: FramePeer, cases: ReadonlyArray<Case>): Promise<void> => {
  for (const c of cases) {
    peer.send(c.frame)
    check(c, await peer.answer(ID))
  }
}

const legacySession = async (peer: FramePeer): Promise<void> => {
  // Every prototype name as a client capability key: initialize still succeeds.
  peer.send(initialize(allNames({})))
  const init = await peer.answer(ID)
  expect(init.result?.protocolVersion).toBe("2025-11-25")
  peer.send({ jsonrpc: "2.0", method: "notifications/initialized" })
}

/** Notifications named after prototype members get no answer and disturb nothing. */
const notifications = (peer: FramePeer): void => {
  for (const n of NAMES) peer.send({ jsonrpc: "2.0", method: n, params: obj([[n, {}]]) })
}

const sentinel = async (peer: FramePeer, modern: boolean): Promise<void> => {
  peer.send(modern
    ? { jsonrpc: "2.0", id: "sentinel", method: "server/discover", params: { _meta: modernMeta() } }
    : { jsonrpc: "2.0", id: "sentinel", method: "tools/call", params: { name: "echo", arguments: { text: "still here" } } })
  const r = await peer.answer("sentinel")
  if (modern) expect(r.result?.supportedVersions).toContain(MODERN)
  else expect(r.result).toEqual({ content: [{ type: "text", text: "still here" }] })
}

/** The whole scenario on one frame transport, legacy then modern. */
const scenario = async (peer: FramePeer, extra: boolean): Promise<void> => {
  await legacySession(peer)
  notifications(peer)
  await runCases(peer, legacyCases(extra))
  await sentinel(peer, false)
  await runCases(peer, modernCases())
  await sentinel(peer, true)
  // No stray answers: every message was a response someone awaited (the demo sends no unrelated notifications).
  expect(peer.others.filter((m) => m.method === undefined)).toEqual([])
}

describe("Object.prototype names as peer-chosen strings", () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  it("memory transport", async () => {
    const [clientSide, serverSide] = makeMemoryTransportPair()
    const session = serveTransport(makeServer(), serverSide)
    const peer = framePeer(
      (t) => clientSide.send(JSON.parse(t)),
      (onText, onGone) => clientSide.start({ onFrame: onText, onOversized: () => {}, onClose: (c) => onGone(c.reason) })
    )
    await scenario(peer, true)
    expect(session.inFlightCount).toBe(0)
    await session.close()
  })

  it("stdio: the real CLI process (serve --stdio) stays up and answers every frame", async () => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, "serve", "--stdio"], { cwd: CWD })
    let exit: string | undefined
    let stderr = ""
    child.on("exit", (code, signal) => (exit = `exited with ${code ?? signal}; stderr: ${stderr}`))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    cleanups.push(() => void child.kill("SIGKILL"))
    const peer = framePeer(
      (t) => void child.stdin.write(`${t}\n`),
      (onText, onGone) => {
        createInterface({ input: child.stdout }).on("line", onText)
        child.on("exit", () => onGone(exit!))
      }
    )
    await scenario(peer, false)
    expect(exit).toBeUndefined()
    expect(stderr).not.toMatch(/TypeError|internal error/)
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    child.stdin.end()
    expect(await exited).toBe(0)
  }, 60_000)

  it("WebSocket: before and after initialize, while a bystander connection keeps working", async () => {
    const ws = await makeWsServer(makeServer())
    cleanups.push(() => ws.close({ drainMs: 0 }))
    const open = async () => {
      const socket = new WebSocket(ws.url, ["mcp"])
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve())
        socket.once("error", reject)
      })
      const peer = framePeer((t) => socket.send(t), (onText, onGone) => {
        socket.on("message", (d) => onText(d.toString()))
        socket.on("close", (code) => onGone(`closed ${code}`))
      })
      return { socket, peer }
    }
    const bystander = await open()
    await legacySession(bystander.peer)
    const hostile = await open()
    // Before initialize: legacy requests are refused by the lifecycle (-32600), modern ones are -32601.
    for (const n of NAMES) {
      hostile.peer.send(request(n))
      const early = await hostile.peer.answer(ID)
      expect(early.error?.code, n).toBe(ErrorCode.InvalidRequest)
      expect(early.error?.message).toMatch(/not initialized/)
    }
    notifications(hostile.peer)
    await runCases(hostile.peer, modernCases())
    await sentinel(bystander.peer, false)
    // After initialize, on a second connection (the first one already spoke modern).
    const later = await open()
    await scenario(later.peer, true)
    await sentinel(bystander.peer, false)
    await sentinel(hostile.peer, true)
    expect(ws.connections).toBe(3)
    for (const s of [bystander, hostile, later]) s.socket.close()
  }, 60_000)

  describe("Streamable HTTP", () => {
    /** POST one message; the JSON-RPC answer (from a JSON body or the SSE stream) and the status. */
    const rpc = async (url: string, body: Json, headers: Record<string, string>): Promise<{ status: number; message: Json | undefined }> => {
      const res = await post(url, JSON.stringify(body), headers)
      const type = res.headers.get("content-type") ?? ""
      const raw = await res.text()
      if (res.status === 202) return { status: 202, message: undefined }
      if (type.includes("text/event-stream")) {
        const datas = raw.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as Json)
        return { status: res.status, message: datas.find((m) => m.method === undefined) }
      }
      return { status: res.status, message: JSON.parse(raw) as Json }
    }

    it("legacy (2025-11-25): exact codes, no exchange left pending, the reused id never 'already in flight'", async () => {
      const http = await makeHttpServer(makeServer())
      cleanups.push(() => http.close({ drainMs: 0 }))
      const init = await post(http.url, JSON.stringify(initialize(allNames({}))))
      expect(init.status).toBe(200)
      const sid = init.headers.get("mcp-session-id")!
      await init.text()
      const headers = { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }
      expect((await rpc(http.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status).toBe(202)
      for (const n of NAMES) expect((await rpc(http.url, { jsonrpc: "2.0", method: n, params: obj([[n, {}]]) }, headers)).status).toBe(202)
      for (const c of legacyCases(true)) {
        const { status, message } = await rpc(http.url, c.frame, headers)
        expect(status, c.what).toBe(200)
        check(c, message!)
        expect(http.stats().pendingExchanges, c.what).toBe(0)
      }
      const echo = await rpc(http.url, { jsonrpc: "2.0", id: "sentinel", method: "tools/call", params: { name: "echo", arguments: { text: "still here" } } }, headers)
      expect(echo.message?.result).toEqual({ content: [{ type: "text", text: "still here" }] })
      expect(http.stats()).toMatchObject({ sessions: 1, pendingExchanges: 0 })
    }, 60_000)

    it("modern (2026-07-28): -32601 with 404 for methods, no -32020 from the Mcp-Name table", async () => {
      const http = await makeHttpServer(makeServer())
      cleanups.push(() => http.close({ drainMs: 0 }))
      for (const c of modernCases()) {
        const method = c.frame.method as string
        const params = c.frame.params as Json
        const name = method === "resources/read" ? params.uri : params.name
        const headers: Record<string, string> = {
          "mcp-protocol-version": MODERN,
          "mcp-method": method,
          ...(method === "tools/call" || method === "prompts/get" || method === "resources/read" ? { "mcp-name": encodeHeaderValue(String(name)) } : {})
        }
        const { status, message } = await rpc(http.url, c.frame, headers)
        check(c, message!)
        expect(status, c.what).toBe(c.code === ErrorCode.MethodNotFound ? 404 : 200)
      }
      const discover = await rpc(http.url, { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: modernMeta() } }, {
        "mcp-protocol-version": MODERN,
        "mcp-method": "server/discover"
      })
      expect(discover.message?.result?.supportedVersions).toContain(MODERN)
      expect(http.stats()).toMatchObject({ modernInFlight: 0, pendingExchanges: 0 })
    }, 60_000)
  })
})
