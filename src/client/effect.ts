/**
 * The Effect API for clients: a connected session as a scoped service, and
 * each MCP method as an Effect with typed errors. Interrupting the fiber of a
 * call cancels the request (`notifications/cancelled` is sent).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SpawnError } from "../transports/stdioClient.ts"
import type { ClientSession, RequestOptions, Result } from "./ClientSession.ts"
import { connectStdioScoped, type StdioConnectOptions } from "./connectStdio.ts"
import type { ConnectError, RequestError } from "./errors.ts"

export class McpClient extends Context.Service<McpClient, ClientSession>()("mcp-actors/McpClient") {
  /** Spawn a stdio server and connect; the child is shut down (stdin → SIGTERM → SIGKILL) with the layer. */
  static readonly layerStdio = (options: StdioConnectOptions): Layer.Layer<McpClient, SpawnError | ConnectError> =>
    Layer.effect(McpClient, connectStdioScoped(options))
  static readonly fromSession = (session: ClientSession): Layer.Layer<McpClient> => Layer.succeed(McpClient, session)
}

type Call = (session: ClientSession, options: RequestOptions) => Promise<Result>

const call = (f: Call, options?: Omit<RequestOptions, "signal">): Effect.Effect<Result, RequestError, McpClient> =>
  Effect.gen(function*() {
    const session = yield* McpClient
    return yield* Effect.tryPromise({
      try: (signal) => f(session, { ...options, signal }),
      catch: (e) => e as RequestError
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
