/**
 * A reader that leaves early (`mcp-actors audit query FILE | head`, `mcp-actors --help | head -1`):
 * the next write to stdout fails with EPIPE. The rest of the output has no reader, so it is
 * dropped and the command ends with its own exit code, not an unhandled 'error' stack trace.
 * The long-running commands also stop on it (`stopOnSignals`, `inspect`).
 *
 * Any other error is left to the stream's other listeners (`serve --stdio`'s transport ends its
 * session on any stdout error); with none, it stays fatal, as without this listener.
 */
export const outputMayBeCut = (stream: NodeJS.EventEmitter = process.stdout): void => {
  const onError = (e: NodeJS.ErrnoException): void => {
    if (e.code === "EPIPE") return
    if (stream.listeners("error").every((l) => l === onError)) throw e
  }
  stream.on("error", onError)
}
