/**
 * The modern request's fast path and its chart agree (model-based).
 *
 * Every simple path of the production-provided `modernRequest` machine (the one
 * `ModernRequest` runs, from `xstate/graph` `getSimplePaths`) that ends in a final
 * state is turned into a scenario (a scripted tool, the POST, and what the client
 * or the server does meanwhile: read progress, abort the stream, shut down) and
 * driven over real HTTP twice: with the fast path (the default) and with the chart
 * forced (`modernRequests: { chart: "always" }`, what an inspector gets). Both runs
 * must give the same wire result (status, content type, every JSON-RPC message, the
 * sealed `requestState` masked), the same final chart state and context, and the same
 * chart events, and those must be the path's own (the model predicts them). Pure
 * paths (a result or an error answer on a first round, after any number of related
 * notifications: a pure self-transition) must really take the fast
 * path (`ran: "fast"`, no actor), the others must start the actor where the path
 * stops being pure (`lazy`) or from the start (an MRTR retry: `chart`).
 *
 * Also: while any inspection listener is subscribed (or the live inspector runs),
 * every request runs as the chart, and the inspector sees its actor.
 */
import { afterEach, describe, expect, it } from "vitest"
import { type AnyActorRef, type InspectionEvent, SimulatedClock } from "xstate"
import { getSimplePaths } from "xstate/graph"
import type { ModernRequestEvent } from "../machines/modernRequest.ts"
import { ErrorCode } from "../src/protocol/errors.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime, type McpRuntime } from "../src/runtime/McpRuntime.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { type ModernRequestSettled, runningModernRequest } from "../src/server/http/ModernRequest.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeScriptServer, modelEvents, type Script } from "./support/scriptedTool.ts"

const MODERN = "2026-07-28"
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
  progressToken: "p"
}

/** The events of the model, with the values the real server produces for them. */
const SHUTDOWN = { type: "SHUTDOWN", code: ErrorCode.ConnectionClosed, message: "Server shutting down" } as const
const DISCONNECTED = { type: "DISCONNECTED", reason: "client closed the response stream" } as const
const MODEL_EVENTS = modelEvents(DISCONNECTED.reason)

const makeServer = (hanging: () => void): McpServer => makeScriptServer("fastpath", hanging)

const post = (url: string, id: number, params: Record<string, unknown>, signal?: AbortSignal): Promise<Response> =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "script" },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "script", ...params, _meta: META } }),
    ...(signal === undefined ? {} : { signal })
  })

/** JSON-RPC messages of a body (JSON, or SSE `data:` lines), the sealed state masked (it embeds a fresh nonce). */
const messagesOf = (text: string): Array<unknown> => {
  const mask = (m: unknown) => JSON.parse(JSON.stringify(m), (k, v) => (k === "requestState" && typeof v === "string" ? "<sealed>" : v))
  if (text.trim() === "") return []
  if (!text.startsWith("data:") && !text.startsWith("event:") && !text.startsWith(":")) return [mask(JSON.parse(text))]
  return text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).filter((d) => d !== "").map((d) => mask(JSON.parse(d)))
}

