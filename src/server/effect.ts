/**
 * The Effect API for servers: the server definition as a service, tools whose
 * handlers are Effects (with `effect/Schema` parameters), and stdio serving as
 * a scoped resource supervised by the runtime.
 *
 * Handlers run with the services captured when they were registered; a client
 * cancellation (or the session closing) interrupts the handler's fiber.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { McpError } from "../protocol/errors.ts"
import { Registry } from "../runtime/Registry.ts"
import { Supervisor } from "../runtime/Supervisor.ts"
import type { Transport } from "../transports/Transport.ts"
import { StdioServerTransport, type StdioServerOptions } from "../transports/stdioServer.ts"
import { McpServer, type McpServerOptions } from "./McpServer.ts"
import type { RequestContext } from "./RequestContext.ts"
import { type ServeOptions, serveTransportScoped } from "./serveTransport.ts"
import type { ServerSession } from "./ServerSession.ts"
import type { CallToolResult, GetPromptResult, PromptDefinition, ReadResourceResult, ResourceDefinition, ToolDefinition } from "./types.ts"

/**
 * The server definition as a service: `register*` add to it, `serveStdio` and
 * `serveSupervised` serve it. `layer` builds a fresh `McpServer`; `fromServer` shares one
 * with Promise code.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { McpServerService, RuntimeLayer, registerTool, serveStdio } from "mcp-actors/effect"
 *
 * const ServerLayer = Layer.mergeAll(McpServerService.layer({ name: "notes", version: "1.0.0" }), RuntimeLayer)
 * const main = Effect.gen(function*() {
 *   yield* registerTool({ name: "now", inputSchema: { type: "object" } }, () =>
 *     Effect.sync(() => ({ content: [{ type: "text", text: new Date().toISOString() }] })))
 *   yield* serveStdio()
 * }).pipe(Effect.scoped, Effect.provide(ServerLayer))
 * Effect.runFork(main)
 * ```
 */
export class McpServerService extends Context.Service<McpServerService, McpServer>()("mcp-actors/McpServer") {
  static readonly layer = (options: McpServerOptions): Layer.Layer<McpServerService> =>
    Layer.sync(McpServerService, () => new McpServer(options))
  static readonly fromServer = (server: McpServer): Layer.Layer<McpServerService> => Layer.succeed(McpServerService, server)
}

/** Run an Effect handler as a Promise, interrupted when the request's signal aborts. */
const runHandler = <A, R>(context: Context.Context<R>, effect: Effect.Effect<A, unknown, R>, ctx: RequestContext): Promise<A> =>
  Effect.runPromiseWith(context)(effect, { signal: ctx.signal })

/** Register a tool whose handler is an Effect; `R` is provided from the registering context. */
export const registerTool = <R>(
  definition: ToolDefinition,
  handler: (args: Record<string, unknown>, ctx: RequestContext) => Effect.Effect<CallToolResult, unknown, R>
): Effect.Effect<void, never, McpServerService | R> =>
  Effect.gen(function*() {
    const server = yield* McpServerService
    const context = yield* Effect.context<R>()
    server.tool(definition, (args, ctx) => runHandler(context, handler(args, ctx), ctx))
  })

/**
 * Register a tool typed by an `effect/Schema`: its inputSchema is generated
 * (JSON Schema 2020-12), arguments are decoded before the handler runs, and a
 * decoding failure is a tool execution error the model can read (SEP-1303).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { registerSchemaTool } from "mcp-actors/effect"
 *
 * const registerAdd = registerSchemaTool(
 *   { name: "add", description: "a + b", parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }) },
 *   ({ a, b }) => Effect.succeed({ content: [{ type: "text", text: String(a + b) }] })   // a, b: number
 * )
 * ```
 */
