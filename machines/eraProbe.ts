/**
 * Dual-era client: decide whether a server speaks the modern (2026-07-28) or the
 * legacy (`initialize`) protocol, once per server process (stdio) or origin (HTTP).
 *
 * Spec (2026-07-28/basic/transports/stdio.mdx:L121-L147, 2026-07-28/basic/transports/streamable-http.mdx:L650-L737,
 * 2026-07-28/basic/versioning.mdx:L69-L78,L149-L152):
 * - a dual-era client SHOULD probe with `server/discover` → action `sendDiscover`;
 * - a DiscoverResult, or a recognised modern error, means modern → `modern`;
 * - any other error, or a timeout, means legacy (fall back to `initialize`) → `legacy`;
 * - "The fallback MUST NOT be keyed to one specific error code" → the guard
 *   `isRecognisedModernError` accepts the whole `MODERN_ERROR_CODES` set and everything
 *   else falls through to `legacy` (no code is singled out for the fallback);
 * - on `UnsupportedProtocolVersionError` (-32022) the client SHOULD select a mutually
 *   supported version from `data.supported` and retry (2026-07-28/basic/versioning.mdx:L69) → action
 *   `pickVersion` stores it in `protocolVersion`; the runtime retries with it;
 * - clients SHOULD cache the verdict (2026-07-28/basic/versioning.mdx:L149-L152) → action `cacheVerdict`
 *   on every probed verdict, input `cachedEra` to skip the probe, and
 *   `CACHED_VERDICT_FAILED` (the cached era stopped working) → `clearCache` and re-probe.
 *
 * `modern` and `legacy` are not final: a verdict can be revoked by CACHED_VERDICT_FAILED.
 *
 * The era verdict of a dual-era client lives here, not in the client: `confirmed` is false
 * while the client runs on a cached modern verdict that no response has backed yet (nothing
 * is sent at connect time in the modern era); the client reports a response carrying a
 * modern marker (or a recognised modern error) as `VERDICT_CONFIRMED`, and a suspect answer
 * as `CACHED_VERDICT_FAILED` (re-probe). Probed verdicts are confirmed by the probe itself.
 */
import { assign, setup } from "xstate"
import type { ServerCapabilities } from "../src/protocol/capabilities.ts"
import { ErrorCode, MODERN_ERROR_CODES } from "../src/protocol/errors.ts"
import type { Era } from "../src/protocol/era.ts"
import { MODERN_VERSIONS, type ModernVersion } from "../src/protocol/versions.ts"

/** Default probe deadline: a legacy stdio server may simply never answer an unknown method. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000

/** What the probe starts from: a cached verdict, if any, and the modern versions we speak. */
export interface EraProbeInput {
  /** A verdict cached for this server process / origin, if any. */
  readonly cachedEra?: Era
  /** Modern versions this client speaks, preferred first. Default `MODERN_VERSIONS`. */
  readonly modernVersions?: ReadonlyArray<ModernVersion>
  readonly probeTimeoutMs?: number
}

/** Why the verdict was reached (for logs and the inspector). */
export type EraProbeBasis =
  | { readonly _tag: "Cached" }
  | { readonly _tag: "DiscoverResult" }
  | { readonly _tag: "ModernError"; readonly code: number; readonly httpStatus: number | undefined }
  | { readonly _tag: "OtherError"; readonly code: number | undefined; readonly httpStatus: number | undefined }
  | { readonly _tag: "NoMutualModernVersion"; readonly serverSupported: ReadonlyArray<string> }
  | { readonly _tag: "Timeout"; readonly timeoutMs: number }

/** The probe's verdict (era, version, server capabilities) and why it was reached. */
export interface EraProbeContext {
  readonly cachedEra: Era | undefined
  readonly modernVersions: ReadonlyArray<ModernVersion>
  readonly probeTimeoutMs: number
  /** The era decided (set in `modern` / `legacy`). */
  readonly era: Era | undefined
  /** Modern only: the version to put in `_meta` (picked from the server's list when it sent one). */
  readonly protocolVersion: ModernVersion | undefined
  /** Modern only: true when the probe failed with a recognised modern error and must be retried. */
  readonly retry: boolean
  readonly basis: EraProbeBasis | undefined
  readonly serverCapabilities: ServerCapabilities | undefined
  readonly instructions: string | undefined
  /** False only for a cached modern verdict that no response has confirmed yet. */
  readonly confirmed: boolean
}

/**
 * Events the runtime sends:
 * - `DISCOVER_RESULT`: `server/discover` succeeded;
 * - `PROBE_ERROR`: it failed: a JSON-RPC error (`code`, `data`), an HTTP error status
 *   (`httpStatus`, with the body's JSON-RPC code when it had one), or no code at all;
 * - `CACHED_VERDICT_FAILED`: the current verdict no longer works (e.g. `initialize` was
 *   rejected by a server cached as legacy): forget it and probe again.
 */
