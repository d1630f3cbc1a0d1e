/**
 * End to end over a real HTTP server: while a client is away, a paramless `list_changed`
 * supersedes its older copies on the stream it was sent on, and the resume (GET +
 * `Last-Event-ID`) replays only the newest, in its place in the order. The copies are sent as
 * a handler or a gateway may build them (`params: {}`, an empty `_meta`, no params), so the
 * texts differ: this holds only because the session decides the key from the message and hands
 * it to the store (`StoredEvent.supersedes`), not by reading the text. A list_changed with a
 * non-empty `_meta` says more and is kept; a custom store that ignores the key keeps every copy.
 *
 * Every wait is on an event the server sends (a stream's next event or its end; a sentinel log
 * message marks the end of a replay that continues live), bounded only by the test's timeout.
 * Every client stream is aborted (afterEach) before the server is closed (afterAll).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { notification, type JsonRpcMessage, type Params } from "../src/protocol/jsonrpc.ts"
import type { McpServer } from "../src/server/McpServer.ts"
import { makeHttpServer, type HttpServerHandle } from "../src/server/http/HttpServer.ts"
import { type EventStore, makeMemoryEventStore, type StoredEvent } from "../src/transports/http/EventStore.ts"
import { del, get, openSession, post, SseReader } from "./support/mcpHttp.ts"

const TOOLS = "notifications/tools/list_changed"
const PROMPTS = "notifications/prompts/list_changed"
const RESOURCES = "notifications/resources/list_changed"
const TRACED = { _meta: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } }

/** What the session appended, with the key it decided (the store itself is the default one). */
const recording = (inner: EventStore, appended: Array<StoredEvent>): EventStore => ({
  append(sessionId, event) {
    appended.push(event)
    inner.append(sessionId, event)
  },
  after: (sessionId, stream, seq) => inner.after(sessionId, stream, seq),
  dropSession: (sessionId) => inner.dropSession(sessionId),
  get sessionCount() {
    return inner.sessionCount
  }
})

/** A user's store written before the key existed: keeps everything, reads only what it always did. */
const keyless = (): EventStore => {
  const logs = new Map<string, Array<{ readonly id: string; readonly stream: string; readonly seq: number; readonly data: string }>>()
  return {
    append(sessionId, { id, stream, seq, data }) {
      let log = logs.get(sessionId)
      if (log === undefined) logs.set(sessionId, (log = []))
      log.push({ id, stream, seq, data })
    },
    after: (sessionId, stream, seq) => (logs.get(sessionId) ?? []).filter((e) => e.stream === stream && e.seq > seq),
    dropSession: (sessionId) => void logs.delete(sessionId),
    get sessionCount() {
      return logs.size
    }
  }
}

/** Client streams of the running test: aborted after it, whatever happened, before any server closes. */
const open = new Set<AbortController>()
const controller = (): AbortController => {
  const c = new AbortController()
  open.add(c)
  return c
}
afterEach(() => {
  for (const c of open) c.abort()
  open.clear()
})

/** What the tests compare: the method, and what tells copies apart (a log's data, the params' text). */
const shape = (m: Record<string, any>): string => (m.method === "notifications/message" ? `log ${m.params.data}` : `${m.method} ${JSON.stringify(m.params ?? null)}`)

let handle!: HttpServerHandle
/** Lets the `relist` handler answer once the test has read its dropped stream to the end. */
let releaseRelist: () => void = () => {}

/** A tool whose handler sends list_changed copies on its own POST stream, around a server-side drop of it. */
const withRelist = (server: McpServer): McpServer =>
  server.tool({ name: "relist", description: "list_changed on the call's stream, across a drop", inputSchema: { type: "object", properties: {} } }, async (_args, ctx) => {
    const session = handle.session(ctx.sessionId!)!
    const related = (method: string, params?: Params) => session.send(notification(method, params), ctx.requestId)
    related(TOOLS, {}) // upgrades the call to SSE: the client holds this event's id
    expect(handle.dropStream(ctx.sessionId!, ctx.requestId)).toBe(true)
    await new Promise<void>((resolve) => (releaseRelist = resolve))
    // Sent while no stream is attached: stored for the resumption.
    related(TOOLS, {})
    related(PROMPTS, { _meta: {} })
    related("notifications/message", { level: "info", data: "between" })
    related(TOOLS)
    related(PROMPTS, {})
    return { content: [{ type: "text", text: "relisted" }] }
  })

