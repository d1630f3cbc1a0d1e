/**
 * The Effect API of the multi-server host: `Host` as a service whose layer
 * starts the host (and every server process) and closes it with the scope,
 * and host calls as Effects with typed errors. Interrupting a call's fiber
 * cancels it upstream.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Result } from "../client/ClientSession.ts"
import type { RequestError } from "../protocol/requestErrors.ts"
import type { HostConfig } from "./config.ts"
import type { HostCallError } from "./errors.ts"
import { type CallOptions, type HostOptions, type McpHost, type SubscribeOptions, startHost } from "./McpHost.ts"

/** The multi-server host as an Effect service; `Host.layer` starts it and closes it (no child process left) with the scope. */
export class Host extends Context.Service<Host, McpHost>()("mcp-actors/Host") {
  /** Start the host from a config (path, parsed config or `{ mcpServers }` object); it is closed (no child left) with the layer. */
  static readonly layer = (config: HostConfig | string | { readonly [key: string]: unknown }, options?: HostOptions): Layer.Layer<Host> =>
    Layer.effect(Host, Effect.acquireRelease(Effect.promise(() => startHost(config, options)), (host) => Effect.promise(() => host.close())))
  static readonly fromHost = (host: McpHost): Layer.Layer<Host> => Layer.succeed(Host, host)
}

export type HostEffectError = HostCallError | RequestError

const run = (f: (host: McpHost, signal: AbortSignal) => Promise<Result>): Effect.Effect<Result, HostEffectError, Host> =>
  Effect.gen(function*() {
    const host = yield* Host
    return yield* Effect.tryPromise({ try: (signal) => f(host, signal), catch: (e) => e as HostEffectError })
  })

/** Call a namespaced tool (`server__tool`). */
export const callHostTool = (name: string, args: Record<string, unknown> = {}, options?: Omit<CallOptions, "signal">) =>
  run((h, signal) => h.callTool(name, args, { ...options, signal }))
/** Read a resource by URI from the server that serves it; interrupting the fiber cancels the read upstream. */
export const readHostResource = (uri: string, options?: Omit<CallOptions, "signal">) =>
  run((h, signal) => h.readResource(uri, { ...options, signal }))
/** Get a namespaced prompt (`server__prompt`); interrupting the fiber cancels it upstream. */
export const getHostPrompt = (name: string, args: Record<string, string> = {}, options?: Omit<CallOptions, "signal">) =>
  run((h, signal) => h.getPrompt(name, args, { ...options, signal }))
/** The advertised tools, namespaced. */
export const hostTools = Effect.gen(function*() {
  return (yield* Host).tools()
})
/**
 * Subscribe to a resource on the server that serves it (see `McpHost.subscribeResource`): updates reach
 * `options.onUpdated`. Fails with `UnknownName`, `SubscriptionUnsupported`, `ServerUnavailable` (at once
 * while the server restarts) or the upstream's error.
 */
export const subscribeHostResource = (uri: string, options?: SubscribeOptions): Effect.Effect<void, HostEffectError, Host> =>
  Effect.gen(function*() {
    const host = yield* Host
    return yield* Effect.tryPromise({ try: () => host.subscribeResource(uri, options), catch: (e) => e as HostEffectError })
  })
/** End a subscription (`McpHost.unsubscribeResource`): the last subscriber's going unsubscribes upstream. Never fails. */
export const unsubscribeHostResource = (uri: string, options?: Pick<SubscribeOptions, "subscriber" | "server">): Effect.Effect<void, never, Host> =>
  Effect.gen(function*() {
    const host = yield* Host
    return yield* Effect.promise(() => host.unsubscribeResource(uri, options))
  })
