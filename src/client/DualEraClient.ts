/**
 * What the dual-era clients share (`AutoClient` over a message transport,
 * `AutoHttpClient` over Streamable HTTP): one method surface over whichever
 * era's client is in charge, and the rule for a verdict taken from the cache.
 *
 * A cached "modern" verdict is trusted until a response contradicts it: a
 * result carrying modern markers (or a recognised modern error) confirms it;
 * a non-modern error, silence or an unmarked result re-probes once
 * (`CACHED_VERDICT_FAILED` in the era-probe chart). If the server is legacy
 * now, the subclass switches to a legacy session, and a call the server
 * refused without running it is sent again there.
 */
import type { ClientCapabilities, ServerCapabilities } from "../protocol/capabilities.ts"
import type { ModernVersion } from "../protocol/versions.ts"
import type { Era } from "../protocol/era.ts"
import { MODERN_ERROR_CODES } from "../protocol/errors.ts"
import type { PeerInfo } from "../protocol/implementation.ts"
import type { Params } from "../protocol/jsonrpc.ts"
import { InitializeFailed, RequestTimeout, RpcError, UnsupportedProtocolVersion } from "../protocol/requestErrors.ts"
import type { RequestOptions, Result } from "./ClientSession.ts"
import type { McpClientLike } from "./connectAuto.ts"
import type { EraProber, EraVerdict } from "./EraProber.ts"
import { McpMethods } from "./McpMethods.ts"
import { hasModernMarkers, type ModernClient, type ModernClientOptions } from "./ModernClient.ts"
import { MissingClientCapability } from "./modernErrors.ts"

/** JSON-RPC codes meaning the server refused a request without running it: safe to re-send in the other era. */
export const NOT_EXECUTED_CODES: ReadonlySet<number> = new Set([-32601, -32600])

export type Side<L extends McpClientLike> =
  | { readonly era: "modern"; readonly client: ModernClient }
  | { readonly era: "legacy"; readonly client: L }

/** The options a dual-era connect gives the modern client it opens (shared by both transports). */
export interface ModernSideOptions {
  readonly clientInfo?: { readonly name: string; readonly version: string; readonly [k: string]: unknown }
  readonly capabilities?: object
  readonly modernVersions?: ReadonlyArray<ModernVersion>
  readonly requestTimeoutMs?: number
  readonly closeTimeoutMs?: number
  readonly logLevel?: string
  readonly enforceCapabilities?: boolean
  readonly onNotification?: ModernClientOptions["onNotification"]
  readonly onDiagnostic?: (message: string) => void
  readonly clock?: ModernClientOptions["clock"]
  /** MRTR input handlers (the same handlers answer legacy server→client requests). */
  readonly onElicitation?: ModernClientOptions["onElicitation"]
  readonly onSampling?: ModernClientOptions["onSampling"]
  readonly onRoots?: ModernClientOptions["onRoots"]
  readonly telemetry?: ModernClientOptions["telemetry"]
}

