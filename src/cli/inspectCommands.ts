/**
 * The inspector on the command line: `--inspect [PORT]` for `serve` and
 * `host` (start it, print its URL with the token, like Jupyter), `mcp-actors
 * inspect URL [--json]` (follow the feed), `mcp-actors replay FILE` (re-run a
 * record through its chart; exit 1 at the first divergence).
 */
import { readFile } from "node:fs/promises"
import { WebSocket } from "ws"
import type { Inspector, InspectorOptions } from "../inspect/InspectorServer.ts"

/** Tell the user where the inspector is (stderr: stdout may carry the protocol). */
export const announceInspector = (inspector: Inspector): void => {
  process.stderr.write(`mcp-actors: inspector on ${inspector.url}\nmcp-actors: (the page needs that token; it changes at every start)\n`)
}

export const startCliInspector = async (options: InspectorOptions): Promise<Inspector> => {
  const { startInspector } = await import("../inspect/InspectorServer.ts")
  const inspector = await startInspector(options)
  announceInspector(inspector)
  return inspector
}

/** The feed's WebSocket URL for a page URL as printed (`http://127.0.0.1:PORT/?token=…`), or with `token` given apart. */
export const feedUrlOf = (pageUrl: string, token: string | undefined): URL => {
  let url: URL
  try {
    url = new URL(pageUrl)
  } catch {
    throw new RangeError(`not a URL: ${pageUrl}`)
  }
  const t = token ?? url.searchParams.get("token") ?? undefined
  if (t === undefined || t === "") throw new RangeError("the inspector URL has no token (pass the URL as printed, or --token)")
  const feed = new URL("/feed", url)
  feed.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  feed.searchParams.set("token", t)
  return feed
}

const describe = (m: Record<string, unknown>): string | undefined => {
  switch (m.type) {
    case "@mcp-actors.session": {
      const end = m.end as { reason: string; error: boolean } | null
      const where = [m.side, m.transport, m.era, m.protocolVersion].filter((x) => x !== null && x !== undefined).join(" ")
      return `${String(m.sessionId).padEnd(6)} ${String(m.machine ?? "actor").padEnd(20)} ${String(m.state).padEnd(32)} ${where}${end === null ? "" : `  ended: ${end.reason}${end.error ? " (error)" : ""}`}`
    }
    case "@xstate.snapshot":
      return `${String(m.sessionId).padEnd(6)} ${String((m.event as { type: string }).type).padEnd(20)} → ${JSON.stringify((m.snapshot as { value: unknown }).value)}`
    case "@mcp-actors.forget":
      return `${String(m.sessionId).padEnd(6)} forgotten`
    default:
      return undefined
  }
}

/**
 * Follow the feed: JSON lines with `json`, one line per session change otherwise.
 * With `once`, stop after the current state (the `@mcp-actors.synced` marker).
 * Resolves to the exit code: 0 when the feed ends, 1 when refused or unreachable.
 */
export const followFeed = (
  feed: URL,
  options: { readonly json: boolean; readonly once: boolean; readonly write?: (line: string) => void }
): Promise<number> =>
  new Promise((resolve) => {
    const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`))
    const ws = new WebSocket(feed, { headers: { origin: `http://${feed.host}` } })
    let settled = false
    let stopped = false
    // `inspect URL --json | head`: the reader left, so stop following (exit 0), no EPIPE stack trace.
    // Kept for the process's life: writes still queued fail after this one.
    const onStdoutError = (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e
      stopped = true
      ws.terminate()
    }
    if (options.write === undefined) process.stdout.on("error", onStdoutError)
    const done = (code: number) => {
      if (settled) return
      settled = true
      resolve(code)
    }
    ws.on("unexpected-response", (_req, res) => {
      process.stderr.write(`mcp-actors inspect: refused (${res.statusCode}${res.statusCode === 401 ? ": wrong or missing token" : res.statusCode === 403 ? ": origin not allowed" : ""})\n`)
      res.resume()
      ws.terminate()
      done(1)
    })
    ws.on("error", (e) => {
      if (settled) return
      process.stderr.write(`mcp-actors inspect: ${e.message}\n`)
      done(1)
    })
    // One WebSocket message carries one or more JSON lines.
    ws.on("message", (data) => {
      for (const text of data.toString().split("\n")) {
        if (stopped || text === "") continue
        let m: Record<string, unknown>
        try {
          m = JSON.parse(text) as Record<string, unknown>
        } catch {
          continue
        }
        if (m.type === "@mcp-actors.synced") {
          if (options.once) {
            stopped = true
            ws.close(1000)
          }
          continue
        }
        if (options.json) write(text)
        else {
          const line = describe(m)
          if (line !== undefined) write(line)
        }
      }
    })
    ws.on("close", () => done(0))
  })

export const inspectCommand = async (values: Record<string, unknown>, positionals: ReadonlyArray<string>): Promise<number> => {
  const [url] = positionals
  if (url === undefined) throw new RangeError("give the inspector URL as printed (http://127.0.0.1:PORT/?token=…)")
  const feed = feedUrlOf(url, typeof values.token === "string" ? values.token : undefined)
  return followFeed(feed, { json: values.json === true, once: values.once === true })
}

export const replayCommand = async (values: Record<string, unknown>, positionals: ReadonlyArray<string>): Promise<number> => {
  const [file] = positionals
  if (file === undefined) throw new RangeError("give a record file (downloaded from the inspector or written with inspector.writeRecord)")
  const { formatReplay, parseRecord, replayRecord } = await import("../inspect/replay.ts")
  const record = parseRecord(await readFile(file, "utf8"))
  const result = replayRecord(record)
  process.stdout.write(values.json === true ? `${JSON.stringify(result)}\n` : `${formatReplay(result, record)}\n`)
  if (result.divergence !== undefined) {
    const { index, step } = result.divergence
    process.stderr.write(`mcp-actors replay: the chart disagrees with the record at event #${index + 1} (${step.event}): recorded ${step.recorded}, replayed ${step.replayed}\n`)
    return 1
  }
  return 0
}