describe("resumption after superseding list_changed (legacy era, default store)", () => {
  const appended: Array<StoredEvent> = []
  let url = ""
  beforeAll(async () => {
    handle = await makeHttpServer(withRelist(makeDemoServer()), { retryMs: 50, keepAliveMs: 0, eventStore: recording(makeMemoryEventStore(), appended) })
    url = handle.url
  })
  afterAll(async () => {
    await handle.close({ drainMs: 0 })
  })

  it("the GET stream: only the newest copy of each paramless list_changed is replayed, in its place; the others are kept", { timeout: 10_000 }, async () => {
    const s = await openSession(url)
    const session = handle.session(s.sid)!
    const first = new SseReader(await get(url, s.headers, controller().signal))
    const priming = await first.next()
    // The priming event: `id: 0_<seq>`, `retry:`, empty data.
    expect(priming).toMatchObject({ data: "", retry: 50 })
    expect(priming?.id).toMatch(/^0_\d+$/)
    expect(handle.dropStandaloneStream(s.sid)).toBe(true)
    expect(await first.rest()).toEqual([])

    const sent: Array<[string, Params | undefined]> = [
      [TOOLS, {}],
      [PROMPTS, { _meta: {} }],
      ["notifications/message", { level: "info", data: "a" }],
      [TOOLS, {}],
      [RESOURCES, TRACED],
      [PROMPTS, { _meta: {} }],
      [RESOURCES, TRACED],
      [TOOLS, undefined]
    ]
    for (const [method, params] of sent) session.notify(method, params)

    const resumed = new SseReader(await get(url, { ...s.headers, "last-event-id": priming!.id! }, controller().signal))
    // The replay, then the stream goes on live: a sentinel sent now arrives after the whole replay.
    session.notify("notifications/message", { level: "info", data: "end" })
    const replay: Array<string> = []
    for (let m = await resumed.nextMessage(); m !== undefined && shape(m.message) !== "log end"; m = await resumed.nextMessage()) replay.push(shape(m.message))
    expect(replay).toEqual([
      "log a",
      `${RESOURCES} ${JSON.stringify(TRACED)}`,
      `${PROMPTS} {"_meta":{}}`,
      `${RESOURCES} ${JSON.stringify(TRACED)}`,
      `${TOOLS} null`
    ])
    // The session decided the keys; the store was told, and read no text.
    const keys = appended.filter((e) => e.stream === "0" && e.data !== "").map((e) => e.supersedes)
    expect(keys.slice(0, sent.length)).toEqual([TOOLS, PROMPTS, undefined, TOOLS, undefined, PROMPTS, undefined, TOOLS])
    await del(url, s.headers)
  })

  it("a POST stream: copies a handler sends on its call's stream after the drop are superseded the same way", { timeout: 10_000 }, async () => {
    const s = await openSession(url)
    const res = await post(url, { jsonrpc: "2.0", id: "relist-1", method: "tools/call", params: { name: "relist", arguments: {} } }, s.headers, controller().signal)
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    // Priming, the first list_changed, then the server's drop ends the stream.
    const before = await new SseReader(res).rest()
    expect(before.filter((e) => e.data).map((e) => shape(JSON.parse(e.data!)))).toEqual([`${TOOLS} {}`])
    releaseRelist()
    const last = before.filter((e) => e.id !== undefined).at(-1)!
    // The exchange may still be running when the GET comes: the resumed stream ends with the response either way.
    const resumed = await get(url, { ...s.headers, "last-event-id": last.id! }, controller().signal)
    expect(resumed.status).toBe(200)
    const replay = (await new SseReader(resumed).rest()).filter((e) => e.data).map((e) => JSON.parse(e.data!) as JsonRpcMessage & Record<string, any>)
    expect(replay.map((m) => ("method" in m ? shape(m) : `response ${m.result.content[0].text}`))).toEqual([
      "log between",
      `${TOOLS} null`,
      `${PROMPTS} {}`,
      "response relisted"
    ])
    await del(url, s.headers)
  })
})

describe("resumption with a custom store that ignores the key", () => {
  let url = ""
  beforeAll(async () => {
    handle = await makeHttpServer(withRelist(makeDemoServer()), { retryMs: 50, keepAliveMs: 0, eventStore: keyless() })
    url = handle.url
  })
  afterAll(async () => {
    await handle.close({ drainMs: 0 })
  })

  it("keeps working: every copy is replayed, in order", { timeout: 10_000 }, async () => {
    const s = await openSession(url)
    const session = handle.session(s.sid)!
    const first = new SseReader(await get(url, s.headers, controller().signal))
    const priming = await first.next()
    expect(priming?.id).toMatch(/^0_\d+$/)
    expect(handle.dropStandaloneStream(s.sid)).toBe(true)
    expect(await first.rest()).toEqual([])
    session.notify(TOOLS, {})
    session.notify(TOOLS)
    session.notify(TOOLS, {})
    const resumed = new SseReader(await get(url, { ...s.headers, "last-event-id": priming!.id! }, controller().signal))
    session.notify("notifications/message", { level: "info", data: "end" })
    const replay: Array<string> = []
    for (let m = await resumed.nextMessage(); m !== undefined && shape(m.message) !== "log end"; m = await resumed.nextMessage()) replay.push(shape(m.message))
    expect(replay).toEqual([`${TOOLS} {}`, `${TOOLS} null`, `${TOOLS} {}`])
    await del(url, s.headers)
  })
})
