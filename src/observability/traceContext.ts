/**
 * W3C Trace Context carried in MCP `params._meta` (SEP-414): the keys are the
 * unprefixed header names `traceparent`, `tracestate` and `baggage`, in both
 * directions (client → server requests, server → client requests).
 *
 * Everything here reads peer-supplied JSON: a value that is not a valid
 * version-00 `traceparent` is ignored (the span starts a new trace), never an
 * error for the request.
 */
import { isObject } from "../protocol/jsonrpc.ts"

export const META_TRACEPARENT = "traceparent"
export const META_TRACESTATE = "tracestate"

/** A remote span the local one continues (parsed from `traceparent`). */
export interface RemoteParent {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
  /** The `tracestate` that came with it (vendor data, passed on unchanged). */
  readonly tracestate: string | undefined
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE = "00000000000000000000000000000000"
const ZERO_SPAN = "0000000000000000"
// W3C trace-context §3.3: at most 32 list members; 512 characters is the size a vendor may rely on.
const MAX_TRACESTATE = 512

/** The trace context in a request's `_meta`, or undefined when there is none (or it is malformed). */
export const readTraceContext = (meta: { readonly [key: string]: unknown } | undefined): RemoteParent | undefined => {
  if (meta === undefined || meta === null || typeof meta !== "object") return undefined
  const tp = Object.hasOwn(meta, META_TRACEPARENT) ? meta[META_TRACEPARENT] : undefined
  if (typeof tp !== "string") return undefined
  const m = TRACEPARENT.exec(tp)
  if (m === null || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined
  const ts = Object.hasOwn(meta, META_TRACESTATE) ? meta[META_TRACESTATE] : undefined
  return {
    traceId: m[1]!,
    spanId: m[2]!,
    sampled: (parseInt(m[3]!, 16) & 1) === 1,
    tracestate: typeof ts === "string" && ts.length <= MAX_TRACESTATE && ts.trim() !== "" ? ts : undefined
  }
}

/** The `traceparent` value naming a span. */
export const formatTraceparent = (traceId: string, spanId: string, sampled: boolean): string =>
  `00-${traceId.padStart(32, "0")}-${spanId}-${sampled ? "01" : "00"}`

type Params = { readonly [key: string]: unknown }

/**
 * `params` with the trace context written into its `_meta` (a new object: the
 * caller's params are not mutated). Other `_meta` keys (progressToken, …) stay.
 */
export const withTraceContext = <P extends Params | undefined>(
  params: P,
  traceparent: string,
  tracestate: string | undefined
): Params => {
  const meta = params?._meta
  const base = isObject(meta) ? meta : undefined
  const next: Record<string, unknown> = { ...base, [META_TRACEPARENT]: traceparent }
  if (tracestate !== undefined) next[META_TRACESTATE] = tracestate
  return { ...params, _meta: next }
}
