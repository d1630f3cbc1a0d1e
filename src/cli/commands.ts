/** The CLI's commands, each with its options, usage text and runner. */
import type { ParseArgsConfig } from "node:util"
// Modules are loaded by the command that needs them, so `--help` and usage errors stay instant.
import { exampleNames } from "../../examples/names.ts"

export interface Command {
  readonly summary: string
  readonly usage: string
  readonly options: NonNullable<ParseArgsConfig["options"]>
  /** Resolves to the exit code, or -1 when the command keeps running and exits by itself. */
  readonly run: (values: Record<string, string | boolean | undefined>, positionals: ReadonlyArray<string>) => Promise<number>
  /** Accepts positional arguments (e.g. `host CONFIG`). */
  readonly positionals?: boolean
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
  --idle-timeout MS        close sessions idle this long (0 = never; default: never on stdio, 30 min on HTTP)
  --max-message-bytes N    largest accepted message (default 4194304)
  -h, --help               show this help`,
  options: {
    stdio: { type: "boolean" },
    http: { type: "string" },
    ws: { type: "string" },
    host: { type: "string" },
    example: { type: "string" },
    "idle-timeout": { type: "string" },
    "max-message-bytes": { type: "string" }
  },
  run: async (values) => {
    const maxMessageBytes = intOption(values, "max-message-bytes", 4 * 1024 * 1024)
    // HTTP sessions a client forgets to DELETE must not live forever: 30 min by default there.
    const idleTimeoutMs = intOption(values, "idle-timeout", values.http !== undefined ? 30 * 60_000 : 0)
    const chosen = [values.stdio === true, values.http !== undefined, values.ws !== undefined].filter(Boolean).length
    if (chosen > 1) throw new UsageError("choose one of --stdio, --http and --ws")
    if (chosen === 0) throw new UsageError("choose a transport: --stdio, --http PORT or --ws PORT")
    const server = await pickExample(values.example as string | undefined)
    if (values.stdio) {
      const { serveTransport } = await import("../server/serveTransport.ts")
      const { makeStdioServerTransport } = await import("../transports/stdioServer.ts")
      const transport = makeStdioServerTransport({ maxMessageBytes })
      const session = serveTransport(server, transport, { idleTimeoutMs })
      process.stderr.write(`mcp-actors: serving example "${values.example ?? "demo"}" on stdio\n`)
      const end = await session.ended
      process.stderr.write(`mcp-actors: session ended (${end.reason})\n`)
      await transport.close()
      return 0
    }
    // A network listener: Streamable HTTP or WebSocket, same options.
    const listen = {
      port: intOption(values, values.http !== undefined ? "http" : "ws", 0),
      host: (values.host as string | undefined) ?? "127.0.0.1",
      idleTimeoutMs,
      maxMessageBytes
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

const host: Command = {
  summary: "run many MCP servers from a config (Claude Desktop / Cursor / VS Code / mcporter format), with a live status table and an optional gateway",
  usage: `Usage: mcp-actors host [CONFIG] [--import] [--serve-http PORT | --serve-ws PORT | --serve-stdio] [options]

Starts every server of CONFIG (a JSON file with "mcpServers", or VS Code's
"servers"), keeps them alive (restarts with backoff, parks crash loops) and
shows a live status table: server, state, era/version, tools, restarts, last
error, uptime. Ctrl-C or SIGTERM stops every server (no process left).

Options:
  --import                 also read the config files of Claude Desktop, Claude Code, Cursor, VS Code and mcporter found on this machine
  --serve-http PORT        serve the aggregated catalog as one MCP server (Streamable HTTP): /mcp, and /mcp/<server> for one server under its original names
  --serve-ws PORT          serve the aggregated catalog over WebSocket (/mcp)
  --serve-stdio            serve the aggregated catalog on stdin/stdout (the status goes to stderr)
  --host HOST              gateway bind address (default 127.0.0.1)
  --json                   print status changes as JSON lines instead of the table
  --state-file PATH        where the started process groups are recorded (reaped after a crash)
  -h, --help               show this help`,
  options: {
    import: { type: "boolean" },
    "serve-http": { type: "string" },
    "serve-ws": { type: "string" },
    "serve-stdio": { type: "boolean" },
    host: { type: "string" },
    json: { type: "boolean" },
    "state-file": { type: "string" }
  },
  positionals: true,
  run: async (values, positionals) => {
    if (positionals.length > 1) throw new UsageError("one CONFIG file at most")
    const chosen = [values["serve-http"] !== undefined, values["serve-ws"] !== undefined, values["serve-stdio"] === true].filter(Boolean).length
    if (chosen > 1) throw new UsageError("choose one of --serve-http, --serve-ws and --serve-stdio")
    if (positionals.length === 0 && values.import !== true) throw new UsageError("give a CONFIG file, or --import")
    const serve = values["serve-http"] !== undefined
      ? { kind: "http" as const, port: intOption(values, "serve-http", 0) }
      : values["serve-ws"] !== undefined
      ? { kind: "ws" as const, port: intOption(values, "serve-ws", 0) }
      : values["serve-stdio"] === true
      ? { kind: "stdio" as const, port: 0 }
      : undefined
    return (await import("./host.ts")).hostCommand({
      config: positionals[0],
      import: values.import === true,
      serve,
      bind: (values.host as string | undefined) ?? "127.0.0.1",
      json: values.json === true,
      stateFile: values["state-file"] as string | undefined
    })
  }
}

export const commands: Readonly<Record<string, Command>> = { serve, host, demo, charts, examples: list }