/** A response body read as it arrives: `take(n)` reads until `n` complete JSON-RPC messages arrived, `rest()` reads to the end. */
const bodyOf = (res: Response) => {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  const complete = () => messagesOf(text.slice(0, text.lastIndexOf("\n\n") + 1))
  return {
    async take(n: number): Promise<Array<unknown>> {
      while (complete().length < n) {
        const { value, done } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      return complete()
    },
    async rest(): Promise<Array<unknown>> {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      return messagesOf(text)
    }
  }
}

interface Wire {
  readonly status: number | "aborted"
  readonly contentType?: string | undefined
  readonly messages: Array<unknown>
}

interface Run {
  readonly wire: Wire
  readonly settled: ModernRequestSettled
}

let open: Array<HttpServerHandle> = []
let runtimes: Array<McpRuntime> = []
afterEach(async () => {
  for (const h of open) await h.close({ drainMs: 0 }).catch(() => undefined)
  for (const r of runtimes) await r.shutdown({ drainMs: 0 })
  open = []
  runtimes = []
})

const SCENARIO_ID = 7

/** Drive one path's scenario on a fresh server, fast path or chart forced. */
const drive = async (round: number, middle: number, last: ModernRequestEvent, chart: "lazy" | "always"): Promise<Run> => {
  let hung!: () => void
  const hanging = new Promise<void>((r) => (hung = r))
  const settled = new Map<number, ModernRequestSettled>()
  const waiters = new Map<number, (s: ModernRequestSettled) => void>()
  const clock = new SimulatedClock()
  const handle = await makeHttpServer(makeServer(() => hung()), {
    clock,
    modernRequests: {
      chart,
      settled: (s) => {
        settled.set(s.id as number, s)
        waiters.get(s.id as number)?.(s)
      }
    }
  })
  open.push(handle)
  const settledOf = (id: number): Promise<ModernRequestSettled> =>
    settled.has(id) ? Promise.resolve(settled.get(id)!) : new Promise((r) => waiters.set(id, r))
  const extra: Record<string, unknown> = {}
  if (round > 0) {
    // An MRTR retry needs a real sealed requestState: one round first.
    const raw = await post(handle.url, SCENARIO_ID - 1, { arguments: { prime: true, messages: 0, end: "result" } })
    extra.requestState = ((JSON.parse(await raw.text())) as { result: { requestState: string } }).result.requestState
  }
  const end: Script["end"] = last.type === "ANSWERED" ? (last.outcome === "result" ? "result" : last.outcome === "error" ? "error" : "input") : "hang"
  const args = { arguments: { messages: middle, end }, ...extra }
  let wire: Wire
  if (last.type === "ANSWERED") {
    const res = await post(handle.url, SCENARIO_ID, args)
    wire = { status: res.status, contentType: res.headers.get("content-type")?.split(";")[0], messages: messagesOf(await res.text()) }
  } else if (last.type === "DISCONNECTED") {
    const abort = new AbortController()
    const pending = post(handle.url, SCENARIO_ID, args, abort.signal)
    await hanging
    if (middle > 0) {
      // The progress turned the answer into an SSE stream: its headers and events arrive, then the client leaves.
      const res = await pending
      const seen = await bodyOf(res).take(middle)
      abort.abort()
      wire = { status: res.status, contentType: res.headers.get("content-type")?.split(";")[0], messages: seen }
    } else {
      abort.abort()
      await expect(pending).rejects.toThrow()
      wire = { status: "aborted", messages: [] }
    }
  } else {
    // SHUTDOWN: the server closes while the handler hangs; its drain deadline passes on the virtual clock.
    const pending = post(handle.url, SCENARIO_ID, args)
    await hanging
    let res: Response | undefined
    let body: ReturnType<typeof bodyOf> | undefined
    if (middle > 0) {
      res = await pending
      body = bodyOf(res)
      await body.take(middle)
    }
    const closed = handle.close({ drainMs: 0 })
    clock.increment(1_000)
    res ??= await pending
    const messages = await (body ?? bodyOf(res)).rest()
    await closed
    wire = { status: res.status, contentType: res.headers.get("content-type")?.split(";")[0], messages }
  }
  return { wire, settled: await settledOf(SCENARIO_ID) }
}

const paths = getSimplePaths(runningModernRequest, {
  input: { id: SCENARIO_ID, method: "tools/call" },
  events: MODEL_EVENTS as Array<ModernRequestEvent>,
  // One related notification is a state of its own (so paths with progress exist); more would be the same.
  serializeState: (s) => JSON.stringify([s.value, Math.min(s.context.messages, 1), s.context.round, s.context.errorCode, s.context.reason]) as never
})
const finalPaths = paths.filter((p) => p.state.status === "done")
const label = (events: ReadonlyArray<{ type: string }>) =>
  events.map((e) => e.type + ("round" in e ? String(e.round) : "outcome" in e ? `(${String(e.outcome)})` : "")).join(" → ")

describe("modern request: the fast path and the chart agree on every chart path, over HTTP", () => {
  it("the model has the paths this test drives (every final state of the chart is reached)", () => {
    expect(finalPaths.length).toBe(21)
    expect(new Set(finalPaths.map((p) => JSON.stringify(p.state.value)))).toEqual(new Set(['"responded"', '"awaitingInput"', '"failed"', '"cancelled"']))
    // timedOut needs a deadline: HTTP requests are given none (the chart's `bounded` state is unreachable in production).
  })

  for (const path of finalPaths) {
    const events = path.steps.map((s) => s.event as ModernRequestEvent).filter((e) => e.type !== ("xstate.init" as string))
    const first = events[0]!
    if (first.type === "INVALID") continue // reached over HTTP? see the test below
    const middle = events.filter((e) => e.type === "MESSAGE").length
    const last = events[events.length - 1]!
    const round = first.type === "VALIDATED" ? first.round : 0
    it(`${label(events)} → ${JSON.stringify(path.state.value)}`, { timeout: 30_000 }, async () => {
      const fast = await drive(round, middle, last, "lazy")
      const chart = await drive(round, middle, last, "always")
      // The same wire result.
      expect(fast.wire).toEqual(chart.wire)
      // The same final state, context and events, and they are the model's.
      expect(fast.settled.value).toEqual(path.state.value)
      expect(chart.settled.value).toEqual(path.state.value)
      expect(fast.settled.context).toEqual(path.state.context)
      expect(chart.settled.context).toEqual(path.state.context)
      expect(fast.settled.events).toEqual(events)
      expect(chart.settled.events).toEqual(events)
      // The chart-forced run ran an actor from the start; the default took the fast path exactly where the ruling allows.
      expect(chart.settled.ran).toBe("chart")
      // Related notifications (MESSAGE) are a pure self-transition: they do not start the actor.
      const pure = round === 0 && last.type === "ANSWERED" && last.outcome !== "inputRequired"
      expect(fast.settled.ran).toBe(pure ? "fast" : round > 0 ? "chart" : "lazy")
      // Sanity of the scenario itself: what the wire says matches the path's end.
      if (last.type === "ANSWERED") expect(fast.wire.status).toBe(200)
      if (last.type === "DISCONNECTED" && middle === 0) expect(fast.wire.status).toBe("aborted")
      if (last.type === "SHUTDOWN") expect(fast.wire.messages.at(-1)).toMatchObject({ error: { code: ErrorCode.ConnectionClosed } })
    })
  }

  it("INVALID is not reachable over HTTP: the HTTP shell answers an invalid _meta before any request (or chart) exists", async () => {
    expect(finalPaths.some((p) => p.steps.some((s) => s.event.type === "INVALID"))).toBe(true)
    const seen: Array<ModernRequestSettled> = []
    const handle = await makeHttpServer(makeServer(() => {}), { modernRequests: { settled: (s) => void seen.push(s) } })
    open.push(handle)
    const res = await fetch(handle.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "script" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "script", _meta: { "io.modelcontextprotocol/protocolVersion": MODERN } } })
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(ErrorCode.InvalidParams)
    expect(seen).toEqual([])
  })
})

