/**
 * How a modern-era handler asks for input (MRTR): `ctx.elicit`/`createMessage`/
 * `listRoots` without an answer among the retry's `inputResponses`, or an explicit
 * `ctx.inputRequired(...)`, reject or throw this signal; the session turns it into
 * the `input_required` result. It is control flow, not a failure: a tool handler's
 * errors become `isError` results (SEP-1303), this one never does.
 */
import type { InputRequests } from "../protocol/mrtr.ts"

export class InputRequiredSignal extends Error {
  readonly inputRequests: InputRequests
  readonly requestState: string | undefined
  constructor(inputRequests: InputRequests, requestState: string | undefined) {
    super("input required (MRTR): the request is answered with resultType input_required")
    this.name = "InputRequiredSignal"
    this.inputRequests = inputRequests
    this.requestState = requestState
  }
}
