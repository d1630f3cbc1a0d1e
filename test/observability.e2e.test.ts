/**
 * OpenTelemetry across real processes. The test starts an OTLP/HTTP receiver
 * (a node:http server recording the JSON posted to /v1/traces and /v1/metrics);
 * our server runs as a child process (`mcp-actors serve … --otlp URL`) and our
 * client in this process, each exporting with `effect/observability`'s OTLP
 * exporter. The span tree of a tool call must cross the process boundary through
 * `params._meta.traceparent`. Also: `/metrics` scraped from a served server,
 * and the official SDK client against a traced server, in both directions.
 */
import { spawn, spawnSync } from "node:child_process"
import { once } from "node:events"
import { createServer, type IncomingMessage, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connectHttp } from "../src/client/connectHttp.ts"
import { connectStdio } from "../src/client/connectStdio.ts"
import { connectWs } from "../src/client/connectWs.ts"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/transports/http/client/ModernHttpWire.ts"
import { makeOtlpTelemetry } from "../src/observability/otlp.ts"
import { readTraceContext } from "../src/observability/traceContext.ts"
import { Telemetry } from "../src/observability/Telemetry.ts"
import { makeMemoryTracer } from "../src/observability/memoryTracer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { condition } from "./support/condition.ts"
import { spawnOurServer } from "./support/httpPeers.ts"
import { startHost } from "../src/host/McpHost.ts"
import { makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("..", import.meta.url))

interface OtlpSpan {
  readonly service: string
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>
}

/** One metric of one export, as the receiver got it: its resource's service, its OTLP `unit`, its data points' counts. */
interface OtlpMetric {
  readonly service: string
  readonly name: string
  readonly unit: string | undefined
  readonly kind: string
  readonly points: ReadonlyArray<{ readonly attributes: Record<string, unknown>; readonly count: number }>
}

type KeyValue = { readonly key: string; readonly value: Record<string, unknown> }
const attrs = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, Object.values(kv.value)[0]]))

/** The in-test collector: every OTLP/HTTP JSON body posted, by path. */
class OtlpReceiver {
  readonly spans: Array<OtlpSpan> = []
  readonly metrics: Array<OtlpMetric> = []
  readonly paths: Array<string> = []
  /** Told after each export is taken in: `arrived.when(check, what)` waits for what the peer processes send, polling nothing. */
  readonly arrived = condition()
  private server!: Server
  url = ""
  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.receive(req).then(() => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    }))
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }
  private async receive(req: IncomingMessage): Promise<void> {
    let body = ""
    for await (const chunk of req) body += chunk
    this.paths.push(req.url ?? "")
    const data = JSON.parse(body) as Record<string, any>
    for (const rs of data.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)["service.name"])
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            name: s.name,
            kind: s.kind,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId === undefined || s.parentSpanId === "" ? undefined : s.parentSpanId,
            attributes: attrs(s.attributes),
            events: (s.events ?? []).map((e: { name: string; attributes?: Array<KeyValue> }) => ({ name: e.name, attributes: attrs(e.attributes) }))
          })
        }
      }
    }
    for (const rm of data.resourceMetrics ?? []) {
      const service = String(attrs(rm.resource?.attributes)["service.name"])
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const kind = ["histogram", "sum", "gauge", "exponentialHistogram", "summary"].find((k) => m[k] !== undefined) ?? "?"
          const points = (m[kind]?.dataPoints ?? []).map((p: { attributes?: Array<KeyValue>; count?: number | string }) => ({ attributes: attrs(p.attributes), count: Number(p.count ?? 0) }))
          this.metrics.push({ service, name: m.name, unit: m.unit, kind, points })
        }
      }
    }
    this.arrived.changed()
  }
  /** Whether `service` exported the histogram `name` with at least one recorded value (in any export). */
  recorded(service: string, name: string): boolean {
    return this.metrics.some((m) => m.service === service && m.name === name && m.kind === "histogram" && m.points.some((p) => p.count > 0))
  }
  /** The histograms `service` exported with a value, by name: the attributes of their non-empty points. */
  histograms(service: string): Record<string, { attributes: Array<Record<string, unknown>> }> {
    const out: Record<string, { attributes: Array<Record<string, unknown>> }> = {}
    for (const m of this.metrics) {
      if (m.service !== service || m.kind !== "histogram") continue
      const points = m.points.filter((p) => p.count > 0)
      if (points.length === 0) continue
      ;(out[m.name] ??= { attributes: [] }).attributes.push(...points.map((p) => p.attributes))
    }
    return out
  }
  find(service: string, name: string): Array<OtlpSpan> {
    return this.spans.filter((s) => s.service === service && s.name === name)
  }
  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r())
      this.server.closeAllConnections()
    })
  }
}

