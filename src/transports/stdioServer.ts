/**
 * Server side of the stdio transport (spec-digest §4): newline-delimited
 * JSON-RPC read from stdin, written to stdout. Nothing else is ever written
 * to stdout (logs belong on stderr).
 *
 * - stdin EOF (or close) → `onInputEnded()` when the handlers have it (stdout
 *   stays open for the replies to what was read; the handler closes the
 *   transport when done), else `onClose({ expected: true, reason: "stdin ended" })`;
 *   a stdin/stdout stream error → `onClose({ expected: false })`.
 * - Outgoing frames are coalesced into one stdout write per event-loop turn
 *   (`OutputBatcher`), with backpressure.
 * - `close()` flushes, releases every listener it added and pauses stdin; it
 *   does not end stdout nor exit the process: the CLI decides to exit.
 *   If the transport had not ended yet, `onClose` is then called with
 *   `{ expected: true, reason: "closed" }` (it is always called exactly once).
 *
 * No Effect on the per-frame path; `StdioServerTransport.make` is the scoped
 * Effect wrapper.
 */
import type { Readable, Writable } from "node:stream"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { encode, type JsonRpcBatchResponse, type JsonRpcMessage } from "../protocol/jsonrpc.ts"
import { LineFramer } from "./LineFramer.ts"
import { OutputBatcher } from "./OutputBatcher.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport, type TransportClosed, type TransportHandlers } from "./Transport.ts"

export interface StdioServerOptions {
  /** Defaults to `process.stdin`. */
  readonly stdin?: Readable
  /** Defaults to `process.stdout`. */
  readonly stdout?: Writable
  readonly maxMessageBytes?: number
  /** How long `close()` waits for pending output to reach the OS while the reader takes none of it. Default 2000 ms. */
  readonly flushTimeoutMs?: number
}

export interface StdioServerTransport extends Transport {
  readonly kind: "stdio"
  /** Characters of output waiting to be written (backpressure signal). */
  readonly pendingOutput: number
}

const errorText = (e: unknown): string =>
  e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e)

/**
 * This process's stdin/stdout as a server transport (what a spawned MCP server serves).
 * Write logs to stderr: anything else on stdout would corrupt the stream.
 */
export const makeStdioServerTransport = (options: StdioServerOptions = {}): StdioServerTransport => {
  const stdin = options.stdin ?? process.stdin
  const stdout = options.stdout ?? process.stdout
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const batcher = new OutputBatcher(stdout, options.flushTimeoutMs === undefined ? {} : { flushTimeoutMs: options.flushTimeoutMs })

  let handlers: TransportHandlers | undefined = undefined
  let framer: LineFramer | undefined = undefined
  let notified = false
  let closePromise: Promise<void> | undefined = undefined

  const notify = (closed: TransportClosed): void => {
    if (notified) return
    notified = true
    handlers?.onClose(closed)
  }

  const onData = (chunk: Buffer | string): void => {
    framer!.push(chunk)
  }
  let inputEnded = false
  const onEnd = (): void => {
    if (notified || inputEnded) return
    inputEnded = true
    framer!.end() // a last line without its newline is still delivered
    stdin.off("data", onData)
    if (handlers?.onInputEnded !== undefined) handlers.onInputEnded()
    else notify({ expected: true, reason: "stdin ended" })
  }
  const onStdinError = (e: unknown): void => {
    notify({ expected: false, reason: `stdin error: ${errorText(e)}` })
  }
  const onStdoutError = (e: unknown): void => {
    void batcher.end() // the stream is destroyed: stop writing to it
    notify({ expected: false, reason: `stdout error: ${errorText(e)}` })
  }

  const detach = (): void => {
    stdin.off("data", onData)
    stdin.off("end", onEnd)
    stdin.off("close", onEnd)
    stdin.off("error", onStdinError)
    stdout.off("error", onStdoutError)
    stdin.pause()
  }

  return {
    kind: "stdio",
    authoritativeLiveness: true,
    get pendingOutput() {
      return batcher.pendingLength
    },
    start(h) {
      if (handlers !== undefined) throw new Error("stdio server transport: start() called twice")
      handlers = h
      if (closePromise !== undefined) return
      framer = new LineFramer({ maxMessageBytes, onLine: h.onFrame, onOversized: h.onOversized })
      stdout.on("error", onStdoutError)
      stdin.on("error", onStdinError)
      stdin.on("end", onEnd)
      stdin.on("close", onEnd)
      stdin.on("data", onData)
      if (stdin.readableEnded) onEnd()
    },
    send(message: JsonRpcMessage | JsonRpcBatchResponse) {
      batcher.push(encode(message))
    },
    close() {
      if (closePromise === undefined) {
        closePromise = (async () => {
          await batcher.end()
          if (handlers !== undefined) detach()
          notify({ expected: true, reason: "closed" })
        })()
      }
      return closePromise
    }
  }
}

/** Scoped stdio server transport: `close()` runs when the scope closes. */
export const StdioServerTransport = {
  make: (options?: StdioServerOptions): Effect.Effect<StdioServerTransport, never, Scope.Scope> =>
    Effect.acquireRelease(
      Effect.sync(() => makeStdioServerTransport(options)),
      (transport) => Effect.promise(() => transport.close())
    )
}
