/**
 * OpenTelemetry, in one process: our client and our server over the in-memory
 * transport, each with its own `Telemetry` and in-memory tracer (as if they were
 * two processes). Checks the span tree across the `_meta` hop, the semantic
 * convention attribute names, span events for chart transitions, the
 * server→client direction of propagation, hostile `traceparent` values, and
 * the Prometheus text. The two-process version is observability.e2e.test.ts.
 */
import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import { ClientSession } from "../src/client/ClientSession.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { makeMemoryTracer, type RecordedSpan } from "../src/observability/memoryTracer.ts"
import { Telemetry } from "../src/observability/Telemetry.ts"
import { readTraceContext, withTraceContext } from "../src/observability/traceContext.ts"
import { McpError } from "../src/protocol/errors.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import type { Transport, TransportHandlers } from "../src/transports/Transport.ts"

const makeServer = () =>
  new McpServer({ name: "otel", version: "1.0.0" })
    .tool({ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }, (args) => ({
      content: [{ type: "text", text: String(args.text) }]
    }))
    .tool({ name: "broken", inputSchema: { type: "object" } }, () => ({ content: [{ type: "text", text: "no" }], isError: true }))
    .tool({ name: "thrower", inputSchema: { type: "object" } }, () => {
      throw new McpError(-32042, "refused")
    })
    .tool({ name: "ask", inputSchema: { type: "object" } }, async (_args, ctx) => {
      const answer = await ctx.createMessage({ messages: [], maxTokens: 1 })
      return { content: [{ type: "text", text: JSON.stringify(answer) }] }
    })

const setup = async (options: { readonly clientTelemetry?: boolean; readonly maxSeries?: number } = {}) => {
  const serverSide = makeMemoryTracer()
  const clientSide = makeMemoryTracer()
  const serverTelemetry = new Telemetry({ tracer: serverSide.tracer, ...(options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries }) })
  const clientTelemetry = new Telemetry({ tracer: clientSide.tracer })
  const server = makeServer()
  server.telemetry = serverTelemetry
  const [st, ct] = makeMemoryTransportPair()
  const session = serveTransport(server, st)
  const samplingMeta: Array<unknown> = []
  const client = await ClientSession.connect(ct, {
    ...(options.clientTelemetry === false ? {} : { telemetry: clientTelemetry }),
    onSampling: (params) => {
      samplingMeta.push(params?._meta)
      return { role: "assistant", content: { type: "text", text: "ok" }, model: "m" }
    }
  })
  return { server, session, client, serverSpans: serverSide.spans, clientSpans: clientSide.spans, serverTelemetry, clientTelemetry, samplingMeta }
}

const one = (spans: ReadonlyArray<RecordedSpan>, name: string): RecordedSpan => {
  const found = spans.filter((s) => s.name === name)
  expect(found.map((s) => s.name)).toEqual([name])
  return found[0]!
}

