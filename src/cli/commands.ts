/** The CLI's commands, each with its options, usage text and runner. */
import type { ParseArgsConfig } from "node:util"
// Modules are loaded by the command that needs them, so `--help` and usage errors stay instant.
import { exampleNames } from "../../examples/names.ts"
import type { PolicyCliOptions } from "./policySetup.ts"
import { InspectorApprover } from "../inspect/inspectorApprover.ts"
import { setupTelemetry, TELEMETRY_OPTIONS, TELEMETRY_USAGE } from "./telemetrySetup.ts"

export interface Command {
  readonly summary: string
  readonly usage: string
  readonly options: NonNullable<ParseArgsConfig["options"]>
  /** Takes positional arguments (sub-actions, files). */
  readonly positionals?: boolean
  /** Resolves to the exit code, or -1 when the command keeps running and exits by itself. */
  readonly run: (values: Record<string, string | boolean | undefined>, positionals: ReadonlyArray<string>) => Promise<number>
}

class UsageError extends Error {}
export { UsageError }

const pickExample = async (name: string | undefined) => {
  const key = name ?? "demo"
  if (!exampleNames.includes(key)) throw new UsageError(`unknown example "${key}" (available: ${exampleNames.join(", ")})`)
  const { examples } = await import("../../examples/index.ts")
  return examples[key]!.make()
}

