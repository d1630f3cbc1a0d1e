/** The CLI's commands, each with its options, usage text and runner. */
import type { ParseArgsConfig } from "node:util"
// Modules are loaded by the command that needs them, so `--help` and usage errors stay instant.
import { exampleNames } from "../../examples/names.ts"

export interface Command {
  readonly summary: string
  readonly usage: string
  readonly options: NonNullable<ParseArgsConfig["options"]>
  /** Resolves to the exit code, or -1 when the command keeps running and exits by itself. */
  readonly run: (values: Record<string, string | boolean | undefined>) => Promise<number>
}

class UsageError extends Error {}
export { UsageError }

const pickExample = async (name: string | undefined) => {
  const key = name ?? "demo"
  if (!exampleNames.includes(key)) throw new UsageError(`unknown example "${key}" (available: ${exampleNames.join(", ")})`)
  const { examples } = await import("../../examples/index.ts")
  return examples[key]!.make()
}

const intOption = (values: Record<string, unknown>, key: string, fallback: number): number => {
  const raw = values[key]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${key} must be a non-negative integer, got "${String(raw)}"`)
  return n
}

const serve: Command = {
  summary: "serve an example server over stdio, Streamable HTTP or WebSocket",
  usage: `Usage: mcp-actors serve (--stdio | --http PORT | --ws PORT) [options]

Options:
  --stdio                  serve one session on stdin/stdout (logs go to stderr)
  --http PORT              serve Streamable HTTP on PORT (0 = any free port)
  --ws PORT                serve WebSocket (subprotocol "mcp", one message per text frame) on PORT
  --host HOST              HTTP/WebSocket bind address (default 127.0.0.1)
  --example NAME           which example server (default demo; available: ${exampleNames.join(", ")})
  --idle-timeout MS        close sessions idle this long (0 = never; default: never on stdio, 30 min on HTTP/WebSocket)
  --handshake-timeout MS   close sessions that have not completed initialize → initialized this long after they
                           started (0 = never; default 60000 on stdio — the server then exits 1 —, 10000 on HTTP/WebSocket)
  --drain-timeout MS       how long in-flight requests may finish when stdin ends or on shutdown
                           (default 1000 on stdio: clients wait 2 s after closing stdin before SIGTERM; 5000 otherwise)
  --max-sessions N         HTTP sessions / WebSocket connections in all (default 10000)
  --max-handshake-sessions N
                           of which still in the handshake; the oldest is evicted beyond (default max-sessions / 10)
  --max-sessions-per-address N
                           per client address; beyond, its oldest handshake is evicted or 429 (default 0 = no cap)
  --max-message-bytes N    largest accepted message (default 4194304)
  -h, --help               show this help`,
  options: {
    stdio: { type: "boolean" },
    http: { type: "string" },
    ws: { type: "string" },
    host: { type: "string" },
    example: { type: "string" },
    "idle-timeout": { type: "string" },
    "handshake-timeout": { type: "string" },
    "drain-timeout": { type: "string" },
    "max-sessions": { type: "string" },
    "max-handshake-sessions": { type: "string" },
    "max-sessions-per-address": { type: "string" },
    "max-message-bytes": { type: "string" }
  },
  run: async (values) => {
    const maxMessageBytes = intOption(values, "max-message-bytes", 4 * 1024 * 1024)
    const network = values.http !== undefined || values.ws !== undefined
    // Network sessions a client forgets to close must not live forever: 30 min by default there.
    const idleTimeoutMs = intOption(values, "idle-timeout", network ? 30 * 60_000 : 0)
    // stdio: a host that spawned us and never initializes gets a minute (room for a human typing JSON).
    const handshakeTimeoutMs = intOption(values, "handshake-timeout", network ? 10_000 : 60_000)
    // stdio: below the 2 s that clients (the SDK's, ours) wait after closing stdin before SIGTERM.
    const drainTimeoutMs = intOption(values, "drain-timeout", network ? 5_000 : 1_000)
    const chosen = [values.stdio === true, values.http !== undefined, values.ws !== undefined].filter(Boolean).length
    if (chosen > 1) throw new UsageError("choose one of --stdio, --http and --ws")
    if (chosen === 0) throw new UsageError("choose a transport: --stdio, --http PORT or --ws PORT")
    const server = await pickExample(values.example as string | undefined)
    if (values.stdio) {
      const { serveTransport } = await import("../server/serveTransport.ts")
      const { makeStdioServerTransport } = await import("../transports/stdioServer.ts")
      const { HANDSHAKE_TIMEOUT } = await import("../../machines/legacyServerSession.ts")
      const transport = makeStdioServerTransport({ maxMessageBytes })
      // stdin EOF drains: in-flight requests are answered within the drain deadline, then we exit.
      const session = serveTransport(server, transport, { idleTimeoutMs, handshakeTimeoutMs, drainTimeoutMs })
      process.stderr.write(`mcp-actors: serving example "${values.example ?? "demo"}" on stdio\n`)
      const end = await session.ended
      await transport.close()
      const code = end.reason === HANDSHAKE_TIMEOUT ? 1 : 0
      process.stderr.write(code === 1
        ? `mcp-actors: no initialize / notifications/initialized within ${handshakeTimeoutMs} ms (handshake timeout); exiting (--handshake-timeout 0 waits forever)\n`
        : `mcp-actors: session ended (${end.reason})\n`)
      // Replies are flushed; a handler that ignored its abort signal must not keep the process alive.
      setTimeout(() => process.exit(code), 1_000).unref()
      return code
    }
    // A network listener: Streamable HTTP or WebSocket, same options.
    const listen = {
      port: intOption(values, values.http !== undefined ? "http" : "ws", 0),
      host: (values.host as string | undefined) ?? "127.0.0.1",
      idleTimeoutMs,
      handshakeTimeoutMs,
      drainMs: drainTimeoutMs,
      maxMessageBytes,
      limits: {
        ...(values["max-sessions"] === undefined ? {} : { maxSessions: intOption(values, "max-sessions", 10_000) }),
        ...(values["max-handshake-sessions"] === undefined ? {} : { maxHandshakeSessions: intOption(values, "max-handshake-sessions", 1_000) }),
        maxSessionsPerAddress: intOption(values, "max-sessions-per-address", 0)
      }
    }
    if (values.http !== undefined) return (await import("./serveHttp.ts")).serveHttpCommand(server, listen)
    return (await import("./serveWs.ts")).serveWsCommand(server, listen)
  }
}

const list: Command = {
  summary: "list the example servers",
  usage: "Usage: mcp-actors examples",
  options: {},
  run: async () => {
    const { examples } = await import("../../examples/index.ts")
    for (const [name, e] of Object.entries(examples)) process.stdout.write(`${name.padEnd(12)} ${e.description}\n`)
    return 0
  }
}

const demo: Command = {
  summary: "spawn the demo server over stdio, connect our client, call echo, print every state transition",
  usage: `Usage: mcp-actors demo [--text TEXT]

Spawns "mcp-actors serve --stdio" as a child process, connects the mcp-actors
client to it, calls the echo tool, prints each session state transition and exits.`,
  options: { text: { type: "string" } },
  run: async (values) => {
    const { runDemo } = await import("./demo.ts")
    return runDemo({ text: (values.text as string | undefined) ?? "hello from mcp-actors" })
  }
}

const charts: Command = {
  summary: "write every statechart as Mermaid, DOT and JSON",
  usage: `Usage: mcp-actors charts [--out DIR] [--embed FILE.md ...]

Options:
  --out DIR       output directory (default docs/charts)
  --embed FILE    also refresh the <!-- chart:ID --> blocks of a Markdown file (repeatable)`,
  options: { out: { type: "string" }, embed: { type: "string", multiple: true } },
  run: async (values) => {
    const { exportCharts } = await import("../visualization/exportCharts.ts")
    const { embedCharts } = await import("../visualization/embedCharts.ts")
    const written = await exportCharts((values.out as string | undefined) ?? "docs/charts")
    for (const f of written as ReadonlyArray<string>) process.stdout.write(`${f}\n`)
    for (const file of (values.embed as unknown as ReadonlyArray<string> | undefined) ?? []) {
      if (await embedCharts(file)) process.stdout.write(`${file} (charts refreshed)\n`)
    }
    return 0
  }
}

export const commands: Readonly<Record<string, Command>> = { serve, demo, charts, examples: list }