const SERVER_HISTOGRAMS = ["mcp.server.operation.duration", "mcp.server.session.duration"]
const CLIENT_HISTOGRAMS = ["mcp.client.operation.duration", "mcp.client.session.duration"]

/**
 * `service` exported its side's two duration histograms over OTLP, with a recorded value each: the operation one for the
 * `tools/call echo` made, the session one for the session that ended, each with the transport's `network` attributes.
 */
const expectHistograms = (receiver: OtlpReceiver, service: string, side: "client" | "server", network: Record<string, string>): void => {
  const got = receiver.histograms(service)
  expect(Object.keys(got), `the histograms ${service} exported`).toEqual(expect.arrayContaining(side === "client" ? CLIENT_HISTOGRAMS : SERVER_HISTOGRAMS))
  const operation = got[`mcp.${side}.operation.duration`]!
  const session = got[`mcp.${side}.session.duration`]!
  expect(operation.attributes).toContainEqual(expect.objectContaining({ "mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", ...network }))
  expect(session.attributes).toContainEqual(expect.objectContaining({ "mcp.protocol.version": expect.any(String), ...network }))
  expect(session.attributes.every((a) => a["mcp.method.name"] === undefined)).toBe(true)
  // In seconds, as the conventions say: the OTLP `unit` of every export of both.
  expect(receiver.metrics.filter((m) => m.service === service && (m.name === `mcp.${side}.operation.duration` || m.name === `mcp.${side}.session.duration`)).map((m) => m.unit)).toEqual(expect.arrayContaining(["s"]))
  expect(receiver.metrics.filter((m) => m.service === service && (m.name === `mcp.${side}.operation.duration` || m.name === `mcp.${side}.session.duration`)).every((m) => m.unit === "s")).toBe(true)
}

const SERVER_KIND = 2
const CLIENT_KIND = 3

let receiver: OtlpReceiver
beforeAll(async () => {
  receiver = new OtlpReceiver()
  await receiver.start()
})
afterAll(() => receiver.close())

