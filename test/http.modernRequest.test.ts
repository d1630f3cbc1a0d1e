/**
 * The modern (2026-07-28) request over Streamable HTTP runs as its chart
 * (machines/modernRequest.ts), dispatched directly, without a session:
 *
 * - each POST's chart is a node of the runtime's tree, a child of the HTTP
 *   listener's actor, seen by one inspection observer; every request's chart
 *   has the same actor id (a distinct one per POST grew xstate's per-event-type
 *   table on the listener by one key each, for good);
 * - the chart's final state is how the request ended, over a real socket:
 *   responded, awaitingInput (MRTR), failed (handler error, a prototype-named
 *   method: -32601), cancelled (the client closed the stream: handler aborted);
 * - no `ServerSession` is built per POST (the telemetry hook every session
 *   reports to is never called), while the request span still is.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { condition } from "./support/condition.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"

const MODERN = "2026-07-28"
const META = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } }


interface Aborted {
  readonly tags: Array<string>
  /** Each abort and each inspection event, as events the tests await (no polling). */
  readonly changed: () => void
  readonly when: (check: () => boolean, what: string) => Promise<void>
}

const makeServer = (aborted: Aborted, telemetry?: unknown): McpServer =>
  new McpServer({ name: "modern-request", version: "1.0.0", ...(telemetry === undefined ? {} : { telemetry: telemetry as never }) })
    .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => ({
      content: [{ type: "text", text: String(args.text) }]
    }))
    .tool({ name: "fails", inputSchema: { type: "object" } }, () => {
      throw new Error("boom")
    })
    .tool({ name: "ask", inputSchema: { type: "object" } }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } })
      return { content: [{ type: "text", text: JSON.stringify(answer) }] }
    })
    .tool({ name: "hang", inputSchema: { type: "object" } }, (_args, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          aborted.tags.push("hang")
          aborted.changed()
          resolve({ content: [] })
        })
      }))

const modernPost = (url: string, id: number, method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<Response> => {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": method
  }
  if (method === "tools/call") headers["mcp-name"] = String(params.name)
  return fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: META } }), ...(signal ? { signal } : {}) })
}

let runtime: McpRuntime | undefined
let http: HttpServerHandle | undefined
let stopWatching: (() => void) | undefined
afterEach(async () => {
  stopWatching?.()
  await http?.close({ drainMs: 0 })
  await runtime?.shutdown({ drainMs: 0 })
  runtime = http = stopWatching = undefined
})

/** A server on its own runtime, and every actor one inspection observer sees created. */
const start = async (telemetry?: unknown) => {
  const aborted: Aborted = { tags: [], ...condition() }
  const actors: Array<AnyActorRef> = []
  stopWatching = inspection.subscribe((event: InspectionEvent) => {
    if (event.type === "@xstate.actor") actors.push(event.actorRef as AnyActorRef)
    aborted.changed()
  })
  runtime = makeMcpRuntime()
  http = await makeHttpServer(makeServer(aborted, telemetry), { runtime })
  const requests = () => actors.filter((a) => chartOf(a) === "modernRequest")
  return { aborted, url: http.url, actors, requests }
}

describe("modern request over HTTP: the chart runs it, no session", () => {
  it("each POST's chart is a child of the HTTP listener's actor (one observer sees it), with one shared actor id", async () => {
    const { url, actors, requests } = await start()
    for (let i = 1; i <= 3; i++) {
      const res = await modernPost(url, i, "tools/call", { name: "echo", arguments: { text: `hi ${i}` } })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text).toBe(`hi ${i}`)
    }
    const charts = requests()
    expect(charts).toHaveLength(3)
    const listener = actors.find((a) => chartOf(a) === "listener")
    expect(listener).toBeDefined()
    for (const chart of charts) {
      expect(parentOf(chart)).toBe(listener)
      expect(chart.getSnapshot().value).toBe("responded")
    }
    // Each has its own sessionId, all the same id (so the listener sees one done-event type).
    expect(new Set(charts.map((c) => c.sessionId)).size).toBe(3)
    expect(new Set(charts.map((c) => c.id))).toEqual(new Set(["modernRequest"]))
    // No legacy session chart was made for them.
    expect(actors.filter((a) => chartOf(a) === "legacyServerSession")).toHaveLength(0)
  })

  it("the chart's final state is how the request ended: failed (-32601 for a prototype-named method, a handler error), awaitingInput (MRTR)", async () => {
    const { url, requests } = await start()
    const proto = await modernPost(url, 1, "constructor", {})
    expect(proto.status).toBe(404)
    expect(((await proto.json()) as { error: { code: number } }).error.code).toBe(-32601)
    const fails = await modernPost(url, 2, "tools/call", { name: "fails" })
    expect(((await fails.json()) as { result: { isError: boolean } }).result.isError).toBe(true) // a tool's own error is a result
    const ask = await modernPost(url, 3, "tools/call", { name: "ask" })
    const asked = (await ask.json()) as { result: { resultType: string; inputRequests: Record<string, { method: string }> } }
    expect(asked.result.resultType).toBe("input_required")
    expect(Object.values(asked.result.inputRequests)[0]!.method).toBe("elicitation/create")
    const badState = await modernPost(url, 4, "tools/call", { name: "ask", requestState: "tampered" })
    expect(((await badState.json()) as { error: { code: number; message: string } }).error).toMatchObject({ code: -32602 })
    const [c1, c2, c3, c4] = requests()
    expect(c1!.getSnapshot().value).toBe("failed")
    expect(c1!.getSnapshot().context.errorCode).toBe(-32601)
    expect(c2!.getSnapshot().value).toBe("responded")
    expect(c3!.getSnapshot().value).toBe("awaitingInput")
    // The tampered retry was a round > 0 (it carried requestState) and failed with -32602 before any handler ran.
    expect(c4!.getSnapshot().context).toMatchObject({ round: 1, errorCode: -32602 })
    expect(c4!.getSnapshot().value).toBe("failed")
  })

  it("closing the response stream cancels: the handler's signal aborts and the chart ends cancelled", async () => {
    const { url, aborted, requests } = await start()
    const abort = new AbortController()
    const pending = modernPost(url, 1, "tools/call", { name: "hang" }, abort.signal).catch(() => undefined)
    await aborted.when(() => requests().length === 1 && requests()[0]!.getSnapshot().value !== "validating", "the hang call is dispatched")
    expect(requests()[0]!.getSnapshot().value).toEqual({ dispatching: "unbounded" })
    abort.abort()
    await pending
    await aborted.when(() => aborted.tags.length === 1, "the handler is aborted")
    expect(requests()[0]!.getSnapshot().value).toBe("cancelled")
    expect(http!.stats().modernInFlight).toBe(0)
  })

  it("no ServerSession per POST (the session telemetry hook is never called); the request still goes through the request span hook", async () => {
    const sessions: Array<unknown> = []
    const spans: Array<string> = []
    const telemetry = {
      passThrough: false,
      observeSession: (_side: string, session: unknown) => void sessions.push(session),
      serverRequest: (request: { method: string }, ctx: unknown, run: (ctx: unknown) => unknown) => {
        spans.push(request.method)
        return run(ctx)
      }
    }
    const { url } = await start(telemetry)
    for (let i = 1; i <= 3; i++) expect((await modernPost(url, i, "tools/call", { name: "echo", arguments: { text: "x" } })).status).toBe(200)
    expect(spans).toEqual(["tools/call", "tools/call", "tools/call"])
    expect(sessions).toHaveLength(0)
  })
})