export const registerSchemaTool = <S extends Schema.Top & { readonly DecodingServices: never }, R>(
  definition: Omit<ToolDefinition, "inputSchema"> & { readonly parameters: S },
  handler: (args: S["Type"], ctx: RequestContext) => Effect.Effect<CallToolResult, unknown, R>
): Effect.Effect<void, never, McpServerService | R> =>
  Effect.gen(function*() {
    const server = yield* McpServerService
    const context = yield* Effect.context<R>()
    const { parameters, ...rest } = definition
    const doc = Schema.toJsonSchemaDocument(parameters)
    const inputSchema = Object.keys(doc.definitions).length > 0 ? { ...doc.schema, $defs: doc.definitions } : doc.schema
    const decode = Schema.decodeUnknownEffect(parameters)
    server.tool({ ...rest, inputSchema: inputSchema as Record<string, unknown> }, (args, ctx) =>
      runHandler(
        context,
        decode(args).pipe(
          Effect.matchEffect({
            onFailure: (issue) =>
              Effect.succeed<CallToolResult>({ content: [{ type: "text", text: `Invalid arguments for tool ${definition.name}: ${String(issue)}` }], isError: true }),
            onSuccess: (decoded) => handler(decoded as S["Type"], ctx)
          })
        ),
        ctx
      ))
  })

/** Register a resource whose handler is an Effect; fail with `McpError` to answer a JSON-RPC error. */
export const registerResource = <R>(
  definition: ResourceDefinition,
  handler: (uri: string, ctx: RequestContext) => Effect.Effect<ReadResourceResult, McpError, R>
): Effect.Effect<void, never, McpServerService | R> =>
  Effect.gen(function*() {
    const server = yield* McpServerService
    const context = yield* Effect.context<R>()
    server.resource(definition, (uri, ctx) => runHandler(context, handler(uri, ctx), ctx))
  })

/** Register a prompt whose handler is an Effect; fail with `McpError` to answer a JSON-RPC error. */
export const registerPrompt = <R>(
  definition: PromptDefinition,
  handler: (args: Record<string, string>, ctx: RequestContext) => Effect.Effect<GetPromptResult, McpError, R>
): Effect.Effect<void, never, McpServerService | R> =>
  Effect.gen(function*() {
    const server = yield* McpServerService
    const context = yield* Effect.context<R>()
    server.prompt(definition, (args, ctx) => runHandler(context, handler(args, ctx), ctx))
  })

/**
 * Serve one session over `transport` under the Supervisor: registered in the
 * Registry while it lives, released with its own scope when it ends.
 */
export const serveSupervised = (
  transport: Transport,
  options: ServeOptions & { readonly drainMs?: number } = {}
): Effect.Effect<ServerSession, never, McpServerService | Supervisor> =>
  Effect.gen(function*() {
    const server = yield* McpServerService
    const supervisor = yield* Supervisor
    const session = yield* supervisor.spawn(serveTransportScoped(server, transport, options)).pipe(Effect.orDie)
    return session as ServerSession
  })

/**
 * Serve this process's stdin/stdout (the stdio server of a spawned MCP server):
 * completes when the client closes stdin.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { McpServerService, RuntimeLayer, registerSchemaTool, serveStdio } from "mcp-actors/effect"
 *
 * const main = Effect.gen(function*() {
 *   yield* registerSchemaTool(
 *     { name: "greet", parameters: Schema.Struct({ name: Schema.String }) },
 *     ({ name }) => Effect.succeed({ content: [{ type: "text", text: `Hello, ${name}` }] })
 *   )
 *   yield* serveStdio()                                  // until the client closes stdin
 * }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(McpServerService.layer({ name: "greeter", version: "1.0.0" }), RuntimeLayer)))
 * Effect.runFork(main)
 * ```
 */
export const serveStdio = (
  options: ServeOptions & StdioServerOptions = {}
): Effect.Effect<void, never, McpServerService | Supervisor | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* StdioServerTransport.make(options)
    const session = yield* serveSupervised(transport, options)
    yield* Effect.promise(() => session.ended)
  })

/**
 * Registry + Supervisor, the runtime every served session lives in. Closing it drains
 * and closes every live session.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { McpServerService, Registry, RuntimeLayer, serveStdio } from "mcp-actors/effect"
 *
 * const main = Effect.gen(function*() {
 *   const registry = yield* Registry
 *   yield* registry.subscribe((change) => console.error(change.type, change.info.id))   // sessions come and go
 *   yield* serveStdio()
 * }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(McpServerService.layer({ name: "notes", version: "1.0.0" }), RuntimeLayer)))
 * ```
 */
export const RuntimeLayer: Layer.Layer<Supervisor | Registry> = Supervisor.layer.pipe(Layer.provideMerge(Registry.layer))