describe("observability: spans", () => {
  it("a tool call's server span is the child of the client's span (traceparent in _meta), with the semconv attributes", async () => {
    const t = await setup()
    await t.client.callTool("echo", { text: "hi" })
    const c = one(t.clientSpans, "tools/call echo")
    const s = one(t.serverSpans, "tools/call echo")
    expect(c.kind).toBe("client")
    expect(s.kind).toBe("server")
    expect(s.traceId).toBe(c.traceId)
    expect(s.parentSpanId).toBe(c.spanId)
    expect(c.parentSpanId).toBeUndefined()
    for (const span of [c, s]) {
      expect(span.attributes).toMatchObject({
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "mcp.protocol.version": "2025-11-25"
      })
      expect(span.attributes).not.toHaveProperty("gen_ai.tool.call.arguments") // opt-in only
      expect(span.status).toBe("ok")
    }
    expect(s.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(s.attributes["mcp.session.id"]).toBe(t.session.id)
    // The request span links to its session's span (another trace).
    expect(s.links).toHaveLength(1)
    await t.client.close()
  })

  it("each chart transition is an event on the session span; the session spans end with the session", async () => {
    const t = await setup()
    await t.client.listTools()
    await t.client.close()
    await t.session.ended
    const ss = one(t.serverSpans, "mcp.server.session")
    expect(ss.attributes["mcp.session.id"]).toBe(t.session.id)
    expect(ss.attributes["mcp.protocol.version"]).toBe("2025-11-25")
    const states = ss.events.filter((e) => e.name === "mcp.session.transition").map((e) => e.attributes["mcp.session.state"])
    expect(states).toEqual(["awaitingInitialize", "awaitingInitialized", "operating", "closed"])
    const link = one(t.serverSpans, "tools/list").links[0]
    expect(link).toEqual({ traceId: ss.traceId, spanId: ss.spanId })
    const cs = one(t.clientSpans, "mcp.client.session")
    const clientStates = cs.events.map((e) => e.attributes["mcp.session.state"])
    expect(clientStates[0]).toBe("connecting")
    expect(clientStates).toContain("initializing")
    expect(clientStates.at(-1)).toBe("closed")
  })

  it("errors: a tool result with isError is error.type tool_error; a JSON-RPC error carries its code", async () => {
    const t = await setup()
    await t.client.callTool("broken", {})
    await expect(t.client.callTool("thrower", {})).rejects.toThrow(/refused/)
    await expect(t.client.callTool("missing", {})).rejects.toThrow(/unknown tool/)
    const broken = one(t.serverSpans, "tools/call broken")
    expect(broken.attributes["error.type"]).toBe("tool_error")
    expect(broken.status).toBe("error")
    const thrower = one(t.serverSpans, "tools/call thrower")
    expect(thrower.attributes).toMatchObject({ "error.type": "-32042", "rpc.response.status_code": "-32042" })
    expect(one(t.clientSpans, "tools/call thrower").attributes).toMatchObject({ "error.type": "-32042" })
    expect(one(t.serverSpans, "tools/call missing").attributes["error.type"]).toBe("-32602")
    // The operation histograms carry the JSON-RPC code as rpc.response.status_code too (a tool_error has none).
    expect(t.serverTelemetry.prometheus()).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="thrower",gen_ai_operation_name="execute_tool",mcp_protocol_version="2025-11-25",error_type="-32042",rpc_response_status_code="-32042"\} 1$/m)
    expect(t.clientTelemetry.prometheus()).toMatch(/^mcp_client_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="thrower"[^}]*error_type="-32042",rpc_response_status_code="-32042"\} 1$/m)
    expect(t.serverTelemetry.prometheus()).toMatch(/^mcp_server_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="broken",[^}]*error_type="tool_error"\} 1$/m)
    await t.client.close()
  })

  it("server→client requests carry the trace context too: sampling is a CLIENT span under the tool call's server span", async () => {
    const t = await setup()
    await t.client.callTool("ask", {})
    const server = one(t.serverSpans, "tools/call ask")
    const sampling = one(t.serverSpans, "sampling/createMessage")
    expect(sampling.kind).toBe("client")
    expect(sampling.parentSpanId).toBe(server.spanId)
    expect(sampling.traceId).toBe(server.traceId)
    const seen = readTraceContext(t.samplingMeta[0] as Record<string, unknown>)
    expect(seen).toMatchObject({ traceId: server.traceId, spanId: sampling.spanId, sampled: true })
    // The server's CLIENT span names the id its request went out with (the session's first: s1).
    expect(sampling.attributes["jsonrpc.request.id"]).toBe("s1")
    await t.client.close()
  })

  it("any client's traceparent is honoured; tracestate travels on; a malformed one starts a new trace and the call still succeeds", async () => {
    const t = await setup({ clientTelemetry: false })
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    await t.client.request("tools/call", withTraceContext({ name: "echo", arguments: { text: "x" } }, `00-${traceId}-00f067aa0ba902b7-01`, "vendor=abc"))
    const s = one(t.serverSpans, "tools/call echo")
    expect(s).toMatchObject({ traceId, parentSpanId: "00f067aa0ba902b7" })
    for (const bad of ["garbage", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`, `01-${traceId}-00f067aa0ba902b7-01`, 42, { toString: "x" }]) {
      const r = await t.client.request("tools/call", { name: "echo", arguments: { text: "y" }, _meta: { traceparent: bad as string } })
      expect(r.content).toEqual([{ type: "text", text: "y" }])
    }
    const fresh = t.serverSpans.filter((x) => x.name === "tools/call echo").slice(1)
    expect(fresh).toHaveLength(5)
    for (const f of fresh) {
      expect(f.parentSpanId).toBeUndefined()
      expect(f.traceId).not.toBe(traceId)
    }
    await t.client.close()
  })

  it("head sampling: an unsampled trace records no span on either side, says so in traceparent, and still counts in the metrics", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = makeServer()
    server.telemetry = new Telemetry({ tracer: serverSide.tracer })
    const [st, ct] = makeMemoryTransportPair()
    serveTransport(server, st)
    const clientTelemetry = new Telemetry({ tracer: clientSide.tracer, sampleRatio: 0 })
    const client = await ClientSession.connect(ct, { telemetry: clientTelemetry })
    const sent: Array<string> = []
    const send = ct.send.bind(ct)
    ct.send = (m) => {
      sent.push(JSON.stringify(m))
      send(m)
    }
    await client.callTool("echo", { text: "unsampled" })
    expect(sent.join("")).toMatch(/"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-00"/)
    expect(clientSide.spans.filter((s) => s.name.startsWith("tools/call"))).toEqual([])
    expect(serverSide.spans.filter((s) => s.name.startsWith("tools/call"))).toEqual([])
    expect(server.telemetry.prometheus()).toMatch(/^mcp_server_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="echo"[^}]*\} 1$/m)
    expect(clientTelemetry.prometheus()).toMatch(/^mcp_client_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="echo"[^}]*\} 1$/m)
    await client.close()
  })

  it("trace context parsing never trusts the peer's object: inherited keys are not read", () => {
    const meta = Object.create({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }) as Record<string, unknown>
    expect(readTraceContext(meta)).toBeUndefined()
    expect(readTraceContext({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tracestate: "a=1" }))
      .toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: false, tracestate: "a=1" })
  })

  it("without telemetry nothing is added to the wire", async () => {
    const [st, ct] = makeMemoryTransportPair()
    const sent: Array<unknown> = []
    const server = makeServer()
    serveTransport(server, st)
    const client = await ClientSession.connect(ct)
    const send = ct.send.bind(ct)
    ct.send = (m) => {
      sent.push(m)
      send(m)
    }
    await client.callTool("echo", { text: "plain" })
    expect(JSON.stringify(sent)).not.toContain("traceparent")
    await client.close()
  })
})

describe("observability: metrics", () => {
  it("hostile cardinality: made-up method names past the cap share one overflow series (bounded memory)", async () => {
    const t = await setup({ clientTelemetry: false, maxSeries: 50 })
    await Promise.all(Array.from({ length: 200 }, (_, i) => expect(t.client.request(`made/up/${i}`, {})).rejects.toThrow(/Method not found/)))
    const text = t.serverTelemetry.prometheus()
    const series = text.split("\n").filter((l) => l.startsWith("mcp_server_operation_duration_seconds_count"))
    expect(series.length).toBe(51)
    expect(text).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="_OTHER",error_type="_OTHER"\} \d+$/m)
    await t.client.close()
  })

  it("Prometheus text: the four histograms in seconds with HELP/TYPE and buckets, live sessions by state, transitions, errors", async () => {
    const t = await setup()
    await t.client.callTool("echo", { text: "a" })
    await t.client.callTool("broken", {})
    const live = t.serverTelemetry.prometheus()
    expect(live).toContain("# HELP mcp_server_operation_duration_seconds Duration of an MCP request as observed by the server (seconds).\n")
    expect(live).toContain("# TYPE mcp_server_operation_duration_seconds histogram\n")
    expect(live).toMatch(/^mcp_server_operation_duration_seconds_bucket\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",gen_ai_operation_name="execute_tool",mcp_protocol_version="2025-11-25",le="0\.01"\} 1$/m)
    expect(live).toMatch(/^mcp_server_operation_duration_seconds_bucket\{[^}]*gen_ai_tool_name="echo"[^}]*le="\+Inf"\} 1$/m)
    expect(live).toMatch(/^mcp_server_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="broken"[^}]*error_type="tool_error"\} 1$/m)
    expect(live).toMatch(/^mcp_actors_sessions\{side="server",state="operating"\} 1$/m)
    expect(live).toMatch(/^mcp_actors_session_transitions_total\{side="server",state="operating"\} 1$/m)
    expect(live).toMatch(/^mcp_actors_errors_total\{side="server",error_type="tool_error"\} 1$/m)
    expect(live).toContain("# TYPE mcp_actors_sessions gauge\n")
    expect(live).toContain("# TYPE mcp_actors_session_transitions_total counter\n")
    expect(t.clientTelemetry.prometheus()).toContain("# TYPE mcp_client_operation_duration_seconds histogram\n")
    await t.client.close()
    await t.session.ended
    const after = t.serverTelemetry.prometheus()
    expect(after).toMatch(/^mcp_actors_sessions\{side="server",state="operating"\} 0$/m)
    expect(after).toMatch(/^mcp_server_session_duration_seconds_count\{mcp_protocol_version="2025-11-25"\} 1$/m)
    expect(after).toContain("# TYPE mcp_server_session_duration_seconds histogram\n")
    expect(t.clientTelemetry.prometheus()).toMatch(/^mcp_client_session_duration_seconds_count\{mcp_protocol_version="2025-11-25"\} 1$/m)
    // Every sample line is `name{labels} value` or `name value` (the text exposition format).
    for (const line of after.trimEnd().split("\n")) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? [-+0-9.eInfNa]+)$/)
    }
  })
})

describe("observability: lifecycle requests, the modern client, every transition", () => {
  it("initialize and ping get a SERVER span (the chart's step), child of the client's CLIENT span, and an operation duration", async () => {
    const t = await setup()
    await t.client.ping()
    await t.client.close()
    await t.session.ended
    const ci = one(t.clientSpans, "initialize")
    const si = one(t.serverSpans, "initialize")
    expect(ci.kind).toBe("client")
    expect(si.kind).toBe("server")
    expect(si.traceId).toBe(ci.traceId)
    expect(si.parentSpanId).toBe(ci.spanId)
    for (const span of [ci, si]) expect(span.attributes).toMatchObject({ "mcp.method.name": "initialize", "mcp.protocol.version": "2025-11-25" })
    expect(si.attributes).toMatchObject({ "jsonrpc.request.id": expect.any(String), "mcp.session.id": t.session.id })
    const sp = one(t.serverSpans, "ping")
    expect(sp.parentSpanId).toBe(one(t.clientSpans, "ping").spanId)
    expect(sp.attributes).toMatchObject({ "mcp.method.name": "ping", "mcp.session.id": t.session.id })
    // The CLIENT spans of initialize (the chart's) and ping carry the id the server's spans saw.
    expect(ci.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(ci.attributes["jsonrpc.request.id"]).toBe(si.attributes["jsonrpc.request.id"])
    expect(one(t.clientSpans, "ping").attributes["jsonrpc.request.id"]).toBe(sp.attributes["jsonrpc.request.id"])
    expect(sp.status).toBe("ok")
    const metrics = t.serverTelemetry.prometheus()
    expect(metrics).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="initialize",mcp_protocol_version="2025-11-25"\} 1$/m)
    expect(metrics).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="ping",mcp_protocol_version="2025-11-25"\} 1$/m)
    expect(t.clientTelemetry.prometheus()).toMatch(/^mcp_client_operation_duration_seconds_count\{mcp_method_name="initialize",mcp_protocol_version="2025-11-25"\} 1$/m)
  })

  it("a refused initialize (a second one) ends its span with the JSON-RPC error code", async () => {
    const t = await setup()
    await expect(t.client.request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "again", version: "1" } })).rejects.toThrow()
    await t.client.close()
    const spans = t.serverSpans.filter((s) => s.name === "initialize")
    expect(spans).toHaveLength(2)
    expect(spans[1]!.status).toBe("error")
    expect(spans[1]!.attributes["error.type"]).toMatch(/^-?\d+$/)
  })

  it("the modern client: server/discover has a SERVER span (2026-07-28) under the client's; the client has a session span and mcp.client.session.duration", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = makeServer()
    server.telemetry = new Telemetry({ tracer: serverSide.tracer })
    const clientTelemetry = new Telemetry({ tracer: clientSide.tracer })
    const [st, ct] = makeMemoryTransportPair()
    serveTransport(server, st)
    const client = ModernClient.create(ct, { telemetry: clientTelemetry })
    await client.discover()
    await client.callTool("echo", { text: "modern" })
    await client.close()
    const sd = one(serverSide.spans, "server/discover")
    const cd = one(clientSide.spans, "server/discover")
    expect(sd.kind).toBe("server")
    expect(sd.parentSpanId).toBe(cd.spanId)
    expect(sd.attributes).toMatchObject({ "mcp.method.name": "server/discover", "mcp.protocol.version": "2026-07-28" })
    expect(sd.attributes).not.toHaveProperty("mcp.session.id") // 2026-07-28 has no session
    const session = one(clientSide.spans, "mcp.client.session")
    expect(session.kind).toBe("client")
    expect(session.attributes).toMatchObject({ "mcp.protocol.version": "2026-07-28", "mcp_actors.session.handle": client.id })
    expect(session.events.map((e) => e.attributes["mcp.session.state"]).at(-1)).toBe("closed")
    expect(clientTelemetry.prometheus()).toMatch(/^mcp_client_session_duration_seconds_count\{mcp_protocol_version="2026-07-28"\} 1$/m)
  })

  it("an MRTR round trip (2026-07-28) is one CLIENT span with the first attempt's jsonrpc.request.id; each attempt has its SERVER span", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = new McpServer({ name: "mrtr", version: "1.0.0", telemetry: new Telemetry({ tracer: serverSide.tracer }) }).tool({ name: "stepwise" }, (_args, ctx) => {
      if (ctx.requestState === undefined) ctx.inputRequired({ requestState: "step-1" })
      return { content: [{ type: "text", text: `resumed from ${ctx.requestState}` }] }
    })
    const [st, ct] = makeMemoryTransportPair()
    serveTransport(server, st)
    const client = ModernClient.create(ct, { telemetry: new Telemetry({ tracer: clientSide.tracer }) })
    const r = await client.callTool("stepwise", {})
    expect(r.content).toEqual([{ type: "text", text: "resumed from step-1" }])
    await client.close()
    const attempts = serverSide.spans.filter((x) => x.name === "tools/call stepwise")
    expect(attempts).toHaveLength(2)
    const ids = attempts.map((x) => x.attributes["jsonrpc.request.id"])
    expect(new Set(ids).size).toBe(2)
    const c = one(clientSide.spans, "tools/call stepwise")
    expect(c.attributes["jsonrpc.request.id"]).toBe(ids[0])
    for (const a of attempts) expect(a.parentSpanId).toBe(c.spanId)
  })

  it("every chart transition is a span event, self-transitions included (the keepalive's idle → idle on peer activity)", async () => {
    const clock = new SimulatedClock()
    const t = await setupWith({ keepalive: { intervalMs: 60_000, timeoutMs: 1_000 }, clock })
    clock.increment(15_000) // past the activity throttle (a quarter of the interval), before the ping is due
    await t.client.callTool("echo", { text: "activity" })
    await t.client.close()
    const cs = one(t.clientSpans, "mcp.client.session")
    const transitions = cs.events.filter((e) => e.name === "mcp.session.transition")
    const self = transitions.filter((e) => e.attributes["mcp_actors.transition.self"] === true)
    expect(self.length).toBeGreaterThan(0)
    expect(self[0]!.attributes).toMatchObject({ "mcp.session.state": "keepalive.idle", "mcp.session.state.previous": "keepalive.idle", "mcp_actors.transition.event": "PEER_ACTIVITY" })
    // After the first (the state it started in), each event names the chart event that took it.
    expect(transitions.slice(1).every((e) => typeof e.attributes["mcp_actors.transition.event"] === "string")).toBe(true)
    expect(transitions.map((e) => e.attributes["mcp.session.state"]).at(-1)).toBe("closed")
  })
})

/** Like `setup`, with client options (keepalive, clock). */
const setupWith = async (clientOptions: { readonly keepalive?: { readonly intervalMs: number; readonly timeoutMs: number }; readonly clock?: SimulatedClock }) => {
  const serverSide = makeMemoryTracer()
  const clientSide = makeMemoryTracer()
  const server = makeServer()
  server.telemetry = new Telemetry({ tracer: serverSide.tracer })
  const [st, ct] = makeMemoryTransportPair()
  const session = serveTransport(server, st)
  const client = await ClientSession.connect(ct, { telemetry: new Telemetry({ tracer: clientSide.tracer }), ...clientOptions })
  return { session, client, serverSpans: serverSide.spans, clientSpans: clientSide.spans }
}

describe("observability: requests that get no answer, or are refused before any handler", () => {
  it("a keepalive ping the peer never answers still ends its CLIENT span, with error status (RequestTimeout), and one pending at close ends too", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = makeServer()
    server.telemetry = new Telemetry({ tracer: serverSide.tracer })
    const [st, ct] = makeMemoryTransportPair()
    // The server side never sees a ping (a peer that stopped answering them).
    const pingIds: Array<string> = []
    const deaf: Transport = {
      ...st,
      start: (h: TransportHandlers) => st.start({ ...h, onFrame: (f: string) => (/"method":"ping"/.test(f) ? void pingIds.push(String(JSON.parse(f).id)) : h.onFrame(f)) })
    }
    serveTransport(server, deaf)
    const clock = new SimulatedClock()
    const clientTelemetry = new Telemetry({ tracer: clientSide.tracer })
    const client = await ClientSession.connect(ct, { telemetry: clientTelemetry, clock, keepalive: { intervalMs: 1_000, timeoutMs: 500, maxMisses: 5 } })
    clock.increment(1_000) // the first ping goes out
    await Promise.resolve()
    expect(clientSide.spans.filter((x) => x.name === "ping")).toEqual([])
    clock.increment(500) // … and times out: a miss
    const [missed] = clientSide.spans.filter((x) => x.name === "ping")
    expect(missed, "the unanswered ping's span ended at its timeout").toBeDefined()
    expect(missed!.kind).toBe("client")
    expect(missed!.status).toBe("error")
    expect(missed!.attributes).toMatchObject({ "mcp.method.name": "ping", "error.type": "RequestTimeout" })
    clock.increment(1_000) // the next ping goes out, unanswered too; the session closes before its timeout
    await client.close()
    const pings = clientSide.spans.filter((x) => x.name === "ping")
    expect(pings).toHaveLength(2)
    expect(pings[1]!.status).toBe("error")
    expect(pings[1]!.attributes["error.type"]).toBe("ConnectionLost")
    // Each keepalive ping's span has the id of the ping that went on the wire.
    expect(pings.map((p) => p.attributes["jsonrpc.request.id"])).toEqual(pingIds)
    expect(clientTelemetry.prometheus()).toMatch(/^mcp_client_operation_duration_seconds_count\{(?=[^}]*error_type="RequestTimeout")(?=[^}]*mcp_method_name="ping")[^}]*\} 1$/m)
    // The server saw no ping at all.
    expect(serverSide.spans.filter((x) => x.name === "ping")).toEqual([])
  })

  it("a request refused for a capability the server did not declare gets a SERVER span with the error (-32601), child of the client's span, with the semconv attributes and an operation duration", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = makeServer() // tools only: no resources, no prompts
    const serverTelemetry = new Telemetry({ tracer: serverSide.tracer })
    server.telemetry = serverTelemetry
    const [st, ct] = makeMemoryTransportPair()
    const session = serveTransport(server, st)
    const client = await ClientSession.connect(ct, { telemetry: new Telemetry({ tracer: clientSide.tracer }), enforceCapabilities: false })
    await expect(client.request("prompts/get", { name: "greeting" })).rejects.toMatchObject({ code: -32601 })
    await client.close()
    const c = one(clientSide.spans, "prompts/get greeting")
    const sp = one(serverSide.spans, "prompts/get greeting")
    expect(sp.kind).toBe("server")
    expect(sp.status).toBe("error")
    expect(sp.traceId).toBe(c.traceId)
    expect(sp.parentSpanId).toBe(c.spanId)
    expect(sp.attributes).toMatchObject({
      "mcp.method.name": "prompts/get",
      "gen_ai.prompt.name": "greeting",
      "error.type": "-32601",
      "rpc.response.status_code": "-32601",
      "mcp.session.id": session.id,
      "mcp.protocol.version": "2025-11-25",
      "jsonrpc.request.id": expect.any(String)
    })
    expect(c.status).toBe("error")
    expect(c.attributes["error.type"]).toBe("-32601")
    expect(serverTelemetry.prometheus()).toMatch(/^mcp_server_operation_duration_seconds_count\{(?=[^}]*error_type="-32601")(?=[^}]*mcp_method_name="prompts\/get")[^}]*\} 1$/m)
  })

  it("the modern era too: a refused request (2026-07-28, no session) gets its SERVER span with the error", async () => {
    const serverSide = makeMemoryTracer()
    const server = makeServer()
    server.telemetry = new Telemetry({ tracer: serverSide.tracer })
    const [st, ct] = makeMemoryTransportPair()
    serveTransport(server, st)
    const client = ModernClient.create(ct, { enforceCapabilities: false })
    await client.discover()
    await expect(client.request("resources/list", {})).rejects.toMatchObject({ code: -32601 })
    await client.close()
    const sp = one(serverSide.spans, "resources/list")
    expect(sp.status).toBe("error")
    expect(sp.attributes).toMatchObject({ "mcp.method.name": "resources/list", "error.type": "-32601", "mcp.protocol.version": "2026-07-28" })
    expect(sp.attributes).not.toHaveProperty("mcp.session.id")
  })
})
