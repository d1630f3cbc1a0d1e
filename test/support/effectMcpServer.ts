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
 * - A tool `echo` (`{ text: string }` → the text as text content),
 *   registered with `McpServer.addTool` (a `Toolkit` tool would answer with
 *   `JSON.stringify` of its result — `"\"hi\""` — and a non-object
 *   `outputSchema`/`structuredContent` for a string success schema).
 * - Two MRTR tools (multi round-trip requests, 2026-07-28): their handlers
 *   return effect's `McpSchema.InputRequired` (`inputRequests` keyed by name,
 *   an opaque `requestState`) and read the client's answers back from
 *   `McpSchema.McpRequestContext` (`inputResponses`, `requestState`) when the
 *   client retries; effect projects that as `resultType: "input_required"` and
 *   refuses (-32021, HTTP 400) input requests whose client capability the
 *   request's `_meta` did not declare.
 *   - `greet` (`{}`): one round, an `elicitation/create` form asking for
 *     `{ name: string }` (key `name`, state `GREET_STATE`), then `hello <name>`;
 *     a declined/cancelled form → an `isError` result.
 *   - `introduce` (`{}`): two rounds. First `roots/list` (key `roots`) and an
 *     elicitation (key `who`) together, state `introduce:1`; then, the name and
 *     root URIs carried in the new `requestState` (the server keeps nothing
 *     between rounds), a `sampling/createMessage` (key `line`); then
 *     `<sampled text> [roots: <uri>, …]`.
 *   Every handler run is recorded in `toolRuns` (what effect decoded).
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

/** One run of an MRTR tool handler, as effect handed it the request. */
export interface EffectToolRun {
  readonly tool: string
  readonly inputResponses: Readonly<Record<string, unknown>> | undefined
  readonly requestState: string | undefined
  readonly clientCapabilities: unknown
}

/** The `requestState` `greet` sends with its elicitation (opaque to the client, echoed verbatim). */
export const GREET_STATE = "greet:v1:eyJzdGVwIjoibmFtZSJ9+/= é"
/** The elicitation `greet` asks for. */
export const GREET_ELICITATION = {
  mode: "form",
  message: "What is your name?",
  requestedSchema: {
    type: "object",
    properties: { name: { type: "string", title: "Name" } },
    required: ["name"]
  }
} as const

export interface EffectMcpServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:PORT/mcp`. */
  readonly url: string
  /** Every exchange so far, in arrival order. */
  readonly exchanges: ReadonlyArray<EffectExchange>
  /** Every run of an MRTR tool handler (`greet`, `introduce`), in order. */
  readonly toolRuns: ReadonlyArray<EffectToolRun>
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

const textResult = (text: string, isError?: boolean) =>
  new McpSchema.CallToolResult({ content: [{ type: "text", text }], ...(isError === true ? { isError } : {}) })

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * An MRTR tool: `step` sees the request context effect built from the retry
 * (`inputResponses`, `requestState`) and answers a result or `InputRequired`.
 */
const registerMrtrTool = (
  mcp: McpService,
  runs: Array<EffectToolRun>,
  name: string,
  description: string,
  step: (context: McpSchema.McpRequestContext["Service"]) => Effect.Effect<McpSchema.CallToolResult | McpSchema.InputRequired, McpSchema.InvalidParams>
) =>
  mcp.addTool({
    tool: new McpSchema.Tool({ name, description, inputSchema: { type: "object", properties: {} } }),
    annotations: Context.empty(),
    handle: () =>
      Effect.gen(function*() {
        const context = yield* McpSchema.McpRequestContext
        runs.push({
          tool: name,
          inputResponses: context.inputResponses,
          requestState: context.requestState,
          clientCapabilities: context.clientCapabilities
        })
        return yield* step(context)
      })
  })

const invalid = (message: string) => Effect.fail(new McpSchema.InvalidParams({ message }))

/** `greet`: one elicitation round (`name`), then `hello <name>`. */
const registerGreet = (mcp: McpService, runs: Array<EffectToolRun>) =>
  registerMrtrTool(mcp, runs, "greet", "Greet the user by the name they give", (context) => {
    const answer = context.inputResponses?.name
    if (answer === undefined) {
      return Effect.succeed(
        new McpSchema.InputRequired({
          inputRequests: { name: { method: "elicitation/create", params: GREET_ELICITATION } },
          requestState: GREET_STATE
        })
      )
    }
    if (context.requestState !== GREET_STATE) return invalid(`greet: unexpected requestState ${JSON.stringify(context.requestState)}`)
    if (answer.action !== "accept") return Effect.succeed(textResult(`greet: no name (${String(answer.action)})`, true))
    const content = answer.content
    const given = isObject(content) ? content.name : undefined
    return typeof given === "string" ? Effect.succeed(textResult(`hello ${given}`)) : invalid("greet: the form has no string `name`")
  })

/** `introduce`: roots + elicitation together, then sampling; the first round's answers travel in `requestState`. */
const registerIntroduce = (mcp: McpService, runs: Array<EffectToolRun>) =>
  registerMrtrTool(mcp, runs, "introduce", "Introduce the user, with their workspace roots", (context) => {
    const state = context.requestState
    if (state === undefined) {
      return Effect.succeed(
        new McpSchema.InputRequired({
          inputRequests: {
            roots: { method: "roots/list" },
            who: {
              method: "elicitation/create",
              params: { mode: "form", message: "Who are you?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } }
            }
          },
          requestState: "introduce:1"
        })
      )
    }
    const responses = context.inputResponses ?? {}
    if (state === "introduce:1") {
      const who = responses.who
      const roots = responses.roots
      const name = isObject(who) && who.action === "accept" && isObject(who.content) ? who.content.name : undefined
      if (typeof name !== "string" || !isObject(roots) || !Array.isArray(roots.roots)) {
        return invalid("introduce: round 1 needs `who` (accepted, with a name) and `roots`")
      }
      const uris = roots.roots.map((r) => (isObject(r) ? String(r.uri) : "?"))
      return Effect.succeed(
        new McpSchema.InputRequired({
          inputRequests: {
            line: {
              method: "sampling/createMessage",
              params: {
                messages: [{ role: "user", content: { type: "text", text: `Write a one-line greeting for ${name}` } }],
                maxTokens: 50
              }
            }
          },
          requestState: `introduce:2:${Buffer.from(JSON.stringify({ name, uris })).toString("base64")}`
        })
      )
    }
    if (state.startsWith("introduce:2:")) {
      const carried = JSON.parse(Buffer.from(state.slice("introduce:2:".length), "base64").toString("utf8")) as { uris: Array<string> }
      const line = responses.line
      const text = isObject(line) && isObject(line.content) && typeof line.content.text === "string" ? line.content.text : undefined
      if (text === undefined) return invalid("introduce: round 2 needs `line` (a sampled text message)")
      return Effect.succeed(textResult(`${text} [roots: ${carried.uris.join(", ")}]`))
    }
    return invalid(`introduce: unknown requestState ${JSON.stringify(state)}`)
  })

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
  const toolRuns: Array<EffectToolRun> = []
  const Registrations = Layer.effectDiscard(Effect.gen(function*() {
    const service = yield* McpServer.McpServer
    yield* registerEcho(service)
    yield* registerGreet(service, toolRuns)
    yield* registerIntroduce(service, toolRuns)
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
    toolRuns,
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
