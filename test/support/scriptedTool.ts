/**
 * The scripted tool both modern fast-path tests drive (over HTTP in
 * `modern.fastpath.test.ts`, over message transports in
 * `modern.fastpath-messages.test.ts`): its arguments say how many progress
 * notifications it sends and how it ends, so one tool reaches every path of
 * the `modernRequest` chart.
 */
import type { ModernRequestEvent } from "../../machines/modernRequest.ts"
import { ErrorCode, McpError } from "../../src/protocol/errors.ts"
import { McpServer } from "../../src/server/McpServer.ts"

/** What the scripted tool does: `messages` progress notifications, then how it ends. */
export interface Script {
  readonly prime?: boolean
  readonly messages: number
  readonly end: "result" | "error" | "input" | "hang"
}

/** A server whose `script` tool follows its arguments; `hanging` is called when a `hang` script waits. */
export const makeScriptServer = (name: string, hanging: () => void): McpServer =>
  new McpServer({ name, version: "1.0.0" })
    .tool({ name: "script", inputSchema: { type: "object" } }, (args, ctx) => {
      const s = args as unknown as Script
      // The first round of an MRTR retry scenario: answer input_required with a sealed state.
      if (s.prime === true) ctx.inputRequired({ requestState: "primed" })
      for (let i = 1; i <= s.messages; i++) ctx.progress(i, s.messages)
      switch (s.end) {
        case "result":
          return { content: [{ type: "text", text: `done after ${s.messages} (state ${String(ctx.requestState)})` }] }
        case "error":
          throw new McpError(ErrorCode.InternalError, "scripted failure")
        case "input":
          return ctx.elicit({ message: "name?", requestedSchema: { type: "object", properties: {} } }).then(() => ({ content: [] }))
        case "hang":
          hanging()
          return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({ content: [{ type: "text", text: "late" }] })))
      }
    })

/** The events of the `modernRequest` model, with the values a real session produces for them (`disconnected`: the carrier's reason). */
export const modelEvents = (disconnected: string): ReadonlyArray<ModernRequestEvent> => [
  { type: "VALIDATED", round: 0 },
  { type: "VALIDATED", round: 1 },
  { type: "INVALID", code: ErrorCode.InvalidParams },
  { type: "MESSAGE" },
  { type: "ANSWERED", outcome: "result" },
  { type: "ANSWERED", outcome: "inputRequired" },
  { type: "ANSWERED", outcome: "error", code: ErrorCode.InternalError },
  { type: "DISCONNECTED", reason: disconnected },
  { type: "SHUTDOWN", code: ErrorCode.ConnectionClosed, message: "Server shutting down" }
]
