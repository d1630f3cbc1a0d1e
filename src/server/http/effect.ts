/**
 * The Streamable HTTP server as an Effect resource.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Registry } from "../../runtime/Registry.ts"
import type { McpServer } from "../McpServer.ts"
import { type HttpCloseOptions, makeHttpServer, type HttpServerHandle, type HttpServerOptions } from "./HttpServer.ts"

/** The server could not start (port in use, bad address). */
export class HttpServerError extends Schema.TaggedError<HttpServerError>()("HttpServerError", {
  message: Schema.String
}) {}

/**
 * The server as a scoped resource: listening when acquired; drained
 * (`drainMs`, default 5000) and closed by the scope's finalizer, whatever ends
 * the scope. Sessions are listed in the {@link Registry} service when the
 * context has one (and `options.registry` is not given).
 */
export const makeHttpServerScoped = (
  server: McpServer,
  options: HttpServerOptions & HttpCloseOptions = {}
): Effect.Effect<HttpServerHandle, HttpServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const registry = yield* Effect.serviceOption(Registry)
      const withRegistry = options.registry === undefined && registry._tag === "Some" ? { ...options, registry: registry.value.unsafe } : options
      return yield* Effect.tryPromise({
        try: () => makeHttpServer(server, withRegistry),
        catch: (e) => new HttpServerError({ message: e instanceof Error ? e.message : String(e) })
      })
    }),
    (h) => Effect.promise(() => h.close(options.drainMs === undefined ? undefined : { drainMs: options.drainMs }))
  )