export const modernClientOptions = (options: ModernSideOptions, verdict: EraVerdict): ModernClientOptions => ({
  ...(options.clientInfo ? { clientInfo: options.clientInfo } : {}),
  // Modern requests declare what was asked for; the MRTR input handlers below declare their own capabilities.
  ...(options.capabilities ? { capabilities: options.capabilities as ClientCapabilities } : {}),
  ...(options.modernVersions ? { protocolVersions: options.modernVersions } : {}),
  ...(verdict.protocolVersion ? { protocolVersion: verdict.protocolVersion } : {}),
  ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  ...(options.closeTimeoutMs !== undefined ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
  ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
  ...(options.enforceCapabilities !== undefined ? { enforceCapabilities: options.enforceCapabilities } : {}),
  ...(options.onNotification ? { onNotification: options.onNotification } : {}),
  ...(options.onDiagnostic ? { onDiagnostic: options.onDiagnostic } : {}),
  ...(verdict.discover ? { discovered: verdict.discover } : {}),
  ...(options.clock ? { clock: options.clock } : {}),
  ...(options.telemetry ? { telemetry: options.telemetry } : {}),
  // MRTR: input_required results are answered by the same handlers as legacy server→client requests.
  ...(options.onElicitation ? { onElicitation: options.onElicitation } : {}),
  ...(options.onSampling ? { onSampling: options.onSampling } : {}),
  ...(options.onRoots ? { onRoots: options.onRoots } : {})
})

/**
 * Open the client for the prober's verdict. A cached verdict whose handshake
 * is refused (the server changed era) is forgotten and probed again, once.
 */
export const openForVerdict = async <C>(
  prober: EraProber,
  open: (verdict: EraVerdict) => Promise<C>,
  options: { readonly onDiagnostic?: ((message: string) => void) | undefined; readonly canRetry?: () => boolean }
): Promise<C> => {
  let verdict = await prober.verdict()
  let revoked = false
  for (;;) {
    try {
      return await open(verdict)
    } catch (e) {
      const refused = e instanceof InitializeFailed || e instanceof UnsupportedProtocolVersion
      if (!verdict.fromCache || revoked || !refused || options.canRetry?.() === false) throw e
      revoked = true
      options.onDiagnostic?.(`cached ${verdict.era} verdict failed (${describe(e)}): probing again`)
      verdict = await prober.revoke()
    }
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

export abstract class DualEraClient<S extends Side<McpClientLike>> extends McpMethods<RequestOptions> implements McpClientLike {
  protected side: S
  private verdictValue: EraVerdict
  /** False while running on a cached modern verdict that no response has confirmed yet. */
  protected confirmed: boolean
  protected verifying: Promise<Era> | undefined
  protected readonly prober: EraProber
  protected readonly onDiagnostic: ((message: string) => void) | undefined

  constructor(prober: EraProber, side: S, verdict: EraVerdict, onDiagnostic: ((message: string) => void) | undefined) {
    super()
    this.prober = prober
    this.side = side
    this.verdictValue = verdict
    this.onDiagnostic = onDiagnostic
    this.confirmed = !(verdict.fromCache && verdict.era === "modern")
  }

  /** The legacy session that replaces a modern client when a re-probe says the server is legacy. */
  protected abstract openLegacy(old: Extract<S, { era: "modern" }>): Promise<S>
  /** Let go of the modern client once the legacy session is in charge. */
  protected abstract releaseModern(old: Extract<S, { era: "modern" }>): void
  abstract close(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>

  /** Errors that may mean the server is not modern (any other error is just an error). */
  protected isSuspect(e: unknown): boolean {
    return e instanceof RpcError || e instanceof RequestTimeout
  }
  /** Whether the server refused the request without running it (so it can be sent again). */
  protected notExecuted(e: unknown): boolean {
    return e instanceof RpcError && NOT_EXECUTED_CODES.has(e.code)
  }

  get era(): Era {
    return this.side.era
  }
  /** The client in charge. */
  get client(): S["client"] {
    return this.side.client
  }
  /** How the era was decided (the last verdict, after any re-probe). */
  get verdict(): EraVerdict {
    return this.verdictValue
  }
  /** `server/discover` probes sent by this client so far (0 when the cache answered). */
  get probes(): number {
    return this.prober.probes
  }
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.side.client.serverCapabilities
  }
  get serverInfo(): PeerInfo | undefined {
    return this.side.client.serverInfo
  }
  get instructions(): string | undefined {
    return this.side.client.instructions
  }
  get protocolVersion(): string | undefined {
    return this.side.client.protocolVersion
  }

  async request(method: string, params?: Params, options?: RequestOptions): Promise<Result> {
    const side = this.side
    if (side.era === "legacy" || this.confirmed) return side.client.request(method, params, options)
    let result: Result
    try {
      result = await side.client.request(method, params, options)
    } catch (e) {
      if (e instanceof MissingClientCapability || e instanceof UnsupportedProtocolVersion || (e instanceof RpcError && MODERN_ERROR_CODES.has(e.code))) {
        this.confirmed = true // recognised modern errors: the server is modern
        throw e
      }
      // A non-modern error or silence: is this server still modern?
      if (!this.isSuspect(e)) throw e
      let era: Era
      try {
        era = await this.verify()
      } catch (probeError) {
        this.onDiagnostic?.(`re-probe failed: ${describe(probeError)}`)
        throw e
      }
      if (era === "legacy" && this.side.era === "legacy" && this.notExecuted(e) && !options?.signal?.aborted) {
        return this.side.client.request(method, params, options)
      }
      throw e
    }
    if (hasModernMarkers(result)) this.confirmed = true
    else {
      // An unmarked result may come from a legacy server that serves requests without `initialize`.
      await this.verify().catch((e) => this.onDiagnostic?.(`re-probe failed: ${describe(e)}`))
    }
    return result
  }

  /** Re-probe once at a time (CACHED_VERDICT_FAILED); switch to a legacy session when the server is legacy now. */
  protected verify(): Promise<Era> {
    return this.verifying ??= this.reprobe().finally(() => (this.verifying = undefined))
  }

  private async reprobe(): Promise<Era> {
    if (this.confirmed) return this.side.era
    this.onDiagnostic?.("cached modern verdict unconfirmed by the server's answer: probing again")
    const verdict = await this.prober.revoke()
    this.verdictValue = verdict
    const old = this.side
    if (verdict.era === "modern" || old.era === "legacy") {
      this.confirmed = true
      if (old.era === "modern" && verdict.discover !== undefined) old.client.recordDiscovery(verdict.discover)
      return verdict.era
    }
    const modern = old as Extract<S, { era: "modern" }>
    this.side = await this.openLegacy(modern)
    this.confirmed = true
    // The modern client finishes what it has in flight, then lets go.
    this.releaseModern(modern)
    return "legacy"
  }
}
