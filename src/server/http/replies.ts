/** The endpoint's error bodies that more than one route writes. */
import { ErrorCode, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import { FIRST_MODERN_VERSION, LEGACY_VERSIONS, MODERN_VERSIONS } from "../../protocol/versions.ts"

export const badRequest = (message: string): RpcErrorObject => rpcError(ErrorCode.BadRequest, `Bad Request: ${message}`)
export const SESSION_NOT_FOUND = rpcError(ErrorCode.SessionNotFound, "Session not found")
export const ALL_VERSIONS = (modern: boolean): ReadonlyArray<string> => modern ? [...MODERN_VERSIONS, ...LEGACY_VERSIONS] : [...LEGACY_VERSIONS]

/** A version header we do not support: modern-looking ones get -32022 so a dual-era client can pick from `supported`. */
export const unsupportedVersion = (requested: string, modern: boolean): RpcErrorObject => {
  const supported = ALL_VERSIONS(modern)
  return /^\d{4}-\d{2}-\d{2}$/.test(requested) && requested >= FIRST_MODERN_VERSION
    ? rpcError(ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${requested}`, { supported, requested })
    : rpcError(ErrorCode.BadRequest, `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(requested)}`, { supported, requested })
}

export const headerMismatch = (message: string): RpcErrorObject => rpcError(ErrorCode.HeaderMismatch, `Header mismatch: ${message}`)
