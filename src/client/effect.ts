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
import type { ClientSession, RequestOptions, Result } from "./ClientSession.ts"
import { connectHttpScoped, type HttpConnectOptions } from "./connectHttp.ts"
import { connectStdioScoped, type StdioConnectOptions } from "./connectStdio.ts"
import type { ConnectError, RequestError } from "../protocol/requestErrors.ts"

/**
 * What the service offers: the method surface shared by `ClientSession` (stdio,
 * memory, one HTTP session) and `HttpClientSession` (HTTP, re-initializing).
 */
export type McpClientSession = Pick<
  ClientSession,
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

type Call = (session: McpClientSession, options: RequestOptions) => Promise<Result>

/** Over HTTP a call can also fail with `HttpError` (an error status without a JSON-RPC body). */
export type CallError = RequestError | HttpError

const call = (f: Call, options?: Omit<RequestOptions, "signal">): Effect.Effect<Result, CallError, McpClient> =>
  Effect.gen(function*() {
    const session = yield* McpClient
    return yield* Effect.tryPromise({
      try: (signal) => f(session, { ...options, signal }),
      catch: (e) => e as CallError
    })
  })

export const request = (method: string, params?: Record<string, unknown>, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.request(method, params, o), options)
export const listTools = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listTools(o), options)
export const callTool = (name: string, args: Record<string, unknown> = {}, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.callTool(name, args, o), options)
export const listResources = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listResources(o), options)
export const readResource = (uri: string, options?: Omit<RequestOptions, "signal">) => call((s, o) => s.readResource(uri, o), options)
export const listPrompts = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.listPrompts(o), options)
export const getPrompt = (name: string, args: Record<string, string> = {}, options?: Omit<RequestOptions, "signal">) =>
  call((s, o) => s.getPrompt(name, args, o), options)
export const ping = (options?: Omit<RequestOptions, "signal">) => call((s, o) => s.ping(o), options)
