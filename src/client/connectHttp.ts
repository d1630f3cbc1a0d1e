/**
 * Connect a client session to a Streamable HTTP endpoint (legacy era:
 * `initialize`, `Mcp-Session-Id`). The session re-initializes by itself when
 * the server loses it; see {@link HttpClientSession}. Closing it sends DELETE
 * and releases every socket.
 */
import { Effect, type Scope } from "effect"
import type { ConnectError } from "../protocol/requestErrors.ts"
import { type ClientRuntimeOptions, openClientConnection } from "./clientConnection.ts"
import { Client } from "./Client.ts"
import { HttpClientSession, type HttpClientSessionOptions } from "./HttpClientSession.ts"

export type HttpConnectOptions = HttpClientSessionOptions & ClientRuntimeOptions

/**
 * Connect to `url` (e.g. `http://127.0.0.1:3000/mcp`): the one `Client`, over a legacy
 * `HttpClientSession` (`client.client`); rejects with `InitializeFailed` / `UnsupportedProtocolVersion`.
 *
 * The legacy era over Streamable HTTP. For a server that may speak the modern era, use
 * `connectAutoHttp`, which picks the era for you. The session is supervised by the
 * runtime (`runtime` option, default the process's) and is a node of its actor tree.
 *
 * @example
 * ```ts
 * import { connectHttp } from "mcp-actors"
 *
 * const client = await connectHttp("http://127.0.0.1:3000/mcp", {
 *   onNotification: (n) => console.log(n.method)       // list changes, logs, resource updates
 * })
 * const { tools } = await client.listTools()
 * console.log(tools)
 * await client.close()                                 // DELETE, then every socket released
 * ```
 */
export const connectHttp = (url: string | URL, options: HttpConnectOptions = {}): Promise<Client> => {
  const node = openClientConnection("http", options)
  const { session, ready } = HttpClientSession.open(url, { ...options, clock: options.clock ?? node.runtime.clock }, node)
  const client = Client.legacy(session, () => Promise.resolve(), session.url)
  try {
    // Its scope closes when it ends (a failed first handshake too): the last generation's sockets go with it.
    node.supervise(client, () => session.close({ drainMs: 0 }))
  } catch (e) {
    return ready.then(() => Promise.reject(e), () => Promise.reject(e))
  }
  return ready.then(() => client)
}

/** Effect API: the session lives in the current Scope (closed with a drain of `drainMs`, default 2 s). */
export const connectHttpScoped = (
  url: string | URL,
  options: HttpConnectOptions & { readonly drainMs?: number } = {}
): Effect.Effect<Client, ConnectError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectHttp(url, options),
      catch: (e) => e as ConnectError
    }),
    (session) => Effect.promise(() => session.close({ drainMs: options.drainMs ?? 2_000 }))
  )