export type EraProbeEvent =
  | {
    readonly type: "DISCOVER_RESULT"
    readonly supportedVersions: ReadonlyArray<string>
    readonly capabilities?: ServerCapabilities
    readonly instructions?: string
  }
  | {
    readonly type: "PROBE_ERROR"
    readonly code?: number
    readonly httpStatus?: number
    readonly message?: string
    readonly data?: unknown
  }
  | { readonly type: "CACHED_VERDICT_FAILED" }
  | { readonly type: "VERDICT_CONFIRMED" }

/** Our preferred version among those the server lists, if any. */
export const pickMutualVersion = (
  ours: ReadonlyArray<ModernVersion>,
  theirs: ReadonlyArray<unknown>
): ModernVersion | undefined => ours.find((v) => theirs.includes(v))

/** `data.supported` of an UnsupportedProtocolVersionError, when it is a list. */
const supportedFromData = (data: unknown): ReadonlyArray<string> | undefined => {
  if (typeof data !== "object" || data === null) return undefined
  const supported = (data as { readonly supported?: unknown }).supported
  return Array.isArray(supported) ? supported.filter((v): v is string => typeof v === "string") : undefined
}

/** A recognised modern (2026-07-28) error code: -32020, -32021 or -32022. */
export const isRecognisedModernErrorCode = (code: number | undefined): boolean =>
  code !== undefined && MODERN_ERROR_CODES.has(code)

/**
 * The dual-era probe: `server/discover` first; a DiscoverResult or a modern error means
 * modern, anything else (or silence) means legacy. `connectAuto` and `connectAutoHttp` run it.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate"
 * import { eraProbeMachine } from "mcp-actors/machines"
 *
 * const [probing, toSend] = initialTransition(eraProbeMachine, {})
 * console.log(toSend.map((a) => a.type))                       // ["sendDiscover", …]
 * const [verdict] = transition(eraProbeMachine, probing, { type: "PROBE_ERROR", code: -32601 })
 * console.log(verdict.context.era, verdict.context.basis)      // "legacy" { _tag: "OtherError", code: -32601, … }
 * ```
 */
