/**
 * How a long-running `serve` stops: the first SIGINT/SIGTERM closes the server
 * (sessions drained), after which nothing holds the event loop and the process
 * exits by itself; a second signal exits at once. Started by npm (`npm start`,
 * `npx mcp-actors`), losing the parent counts as a SIGTERM: npm passes its
 * SIGTERM to the `sh -c` it runs us under, and that shell dies without passing
 * it on, which would leave the server running, orphaned, still listening.
 * A closed stdout (`mcp-actors host CONFIG --json | head`) stops it the same
 * way, not with an unhandled EPIPE that skips the graceful shutdown.
 */
export const stopOnSignals = (live: () => string, close: () => Promise<void>): void => {
  let stopping = false
  let unwatch = () => {}
  const onSignal = (signal: NodeJS.Signals | "parent exited" | "stdout closed") => {
    if (stopping) {
      process.stderr.write(`mcp-actors: ${signal} again, exiting now\n`)
      process.exit(130)
    }
    stopping = true
    unwatch()
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
  // Every later write fails too: only the first stops; other stdout errors stay fatal, as before.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e
    if (!stopping) onSignal("stdout closed")
  })
  if (process.env["npm_command"] !== undefined) unwatch = watchParent(() => onSignal("parent exited"))
}

/**
 * Calls `onExit` once the process is re-parented (its parent died). Node has no
 * event for that, so `process.ppid` is checked twice a second on an unref'd
 * timer. Only under npm: a server started with `nohup … &` is meant to outlive its shell.
 */
const watchParent = (onExit: () => void): (() => void) => {
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    onExit()
  }, 500)
  timer.unref()
  return () => clearInterval(timer)
}
