/**
 * How a long-running `serve` stops: the first SIGINT/SIGTERM closes the server
 * (sessions drained), after which nothing holds the event loop and the process
 * exits by itself; a second signal exits at once.
 */
export const stopOnSignals = (live: () => string, close: () => Promise<void>): void => {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`mcp-actors: ${signal} again, exiting now\n`)
      process.exit(130)
    }
    stopping = true
    process.stderr.write(`mcp-actors: ${signal}, shutting down (${live()})\n`)
    void close().then(
      () => {
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
        process.stderr.write("mcp-actors: stopped\n")
      },
      (error: unknown) => {
        process.stderr.write(`mcp-actors: shutdown failed: ${String(error)}\n`)
        process.exit(1)
      }
    )
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
}
