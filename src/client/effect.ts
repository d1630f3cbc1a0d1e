/**
 * The Effect API for clients: a connected session as a scoped service, and
 * each MCP method as an Effect with typed errors. Interrupting the fiber of a
 * call cancels the request (`notifications/cancelled` is sent).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { HttpError } from "../transports/http/client/errors.ts"
import type { SpawnError } from "../transports/stdioClient.ts"
import type { Client } from "./Client.ts"
import type { RequestOptions, Result } from "./ClientSession.ts"
import { connectHttpScoped, type HttpConnectOptions } from "./connectHttp.ts"
import { connectStdioScoped, type StdioConnectOptions } from "./connectStdio.ts"
import type { ConnectError, RequestError } from "../protocol/requestErrors.ts"

/**
 * What the service offers: the method surface of the one `Client` (over a legacy
 * session on stdio or memory, or an `HttpClientSession` re-initializing over HTTP).
 */
export type McpClientSession = Pick<
  Client,
  | "id"
  | "ended"
  | "info"
  | "subscribe"
  | "on"
  | "state"
  | "serverCapabilities"
  | "serverInfo"
  | "protocolVersion"
  | "instructions"
  | "request"
  | "notify"
  | "close"
  | "listTools"
  | "callTool"
  | "listResources"
  | "listResourceTemplates"
  | "readResource"
  | "subscribeResource"
  | "unsubscribeResource"
  | "listPrompts"
  | "getPrompt"
  | "complete"
  | "setLoggingLevel"
  | "ping"
>

/**
 * A connected client session as a service: `layerStdio` and `layerHttp` connect when the
 * layer is built and close with it; `fromSession` wraps a session made elsewhere. The
 * method functions of this module (`callTool`, `listTools`, …) need it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { McpClient, callTool, listTools } from "mcp-actors/effect"
 *
 * const program = Effect.gen(function*() {
 *   const { tools } = yield* listTools()
 *   console.log(tools)
 *   return yield* callTool("echo", { message: "hi" }, { timeoutMs: 10_000 })
 * }).pipe(
 *   Effect.catchTag("RequestTimeout", () => Effect.succeed({ content: [] })),
 *   Effect.provide(McpClient.layerStdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-everything", "stdio"] }))
 * )
 * ```
 */
export class McpClient extends Context.Service<McpClient, McpClientSession>()("mcp-actors/McpClient") {
  /** Spawn a stdio server and connect; the child is shut down (stdin → SIGTERM → SIGKILL) with the layer. */
  static readonly layerStdio = (options: StdioConnectOptions): Layer.Layer<McpClient, SpawnError | ConnectError> =>
    Layer.effect(McpClient, connectStdioScoped(options))
  /**
   * Connect to a Streamable HTTP endpoint; the session re-initializes when the
   * server loses it, and is closed (DELETE, sockets released) with the layer.
   */
  static readonly layerHttp = (url: string | URL, options?: HttpConnectOptions & { readonly drainMs?: number }): Layer.Layer<McpClient, ConnectError> =>
    Layer.effect(McpClient, connectHttpScoped(url, options))
  static readonly fromSession = (session: McpClientSession): Layer.Layer<McpClient> => Layer.succeed(McpClient, session)
}

type Call<A> = (session: McpClientSession, options: RequestOptions) => Promise<A>

/** Over HTTP a call can also fail with `HttpError` (an error status without a JSON-RPC body). */
export type CallError = RequestError | HttpError

const call = <A = Result>(f: Call<A>, options?: Omit<RequestOptions, "signal">): Effect.Effect<A, CallError, McpClient> =>
  Effect.gen(function*() {
    const session = yield* McpClient
    return yield* Effect.tryPromise({
      try: (signal) => f(session, { ...options, signal }),
      catch: (e) => e as CallError
    })
  })

/** Send any request (a method this module has no function for); the result is untyped. */
export const request = (method: string, params?: Record<string, unknown>, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.request(method, params, o), options)
/** `tools/list`: the server's tools (the first page). */
export const listTools = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listTools(o), options)
/** `tools/call`: run a tool. A tool's own failure is a result with `isError: true`, not an error. */
export const callTool = (name: string, args: Record<string, unknown> = {}, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.callTool(name, args, o), options)
/** `resources/list`: the server's resources (the first page). */
export const listResources = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listResources(o), options)
/** `resources/read`: the contents of one resource. */
export const readResource = (uri: string, options?: Omit<RequestOptions, "signal">) => call((s, o) => s.readResource(uri, o), options)
/** `prompts/list`: the server's prompts (the first page). */
export const listPrompts = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listPrompts(o), options)
/** `prompts/get`: a prompt's messages, with `args` filled in. */
export const getPrompt = (name: string, args: Record<string, string> = {}, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.getPrompt(name, args, o), options)
/** `ping`: check that the server answers. */
export const ping = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.ping(o), options)