describe("observability across processes", () => {
  it("stdio: our client → our server child; the server span is the client span's child; both export over OTLP/HTTP", async () => {
    const telemetry = await makeOtlpTelemetry({ url: receiver.url, serviceName: "e2e-stdio-client", exportIntervalMs: 100 })
    const client = await connectStdio({
      command: process.execPath,
      args: [CLI, "serve", "--stdio", "--otlp", receiver.url],
      cwd: ROOT,
      env: { ...process.env, OTEL_SERVICE_NAME: "e2e-stdio-server" },
      telemetry
    })
    const result = await client.callTool("echo", { text: "traced" })
    expect(result.content).toEqual([{ type: "text", text: "traced" }])
    await client.close()
    await telemetry.close() // flushes
    // The server flushes when its session ends (stdin EOF), then exits: its session span and its histograms (the session's
    // duration is recorded at that end, before the flush).
    await receiver.arrived.when(() => receiver.find("e2e-stdio-server", "mcp.server.session").length === 1 && SERVER_HISTOGRAMS.every((n) => receiver.recorded("e2e-stdio-server", n)), "the stdio server's session span and histograms")
    expect(receiver.find("e2e-stdio-server", "mcp.server.session")).toHaveLength(1)
    // All four duration histograms arrive over OTLP, each from the process that records it: the client's
    // (its session's duration recorded at client.close(), before telemetry.close()'s flush) and the server's.
    expectHistograms(receiver, "e2e-stdio-client", "client", { "network.transport": "pipe" })
    expectHistograms(receiver, "e2e-stdio-server", "server", { "network.transport": "pipe" })
    const [c] = receiver.find("e2e-stdio-client", "tools/call echo")
    const [s] = receiver.find("e2e-stdio-server", "tools/call echo")
    expect(c).toBeDefined()
    expect(s).toBeDefined()
    expect(c!.kind).toBe(CLIENT_KIND)
    expect(s!.kind).toBe(SERVER_KIND)
    expect(s!.traceId).toBe(c!.traceId)
    expect(s!.parentSpanId).toBe(c!.spanId)
    expect(c!.parentSpanId).toBeUndefined()
    expect(s!.attributes).toMatchObject({
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": "echo",
      "gen_ai.operation.name": "execute_tool",
      "network.transport": "pipe",
      "mcp.protocol.version": "2025-11-25"
    })
    expect(Object.keys(s!.attributes)).toEqual(expect.arrayContaining(["jsonrpc.request.id", "mcp.session.id"]))
    expect(c!.attributes).toMatchObject({ "mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "network.transport": "pipe" })
    // jsonrpc.request.id on both sides (the MCP semconv: conditionally required on client spans too), the same id: the one on the wire.
    expect(c!.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(c!.attributes["jsonrpc.request.id"]).toBe(s!.attributes["jsonrpc.request.id"])
    // The session spans, with a span event per chart transition.
    const [session] = receiver.find("e2e-stdio-server", "mcp.server.session")
    expect(session!.attributes["mcp.session.id"]).toBe(s!.attributes["mcp.session.id"])
    expect(session!.events.map((e) => e.attributes["mcp.session.state"]).slice(0, 3)).toEqual(["awaitingInitialize", "awaitingInitialized", "operating"])
    const [clientSession] = receiver.find("e2e-stdio-client", "mcp.client.session")
    expect(clientSession!.events.map((e) => e.attributes["mcp.session.state"])).toContain("initializing")
    // initialize is answered by the server chart's step: a SERVER span under the client's CLIENT span, across the processes.
    const [ci] = receiver.find("e2e-stdio-client", "initialize")
    const [si] = receiver.find("e2e-stdio-server", "initialize")
    expect(ci!.kind).toBe(CLIENT_KIND)
    expect(si!.kind).toBe(SERVER_KIND)
    expect(si!.traceId).toBe(ci!.traceId)
    expect(si!.parentSpanId).toBe(ci!.spanId)
    expect(si!.attributes).toMatchObject({ "mcp.method.name": "initialize", "mcp.protocol.version": "2025-11-25", "network.transport": "pipe" })
    expect(ci!.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(ci!.attributes["jsonrpc.request.id"]).toBe(si!.attributes["jsonrpc.request.id"])
    expect(ci!.attributes["jsonrpc.request.id"]).not.toBe(c!.attributes["jsonrpc.request.id"])
    expect(receiver.paths).toContain("/v1/traces")
  }, 60_000)

  it("HTTP: `serve --http 0 --metrics --otlp`: the span tree crosses processes, and /metrics is Prometheus text", async () => {
    const child = await spawnOurServer(["--metrics", "--otlp", receiver.url])
    const telemetry = await makeOtlpTelemetry({ url: receiver.url, serviceName: "e2e-http-client", exportIntervalMs: 100 })
    try {
      const client = await connectHttp(child.url, { telemetry })
      await client.callTool("echo", { text: "over http" })
      const metricsUrl = new URL("/metrics", child.url)
      const res = await fetch(metricsUrl)
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
      const text = await res.text()
      expect(text).toContain("# HELP mcp_server_operation_duration_seconds ")
      expect(text).toContain("# TYPE mcp_server_operation_duration_seconds histogram\n")
      // The operation histogram's attributes as the conventions list them (gen_ai.operation.name, network.protocol.name too).
      expect(text).toMatch(/^mcp_server_operation_duration_seconds_bucket\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",gen_ai_operation_name="execute_tool",mcp_protocol_version="[0-9-]+",network_transport="tcp",network_protocol_name="http",le="0\.01"\} \d+$/m)
      expect(text).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",[^}]*\} 1$/m)
      expect(text).toMatch(/^mcp_actors_sessions\{side="server",state="operating"\} 1$/m)
      expect(text).toMatch(/^mcp_actors_session_transitions_total\{side="server",state="operating"\} 1$/m)
      expect((await fetch(metricsUrl, { method: "POST" })).status).toBe(405)
      await client.close()
      await telemetry.close()
      const after = await (await fetch(metricsUrl)).text()
      // The session histogram has the session's version and transport.
      expect(after).toMatch(/^mcp_server_session_duration_seconds_count\{mcp_protocol_version="[0-9-]+",network_transport="tcp",network_protocol_name="http"\} 1$/m)
      expect(after).toMatch(/^mcp_actors_sessions\{side="server",state="operating"\} 0$/m)
    } finally {
      await child.stop() // SIGTERM: drains, flushes the exporter
    }
    await receiver.arrived.when(() => receiver.find("mcp-actors", "tools/call echo").some((s) => s.attributes["network.transport"] === "tcp"), "the HTTP server's tools/call span")
    const [c] = receiver.find("e2e-http-client", "tools/call echo")
    const s = receiver.find("mcp-actors", "tools/call echo").find((x) => x.traceId === c!.traceId)
    expect(s).toBeDefined()
    expect(s!.parentSpanId).toBe(c!.spanId)
    expect(s!.attributes).toMatchObject({ "network.transport": "tcp", "network.protocol.name": "http" })
    expect(c!.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(c!.attributes["jsonrpc.request.id"]).toBe(s!.attributes["jsonrpc.request.id"])
    expect(s!.attributes["mcp.session.id"]).toEqual(expect.any(String))
    // The client span has the Mcp-Session-Id the server's span has, and the server's address and port.
    expect(c!.attributes["mcp.session.id"]).toBe(s!.attributes["mcp.session.id"])
    expect(c!.attributes).toMatchObject({ "server.address": "127.0.0.1", "server.port": Number(new URL(child.url).port), "network.protocol.name": "http" })
    // The histograms went out over OTLP too, under their semconv names: all four, each from the process that records it
    // (the server child is "mcp-actors"; its session's duration, recorded when the client's DELETE ended it, went out at
    // its SIGTERM flush at the latest; the client's with telemetry.close()).
    await receiver.arrived.when(() => SERVER_HISTOGRAMS.every((n) => receiver.recorded("mcp-actors", n)), "the HTTP server's histograms")
    expectHistograms(receiver, "e2e-http-client", "client", { "network.transport": "tcp", "network.protocol.name": "http" })
    expectHistograms(receiver, "mcp-actors", "server", { "network.transport": "tcp", "network.protocol.name": "http" })
  }, 60_000)
})

describe("observability over WebSocket", () => {
  it("a CLIENT span over ws carries the request's id, the one the server's span saw", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const server = new McpServer({ name: "ws", version: "1.0.0", telemetry: new Telemetry({ tracer: serverSide.tracer }) }).tool(
      { name: "echo", inputSchema: { type: "object" } },
      (args) => ({ content: [{ type: "text", text: String(args.text) }] })
    )
    const ws = await makeWsServer(server, { port: 0 })
    let port = 0
    try {
      port = ws.port
      const client = await connectWs(ws.url, { telemetry: new Telemetry({ tracer: clientSide.tracer }) })
      for (let i = 0; i < 3; i++) await client.callTool("echo", { text: String(i) })
      await client.close()
    } finally {
      await ws.close()
    }
    const serverCalls = serverSide.spans.filter((x) => x.name === "tools/call echo")
    const clientCalls = clientSide.spans.filter((x) => x.name === "tools/call echo")
    expect(serverCalls).toHaveLength(3)
    expect(serverCalls.map((x) => x.parentSpanId)).toEqual(clientCalls.map((x) => x.spanId))
    expect(clientCalls.map((x) => x.attributes["jsonrpc.request.id"])).toEqual(serverCalls.map((x) => x.attributes["jsonrpc.request.id"]))
    expect(new Set(clientCalls.map((x) => x.attributes["jsonrpc.request.id"])).size).toBe(3)
    expect(clientCalls[0]!.attributes).toMatchObject({ "network.transport": "tcp", "network.protocol.name": "websocket", "server.address": "127.0.0.1", "server.port": port })
  }, 30_000)
})

describe("observability CLI", () => {
  it("`serve --ws 0 --metrics`: /metrics on a listener of its own (URL on stderr) counts the WebSocket session", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--ws", "0", "--metrics"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    const exited = once(child, "exit")
    try {
      let out = ""
      const urls = await new Promise<{ ws: string; metrics: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), 15_000)
        const look = (chunk: Buffer) => {
          out += chunk.toString()
          const ws = /^(ws:\/\/\S+)$/m.exec(out)
          const metrics = /Prometheus metrics on (\S+)/.exec(out)
          if (ws && metrics) {
            clearTimeout(timer)
            resolve({ ws: ws[1]!, metrics: metrics[1]! })
          }
        }
        child.stdout.on("data", look)
        child.stderr.on("data", look)
      })
      const client = await connectWs(urls.ws)
      await client.callTool("echo", { text: "ws" })
      const text = await (await fetch(urls.metrics)).text()
      expect(text).toMatch(/^mcp_actors_sessions\{side="server",state="operating"\} 1$/m)
      expect(text).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",[^}]*network_transport="tcp",network_protocol_name="websocket"\} 1$/m)
      expect((await fetch(new URL("/other", urls.metrics))).status).toBe(404)
      await client.close()
    } finally {
      child.kill("SIGTERM")
      await exited
    }
  }, 30_000)

  it("a bad --otlp-sample is a usage error (exit 2)", () => {
    const r = spawnSync(process.execPath, [CLI, "serve", "--stdio", "--otlp", "http://127.0.0.1:1", "--otlp-sample", "2"], { cwd: ROOT, encoding: "utf8", input: "" })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("--otlp-sample needs a number from 0 to 1")
  }, 30_000)
})

describe("observability through the host's gateway", () => {
  it("client → gateway → upstream child: one trace, four spans, each the child of the one before", async () => {
    const hostSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const hostTelemetry = new Telemetry({ tracer: hostSide.tracer })
    const host = await startHost({
      mcpServers: {
        demo: {
          command: process.execPath,
          args: [CLI, "serve", "--stdio", "--otlp", receiver.url],
          env: { OTEL_SERVICE_NAME: "e2e-upstream", OTEL_BSP_SCHEDULE_DELAY: "200" }
        }
      }
    }, { stateFile: false, onStderr: () => {}, telemetry: hostTelemetry })
    const gateway = makeGateway(host, { telemetry: hostTelemetry })
    const http = await serveGatewayHttp(gateway, { port: 0 })
    try {
      const client = await connectHttp(http.url, { telemetry: new Telemetry({ tracer: clientSide.tracer }) })
      const r = await client.callTool("demo__echo", { text: "through the host" })
      expect(r.content).toEqual([{ type: "text", text: "through the host" }])
      await client.close()
      // The upstream exports on its schedule (200 ms here): the host would stop it (SIGTERM) before a final flush.
      await receiver.arrived.when(() => receiver.find("e2e-upstream", "tools/call echo").length === 1, "the upstream's tools/call span")
    } finally {
      await http.close({ drainMs: 0 })
      gateway.close()
      await host.close()
    }
    const c = clientSide.spans.find((s) => s.name === "tools/call demo__echo")!
    const g = hostSide.spans.find((s) => s.name === "tools/call demo__echo" && s.kind === "server")!
    const u = hostSide.spans.find((s) => s.name === "tools/call echo" && s.kind === "client")!
    expect(g.parentSpanId).toBe(c.spanId)
    expect(u.parentSpanId).toBe(g.spanId)
    expect(new Set([c.traceId, g.traceId, u.traceId]).size).toBe(1)
    const [s] = receiver.find("e2e-upstream", "tools/call echo")
    expect(s).toMatchObject({ traceId: c.traceId, parentSpanId: u.spanId, kind: SERVER_KIND })
    // Every hop's CLIENT span names the id its request went out with: the host's upstream call's is the upstream server's.
    expect(c.attributes["jsonrpc.request.id"]).toBe(g.attributes["jsonrpc.request.id"])
    expect(u.attributes["jsonrpc.request.id"]).toEqual(expect.any(String))
    expect(u.attributes["jsonrpc.request.id"]).toBe(s!.attributes["jsonrpc.request.id"])
    expect(hostTelemetry.prometheus()).toMatch(/^mcp_client_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="echo",[^}]*\} 1$/m)
  }, 60_000)
})

