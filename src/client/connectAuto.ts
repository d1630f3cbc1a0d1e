/**
 * Dual-era connect: find out whether a server speaks the modern (2026-07-28)
 * or the legacy (`initialize`) protocol, then talk to it in that era — on the
 * same transport (for stdio: the same child process, which the probe and the
 * fallback share; 2026-07-28/basic/transports/stdio.mdx:L121-L147).
 *
 * 1. The `eraProbe` chart (through `EraProber`) reads the `EraCache`; without a
 *    cached verdict it sends `server/discover` with the modern `_meta`. A
 *    DiscoverResult or a recognised modern error means modern; any other error
 *    or a timeout (`probeTimeoutMs`) means legacy. The verdict is cached under
 *    `key` (stdio: command + args, `stdioServerKey`; HTTP: the origin).
 * 2. modern → a `ModernClient` (after a recognised modern error, `server/discover`
 *    is retried with the version the chart picked); legacy → `ClientSession.connect`.
 * 3. A cached verdict is trusted, not proven. A cached legacy verdict whose
 *    `initialize` is rejected is revoked (`CACHED_VERDICT_FAILED`) and the
 *    server probed again, before `connectAuto` returns. A cached modern verdict
 *    stays unconfirmed until a response carries a modern marker (`resultType`
 *    or `_meta` serverInfo) or a modern error (-32021/-32022); a JSON-RPC error
 *    or a timeout, or an unmarked result before that makes the `AutoClient`
 *    re-probe. If the
 *    server now turns out legacy, the client switches to a legacy session on
 *    the same transport; a request the server refused as unknown or invalid
 *    (-32601/-32600, so not executed) is re-sent there, any other outcome is
 *    returned as it was.
 *
 * The result is a `Client` (Client.ts; `AutoClient` is its deprecated alias): the
 * `McpClientLike` method surface of both eras plus `era`, the `client` in charge
 * (ModernClient | ClientSession) and the `verdict`. With `era: "legacy" | "modern"`
 * the probe is skipped and the client never switches.
 */
import { Effect, type Scope } from "effect"
import type { ServerCapabilities } from "../protocol/capabilities.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import type { ConnectError, ConnectionLost } from "../protocol/requestErrors.ts"
import type { PeerInfo } from "../runtime/SessionHandle.ts"
import type { SpawnError, StdioClientOptions } from "../transports/stdioClient.ts"
import type { Transport } from "../transports/Transport.ts"
import { Client } from "./Client.ts"
import type { RequestOptions, Result } from "./ClientSession.ts"
import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  ListPromptsResult,
  ListResourcesResult,
  ListResourceTemplatesResult,
  ListToolsResult,
  ReadResourceResult
} from "../protocol/results.ts"
import { openClient } from "./clientConnection.ts"
import { connectStdio } from "./connectStdio.ts"
import { type AutoConnectOptions, messageClientWire } from "./messageClientWire.ts"

export { type AutoConnectOptions, discoverOverHub, messageClientWire } from "./messageClientWire.ts"

/** What both eras' clients offer (ClientSession and ModernClient both satisfy it). */
export interface McpClientLike {
  readonly serverCapabilities: ServerCapabilities | undefined
  readonly serverInfo: PeerInfo | undefined
  readonly instructions: string | undefined
  readonly protocolVersion: string | undefined
  request(method: string, params?: Params, options?: RequestOptions): Promise<Result>
  listTools(options?: RequestOptions & { readonly cursor?: string }): Promise<ListToolsResult>
  callTool(name: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<CallToolResult>
  listResources(options?: RequestOptions & { readonly cursor?: string }): Promise<ListResourcesResult>
  listResourceTemplates(options?: RequestOptions & { readonly cursor?: string }): Promise<ListResourceTemplatesResult>
  readResource(uri: string, options?: RequestOptions): Promise<ReadResourceResult>
  listPrompts(options?: RequestOptions & { readonly cursor?: string }): Promise<ListPromptsResult>
  getPrompt(name: string, args?: Record<string, string>, options?: RequestOptions): Promise<GetPromptResult>
  complete(
    ref: { readonly type: string; readonly name?: string; readonly uri?: string },
    argument: { readonly name: string; readonly value: string },
    options?: RequestOptions
  ): Promise<CompleteResult>
  close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>
}

/** `connectAuto`'s options: the session's, the runtime's, and the era's (`era` default `"auto"`). */
/**
 * The client `connectAuto` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`; this alias stays for existing imports.
 */
export type AutoClient = Client
/**
 * The client `connectAuto` returns, under its old name: it is `Client`.
 * @deprecated Use `Client`.
 */
export const AutoClient = Client

/**
 * Connect to the server at the other end of `transport` (not started yet) in
 * whichever era it speaks (`era`, default `"auto"`: probe or cache). Rejects with the
 * legacy `ConnectError`s, a modern error from the retried discover, or
 * `ConnectionLost` when the transport ended during the probe; the transport is then closed.
 *
 * The verdict is cached per `key` (when given), so the next connect to the same server
 * skips the probe; a cached verdict that turns out wrong is corrected once.
 *
 * @example
 * ```ts
 * import { McpServer, connectAuto, makeMemoryTransportPair, serveTransport } from "mcp-actors"
 *
 * const server = new McpServer({ name: "notes", version: "1.0.0" })
 * const [serverSide, clientSide] = makeMemoryTransportPair()
 * serveTransport(server, serverSide)                  // our server speaks both eras
 * const client = await connectAuto(clientSide)
 * console.log(client.era)                             // "modern"
 * await client.close()
 * ```
 */
export const connectAuto = (transport: Transport, options: AutoConnectOptions = {}): Promise<Client> =>
  openClient(messageClientWire(transport), { ...options, era: options.era ?? "auto" })

export type AutoStdioOptions = StdioClientOptions & AutoConnectOptions

/**
 * Spawn a stdio server and connect in its era: `connectStdio` with `era` defaulting to
 * `"auto"`; the cache key defaults to its command line.
 *
 * @example
 * ```ts
 * import { connectAutoStdio } from "mcp-actors"
 *
 * const client = await connectAutoStdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-everything", "stdio"] })
 * console.log(client.era, (await client.listTools()).tools)   // "legacy" for a server that only speaks initialize
 * await client.close()
 * ```
 */
export const connectAutoStdio = (options: AutoStdioOptions): Promise<Client> => connectStdio({ ...options, era: options.era ?? "auto" })

/** Effect API: the client (and its child process) live in the current Scope. */
export const connectAutoStdioScoped = (
  options: AutoStdioOptions & { readonly drainMs?: number }
): Effect.Effect<Client, SpawnError | ConnectError | ConnectionLost, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => connectAutoStdio(options),
      catch: (e) => e as SpawnError | ConnectError | ConnectionLost
    }),
    (client) => Effect.promise(() => client.close({ drainMs: options.drainMs ?? 2_000 }))
  )