export const eraProbeMachine = setup({
  types: {
    context: {} as EraProbeContext,
    events: {} as EraProbeEvent,
    input: {} as EraProbeInput
  },
  actions: {
    /** Effect: send `server/discover` with our preferred modern version in `_meta`. */
    sendDiscover: () => {},
    /** Effect: persist `context.era` (and `protocolVersion`) for this server process / origin. */
    cacheVerdict: () => {},
    /** Effect: delete the cached verdict. */
    clearCache: () => {},
    forgetVerdict: assign({
      cachedEra: undefined,
      era: undefined,
      protocolVersion: undefined,
      retry: false,
      basis: undefined
    }),
    acceptCachedModern: assign(({ context }) => ({
      era: "modern" as const,
      protocolVersion: context.modernVersions[0],
      retry: false,
      basis: { _tag: "Cached" as const },
      // Nothing was sent: a response has to back it (VERDICT_CONFIRMED) before it is trusted.
      confirmed: false
    })),
    confirmVerdict: assign({ confirmed: true }),
    // A cached legacy verdict is put to the test by `initialize` itself (refused → CACHED_VERDICT_FAILED).
    acceptCachedLegacy: assign({ era: "legacy" as const, basis: { _tag: "Cached" as const }, confirmed: true }),
    recordDiscoverResult: assign(({ context, event }) => {
      if (event.type !== "DISCOVER_RESULT") return {}
      return {
        era: "modern" as const,
        // The discover request already carried our preferred version and succeeded.
        protocolVersion: pickMutualVersion(context.modernVersions, event.supportedVersions) ?? context.modernVersions[0],
        retry: false,
        basis: { _tag: "DiscoverResult" as const },
        confirmed: true,
        serverCapabilities: event.capabilities,
        instructions: event.instructions
      }
    }),
    /** 2026-07-28/basic/versioning.mdx:L69 — select a mutually supported version from `data.supported` and retry. */
    pickVersion: assign(({ context, event }) => {
      if (event.type !== "PROBE_ERROR" || event.code === undefined) return {}
      const theirs = supportedFromData(event.data)
      return {
        era: "modern" as const,
        protocolVersion: theirs !== undefined
          ? pickMutualVersion(context.modernVersions, theirs)
          : context.modernVersions[0],
        retry: true,
        basis: { _tag: "ModernError" as const, code: event.code, httpStatus: event.httpStatus },
        confirmed: true
      }
    }),
    recordNoMutualVersion: assign(({ event }) => ({
      era: "legacy" as const,
      confirmed: true,
      protocolVersion: undefined,
      retry: false,
      basis: {
        _tag: "NoMutualModernVersion" as const,
        serverSupported: event.type === "PROBE_ERROR"
          ? supportedFromData(event.data) ?? []
          : event.type === "DISCOVER_RESULT"
          ? event.supportedVersions.filter((v): v is string => typeof v === "string")
          : []
      }
    })),
    recordOtherError: assign(({ event }) => ({
      era: "legacy" as const,
      confirmed: true,
      protocolVersion: undefined,
      retry: false,
      basis: {
        _tag: "OtherError" as const,
        code: event.type === "PROBE_ERROR" ? event.code : undefined,
        httpStatus: event.type === "PROBE_ERROR" ? event.httpStatus : undefined
      }
    })),
    recordTimeout: assign(({ context }) => ({
      era: "legacy" as const,
      protocolVersion: undefined,
      retry: false,
      basis: { _tag: "Timeout" as const, timeoutMs: context.probeTimeoutMs },
      confirmed: true
    }))
  },
  guards: {
    hasCachedModern: ({ context }) => context.cachedEra === "modern",
    hasCachedLegacy: ({ context }) => context.cachedEra === "legacy",
    /**
     * A recognised modern error (any of `MODERN_ERROR_CODES`) means a modern server
     * (2026-07-28/basic/transports/stdio.mdx:L121-L147). The set, not one code: the fallback MUST NOT be keyed to
     * one specific error code.
     */
    isRecognisedModernError: ({ event }) => event.type === "PROBE_ERROR" && isRecognisedModernErrorCode(event.code),
    /**
     * A modern server that lists its versions and none is ours: retrying modern cannot
     * work, so try `initialize` (a dual-era server accepts it; a modern-only one SHOULD
     * then name its versions in the error, 2026-07-28/basic/versioning.mdx:L154-L157).
     */
    /**
     * A result to `server/discover` that names none of our modern versions (or none at all,
     * `supportedVersions` being required of a DiscoverResult): modern cannot be spoken with it.
     * A legacy server that answers every unknown method with a result looks like this.
     */
    discoverHasNoMutualVersion: ({ context, event }) =>
      event.type === "DISCOVER_RESULT" && pickMutualVersion(context.modernVersions, event.supportedVersions) === undefined,
    hasNoMutualModernVersion: ({ context, event }) => {
      if (event.type !== "PROBE_ERROR" || event.code !== ErrorCode.UnsupportedProtocolVersion) return false
      const theirs = supportedFromData(event.data)
      return theirs !== undefined && pickMutualVersion(context.modernVersions, theirs) === undefined
    }
  },
  delays: {
    probeTimeout: ({ context }) => context.probeTimeoutMs
  }
}).createMachine({
  id: "eraProbe",
  context: ({ input }) => ({
    cachedEra: input?.cachedEra,
    modernVersions: input?.modernVersions ?? MODERN_VERSIONS,
    probeTimeoutMs: input?.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    era: undefined,
    protocolVersion: undefined,
    retry: false,
    basis: undefined,
    serverCapabilities: undefined,
    instructions: undefined,
    confirmed: true
  }),
  initial: "checkingCache",
  states: {
    /** 2026-07-28/basic/versioning.mdx:L149-L152 — a cached verdict skips the probe. */
    checkingCache: {
      always: [
        { guard: "hasCachedModern", target: "modern", actions: "acceptCachedModern" },
        { guard: "hasCachedLegacy", target: "legacy", actions: "acceptCachedLegacy" },
        { target: "probing" }
      ]
    },
    /** 2026-07-28/basic/transports/stdio.mdx:L121-L147 — a dual-era client SHOULD probe with `server/discover`. */
    probing: {
      entry: "sendDiscover",
      after: {
        // A timeout means legacy.
        probeTimeout: { target: "legacy", actions: ["recordTimeout", "cacheVerdict"] }
      },
      on: {
        DISCOVER_RESULT: [
          // Without a version we speak, try `initialize` (a dual-era server accepts it).
          { guard: "discoverHasNoMutualVersion", target: "legacy", actions: ["recordNoMutualVersion", "cacheVerdict"] },
          // A DiscoverResult means modern.
          { target: "modern", actions: ["recordDiscoverResult", "cacheVerdict"] }
        ],
        PROBE_ERROR: [
          { guard: "hasNoMutualModernVersion", target: "legacy", actions: ["recordNoMutualVersion", "cacheVerdict"] },
          // A recognised modern error means modern (retry with a picked version).
          { guard: "isRecognisedModernError", target: "modern", actions: ["pickVersion", "cacheVerdict"] },
          // Any other error means legacy — whatever its code (MUST NOT key on one code).
          { target: "legacy", actions: ["recordOtherError", "cacheVerdict"] }
        ]
      }
    },
    modern: {
      on: {
        CACHED_VERDICT_FAILED: { target: "probing", actions: ["forgetVerdict", "clearCache"] },
        // A response carried a modern marker or a modern error: the (cached) verdict holds.
        VERDICT_CONFIRMED: { actions: "confirmVerdict" }
      }
    },
    legacy: {
      on: { CACHED_VERDICT_FAILED: { target: "probing", actions: ["forgetVerdict", "clearCache"] } }
    }
  }
})

/** The probe chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type EraProbeMachine = typeof eraProbeMachine