describe("observability interop: the official SDK client", () => {
  it("our server honours the SDK client's traceparent; the SDK client handles a sampling request carrying ours", async () => {
    const { tracer, spans } = makeMemoryTracer()
    const telemetry = new Telemetry({ tracer })
    const server = new McpServer({ name: "traced", version: "1.0.0", telemetry }).tool(
      { name: "ask", inputSchema: { type: "object" } },
      async (_args, ctx) => {
        const r = await ctx.createMessage({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 })
        return { content: [{ type: "text", text: JSON.stringify(r.content) }] }
      }
    )
    const http = await makeHttpServer(server, { metrics: telemetry })
    const sdk = new Client({ name: "sdk", version: "1.0.0" }, { capabilities: { sampling: {} } })
    const seenMeta: Array<unknown> = []
    sdk.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seenMeta.push(req.params._meta)
      return { role: "assistant", content: { type: "text", text: "sdk says hi" }, model: "m" }
    })
    const transport = new StreamableHTTPClientTransport(new URL(http.url))
    try {
      await sdk.connect(transport)
      const traceId = "0af7651916cd43dd8448eb211c80319c"
      const out = await sdk.callTool({ name: "ask", arguments: {}, _meta: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, tracestate: "congo=t61rcWkgMzE" } })
      expect(out.content).toEqual([{ type: "text", text: JSON.stringify({ type: "text", text: "sdk says hi" }) }])
      const call = spans.find((s) => s.name === "tools/call ask")!
      expect(call).toMatchObject({ kind: "server", traceId, parentSpanId: "b7ad6b7169203331" })
      const sampling = spans.find((s) => s.name === "sampling/createMessage")!
      expect(sampling.parentSpanId).toBe(call.spanId)
      // The SDK client got (and ignored) our trace context, tracestate passed on unchanged.
      expect(readTraceContext(seenMeta[0] as Record<string, unknown>)).toEqual({ traceId, spanId: sampling.spanId, sampled: true, tracestate: "congo=t61rcWkgMzE" })
      // /metrics on the same port as /mcp, through the API option.
      const text = await (await fetch(new URL("/metrics", http.url))).text()
      expect(text).toMatch(/^mcp_server_operation_duration_seconds_count\{mcp_method_name="tools\/call",gen_ai_tool_name="ask",[^}]*\} 1$/m)
    } finally {
      await sdk.close()
      await http.close({ drainMs: 0 })
    }
  }, 30_000)

  it("2026-07-28 over HTTP: CLIENT and SERVER spans per request (parent/child), and no session is kept for them", async () => {
    const serverSide = makeMemoryTracer()
    const clientSide = makeMemoryTracer()
    const telemetry = new Telemetry({ tracer: serverSide.tracer })
    const server = new McpServer({ name: "modern", version: "1.0.0", telemetry }).tool({ name: "echo", inputSchema: { type: "object" } }, (args) => ({
      content: [{ type: "text", text: String(args.text) }]
    }))
    const http = await makeHttpServer(server)
    try {
      const client = await ModernClient.connect(new ModernHttpWire({ url: http.url }), { telemetry: new Telemetry({ tracer: clientSide.tracer }) })
      for (let i = 0; i < 5; i++) await client.callTool("echo", { text: String(i) })
      await client.close()
      const calls = serverSide.spans.filter((x) => x.name === "tools/call echo")
      expect(calls).toHaveLength(5)
      const clientCalls = clientSide.spans.filter((x) => x.name === "tools/call echo")
      expect(calls.map((c) => c.parentSpanId)).toEqual(clientCalls.map((c) => c.spanId))
      // Each CLIENT span has its request's id, the one the server's span saw.
      expect(clientCalls.map((c) => c.attributes["jsonrpc.request.id"])).toEqual(calls.map((c) => c.attributes["jsonrpc.request.id"]))
      expect(new Set(clientCalls.map((c) => c.attributes["jsonrpc.request.id"])).size).toBe(5)
      expect(clientCalls[0]!.attributes).toMatchObject({ "server.address": "127.0.0.1", "server.port": Number(new URL(http.url).port) })
      expect(calls[0]!.attributes["mcp.protocol.version"]).toBe("2026-07-28")
      expect(calls[0]!.attributes).not.toHaveProperty("mcp.session.id")
      // A modern request is an operation: no session span, no live session, no session duration.
      expect(serverSide.spans.filter((x) => x.name === "mcp.server.session")).toEqual([])
      expect(telemetry.liveSessions().size).toBe(0)
      expect(telemetry.prometheus()).not.toContain("mcp_server_session_duration")
    } finally {
      await http.close({ drainMs: 0 })
    }
  })

  it("/metrics refuses a foreign Host (DNS rebinding) like /mcp, answers HEAD without a body", async () => {
    const telemetry = new Telemetry()
    const http = await makeHttpServer(new McpServer({ name: "m", version: "1.0.0", telemetry }), { metrics: telemetry })
    const raw = (method: string, host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL("/metrics", http.url)
        const req = httpRequest({ host: url.hostname, port: url.port, path: "/metrics", method, headers: { host }, agent: false }, (res) => {
          let body = ""
          res.on("data", (c: Buffer) => (body += c.toString()))
          res.on("end", () => resolve({ status: res.statusCode!, body }))
        })
        req.on("error", reject)
        req.end()
      })
    try {
      expect((await raw("GET", "evil.example:80")).status).toBe(403)
      expect(await raw("HEAD", "127.0.0.1")).toEqual({ status: 200, body: "" })
    } finally {
      await http.close({ drainMs: 0 })
    }
  })

  it("without the metrics option /metrics is not served", async () => {
    const http = await makeHttpServer(new McpServer({ name: "plain", version: "1.0.0" }))
    try {
      expect((await fetch(new URL("/metrics", http.url))).status).toBe(404)
    } finally {
      await http.close({ drainMs: 0 })
    }
  })
})
