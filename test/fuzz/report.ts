/**
 * Fuzz statistics, failures and the report `npm run fuzz` prints.
 */
import { isUtf8 } from "node:buffer"
import type { SessionModel } from "./oracle.ts"

export interface FuzzStats {
  /** Generated frames (a `dup` counts once). */
  frames: number
  /** Frames actually sent after splitting (stdio lines). */
  pieces: number
  connections: number
  /** HTTP: requests retried on a new connection after a stale keep-alive socket was reset (KeepAliveClient). */
  retried?: number
  /** How many frames got each expected outcome ("result", "none", "-32600", …). */
  readonly byLabel: Map<string, number>
}

export const newStats = (): FuzzStats => ({ frames: 0, pieces: 0, connections: 0, byLabel: new Map() })

export interface FailureDetail {
  readonly why: string
  readonly phase?: SessionModel
  /** The frame, printable (JSON-escaped, long runs abbreviated). */
  readonly frame?: string
  readonly expected?: ReadonlyArray<string>
  readonly got?: ReadonlyArray<unknown>
  /** HTTP: the request's headers. */
  readonly headers?: Readonly<Record<string, string>>
  /** The result of replaying the frame alone on a new connection. */
  readonly alone?: string
}

export class FuzzFailure extends Error {
  readonly transport: string
  readonly detail: FailureDetail
  constructor(transport: string, detail: FailureDetail) {
    super([
      `[${transport}] ${detail.why}`,
      detail.phase ? `  session: ${detail.phase.phase}${detail.phase.version ? ` (${detail.phase.version})` : ""}` : undefined,
      detail.headers ? `  headers: ${JSON.stringify(detail.headers)}` : undefined,
      detail.frame !== undefined ? `  frame: ${detail.frame}` : undefined,
      detail.expected ? `  expected one of: ${detail.expected.join(" / ")}` : undefined,
      detail.got ? `  got: ${JSON.stringify(detail.got).slice(0, 1_000)}` : undefined,
      detail.alone ? `  alone: ${detail.alone}` : undefined
    ].filter((l) => l !== undefined).join("\n"))
    this.name = "FuzzFailure"
    this.transport = transport
    this.detail = detail
  }
}

/** A frame as text for a report: JSON-escaped, runs of one character abbreviated, bytes in hex when it is not UTF-8. */
export const showFrame = (frame: Uint8Array): string => {
  const shown = JSON.stringify(Buffer.from(frame).toString("utf8")).replace(/(.)\1{30,}/g, (run, c: string) => `${c}…×${run.length}`)
  const hex = isUtf8(frame) ? "" : ` (not UTF-8; hex ${Buffer.from(frame).toString("hex").slice(0, 200)})`
  return (shown.length > 2_000 ? shown.slice(0, 2_000) + "…" : shown) + ` [${frame.byteLength} bytes]` + hex
}

