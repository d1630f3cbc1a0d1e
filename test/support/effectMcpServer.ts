/**
 * A real third-party modern-era (2026-07-28) MCP server for interop tests:
 * the `McpServer` of the `effect` package (`effect/ai`), served by
 * `McpServer.layerHttp` with only the `v2026_07_28` protocol adapter, on
 * node:http bound to 127.0.0.1 (port 0).
 *
 * There is no `@effect/platform-node` here, so the router becomes a web
 * handler (`HttpRouter.toWebHandler`) and this file adapts node's
 * `IncomingMessage`/`ServerResponse` to web `Request`/`Response` itself:
 * the request body is read whole (MCP POSTs are small), the response body
 * (JSON or an SSE stream) is written chunk by chunk as it arrives, and when
 * the client goes away before the body ended the request's signal aborts
 * (effect interrupts the request fiber) and the body reader is cancelled.
 *
 * - One tool, `echo` (`{ text: string }` → the text as text content),
 *   registered with `McpServer.addTool` (a `Toolkit` tool would answer with
 *   `JSON.stringify` of its result — `"\"hi\""` — and a non-object
 *   `outputSchema`/`structuredContent` for a string success schema).
 * - `addTool(name)` registers one more tool at runtime through the
 *   `McpServer` service (`addTool`), which broadcasts
 *   `notifications/tools/list_changed` to every `subscriptions/listen` stream
 *   that asked for tool-list changes.
 * - `exchanges` records every HTTP exchange (request headers and body,
 *   response status, headers and body text as streamed) as wire evidence.
 * - `close()` stops accepting, aborts every in-flight exchange, destroys every
 *   socket and disposes the web handler (its layer scope: the MCP server
 *   fibers, subscriptions, queues).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { Context, Effect, Layer } from "effect"
import { McpProtocol, McpSchema, McpServer } from "effect/ai"
import { HttpRouter } from "effect/http"

export const EFFECT_SERVER_NAME = "effect-interop"
export const EFFECT_SERVER_VERSION = "4.1.0-test"

/** One HTTP exchange as seen on the wire. */
export interface EffectExchange {
  readonly method: string
  readonly path: string
  readonly requestHeaders: Readonly<Record<string, string>>
  readonly requestBody: string
  status: number | undefined
  responseHeaders: Record<string, string>
  /** The response body text, appended chunk by chunk (SSE included). */
  responseBody: string
  /** "finished": the body ended; "aborted": the client went away first; "open": still streaming. */
  outcome: "open" | "finished" | "aborted" | "failed"
}

