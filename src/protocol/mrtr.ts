/**
 * Multi round-trip requests (MRTR, 2026-07-28/basic/patterns/mrtr.mdx): in the
 * modern era a server never sends a JSON-RPC request. When it needs input
 * (elicitation, sampling, roots) it answers `resultType: "input_required"` with
 * `inputRequests` and/or an opaque `requestState`; the client gathers the inputs
 * and retries the original request, with a new id, adding `inputResponses` and
 * echoing `requestState` exactly. The rules both sides share, as pure functions.
 */
import { isObject, type Params } from "./jsonrpc.ts"

/** Only these may answer `input_required` (L184-L192): "MUST NOT … on any other client requests". */
export const MRTR_METHODS: ReadonlySet<string> = new Set(["tools/call", "resources/read", "prompts/get"])

/** What an input request may be (L200-L203). */
export const INPUT_REQUEST_METHODS: ReadonlySet<string> = new Set(["elicitation/create", "sampling/createMessage", "roots/list"])

export interface InputRequest {
  readonly method: string
  readonly params?: Params
}
export type InputRequests = { readonly [key: string]: InputRequest }
export type InputResponses = { readonly [key: string]: { readonly [key: string]: unknown } }

/** The key of the `n`th input a handler asks for with `method` (unique within the request, stable across retries). */
export const inputRequestKey = (method: string, n: number): string => `${method.slice(0, method.indexOf("/"))}-${n}`

/** `params.inputResponses` of a retry; `"invalid"` when present but not a map of objects (→ -32602, "Error Handling"). */
export const inputResponsesOf = (params: Params | undefined): InputResponses | undefined | "invalid" => {
  const v = params?.inputResponses
  if (v === undefined) return undefined
  if (!isObject(v) || !Object.values(v).every(isObject)) return "invalid"
  return v as InputResponses
}

/** `params.requestState` of a retry; `"invalid"` when present but not a string. */
export const requestStateOf = (params: Params | undefined): string | undefined | "invalid" => {
  const v = params?.requestState
  if (v === undefined) return undefined
  return typeof v === "string" ? v : "invalid"
}

/** `inputRequests` of an `input_required` result, or why it is malformed. */
export const inputRequestsOf = (result: { readonly [key: string]: unknown }): InputRequests | undefined | "invalid" => {
  const v = result.inputRequests
  if (v === undefined) return undefined
  if (!isObject(v)) return "invalid"
  for (const r of Object.values(v)) if (!isObject(r) || typeof r.method !== "string") return "invalid"
  return v as InputRequests
}

/**
 * The result that asks for input. "Servers MUST include at least one of
 * `inputRequests` or `requestState`" (Server Requirements, item 6): a call with
 * neither is a programming error.
 */
export const inputRequiredResult = (inputRequests: InputRequests | undefined, requestState: string | undefined): { readonly [key: string]: unknown } => {
  const hasInputs = inputRequests !== undefined && Object.keys(inputRequests).length > 0
  if (!hasInputs && requestState === undefined) throw new TypeError("an input_required result needs inputRequests or requestState")
  return {
    resultType: "input_required",
    ...(hasInputs ? { inputRequests } : {}),
    ...(requestState !== undefined ? { requestState } : {})
  }
}

/**
 * The retry's params: the original ones with the gathered `inputResponses` and,
 * only if the server sent one, its `requestState` verbatim (Client Requirements,
 * items 1-2). Inputs and state of an earlier round are replaced, never merged:
 * they "affect only the client's retry of the original request".
 */
export const retryParams = (original: Params | undefined, inputResponses: InputResponses | undefined, requestState: string | undefined): Params => {
  const { inputResponses: _r, requestState: _s, ...rest } = original ?? {}
  return {
    ...rest,
    ...(inputResponses !== undefined ? { inputResponses } : {}),
    ...(requestState !== undefined ? { requestState } : {})
  }
}
