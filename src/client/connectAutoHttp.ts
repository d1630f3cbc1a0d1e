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
import type { AnyActorRef } from "xstate"
import type { Era } from "../protocol/era.ts"
import { request as makeRequest } from "../protocol/jsonrpc.ts"
import type { ModernVersion } from "../protocol/versions.ts"
import { HttpError } from "../transports/http/client/errors.ts"
import { makeAgent } from "../transports/http/client/httpRequest.ts"
import { exchangeModern, httpStatusOf, ModernHttpWire } from "../transports/http/client/ModernHttpWire.ts"
import type { Result } from "./ClientSession.ts"
import type { McpClientLike } from "./connectAuto.ts"
import type { HttpConnectOptions } from "./connectHttp.ts"
import { HttpClientSession } from "./HttpClientSession.ts"
import { openClientConnection } from "./clientConnection.ts"
import { defaultEraCache, type EraCache, httpServerKey } from "./EraCache.ts"
import { EraProber, type EraVerdict, type SendDiscover } from "./EraProber.ts"
import type { ConnectError } from "../protocol/requestErrors.ts"
import { modernClientOptions, openForVerdict } from "./DualEraClient.ts"
import { type EraBackend, Client, type Side } from "./Client.ts"
import { ModernClient } from "./ModernClient.ts"

export interface AutoHttpOptions extends HttpConnectOptions {
  /** Era-cache key of this server. Default: its origin (`httpServerKey(url)`). */
  readonly key?: string
  /** Default: the process-wide `defaultEraCache`. */
  readonly cache?: EraCache
  /** How long to wait for the `server/discover` answer before deciding legacy. Default 10 s. */
  readonly probeTimeoutMs?: number
  /** Modern versions we speak, preferred first (default `MODERN_VERSIONS`). */
  readonly modernVersions?: ReadonlyArray<ModernVersion>
  /** Modern only: default per-request log level (`_meta` logLevel). */
  readonly logLevel?: string
  /** `"auto"` (default) probes (or trusts the cache); `"legacy"` or `"modern"` skip the probe and never switch. */
  readonly era?: "auto" | Era
  /** The actor whose children the client's charts are (probe, modern client, legacy session). */
  readonly actorParent?: AnyActorRef
}

const parentOf = (options: AutoHttpOptions) => options.actorParent === undefined ? undefined : { actor: options.actorParent }

type ModernSide = { readonly era: "modern"; readonly client: ModernClient }

/** Codes meaning the server refused a request without running it (whatever the HTTP status). */

/** Whether the server refused `e`'s request without running it: an HTTP 4xx, or a "not understood" code. */


/**
 * `server/discover` over Streamable HTTP, for `EraProber`: one POST with the
 * modern headers, answered with the DiscoverResult, the JSON-RPC error (from
 * the body, whatever the status) and the HTTP status. Rejects only when the
 * server could not be reached (the `HttpNetworkError`).
 */
export const discoverOverHttp = (
  url: string | URL,
  options: Pick<AutoHttpOptions, "headers" | "connectTimeoutMs" | "maxMessageBytes"> = {}
): SendDiscover => {
  const u = new URL(url)
  let seq = 0
  return async (params, signal) => {
    // A pool of its own, destroyed once the answer is read: a probe leaves no socket behind.
    const agent = makeAgent(u)
    try {
      const h = options.headers
      const reply = await exchangeModern(u, makeRequest(`probe-${++seq}`, "server/discover", params), {
        headers: (typeof h === "function" ? await h() : h) ?? {},
        signal,
        agent,
        ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
        ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {})
      })
      switch (reply._tag) {
        case "Response": {
          const r = reply.response
          return "result" in r
            ? { _tag: "Result", result: r.result }
            : { _tag: "Error", httpStatus: reply.status, code: r.error.code, message: r.error.message, data: r.error.data }
        }
        case "Rejected":
          return reply.rpcError !== undefined
            ? { _tag: "Error", httpStatus: reply.status, code: reply.rpcError.code, message: reply.rpcError.message, data: reply.rpcError.data }
            : { _tag: "Error", httpStatus: reply.status, message: reply.body.slice(0, 200) }
        case "NoResponse":
          return { _tag: "Error", httpStatus: reply.status, message: reply.reason }
      }
    } finally {
      agent.destroy()
    }
  }
}

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

