/**
 * Spawn an MCP server as a child process (in its own process group) and
 * connect a client session to it. Closing the session closes stdin, then
 * escalates SIGTERM → SIGKILL to the whole group.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { makeStdioClientTransport, type SpawnError, type StdioClientOptions } from "../transports/stdioClient.ts"
import { ClientSession, type ClientSessionOptions } from "./ClientSession.ts"
import type { ConnectError } from "../protocol/requestErrors.ts"

export type StdioConnectOptions = StdioClientOptions & ClientSessionOptions

export const connectStdio = async (options: StdioConnectOptions): Promise<ClientSession> => {
  const transport = makeStdioClientTransport(options)
  try {
    await transport.spawned
    return await ClientSession.connect(transport, options)
  } catch (e) {
    await transport.close()
    throw e
  }
}

/** Effect API: the session (and its child process) live in the current Scope. */
export const connectStdioScoped = (
  options: StdioConnectOptions & { readonly drainMs?: number }
): Effect.Effect<ClientSession, SpawnError | ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectStdio(options),
      catch: (e) => e as SpawnError | ConnectError
    }),
    // close() returns at once for a session that already died; closing the transport
    // too waits until the child is reaped and its pipes are closed.
    (session) =>
      Effect.promise(async () => {
        await session.close({ drainMs: options.drainMs ?? 2_000 })
        await session.transport.close()
      })
  )
