/**
 * Connect a client session to a Streamable HTTP endpoint (legacy era:
 * `initialize`, `Mcp-Session-Id`). The session re-initializes by itself when
 * the server loses it; see {@link HttpClientSession}. Closing it sends DELETE
 * and releases every socket.
 */
import { Effect, type Scope } from "effect"
import type { ConnectError } from "../protocol/requestErrors.ts"
import { openClient } from "./clientConnection.ts"
import type { Client } from "./Client.ts"
import { httpClientWire, type HttpConnectOptions } from "./httpClientWire.ts"

export type { HttpConnectOptions } from "./httpClientWire.ts"

/**
 * Connect to `url` (e.g. `http://127.0.0.1:3000/mcp`): the one `Client`, in the era `era`
 * says — `"legacy"` by default (an `HttpClientSession`, `client.client`; rejects with
 * `InitializeFailed` / `UnsupportedProtocolVersion`), `"modern"`, or `"auto"` (probe or
 * cache, keyed by origin; `connectAutoHttp` is this with `"auto"` as the default). The
 * client is supervised by the runtime (`runtime` option, default the process's) and is a
 * node of its actor tree.
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
export const connectHttp = (url: string | URL, options: HttpConnectOptions = {}): Promise<Client> =>
  openClient(httpClientWire(url), { ...options, era: options.era ?? "legacy" })

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
