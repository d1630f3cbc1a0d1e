/**
 * An incremental Server-Sent Events parser, as the HTML standard's
 * "event stream interpretation" defines it (html.spec.whatwg.org,
 * §9.2.6), which is what MCP's Streamable HTTP streams are
 * (2025-11-25/basic/transports.mdx:L86-L190):
 *
 * - lines end in CRLF, LF or CR — a CR at the end of one chunk and an LF at
 *   the start of the next are one line end; a leading BOM is dropped once;
 * - `data` lines accumulate, joined by LF (a multi-line message), and the
 *   event is dispatched at the blank line that ends the block; a block with
 *   no `data` field dispatches nothing;
 * - `id` sets the last event id (ignored when it contains NUL); the last event
 *   id is **not** reset by blocks without an id — it is the resumption cursor
 *   (`Last-Event-ID`) for the whole stream;
 * - `retry` (ASCII digits only) sets the reconnection time;
 * - `event` sets the type of the next event (default `message`);
 * - lines starting with `:` are comments (keep-alives);
 * - an unterminated block at the end of the stream is discarded.
 *
 * Input is text (decode with a streaming UTF-8 decoder so multi-byte
 * characters split across chunks survive). The size of one event's data is
 * bounded: a block that grows past `maxEventBytes` is discarded whole and
 * reported once, so a misbehaving server cannot make the client buffer
 * without limit.
 */

import { FRAME_EDGE_CHARS } from "../../Transport.ts"

/** One dispatched event. `lastEventId` is the stream's cursor after this event. */
export interface SseEvent {
  readonly type: string
  readonly data: string
  readonly lastEventId: string
}

export interface SseParserOptions {
  /** Upper bound on one event's data, in UTF-16 code units (≈ bytes for JSON); default unbounded. */
  readonly maxEventBytes?: number
  /**
   * Called once per discarded oversized event with the size reached when it was abandoned and
   * the start of its data (up to {@link FRAME_EDGE_CHARS} characters: whether it was a response).
   */
  readonly onOversized?: (size: number, head: string) => void
  /** Comment lines (without the leading `:`), e.g. keep-alives. */
  readonly onComment?: (text: string) => void
}

export class SseParser {
  /** The last event id seen (`Last-Event-ID` for a reconnect); `""` when none. */
  lastEventId = ""
  /** The reconnection time the server asked for with `retry:`, if any. */
  retryMs: number | undefined = undefined

  private readonly options: SseParserOptions
  private buffer = ""
  private data: Array<string> = []
  private dataSize = 0
  private eventType = ""
  private idBuffer: string | undefined = undefined
  private oversized = false
  private sawCR = false
  private first = true

  constructor(options: SseParserOptions = {}) {
    this.options = options
  }

  /** Feed a chunk of text; returns the events it completed, in order. */
  push(chunk: string): Array<SseEvent> {
    const out: Array<SseEvent> = []
    if (chunk.length === 0) return out
    if (this.first) {
      this.first = false
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1)
    }
    let start = 0
    // A CR ended the previous chunk: an LF here belongs to that line end.
    if (this.sawCR) {
      this.sawCR = false
      if (chunk.charCodeAt(0) === 10) start = 1
    }
    const text = this.buffer.length > 0 ? this.buffer + chunk.slice(start) : chunk.slice(start)
    this.buffer = ""
    let lineStart = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.line(text.slice(lineStart, i), out)
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++
        } else {
          this.sawCR = true
        }
      }
      lineStart = i + 1
    }
    if (lineStart < text.length) {
      this.buffer = text.slice(lineStart)
      // A line that never ends is part of the current event: bound it too.
      if (this.options.maxEventBytes !== undefined && this.buffer.length + this.dataSize > this.options.maxEventBytes) {
        this.discardOversized(this.buffer.length + this.dataSize, dataValue(this.buffer))
        this.buffer = ""
        this.skipLine = true
      }
    }
    return out
  }

  /** The stream ended: an unterminated block is discarded (as the standard says). */
  end(): void {
    this.buffer = ""
    this.resetBlock()
  }

  /** True while the rest of an oversized line is being skipped. */
  private skipLine = false

  private line(line: string, out: Array<SseEvent>): void {
    if (this.skipLine) {
      this.skipLine = false
      return
    }
    if (line.length === 0) return this.dispatch(out)
    if (line.charCodeAt(0) === 58 /* : */) {
      this.options.onComment?.(line.slice(1).replace(/^ /, ""))
      return
    }
    const colon = line.indexOf(":")
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? "" : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case "event":
        this.eventType = value
        return
      case "data": {
        if (this.oversized) return
        this.dataSize += value.length + 1
        const max = this.options.maxEventBytes
        if (max !== undefined && this.dataSize > max) return this.discardOversized(this.dataSize, value)
        this.data.push(value)
        return
      }
      case "id":
        if (!value.includes("\u0000")) this.idBuffer = value
        return
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value)
        return
      default:
        return // unknown fields are ignored
    }
  }

  /** `pending`: the value of the data line that was being read, if any. */
  private discardOversized(size: number, pending: string | undefined): void {
    if (!this.oversized && this.options.onOversized !== undefined) {
      const head = this.data.length === 0 ? (pending ?? "") : pending === undefined ? this.data.join("\n") : `${this.data.join("\n")}\n${pending}`
      this.options.onOversized(size, head.slice(0, FRAME_EDGE_CHARS))
    }
    this.oversized = true
    this.data = []
  }

  private dispatch(out: Array<SseEvent>): void {
    if (this.idBuffer !== undefined) this.lastEventId = this.idBuffer
    const hasData = this.data.length > 0 && !this.oversized
    if (hasData) out.push({ type: this.eventType === "" ? "message" : this.eventType, data: this.data.join("\n"), lastEventId: this.lastEventId })
    this.resetBlock()
  }

  private resetBlock(): void {
    this.data = []
    this.dataSize = 0
    this.eventType = ""
    this.idBuffer = undefined
    this.oversized = false
  }
}

/** The value of `line` if it is a `data` line (as far as it was read), else undefined. */
const dataValue = (line: string): string | undefined => {
  if (!line.startsWith("data")) return undefined
  if (line.length === 4) return ""
  if (line.charCodeAt(4) !== 58 /* : */) return undefined
  return line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)
}

/** Parse a complete event stream (tests, small bodies). */
export const parseSse = (text: string, options?: SseParserOptions): { readonly events: ReadonlyArray<SseEvent>; readonly lastEventId: string; readonly retryMs: number | undefined } => {
  const parser = new SseParser(options)
  const events = parser.push(text)
  parser.end()
  return { events, lastEventId: parser.lastEventId, retryMs: parser.retryMs }
}