describe("modern request: anyone inspecting sees every request run as its chart", () => {
  const echoArgs = { arguments: { messages: 0, end: "result" } }

  it("an inspection listener forces the chart (the listener sees the actor); once it stops, the same request takes the fast path", async () => {
    const seen: Array<ModernRequestSettled> = []
    const actors: Array<AnyActorRef> = []
    // Subscribed before serving (the hub follows the actors of roots it was installed on: inspection.ts).
    const stop = inspection.subscribe((e: InspectionEvent) => {
      if (e.type === "@xstate.actor") actors.push(e.actorRef as AnyActorRef)
    })
    try {
      const runtime = makeMcpRuntime()
      runtimes.push(runtime)
      const handle = await makeHttpServer(makeServer(() => {}), { runtime, modernRequests: { settled: (s) => void seen.push(s) } })
      open.push(handle)
      expect((await post(handle.url, 1, echoArgs)).status).toBe(200)
      expect((await post(handle.url, 2, echoArgs)).status).toBe(200)
      stop()
      expect((await post(handle.url, 3, echoArgs)).status).toBe(200)
    } finally {
      stop()
    }
    expect(seen.map((s) => [s.id, s.ran, s.value])).toEqual([[1, "chart", "responded"], [2, "chart", "responded"], [3, "fast", "responded"]])
    const charts = actors.filter((a) => (a as unknown as { logic: { id: string } }).logic.id === "modernRequest")
    expect(charts).toHaveLength(2)
    for (const chart of charts) expect(chart.getSnapshot().value).toBe("responded")
  })

  it("the live inspector forces the chart for every request while it follows: watched (inspect: true, a feed listening) or always", async () => {
    const seen: Array<ModernRequestSettled> = []
    const handle = await makeHttpServer(makeServer(() => {}), { inspect: true, modernRequests: { settled: (s) => void seen.push(s) } })
    open.push(handle)
    // Nobody watching: the inspector follows nothing, and the request takes its fast path.
    expect((await post(handle.url, 1, echoArgs)).status).toBe(200)
    const stop = handle.inspector!.model.subscribe(() => {}, { events: false })
    for (let i = 2; i <= 4; i++) expect((await post(handle.url, i, echoArgs)).status).toBe(200)
    stop()
    expect((await post(handle.url, 5, echoArgs)).status).toBe(200)
    expect(seen.map((s) => s.ran)).toEqual(["fast", "chart", "chart", "chart", "fast"])
    const always: Array<ModernRequestSettled> = []
    const followed = await makeHttpServer(makeServer(() => {}), { inspect: { record: "always" }, modernRequests: { settled: (s) => void always.push(s) } })
    open.push(followed)
    for (let i = 1; i <= 3; i++) expect((await post(followed.url, i, echoArgs)).status).toBe(200)
    expect(always.map((s) => s.ran)).toEqual(["chart", "chart", "chart"])
  })
})
