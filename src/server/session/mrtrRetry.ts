/**
 * Multi round-trip requests (MRTR, 2026-07-28) on the server: a retry's answers and
 * sealed `requestState` are checked before its handler runs, and a handler that asks
 * for input is answered `input_required` with everything so far sealed again.
 */
import { inputRequiredResult, type InputResponses, inputResponsesOf, requestStateOf } from "../../protocol/mrtr.ts"
import type { Result } from "../dispatch.ts"
import type { InputRequiredSignal } from "../InputRequiredSignal.ts"
import type { McpServer } from "../McpServer.ts"
import { openRequestState, sealRequestState } from "../requestState.ts"
import type { InFlight } from "./InFlight.ts"

/**
 * Why a modern retry's `inputResponses`/`requestState` are refused, or undefined (the
 * state is unsealed into `entry`). Both are attacker-controlled (mrtr.mdx, Security).
 */
export const openRetry = (server: McpServer, entry: InFlight, principal: string | undefined, now: number): string | undefined => {
  const params = entry.request.params
  const responses = inputResponsesOf(params)
  if (responses === "invalid") return "inputResponses must map keys to result objects"
  const state = requestStateOf(params)
  if (state === "invalid") return "requestState must be a string"
  let earlier: InputResponses | undefined
  if (state !== undefined) {
    const binding = { method: entry.request.method, params, principal }
    const opened = openRequestState(server.requestStateKey, state, binding, now)
    if (!opened.ok) return `requestState ${opened.reason}`
    entry.requestState = opened.state
    earlier = opened.answers
  }
  entry.inputResponses = earlier === undefined ? responses : { ...earlier, ...responses }
  return undefined
}

/** The `input_required` result for a handler's ask: the answers so far travel sealed (mrtr.mdx, Client Requirements 4). Throws when sealing fails. */
export const inputRequiredValue = (server: McpServer, entry: InFlight, signal: InputRequiredSignal, principal: string | undefined, now: number): Result => {
  const { method, params } = entry.request
  const answers = entry.inputResponses
  const sealed = signal.requestState === undefined && answers === undefined
    ? undefined
    : sealRequestState(server.requestStateKey, { state: signal.requestState, answers }, { method, params, principal }, now)
  return inputRequiredResult(signal.inputRequests, sealed)
}