/** The Streamable HTTP family of `Client`: each era brings its own exchanges; nothing is shared but the URL. */
const httpBackend = (url: URL, options: AutoHttpOptions): EraBackend => ({
  url,
  openLegacy: async () => ({ era: "legacy", client: await HttpClientSession.connect(url, options, parentOf(options)) }),
  // The modern client finishes what it has in flight, then releases its sockets.
  releaseModern: (old) => void old.close({ reason: "server is legacy" }),
  release: () => Promise.resolve(),
  // Over HTTP an error status is suspect too; a 4xx means the request was refused unrun.
  isSuspect: (e) => e instanceof HttpError,
  notExecuted: (e) => {
    const status = httpStatusOf(e)
    return status !== undefined && status >= 400 && status < 500
  }
})

const modernSide = (url: URL, options: AutoHttpOptions, verdict: EraVerdict): ModernSide => {
  const wire = new ModernHttpWire({
    url,
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {})
  })
  const client = ModernClient.create(wire, {
    ...modernClientOptions(options, verdict),
    ...(options.actorParent !== undefined ? { actorParent: options.actorParent } : {})
  })
  return { era: "modern", client }
}

/** The era's client for a verdict, or the error that says the verdict did not hold. */
const openSide = async (url: URL, options: AutoHttpOptions, verdict: EraVerdict): Promise<Side> => {
  if (verdict.era === "legacy") return { era: "legacy", client: await HttpClientSession.connect(url, options, parentOf(options)) }
  const side = modernSide(url, options, verdict)
  if (verdict.retry) {
    // 2026-07-28/basic/versioning.mdx:L69 — retry with the mutually supported version the chart picked.
    try {
      await side.client.discover()
    } catch (e) {
      await side.client.close({ drainMs: 0 })
      throw e
    }
  }
  return side
}

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
export const connectAutoHttp = async (url: string | URL, options: AutoHttpOptions = {}): Promise<Client> => {
  const u = new URL(url)
  // Given a parent (a host's server connection), the caller owns the client; else it is a supervised node.
  const node = options.actorParent === undefined ? openClientConnection("http", options) : undefined
  const opts: AutoHttpOptions = node === undefined ? options : { ...options, actorParent: node.actor, clock: options.clock ?? node.runtime.clock }
  const prober = new EraProber({
    sendDiscover: discoverOverHttp(u, opts),
    ...(opts.era !== undefined && opts.era !== "auto" ? { era: opts.era } : {}),
    key: opts.key ?? httpServerKey(u),
    cache: opts.cache ?? defaultEraCache,
    ...(opts.modernVersions ? { modernVersions: opts.modernVersions } : {}),
    ...(opts.probeTimeoutMs !== undefined ? { probeTimeoutMs: opts.probeTimeoutMs } : {}),
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
    ...(opts.clientInfo ? { clientInfo: opts.clientInfo } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.actorParent !== undefined ? { actorParent: opts.actorParent } : {})
  })
  let client: Client
  try {
    client = await openForVerdict(
      prober,
      async (verdict) =>
        new Client(prober, { ...httpBackend(u, opts), ...(node !== undefined ? { closing: node.closeRequested } : {}) }, await openSide(u, opts, verdict), verdict, opts.onDiagnostic),
      { onDiagnostic: opts.onDiagnostic, canRetry: () => !prober.forced }
    )
  } catch (e) {
    prober.stop()
    if (node !== undefined) await node.abandon("connect failed", () => Promise.resolve())
    throw e
  }
  // Closing the client releases its exchanges (a legacy session DELETEs; a modern client's pool goes).
  node?.supervise(client, () => Promise.resolve())
  return client
}

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