export interface EffectMcpServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:PORT/mcp`. */
  readonly url: string
  /** Every exchange so far, in arrival order. */
  readonly exchanges: ReadonlyArray<EffectExchange>
  /** Register a tool named `name` at runtime (it answers `added:<name>`): broadcasts `notifications/tools/list_changed`. */
  addTool(name: string): Promise<void>
  /** Broadcast `notifications/tools/list_changed` without changing the tool list. */
  notifyToolsChanged(): Promise<void>
  /** Exchanges still streaming a response. */
  readonly openExchanges: () => number
  /** Free every socket, exchange and fiber. Idempotent. */
  close(): Promise<void>
}

type McpService = McpServer.McpServer["Service"]

/** A tool registered straight on the service, answering with exactly the content we want. */
const registerTool = (
  mcp: McpService,
  tool: { readonly name: string; readonly description: string; readonly inputSchema: McpSchema.ToolJson },
  answer: (args: Record<string, unknown>) => Effect.Effect<string, McpSchema.InvalidParams>
) =>
  mcp.addTool({
    tool: new McpSchema.Tool(tool),
    annotations: Context.empty(),
    handle: (args: unknown) =>
      answer(typeof args === "object" && args !== null ? args as Record<string, unknown> : {}).pipe(
        Effect.map((text) => new McpSchema.CallToolResult({ content: [{ type: "text", text }] }))
      )
  })

/** `echo`: `{ text: string }` → the text as text content. */
const registerEcho = (mcp: McpService) =>
  registerTool(mcp, {
    name: "echo",
    description: "Echo the text back",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }
  }, (args) =>
    typeof args.text === "string"
      ? Effect.succeed(args.text)
      : Effect.fail(new McpSchema.InvalidParams({ message: "echo: `text` must be a string" })))

const headerRecord = (headers: IncomingMessage["headers"]): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue
    out[k] = Array.isArray(v) ? v.join(", ") : v
  }
  return out
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export const startEffectMcpServer = async (
  options: { readonly name?: string; readonly version?: string; readonly instructions?: string } = {}
): Promise<EffectMcpServer> => {
  // The McpServer service, captured when the registrations are built.
  let mcp: McpService | undefined
  const Registrations = Layer.effectDiscard(Effect.gen(function*() {
    const service = yield* McpServer.McpServer
    yield* registerEcho(service)
    mcp = service
  }))
  const McpLive = McpServer.layerHttp({
    name: options.name ?? EFFECT_SERVER_NAME,
    version: options.version ?? EFFECT_SERVER_VERSION,
    ...(options.instructions !== undefined ? { instructions: options.instructions } : {}),
    path: "/mcp",
    protocols: [McpProtocol.v2026_07_28],
    registrations: Registrations
  })
  const web = HttpRouter.toWebHandler(McpLive, { disableLogger: true })

  const exchanges: Array<EffectExchange> = []
  const inFlight = new Set<AbortController>()
  const sockets = new Set<Socket>()
  let closing: Promise<void> | undefined

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController()
    inFlight.add(controller)
    // The client went away before we finished the response: cancel the request (and with it the body).
    res.once("close", () => {
      if (!res.writableFinished) controller.abort()
      inFlight.delete(controller)
    })
    const exchange: EffectExchange = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      requestHeaders: headerRecord(req.headers),
      requestBody: "",
      status: undefined,
      responseHeaders: {},
      responseBody: "",
      outcome: "open"
    }
    exchanges.push(exchange)
    try {
      const hasBody = req.method !== "GET" && req.method !== "HEAD"
      const body = hasBody ? await readBody(req) : undefined
      if (body !== undefined) (exchange as { requestBody: string }).requestBody = body.toString("utf8")
      const headers = new Headers()
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined) continue
        for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value)
      }
      const request = new Request(new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`), {
        method: req.method ?? "GET",
        headers,
        ...(body !== undefined && body.length > 0 ? { body: new Uint8Array(body) } : {}),
        signal: controller.signal
      })
      const response = await web.handler(request)
      exchange.status = response.status
      const outHeaders: Record<string, string | Array<string>> = {}
      response.headers.forEach((value, key) => {
        exchange.responseHeaders[key] = value
        outHeaders[key] = value
      })
      const cookies = response.headers.getSetCookie()
      if (cookies.length > 0) outHeaders["set-cookie"] = cookies
      res.writeHead(response.status, response.statusText, outHeaders)
      if (response.body === null) {
        res.end()
        exchange.outcome = "finished"
        return
      }
      res.flushHeaders()
      const reader = response.body.getReader()
      const cancel = () => {
        reader.cancel(controller.signal.reason).catch(() => {})
      }
      if (controller.signal.aborted) cancel()
      else controller.signal.addEventListener("abort", cancel, { once: true })
      const decoder = new TextDecoder()
      try {
        while (true) {
          const { done, value } = await reader.read()
          if (done) break
          exchange.responseBody += decoder.decode(value, { stream: true })
          if (res.destroyed) break
          // Respect back-pressure: wait for drain before reading the next chunk.
          if (!res.write(value)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                res.off("drain", done)
                res.off("close", done)
                resolve()
              }
              res.on("drain", done)
              res.on("close", done)
            })
          }
        }
      } finally {
        controller.signal.removeEventListener("abort", cancel)
        reader.releaseLock()
      }
      if (controller.signal.aborted || res.destroyed) {
        exchange.outcome = "aborted"
        return
      }
      res.end()
      exchange.outcome = "finished"
    } catch (error) {
      if (controller.signal.aborted) {
        exchange.outcome = "aborted"
        res.destroy()
        return
      }
      exchange.outcome = "failed"
      exchange.responseBody += `\n[adapter error] ${String(error)}`
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain" })
        res.end(String(error))
      } else {
        res.destroy()
      }
    }
  }

  const server = createServer((req, res) => void handle(req, res))
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/mcp`

  /** The service, once the handler's layer has been built (built on the first request or here). */
  const service = async (): Promise<McpService> => {
    if (mcp === undefined) {
      // `toWebHandler` starts building its layer at once; any request (here a 404) waits for the build.
      await web.handler(new Request(`http://127.0.0.1:${port}/__warmup`, { method: "GET" })).then((r) => r.body?.cancel())
    }
    if (mcp === undefined) throw new Error("effect McpServer service was not built")
    return mcp
  }

  // Build the MCP server before the first test request.
  await service()

  return {
    url,
    exchanges,
    openExchanges: () => exchanges.filter((e) => e.outcome === "open").length,
    addTool: async (name) => {
      const s = await service()
      await Effect.runPromise(
        registerTool(s, { name, description: `added at runtime: ${name}`, inputSchema: { type: "object", properties: {} } }, () =>
          Effect.succeed(`added:${name}`))
      )
    },
    notifyToolsChanged: async () => {
      const s = await service()
      await Effect.runPromise(s.notifications["notifications/tools/list_changed"]({}))
    },
    close: () =>
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const c of inFlight) c.abort()
        server.closeAllConnections()
        for (const s of sockets) s.destroy()
        await web.dispose()
        await closed
      })()
  }
}
