/**
 * Spawn an MCP server as a child process (in its own process group) and
 * connect a client session to it. Closing the session closes stdin, then
 * escalates SIGTERM → SIGKILL to the whole group.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { makeStdioClientTransport, type SpawnError, type StdioClientOptions } from "../transports/stdioClient.ts"
import type { Client } from "./Client.ts"
import { onRuntimeClock, openClient } from "./clientConnection.ts"
import { stdioServerKey } from "./EraCache.ts"
import { type AutoConnectOptions, messageClientWire } from "./messageClientWire.ts"
import type { ConnectError } from "../protocol/requestErrors.ts"

/** What to spawn (`command`, `args`, `env`, …) plus the session's, the runtime's and the era's options. */
export type StdioConnectOptions = StdioClientOptions & AutoConnectOptions

/**
 * Spawn an MCP server as a child process and connect to it: the one `Client`, in the era
 * `era` says — `"legacy"` by default (a legacy session, `client.client`), `"modern"`, or
 * `"auto"` (probe or cache, keyed by the command line; `connectAutoStdio` is this with
 * `"auto"` as the default).
 *
 * Resolves once `initialize` has succeeded; rejects with `SpawnError` when the command
 * cannot start, or a `ConnectError` when the handshake fails (the child is then stopped).
 * The session is supervised by the runtime (`runtime` option, default the process's):
 * it is a node of its actor tree and released with it.
 *
 * @example
 * ```ts
 * import { connectStdio } from "mcp-actors"
 *
 * const client = await connectStdio({
 *   command: "npx", args: ["-y", "@modelcontextprotocol/server-everything", "stdio"],
 *   onStateChange: (state) => console.log("state:", state),          // connecting → initializing → operating…
 *   onElicitation: async () => ({ action: "accept", content: { name: "Ada" } })
 * })
 * const result = await client.callTool("echo", { message: "hi" }, {
 *   timeoutMs: 10_000, onProgress: (p) => console.log(p)             // the progress token is injected for you
 * })
 * console.log(result.content)
 * await client.close()                                               // stdin → SIGTERM → SIGKILL of the process group
 * ```
 */
export const connectStdio = (options: StdioConnectOptions): Promise<Client> => {
  // The kill grace and the session's deadlines run on the runtime's clock unless given one.
  const opts = onRuntimeClock(options)
  const transport = makeStdioClientTransport(opts)
  return openClient(messageClientWire(transport, transport.spawned), {
    ...opts,
    era: opts.era ?? "legacy",
    key: opts.key ?? stdioServerKey(opts.command, opts.args)
  })
}

/** Effect API: the session (and its child process) live in the current Scope. */
export const connectStdioScoped = (
  options: StdioConnectOptions & { readonly drainMs?: number }
): Effect.Effect<Client, SpawnError | ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectStdio(options),
      catch: (e) => e as SpawnError | ConnectError
    }),
    // close() returns at once for a session that already died; closing the transport
    // too waits until the child is reaped and its pipes are closed.
    (client) =>
      Effect.promise(async () => {
        await client.close({ drainMs: options.drainMs ?? 2_000 })
        await client.transport?.close()
      })
  )