/** An integer option (`min` 1: a positive one), `fallback` when absent; anything else is a usage error naming the flag. */
const intOption = (values: Record<string, unknown>, key: string, fallback: number, min: 0 | 1 = 0): number => {
  const raw = values[key]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${key} must be a ${min === 1 ? "positive" : "non-negative"} integer, got "${String(raw)}"`)
  return n
}

const POLICY_OPTIONS = {
  policy: { type: "string" },
  audit: { type: "string" },
  "audit-arguments": { type: "boolean" },
  "audit-max-bytes": { type: "string" },
  "audit-key": { type: "string" },
  approvals: { type: "string" },
  approver: { type: "string" },
  jwks: { type: "string" },
  issuer: { type: "string" },
  audience: { type: "string" },
  "api-keys": { type: "string" }
} as const

const POLICY_USAGE = `Policy gateway (every tools/call, resources/read, prompts/get checked before it runs):
  --policy FILE            a .cedar policy set or the YAML/JSON form; reloaded on change
  --audit FILE             append-only, hash-chained JSON Lines audit trail
  --audit-arguments        record argument values (default: only their SHA-256 digest)
  --audit-max-bytes N      rotate the audit file at this size (default 16777216)
  --audit-key FILE         chain the trail with HMAC-SHA-256 under the secret in FILE (>= 32 bytes, e.g.
                           openssl rand -hex 32 > FILE), so a rewrite that recomputes the hashes is caught;
                           default: $MCP_ACTORS_AUDIT_KEY (a file path), else unkeyed SHA-256
  --approvals FILE         durable store of pending approvals (default: AUDIT.approvals.jsonl with --audit AUDIT,
                           else in memory)
  --approver WHO           client (elicitation / input_required; default), cli, inspector (the --inspect page's
                           Approve / Deny buttons), or a webhook URL
  --jwks FILE|URL          verify bearer JWTs against this JWKS (with --issuer and --audience)
  --issuer ISS             required "iss" of bearer JWTs
  --audience AUD           required "aud" of bearer JWTs
  --api-keys FILE          API-key table (YAML/JSON: keys: [{name, key|sha256, groups, scopes}])
`

const INSPECT_OPTIONS = {
  inspect: { type: "string" },
  "inspect-secrets": { type: "boolean" },
  "inspect-record": { type: "string" }
} as const

const INSPECT_USAGE = `  --inspect [PORT]         serve the live inspector on 127.0.0.1:PORT (default: any free port); its URL,
                           with a per-start token, is printed on stderr (docs/inspector.md)
  --inspect-secrets        show argument values, tokens and full session ids in the inspector (default: redacted)
  --inspect-record WHEN    watched (default: sessions are followed while a page or feed is connected) or always
                           (from the start, so records of sessions that ended unwatched can be read; costs more)
`

/** \`--inspect [PORT]\` (main.ts gives a bare --inspect the port 0) and \`--inspect-secrets\`. */
const inspectOptions = (values: Record<string, unknown>) => {
  if (values["inspect-secrets"] === true && values.inspect === undefined) throw new UsageError("--inspect-secrets needs --inspect")
  const record = values["inspect-record"]
  if (record !== undefined && values.inspect === undefined) throw new UsageError("--inspect-record needs --inspect")
  if (record !== undefined && record !== "watched" && record !== "always") throw new UsageError(`--inspect-record takes watched or always, got ${JSON.stringify(record)}`)
  if (values.inspect === undefined) return undefined
  const port = intOption(values, "inspect", 0)
  if (port > 65535) throw new UsageError(`--inspect takes a port (0-65535), got ${port}`)
  return { port, ...(values["inspect-secrets"] === true ? { showSecrets: true } : {}), ...(record === undefined ? {} : { record: record as "watched" | "always" }) }
}

/** `--approver inspector`: one approver for the gateway and the page, which must be served (`--inspect`). */
const inspectorApprover = (values: Record<string, unknown>): InspectorApprover => {
  if (values.inspect === undefined) throw new UsageError("--approver inspector needs --inspect (the inspector page answers the approvals)")
  return new InspectorApprover()
}

/** The inspector's options with the page's approver, when the policy asks the page. */
const withApprover = <T extends object>(inspect: T | undefined, policy: PolicyCliOptions | undefined) =>
  inspect === undefined || policy?.inspectorApprover === undefined ? inspect : { ...inspect, approver: policy.inspectorApprover }

/**
 * `--audit-key FILE`, else `$MCP_ACTORS_AUDIT_KEY` (a file path, never the key: it would show in `ps`),
 * for a command that reads or writes an audit trail (`audit` says whether one is given).
 */
const auditKeyOption = (values: Record<string, unknown>, audit: boolean): { auditKey?: string } => {
  const flag = typeof values["audit-key"] === "string" ? values["audit-key"] as string : undefined
  if (flag !== undefined && !audit) throw new UsageError("--audit-key needs --audit")
  const file = flag ?? (audit ? process.env.MCP_ACTORS_AUDIT_KEY : undefined)
  return file === undefined || file === "" ? {} : { auditKey: file }
}

/** The policy-gateway flags (shared by `serve` and `host`), or undefined when none is given. */
const policyCliOptions = (values: Record<string, unknown>): PolicyCliOptions | undefined => {
  const str = (k: string) => (typeof values[k] === "string" ? values[k] as string : undefined)
  if (str("policy") === undefined && str("audit") === undefined && str("audit-key") === undefined && str("jwks") === undefined &&
    str("issuer") === undefined && str("audience") === undefined && str("api-keys") === undefined) return undefined
  return {
    ...(str("policy") === undefined ? {} : { policy: str("policy")! }),
    ...(str("audit") === undefined ? {} : { audit: str("audit")! }),
    ...(values["audit-arguments"] === true ? { auditArguments: true } : {}),
    ...(str("audit-max-bytes") === undefined ? {} : { auditMaxBytes: intOption(values, "audit-max-bytes", 0) }),
    ...auditKeyOption(values, str("audit") !== undefined),
    ...(str("approvals") === undefined ? {} : { approvals: str("approvals")! }),
    ...(str("approver") === undefined ? {} : { approver: str("approver")! }),
    ...(str("approver") === "inspector" ? { inspectorApprover: inspectorApprover(values) } : {}),
    ...(str("jwks") === undefined ? {} : { jwks: str("jwks")! }),
    ...(str("issuer") === undefined ? {} : { issuer: str("issuer")! }),
    ...(str("audience") === undefined ? {} : { audience: str("audience")! }),
    ...(str("api-keys") === undefined ? {} : { apiKeys: str("api-keys")! })
  }
}

const ratioOption = (text: string): number => {
  const n = Number(text)
  if (text.trim() === "" || !(n >= 0 && n <= 1)) throw new UsageError(`--otlp-sample needs a number from 0 to 1, got ${JSON.stringify(text)}`)
  return n
}

const telemetryCliOptions = (values: Record<string, string | boolean | undefined>) => ({
  ...(values.otlp === undefined ? {} : { otlp: values.otlp as string }),
  ...(values["otlp-sample"] === undefined ? {} : { sample: ratioOption(values["otlp-sample"] as string) }),
  metrics: values.metrics === true,
  ...(values["metrics-port"] === undefined ? {} : { metricsPort: intOption(values, "metrics-port", 0) }),
  host: (values.host as string | undefined) ?? "127.0.0.1"
})

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
                           (default 500 on stdio: clients wait 2 s after closing stdin before SIGTERM; 5000 otherwise)
  --max-sessions N         HTTP sessions / WebSocket connections in all (default 10000)
  --max-handshake-sessions N
                           of which still in the handshake; the oldest is evicted beyond (default max-sessions / 10)
  --max-sessions-per-address N
                           per client address; beyond, its oldest handshake is evicted or 429 (default 0 = no cap)
  --max-sessions-per-principal N
                           per authenticated principal (--jwks / --api-keys); the same rule (default 0 = no cap)
  --max-message-bytes N    largest accepted message (default 4194304)
${INSPECT_USAGE}

${TELEMETRY_USAGE}
${POLICY_USAGE}  -h, --help               show this help`,
  options: {
    stdio: { type: "boolean" },
    ...INSPECT_OPTIONS,
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
    "max-sessions-per-principal": { type: "string" },
    "max-message-bytes": { type: "string" },
    ...TELEMETRY_OPTIONS,
    ...POLICY_OPTIONS
  },
  run: async (values) => {
    const maxMessageBytes = intOption(values, "max-message-bytes", 4 * 1024 * 1024)
    const network = values.http !== undefined || values.ws !== undefined
    // Network sessions a client forgets to close must not live forever: 30 min by default there.
    const idleTimeoutMs = intOption(values, "idle-timeout", network ? 30 * 60_000 : 0)
    // stdio: a host that spawned us and never initializes gets a minute (room for a human typing JSON).
    const handshakeTimeoutMs = intOption(values, "handshake-timeout", network ? 10_000 : 60_000)
    // stdio: well below the 2 s that clients (the SDK's, ours) wait after closing stdin before SIGTERM.
    const drainTimeoutMs = intOption(values, "drain-timeout", network ? 5_000 : 500)
    const chosen = [values.stdio === true, values.http !== undefined, values.ws !== undefined].filter(Boolean).length
    if (chosen > 1) throw new UsageError("choose one of --stdio, --http and --ws")
    if (chosen === 0) throw new UsageError("choose a transport: --stdio, --http PORT or --ws PORT")
    // A flag that would do nothing is refused, not silently ignored.
    if (values["metrics-port"] !== undefined && values.metrics !== true) throw new UsageError("--metrics-port needs --metrics")
    if (values["metrics-port"] !== undefined && values.http !== undefined) {
      throw new UsageError("--metrics-port is for --stdio and --ws: with --http, /metrics is served on the HTTP port")
    }
    const server = await pickExample(values.example as string | undefined)
    const policyOptions = policyCliOptions(values)
    const inspect = withApprover(inspectOptions(values), policyOptions)
    const gateway = policyOptions === undefined
      ? undefined
      : (await import("./policySetup.ts")).setupPolicy(server, policyOptions, (line) => process.stderr.write(`mcp-actors: ${line}\n`))
    if (gateway?.authenticate !== undefined && values.stdio) throw new UsageError("bearer authentication needs --http or --ws (stdio has no credentials)")
    const observed = await setupTelemetry(telemetryCliOptions(values))
    if (observed !== undefined) server.telemetry = observed.telemetry
    if (values.stdio) {
      await observed?.listenMetrics()
      const { serveTransport } = await import("../server/serveTransport.ts")
      const { makeStdioServerTransport } = await import("../transports/stdioServer.ts")
      const { HANDSHAKE_TIMEOUT } = await import("../../machines/legacyServerSession.ts")
      const transport = makeStdioServerTransport({ maxMessageBytes })
      // stdin EOF drains: in-flight requests are answered within the drain deadline, then we exit.
      const inspector = inspect === undefined ? undefined : await (await import("./inspectCommands.ts")).startCliInspector(inspect)
      const session = serveTransport(server, transport, { idleTimeoutMs, handshakeTimeoutMs, drainTimeoutMs })
      process.stderr.write(`mcp-actors: serving example "${values.example ?? "demo"}" on stdio\n`)
      const end = await session.ended
      await transport.close()
      await inspector?.close()
      gateway?.close()
      await observed?.close()
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
        maxSessionsPerAddress: intOption(values, "max-sessions-per-address", 0),
        maxSessionsPerPrincipal: intOption(values, "max-sessions-per-principal", 0)
      },
      ...(gateway?.authenticate === undefined ? {} : { authenticate: gateway.authenticate }),
      ...(inspect === undefined ? {} : { inspect }),
      ...(observed?.telemetry === undefined || values.metrics !== true || values.http === undefined ? {} : { metrics: observed.telemetry }),
      onClosed: async () => {
        gateway?.close()
        await observed?.close()
      }
    }
    if (values.ws !== undefined) await observed?.listenMetrics()
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
  --serve-ws PORT          serve the aggregated catalog over WebSocket: /mcp, and /mcp/<server> likewise
  --serve-stdio            serve the aggregated catalog on stdin/stdout (the status goes to stderr)
  --host HOST              gateway bind address (default 127.0.0.1)
  --idle-timeout MS        close gateway sessions (HTTP/WebSocket) idle this long (0 = never; default 30 min)
  --max-subscriptions-per-session N
                           resource URIs one gateway session (or modern listen) may subscribe to; beyond, -32014 (default 1000)
  --json                   print status changes as JSON lines instead of the table
  --state-file PATH        where the started process groups are recorded (reaped after a crash)
${INSPECT_USAGE}

${TELEMETRY_USAGE.replace("(on the HTTP port; for stdio/WebSocket on its own port)", "(on a listener of its own)")}
${POLICY_USAGE.replace("Policy gateway (", "Policy gateway on --serve-http/--serve-ws (resources are named with their upstream server, ")}  -h, --help               show this help`,
  options: {
    import: { type: "boolean" },
    "serve-http": { type: "string" },
    "serve-ws": { type: "string" },
    "serve-stdio": { type: "boolean" },
    host: { type: "string" },
    "idle-timeout": { type: "string" },
    "max-subscriptions-per-session": { type: "string" },
    json: { type: "boolean" },
    "state-file": { type: "string" },
    ...INSPECT_OPTIONS,
    ...TELEMETRY_OPTIONS,
    ...POLICY_OPTIONS
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
    const policy = policyCliOptions(values)
    if (policy !== undefined && serve?.kind !== "http" && serve?.kind !== "ws") throw new UsageError("the policy options need --serve-http or --serve-ws")
    if (values["idle-timeout"] !== undefined && serve?.kind !== "http" && serve?.kind !== "ws") throw new UsageError("--idle-timeout needs --serve-http or --serve-ws")
    const idleTimeoutMs = values["idle-timeout"] === undefined ? undefined : intOption(values, "idle-timeout", 0)
    if (values["max-subscriptions-per-session"] !== undefined && serve === undefined) throw new UsageError("--max-subscriptions-per-session needs --serve-http, --serve-ws or --serve-stdio")
    const maxSubscriptionsPerSession = values["max-subscriptions-per-session"] === undefined ? undefined : intOption(values, "max-subscriptions-per-session", 1_000, 1)
    return (await import("./host.ts")).hostCommand({
      ...(policy === undefined ? {} : { policy }),
      config: positionals[0],
      import: values.import === true,
      serve,
      bind: (values.host as string | undefined) ?? "127.0.0.1",
      ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
      ...(maxSubscriptionsPerSession === undefined ? {} : { maxSubscriptionsPerSession }),
      json: values.json === true,
      stateFile: values["state-file"] as string | undefined,
      ...(withApprover(inspectOptions(values), policy) === undefined ? {} : { inspect: withApprover(inspectOptions(values), policy)! }),
      telemetry: telemetryCliOptions(values)
    })
  }
}

const audit: Command = {
  summary: "verify or query a policy audit trail (hash-chained JSON Lines)",
  usage: `Usage: mcp-actors audit verify FILE... [--all] [--audit-key KEYFILE] [--ignore-seal]
       mcp-actors audit query FILE... [--principal P] [--session S] [--tool T] [--type decision|call] [--since T] [--until T] [--all]

verify exits 0 when the chain is intact, 1 naming the first bad record (edited,
removed or reordered). Several files are checked as one chain, oldest first.
A keyed trail (written with --audit-key) verifies only with its key, and then
a rewrite that recomputed every hash is caught too. FILE.seal, rewritten with
every write, names the newest record: removing the newest records is caught
(a keyed trail must have its seal).

Options:
  --all              also read FILE's rotated files (FILE.000001, …) before it
  --audit-key FILE   the trail's key file (default: $MCP_ACTORS_AUDIT_KEY)
  --ignore-seal      do not check the trail's end against FILE.seal (a copy without it)
  --principal P      records of this principal
  --session S        records of this session id
  --tool T           records of this tool, prompt or resource URI
  --type KIND        decision or call
  --since T, --until T   ISO time or epoch milliseconds`,
  positionals: true,
  options: {
    all: { type: "boolean" },
    "audit-key": { type: "string" },
    "ignore-seal": { type: "boolean" },
    principal: { type: "string" },
    session: { type: "string" },
    tool: { type: "string" },
    type: { type: "string" },
    since: { type: "string" },
    until: { type: "string" }
  },
  run: async (values, positionals) => {
    const [action, ...files] = positionals
    if (action !== "verify" && action !== "query") throw new UsageError(`audit needs verify or query, got ${JSON.stringify(action ?? "")}`)
    if (files.length === 0) throw new UsageError(`audit ${action} needs at least one FILE`)
    const { auditVerify, auditQuery } = await import("./policyCommands.ts")
    return action === "verify" ? auditVerify(files, values.all === true, auditKeyOption(values, true).auditKey, values["ignore-seal"] === true) : auditQuery(files, values)
  }
}

const policy: Command = {
  summary: "check a policy, or replay an audit trail against it (shadow mode)",
  usage: `Usage: mcp-actors policy check POLICY
       mcp-actors policy test POLICY --against AUDIT.jsonl [--against MORE.jsonl]

check parses a .cedar set or the YAML/JSON form (exit 1 naming the line and the
reason when it does not parse) and prints the Cedar the form compiles to.
test replays the recorded requests against POLICY and reports every decision
that would change (rate limits are not replayed).`,
  positionals: true,
  options: { against: { type: "string", multiple: true } },
  run: async (values, positionals) => {
    const [action, file] = positionals
    if (file === undefined || (action !== "check" && action !== "test")) throw new UsageError("policy needs check POLICY or test POLICY --against AUDIT")
    const { policyCheck, policyTest } = await import("./policyCommands.ts")
    if (action === "check") return policyCheck(file)
    const against = (values.against as unknown as ReadonlyArray<string> | undefined) ?? []
    if (against.length === 0) throw new UsageError("policy test needs --against AUDIT.jsonl")
    return policyTest(file, against)
  }
}

const approvals: Command = {
  summary: "list pending approvals, approve or deny one (the gateway's --approvals store)",
  usage: `Usage: mcp-actors approvals [list] --store FILE
       mcp-actors approvals approve ID --store FILE [--by NAME]
       mcp-actors approvals deny ID --store FILE [--by NAME] [--reason TEXT]`,
  positionals: true,
  options: { store: { type: "string" }, by: { type: "string" }, reason: { type: "string" } },
  run: async (values, positionals) => {
    const { approvalsCommand } = await import("./policyCommands.ts")
    return approvalsCommand(positionals[0], positionals[1], values)
  }
}

const inspect: Command = {
  summary: "follow a running inspector's feed (the URL it printed), as text or JSON lines",
  usage: `Usage: mcp-actors inspect URL [--json] [--once] [--token TOKEN]

Connects to the inspector started with --inspect (URL as printed, with its
token) and prints every session change; --json prints the feed itself, one
JSON object per line (Stately's @xstate.actor/@xstate.snapshot/@xstate.event
plus @mcp-actors.session). Exit 1 when refused (wrong token, foreign origin).

Options:
  --json           the raw feed as JSON lines
  --once           print the current state and exit
  --token TOKEN    the token, when URL has none`,
  options: { json: { type: "boolean" }, once: { type: "boolean" }, token: { type: "string" } },
  positionals: true,
  run: async (values, positionals) => {
    const { inspectCommand } = await import("./inspectCommands.ts")
    if (positionals.length !== 1) throw new UsageError("give one inspector URL")
    try {
      return await inspectCommand(values, positionals)
    } catch (e) {
      throw e instanceof RangeError ? new UsageError(e.message) : e
    }
  }
}

const replay: Command = {
  summary: "re-run a session record through its chart; exit 1 at the first state that disagrees",
  usage: `Usage: mcp-actors replay FILE [--json]

Replays a record (downloaded from the inspector page or written with
inspector.writeRecord) through the pure chart in machines/: prints the path of
states, the timers that fired and why the session ended. Exits 1, naming the
first divergence, when the chart no longer gives the recorded states.

Options:
  --json           the replay as one JSON object`,
  options: { json: { type: "boolean" } },
  positionals: true,
  run: async (values, positionals) => {
    if (positionals.length !== 1) throw new UsageError("give one record FILE")
    return (await import("./inspectCommands.ts")).replayCommand(values, positionals)
  }
}

export const commands: Readonly<Record<string, Command>> = { serve, host, demo, charts, examples: list, audit, policy, approvals, inspect, replay }
