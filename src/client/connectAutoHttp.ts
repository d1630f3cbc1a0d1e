/**
 * Dual-era connect over Streamable HTTP: find out whether the server at a URL
 * speaks the modern (2026-07-28, sessionless) or the legacy (`initialize`,
 * `Mcp-Session-Id`) protocol, then talk to it in that era (spec-digest §3.B
 * "Backward compatibility", 2026-07-28/basic/transports/streamable-http.mdx:L650-L737).
 *
 * 1. The `eraProbe` chart (through `EraProber`) reads the `EraCache`, keyed by
 *    origin (`httpServerKey`, 2026-07-28/basic/versioning.mdx:L149-L152).
 *    Without a cached verdict it POSTs `server/discover` with the modern
 *    headers and `_meta` (`discoverOverHttp`). A DiscoverResult, or an error
 *    whose JSON-RPC body is a recognised modern error (-32020/-32021/-32022,
 *    whatever the status: the spec's "on a 400, inspect the body"), means
 *    modern; any other answer — a 400 with another body or none, 404, 405, a
 *    legacy server's -32000, a timeout — means legacy. The chart decides; the
 *    fallback is never keyed to one status or code.
 * 2. modern → a `ModernClient` over a `ModernHttpWire` (after a recognised
 *    modern error, `server/discover` is retried with the version the chart
 *    picked); legacy → `connectHttp` (an `HttpClientSession`).
 * 3. A cached verdict is trusted, not proven, and re-probed once when it fails:
 *    - cached legacy whose `initialize` is refused → revoke, probe, connect in
 *      the new era (before `connectAutoHttp` returns);
 *    - cached modern (nothing is sent at connect time) stays unconfirmed until
 *      a response carries a modern marker (`resultType`, `_meta` serverInfo) or
 *      a modern error; a non-modern JSON-RPC error, an HTTP error, a timeout or
 *      an unmarked result first makes the client re-probe. If the server is
 *      legacy now, it switches to a legacy session, and the failed call is
 *      sent again there only if the server refused it without running it (an
 *      HTTP 4xx, or -32601/-32600); anything else is returned as it was.
 *
 * The result is the same `Client` as `connectAuto`'s (`AutoHttpClient` is its
 * deprecated alias), with the Streamable HTTP `EraBackend`: each era brings its own
 * exchanges — a `ModernHttpWire` or an `HttpClientSession` with its own
 * re-initialization — and nothing is shared but the URL; an HTTP error status is
 * suspect, and a 4xx proves the request was refused unrun.
 */
import { Effect, type Scope } from "effect"
import type { ConnectError } from "../protocol/requestErrors.ts"
import { Client } from "./Client.ts"
import { connectHttp, type HttpConnectOptions } from "./connectHttp.ts"

export { discoverOverHttp, httpClientWire } from "./httpClientWire.ts"

/** `connectAutoHttp`'s options: `connectHttp`'s (with `era` defaulting to `"auto"`). */
export interface AutoHttpOptions extends HttpConnectOptions {}

/**
 * The client `connectAutoHttp` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`; this alias stays for existing imports.
 */
export type AutoHttpClient = Client
/**
 * The client `connectAutoHttp` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`.
 */
export const AutoHttpClient = Client

/**
 * Connect to the MCP endpoint at `url` in whichever era it speaks. Rejects
 * with the legacy `ConnectError`s, a modern error from the retried discover,
 * or the `HttpNetworkError` when the server cannot be reached.
 *
 * For agents that talk to many servers of unknown age: one method surface whichever era
 * each speaks, the verdict cached per origin (`defaultEraCache`).
 *
 * @example
 * ```ts
 * import { connectAutoHttp } from "mcp-actors"
 *
 * const client = await connectAutoHttp("http://127.0.0.1:3000/mcp")
 * console.log(client.era)                              // "modern" or "legacy"
 * console.log(await client.callTool("echo", { text: "hi" }))
 * if (client.era === "modern") {
 *   // client.client is then a ModernClient: subscriptions/listen is available.
 * }
 * await client.close()
 * ```
 */
export const connectAutoHttp = (url: string | URL, options: AutoHttpOptions = {}): Promise<Client> =>
  connectHttp(url, { ...options, era: options.era ?? "auto" })

/** Effect API: the client lives in the current Scope (closed with a drain of `drainMs`, default 2 s). */
export const connectAutoHttpScoped = (
  url: string | URL,
  options: AutoHttpOptions & { readonly drainMs?: number } = {}
): Effect.Effect<Client, ConnectError | Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectAutoHttp(url, options),
      catch: (e) => e as ConnectError | Error
    }),
    (client) => Effect.promise(() => client.close({ drainMs: options.drainMs ?? 2_000 }))
  )
