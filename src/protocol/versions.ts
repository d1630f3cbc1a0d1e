/**
 * Protocol versions and legacy version negotiation
 * (2025-11-25/basic/lifecycle.mdx:L165-L182).
 */
/** The session-based (legacy) protocol versions we speak, newest first; `initialize` negotiates among them. */
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const
/** The sessionless (modern) protocol versions we speak; each request names its version in `_meta`. */
export const MODERN_VERSIONS = ["2026-07-28"] as const
export type LegacyVersion = (typeof LEGACY_VERSIONS)[number]
export type ModernVersion = (typeof MODERN_VERSIONS)[number]
export type ProtocolVersion = LegacyVersion | ModernVersion

/** The newest legacy version: what our client asks for, and our server's answer to a version it does not know. */
export const LATEST_LEGACY_VERSION: LegacyVersion = "2025-11-25"
/** The newest modern version. */
export const LATEST_MODERN_VERSION: ModernVersion = "2026-07-28"
/** First version of the modern (sessionless) era. */
export const FIRST_MODERN_VERSION = "2026-07-28"
/** Streamable HTTP: a request without `MCP-Protocol-Version` is assumed to speak this. */
export const DEFAULT_HTTP_ASSUMED_VERSION: LegacyVersion = "2025-03-26"

// Sets: every HTTP request's `MCP-Protocol-Version` header is checked here.
const LEGACY_SET: ReadonlySet<unknown> = new Set(LEGACY_VERSIONS)
const MODERN_SET: ReadonlySet<unknown> = new Set(MODERN_VERSIONS)
export const isLegacyVersion = (v: unknown): v is LegacyVersion => LEGACY_SET.has(v)
export const isModernVersion = (v: unknown): v is ModernVersion => MODERN_SET.has(v)
export const isSupportedVersion = (v: unknown): v is ProtocolVersion => isLegacyVersion(v) || isModernVersion(v)

/** Versions are dates; lexical order is chronological order. */
export const isModernEraVersion = (v: string): boolean => v >= FIRST_MODERN_VERSION

/**
 * Server side: echo the client's requested version when we support it, else
 * answer our latest (the client then decides whether to disconnect).
 */
export const negotiateVersion = (
  requested: unknown,
  supported: ReadonlyArray<LegacyVersion> = LEGACY_VERSIONS
): LegacyVersion =>
  typeof requested === "string" && (supported as ReadonlyArray<string>).includes(requested)
    ? (requested as LegacyVersion)
    : supported[0]!

/** Whether JSON-RPC batches are part of this version (2025-03-26 only). */
export const allowsBatch = (v: string | undefined): boolean => v === "2025-03-26"
