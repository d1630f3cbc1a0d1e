/**
 * Helpers of the dual-era connects (`connectAuto*`), which build one `Client`
 * (Client.ts) over either transport family: the options of the modern side and
 * the rule for a verdict taken from the cache at connect time.
 *
 * `DualEraClient` is the deprecated name of `Client`.
 */
import type { ClientCapabilities } from "../protocol/capabilities.ts"
import type { ModernVersion } from "../protocol/versions.ts"
import { InitializeFailed, UnsupportedProtocolVersion } from "../protocol/requestErrors.ts"
import type { EraProber, EraVerdict } from "./EraProber.ts"
import type { ModernClientOptions } from "./ModernClient.ts"

export { NOT_EXECUTED_CODES } from "./Client.ts"

/** The options a dual-era connect gives the modern client it opens (shared by both transports). */
export interface ModernSideOptions extends Pick<
  ModernClientOptions,
  | "clientInfo" | "requestTimeoutMs" | "closeTimeoutMs" | "logLevel" | "enforceCapabilities" | "onNotification"
  | "onDiagnostic" | "clock" | "telemetry"
  // MRTR input handlers (the same handlers answer legacy server→client requests).
  | "onElicitation" | "onSampling" | "onRoots"
> {
  readonly capabilities?: object
  readonly modernVersions?: ReadonlyArray<ModernVersion>
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

/**
 * The dual-era client under its old name: it is `Client` (Client.ts).
 * @deprecated Use `Client`; this alias stays for existing imports.
 */
export { Client as DualEraClient } from "./Client.ts"
