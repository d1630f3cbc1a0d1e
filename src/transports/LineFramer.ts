/**
 * Newline-delimited framing for byte streams (stdio, and any custom stream
 * transport that reuses the stdio framing, spec-digest §4).
 *
 * - Accepts `Buffer` chunks (decoded here with a `StringDecoder`, so a UTF-8
 *   sequence split across chunks is reassembled) or already-decoded strings.
 * - Emits each complete line without its `\n` and without a trailing `\r`;
 *   empty and whitespace-only lines are skipped.
 * - Enforces `maxMessageBytes` (UTF-8 bytes of the line, `\r` excluded): a
 *   longer line is discarded, including the part of it that arrives in later
 *   chunks, which is counted but never buffered, so the retained buffer never
 *   exceeds the limit. It is reported once, with its full size, through
 *   `onOversized` when its newline arrives (or at `end()`); the next line is
 *   delivered normally.
 *
 * Hot path: one `indexOf` per line and one `slice` per line; no other
 * allocation. Byte lengths are computed only for lines long enough that
 * they might exceed the limit (a UTF-16 code unit is at most 3 UTF-8 bytes).
 */
import { StringDecoder } from "node:string_decoder"
import { FRAME_EDGE_CHARS, type FrameEdges } from "./Transport.ts"

export interface LineFramerOptions {
  readonly maxMessageBytes: number
  readonly onLine: (line: string) => void
  /** `edges`: the line's first and last {@link FRAME_EDGE_CHARS} characters (a client reads whose response it was). */
  readonly onOversized: (bytes: number, edges: FrameEdges) => void
}

const NL = "\n"
const CR = 13

export class LineFramer {
  readonly maxMessageBytes: number
  readonly #onLine: (line: string) => void
  readonly #onOversized: (bytes: number, edges: FrameEdges) => void
  #decoder: StringDecoder | undefined = undefined
  /** Start of the current, incomplete line (never more than `maxMessageBytes` bytes). */
  #buffer = ""
  /** True while skipping the rest of an oversized line. */
  #discarding = false
  #discardedBytes = 0
  /** The skipped line's first and (so far) last characters. */
  #discardHead = ""
  #discardTail = ""

  constructor(options: LineFramerOptions) {
    this.maxMessageBytes = options.maxMessageBytes
    this.#onLine = options.onLine
    this.#onOversized = options.onOversized
  }

  /** UTF-16 length of the retained partial line (for tests and metrics). */
  get bufferedLength(): number {
    return this.#buffer.length
  }

  /** True while the rest of an oversized line is being skipped. */
  get discarding(): boolean {
    return this.#discarding
  }

  /** Feed one chunk; complete lines are emitted synchronously. */
  push(chunk: Buffer | string): void {
    let s: string
    if (typeof chunk === "string") {
      s = chunk
    } else {
      if (this.#decoder === undefined) this.#decoder = new StringDecoder("utf8")
      s = this.#decoder.write(chunk)
    }
    if (s.length === 0) return
    let start = 0
    let nl = s.indexOf(NL)
    if (this.#discarding) {
      if (nl === -1) {
        this.#discardedBytes += Buffer.byteLength(s)
        this.#keepTail(s)
        return
      }
      const last = s.slice(0, nl)
      this.#discardedBytes += Buffer.byteLength(last)
      this.#keepTail(stripCR(last))
      this.#endDiscard()
      start = nl + 1
      nl = s.indexOf(NL, start)
    }
    if (nl !== -1 && this.#buffer.length > 0) {
      const line = this.#buffer + s.slice(start, nl)
      this.#buffer = ""
      this.#emit(line)
      start = nl + 1
      nl = s.indexOf(NL, start)
    }
    while (nl !== -1) {
      this.#emit(s.slice(start, nl))
      start = nl + 1
      nl = s.indexOf(NL, start)
    }
    if (start < s.length) {
      const rest = start === 0 ? s : s.slice(start)
      const partial = this.#buffer.length === 0 ? rest : this.#buffer + rest
      if (this.#tooBig(partial)) {
        this.#buffer = ""
        this.#discarding = true
        this.#discardedBytes = Buffer.byteLength(partial)
        this.#discardHead = partial.slice(0, FRAME_EDGE_CHARS)
        this.#discardTail = partial.slice(-FRAME_EDGE_CHARS)
      } else {
        this.#buffer = partial
      }
    }
  }

  /**
   * End of input: flush the decoder, report a pending oversized line, and
   * deliver a final line that had no newline. The framer is reset and can
   * be reused.
   */
  end(): void {
    if (this.#decoder !== undefined) {
      const tail = this.#decoder.end()
      this.#decoder = undefined
      if (tail.length > 0) this.push(tail)
    }
    if (this.#discarding) {
      this.#endDiscard()
    } else if (this.#buffer.length > 0) {
      const line = this.#buffer
      this.#buffer = ""
      this.#emit(line)
    }
  }

  #endDiscard(): void {
    const bytes = this.#discardedBytes
    const edges = { head: this.#discardHead, tail: stripCR(this.#discardTail) }
    this.#discarding = false
    this.#discardedBytes = 0
    this.#discardHead = ""
    this.#discardTail = ""
    this.#onOversized(bytes, edges)
  }

  /** Keep the last characters of the skipped line (`piece` is its latest part). */
  #keepTail(piece: string): void {
    this.#discardTail = piece.length >= FRAME_EDGE_CHARS ? piece.slice(-FRAME_EDGE_CHARS) : (this.#discardTail + piece).slice(-FRAME_EDGE_CHARS)
  }

  #tooBig(text: string): boolean {
    const n = text.length
    // A UTF-16 code unit encodes to 1..3 UTF-8 bytes (a surrogate pair to 4).
    if (n > this.maxMessageBytes) return true
    if (n * 3 <= this.maxMessageBytes) return false
    return Buffer.byteLength(text) > this.maxMessageBytes
  }

  #emit(line: string): void {
    let n = line.length
    if (n === 0) return
    if (line.charCodeAt(n - 1) === CR) {
      line = line.slice(0, n - 1)
      n--
      if (n === 0) return
    }
    if (isSpace(line.charCodeAt(0)) && isBlank(line)) return
    if (n * 3 > this.maxMessageBytes && this.#tooBig(line)) {
      this.#onOversized(Buffer.byteLength(line), { head: line.slice(0, FRAME_EDGE_CHARS), tail: line.slice(-FRAME_EDGE_CHARS) })
      return
    }
    this.#onLine(line)
  }
}

const stripCR = (s: string): string => (s.charCodeAt(s.length - 1) === CR ? s.slice(0, -1) : s)

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff

const isBlank = (line: string): boolean => {
  for (let i = 0; i < line.length; i++) {
    if (!isSpace(line.charCodeAt(i))) return false
  }
  return true
}
