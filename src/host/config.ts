/**
 * Host configuration: the formats users already have, validated with
 * `effect/Schema`, plus our own optional fields per server.
 *
 * Accepted shapes (one file):
 * - `{ "mcpServers": { name: entry } }` — Claude Desktop, Cursor, Claude Code, mcporter;
 * - `{ "servers": { name: entry } }` — VS Code's `.vscode/mcp.json` (`type: "stdio" | "http"`);
 * - optional `{ "host": { separator, collisions } }` — how the aggregated catalog is named.
 *
 * An entry is stdio (`command`, `args`, `env`, `cwd` — relative to the config
 * file) or remote (`url`, `headers`; `ws://`/`wss://` or `type: "ws"` is our
 * WebSocket transport, anything else Streamable HTTP). `${VAR}`,
 * `${VAR:-default}`, `$env:VAR` (mcporter) and `${workspaceFolder}` (VS Code)
 * are expanded in `env`, `args`, `headers`, `url`, `command` and `cwd`.
 *
 * A bad entry does not spoil the file: it becomes a {@link ConfigIssue} naming
 * the server and the field, and every other server is still returned.
 */
import { readFileSync } from "node:fs"
import { dirname, isAbsolute, resolve } from "node:path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { errorMessage } from "../protocol/errors.ts"
import { isObject } from "../protocol/jsonrpc.ts"
import type { RestartPolicy } from "../protocol/restartPolicy.ts"

const PositiveMs = Schema.Number.check(Schema.isGreaterThan(0))
const NonNegativeMs = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))
const StringRecord = Schema.Record(Schema.String, Schema.String)

/** One entry as written in the file (all the fields of every format we read, plus ours). */
export const ServerEntry = Schema.Struct({
  type: Schema.optional(Schema.Literals(["stdio", "http", "streamable-http", "sse", "ws", "websocket"])),
  command: Schema.optional(Schema.String),
  args: Schema.optional(Schema.Array(Schema.String)),
  env: Schema.optional(StringRecord),
  cwd: Schema.optional(Schema.String),
  url: Schema.optional(Schema.String),
  headers: Schema.optional(StringRecord),
  disabled: Schema.optional(Schema.Boolean),
  // ours
  lifecycle: Schema.optional(Schema.Literals(["keep-alive", "lazy"])),
  idleTimeoutMs: Schema.optional(PositiveMs),
  timeouts: Schema.optional(Schema.Struct({
    call: Schema.optional(PositiveMs),
    list: Schema.optional(PositiveMs),
    connect: Schema.optional(PositiveMs)
  })),
  restart: Schema.optional(Schema.Struct({
    /** At most `intensity` restarts within `period` ms (Erlang's MaxR/MaxT); one more parks the server. */
    intensity: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
    period: Schema.optional(PositiveMs),
    backoff: Schema.optional(Schema.Struct({
      initialMs: Schema.optional(NonNegativeMs),
      maxMs: Schema.optional(NonNegativeMs),
      factor: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(1))),
      jitter: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThan(1))),
      resetAfterMs: Schema.optional(NonNegativeMs)
    })),
    /** How long a parked (circuit-open) server waits before one probe start. */
    parkedProbeMs: Schema.optional(PositiveMs)
  })),
  keepalive: Schema.optional(Schema.Union([
    Schema.Boolean,
    Schema.Struct({
      intervalMs: Schema.optional(PositiveMs),
      timeoutMs: Schema.optional(PositiveMs),
      maxMisses: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
    })
  ])),
  toolPrefix: Schema.optional(Schema.String),
  allowedTools: Schema.optional(Schema.Array(Schema.String)),
  blockedTools: Schema.optional(Schema.Array(Schema.String)),
  protocol: Schema.optional(Schema.Literals(["auto", "legacy", "2026-07-28"]))
})
export type ServerEntry = typeof ServerEntry.Type

export const HostSection = Schema.Struct({
  separator: Schema.optional(Schema.String.check(Schema.isMinLength(1))),
  collisions: Schema.optional(Schema.Literals(["prefix", "error", "first-wins"]))
})

export type Lifecycle = "keep-alive" | "lazy"
export type ProtocolChoice = "auto" | "legacy" | "2026-07-28"
export type CollisionPolicy = "prefix" | "error" | "first-wins"

interface CommonServer {
  readonly name: string
  readonly lifecycle: Lifecycle
  /** Lazy servers: stop after this long without a call. */
  readonly idleTimeoutMs: number
  readonly timeouts: { readonly callMs: number; readonly listMs: number; readonly connectMs: number }
  readonly restart: RestartPolicy & { readonly parkedProbeMs: number }
  /** Health probe (ping / server/discover) while ready. */
  readonly health: { readonly intervalMs: number; readonly timeoutMs: number; readonly maxMisses: number } | false
  /**
   * Exposed names are `<toolPrefix><separator><tool>`; default the server's name with every character a
   * tool name should not hold (SEP-986: letters, digits, `_`, `-`, `.`) as `_`; `""`: the original names.
   */
  readonly toolPrefix: string
  readonly allowedTools: ReadonlyArray<string> | undefined
  readonly blockedTools: ReadonlyArray<string>
  readonly protocol: ProtocolChoice
}
export interface StdioServer extends CommonServer {
  readonly transport: "stdio"
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** Only the configured variables; the child gets `process.env` plus these. */
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string | undefined
}
export interface RemoteServer extends CommonServer {
  readonly transport: "http" | "ws"
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}
/** One validated server entry: a stdio command or a remote URL, with the host's own fields filled in. */
export type ServerConfig = StdioServer | RemoteServer

/** Why an entry (or the file) was left out: the host starts the other servers anyway, so issues are reported, not thrown. */
export interface ConfigIssue {
  /** The server's name, or undefined for a problem with the file itself. */
  readonly server: string | undefined
  /** The field, as a path (`timeouts.call`, `env.API_KEY`, …). */
  readonly field: string | undefined
  readonly message: string
  readonly source: string | undefined
}

/** A validated host configuration: the servers, the entries left out, and how the aggregated catalog is named. */
export interface HostConfig {
  readonly servers: ReadonlyArray<ServerConfig>
  /** Entries left out, each with the reason; the other servers start anyway. */
  readonly issues: ReadonlyArray<ConfigIssue>
  readonly separator: string
  readonly collisions: CollisionPolicy
  /** The file(s) read, if any. */
  readonly sources: ReadonlyArray<string>
}

export const DEFAULTS = {
  idleTimeoutMs: 300_000,
  callMs: 60_000,
  listMs: 30_000,
  connectMs: 30_000,
  healthIntervalMs: 30_000,
  healthTimeoutMs: 10_000,
  healthMaxMisses: 2,
  parkedProbeMs: 300_000,
  separator: "__"
} as const

/** Environment for expansion; `process.env` by default. */
export type Env = Readonly<Record<string, string | undefined>>

export interface ParseOptions {
  readonly env?: Env
  /** The config file's path: `cwd` is relative to its folder; `${workspaceFolder}` is the folder above `.vscode`. */
  readonly source?: string
  /** Folder `cwd` is relative to when there is no `source`. Default `process.cwd()`. */
  readonly baseDir?: string
}

class ExpansionError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const PS_VAR = /\$env:([A-Za-z_][A-Za-z0-9_]*)/y

/** The index of the `}` closing a `${` whose body starts at `from` (nested `${…}` counted), or -1. */
const closingBrace = (text: string, from: number): number => {
  let depth = 0
  for (let j = from; j < text.length; j++) {
    if (text.startsWith("${", j)) {
      depth++
      j++
    } else if (text[j] === "}") {
      if (depth === 0) return j
      depth--
    }
  }
  return -1
}

/**
 * Expand `${VAR}`, `${VAR:-default}`, `$env:VAR`, `${workspaceFolder}`. A default may itself hold
 * variables (`${A:-${B}}`), expanded only when it is used. An unset variable without a default is an
 * error; anything else with a `$` (`$HOME`, `${not a name}`, an unclosed `${`) is kept as written.
 */
export const expandVariables = (text: string, env: Env, workspaceFolder: string | undefined): string => {
  const lookup = (match: string, key: string, fallback: string | undefined): string => {
    if (key === "workspaceFolder" && workspaceFolder !== undefined && !Object.hasOwn(env, key)) return workspaceFolder
    const value = Object.hasOwn(env, key) ? env[key] : undefined
    if (value !== undefined && value !== "") return value
    if (fallback !== undefined) return expandVariables(fallback, env, workspaceFolder)
    if (value === "") return ""
    throw new ExpansionError(`${match} is not set`)
  }
  let out = ""
  let i = 0
  while (i < text.length) {
    const d = text.indexOf("$", i)
    if (d < 0) {
      out += text.slice(i)
      break
    }
    out += text.slice(i, d)
    if (text.startsWith("${", d)) {
      const end = closingBrace(text, d + 2)
      const body = end < 0 ? "" : text.slice(d + 2, end)
      const sep = body.indexOf(":-")
      const name = sep < 0 ? body : body.slice(0, sep)
      if (end >= 0 && NAME.test(name)) {
        out += lookup(text.slice(d, end + 1), name, sep < 0 ? undefined : body.slice(sep + 2))
        i = end + 1
        continue
      }
    } else {
      PS_VAR.lastIndex = d
      const m = PS_VAR.exec(text)
      if (m !== null) {
        out += lookup(m[0], m[1]!, undefined)
        i = d + m[0].length
        continue
      }
    }
    out += "$"
    i = d + 1
  }
  return out
}

const schemaMessage = (error: Schema.SchemaError): ReadonlyArray<{ field: string | undefined; message: string }> => {
  // The formatted issue is "message\n  at [\"a\"][\"b\"]" pairs; turn the path into a dotted field name.
  const lines = error.message.split("\n")
  const out: Array<{ field: string | undefined; message: string }> = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trimStart().startsWith("at [")) continue
    const next = lines[i + 1]?.trim()
    const path = next !== undefined && next.startsWith("at [")
      ? [...next.slice(3).matchAll(/\["?([^"\]]*)"?\]/g)].map((m) => m[1]).join(".")
      : undefined
    out.push({ field: path, message: line.trim() })
  }
  return out
}

/**
 * Normalize one entry. Returns the server or the issues that keep it out.
 * Exported for tests and for `--import`, which merges entries from several files.
 */
export const parseServerEntry = (
  name: string,
  raw: unknown,
  options: ParseOptions = {}
): { readonly server: ServerConfig } | { readonly issues: ReadonlyArray<ConfigIssue> } | { readonly disabled: true } => {
  const source = options.source
  const issue = (field: string | undefined, message: string): ConfigIssue => ({ server: name, field, message, source })
  const decoded = Schema.decodeUnknownResult(ServerEntry)(raw, { errors: "all" })
  if (Result.isFailure(decoded)) {
    return { issues: schemaMessage(decoded.failure).map((m) => issue(m.field, m.message)) }
  }
  const e = decoded.success
  if (e.disabled === true) return { disabled: true }
  const env = options.env ?? process.env
  const baseDir = source !== undefined ? dirname(resolve(source)) : (options.baseDir ?? process.cwd())
  const workspaceFolder = source !== undefined && baseDir.endsWith(".vscode") ? dirname(baseDir) : baseDir
  const issues: Array<ConfigIssue> = []
  const expand = (field: string, text: string): string => {
    try {
      return expandVariables(text, env, workspaceFolder)
    } catch (err) {
      issues.push(issue(field, err instanceof Error ? err.message : String(err)))
      return text
    }
  }
  const expandRecord = (field: string, rec: Readonly<Record<string, string>> | undefined): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(rec ?? {})) out[k] = expand(`${field}.${k}`, v)
    return out
  }

  const backoff = e.restart?.backoff
  const restart = {
    baseDelayMs: backoff?.initialMs ?? 500,
    factor: backoff?.factor ?? 2,
    maxDelayMs: backoff?.maxMs ?? 30_000,
    jitter: backoff?.jitter ?? 0.2,
    resetAfterMs: backoff?.resetAfterMs ?? 60_000,
    maxRestarts: e.restart?.intensity ?? 5,
    windowMs: e.restart?.period ?? 60_000,
    parkedProbeMs: e.restart?.parkedProbeMs ?? DEFAULTS.parkedProbeMs
  }
  if (restart.maxDelayMs < restart.baseDelayMs) issues.push(issue("restart.backoff.maxMs", "must be >= restart.backoff.initialMs"))
  const ka = e.keepalive
  const health = ka === false
    ? false as const
    : {
      intervalMs: (isObject(ka) ? ka.intervalMs : undefined) ?? DEFAULTS.healthIntervalMs,
      timeoutMs: (isObject(ka) ? ka.timeoutMs : undefined) ?? DEFAULTS.healthTimeoutMs,
      maxMisses: (isObject(ka) ? ka.maxMisses : undefined) ?? DEFAULTS.healthMaxMisses
    }
  const common: Omit<CommonServer, "name"> = {
    lifecycle: e.lifecycle ?? "keep-alive",
    idleTimeoutMs: e.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    timeouts: {
      callMs: e.timeouts?.call ?? DEFAULTS.callMs,
      listMs: e.timeouts?.list ?? DEFAULTS.listMs,
      connectMs: e.timeouts?.connect ?? DEFAULTS.connectMs
    },
    restart,
    health,
    toolPrefix: e.toolPrefix ?? defaultToolPrefix(name),
    allowedTools: e.allowedTools,
    blockedTools: e.blockedTools ?? [],
    protocol: e.protocol ?? "auto"
  }

  let server: ServerConfig | undefined
  if (e.type === "sse") {
    issues.push(issue("type", "the legacy HTTP+SSE transport is not supported; use Streamable HTTP (type \"http\")"))
  } else if (e.command !== undefined && e.url !== undefined) {
    issues.push(issue("url", "an entry has either `command` (stdio) or `url` (HTTP/WebSocket), not both"))
  } else if (e.command !== undefined) {
    if (e.type !== undefined && e.type !== "stdio") issues.push(issue("type", `type "${e.type}" needs a url, not a command`))
    const cwd = e.cwd === undefined ? undefined : expand("cwd", e.cwd)
    server = {
      name,
      transport: "stdio",
      command: expand("command", e.command),
      args: (e.args ?? []).map((a, i) => expand(`args.${i}`, a)),
      env: expandRecord("env", e.env),
      cwd: cwd === undefined ? undefined : isAbsolute(cwd) ? cwd : resolve(baseDir, cwd),
      ...common
    }
  } else if (e.url !== undefined) {
    const url = expand("url", e.url)
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {
      issues.push(issue("url", `not a valid URL: ${JSON.stringify(url)}`))
    }
    if (parsed !== undefined) {
      const ws = e.type === "ws" || e.type === "websocket" || parsed.protocol === "ws:" || parsed.protocol === "wss:"
      if (!ws && parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        issues.push(issue("url", `unsupported scheme ${parsed.protocol}`))
      } else if (e.type === "stdio") {
        issues.push(issue("type", "type \"stdio\" needs a command"))
      } else {
        server = { name, transport: ws ? "ws" : "http", url, headers: expandRecord("headers", e.headers), ...common }
      }
    }
  } else {
    issues.push(issue("command", "an entry needs `command` (stdio) or `url` (HTTP/WebSocket)"))
  }
  if (issues.length > 0 || server === undefined) return { issues }
  return { server }
}

/**
 * A server's default tool prefix: its name, with what SEP-986 keeps out of tool names (a space, `/`, …)
 * as `_`. Config keys are free text (`"my server"`), and the prefix ends up in every tool name it exposes.
 */
export const defaultToolPrefix = (name: string): string => name.replace(/[^A-Za-z0-9_.-]/g, "_")

/** Parse a whole config object (already JSON-decoded). */
export const parseHostConfig = (raw: unknown, options: ParseOptions = {}): HostConfig => {
  const source = options.source
  const issues: Array<ConfigIssue> = []
  const servers: Array<ServerConfig> = []
  const sources = source === undefined ? [] : [source]
  if (!isObject(raw)) {
    return { servers, issues: [{ server: undefined, field: undefined, message: "the config is not a JSON object", source }], separator: DEFAULTS.separator, collisions: "prefix", sources }
  }
  let separator: string = DEFAULTS.separator
  let collisions: CollisionPolicy = "prefix"
  if (raw.host !== undefined) {
    const host = Schema.decodeUnknownResult(HostSection)(raw.host, { errors: "all" })
    if (Result.isFailure(host)) {
      for (const m of schemaMessage(host.failure)) issues.push({ server: undefined, field: `host.${m.field ?? ""}`, message: m.message, source })
    } else {
      separator = host.success.separator ?? separator
      collisions = host.success.collisions ?? collisions
    }
  }
  const maps = [raw.mcpServers, raw.servers].filter((m) => m !== undefined)
  if (maps.length === 0) issues.push({ server: undefined, field: "mcpServers", message: "no `mcpServers` (or VS Code `servers`) object", source })
  const seen = new Set<string>()
  for (const map of maps) {
    if (!isObject(map)) {
      issues.push({ server: undefined, field: "mcpServers", message: "must be an object of named servers", source })
      continue
    }
    for (const [name, entry] of Object.entries(map)) {
      if (seen.has(name)) {
        issues.push({ server: name, field: undefined, message: "defined twice; the first definition is used", source })
        continue
      }
      seen.add(name)
      // An empty name gives tools named `__tool` and no `/mcp/<server>` endpoint (`/mcp/` is the aggregate's).
      if (name === "") {
        issues.push({ server: name, field: undefined, message: "a server needs a non-empty name", source })
        continue
      }
      const parsed = parseServerEntry(name, entry, options)
      if ("server" in parsed) servers.push(parsed.server)
      else if ("issues" in parsed) issues.push(...parsed.issues)
    }
  }
  return { servers, issues, separator, collisions, sources }
}

/** JSON with comments and trailing commas (VS Code's mcp.json, mcporter's .jsonc). */
export const parseJsonc = (text: string): unknown => {
  let out = ""
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "\"") {
      let j = i + 1
      while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2)
      i = end === -1 ? text.length : end + 2
    } else if (c === "," && /^\s*(?:\/\/[^\n]*\s*|\/\*[\s\S]*?\*\/\s*)*[}\]]/.test(text.slice(i + 1, i + 4096))) {
      i++ // a trailing comma
    } else {
      out += c
      i++
    }
  }
  return JSON.parse(out)
}

/** Read and parse a config file; an unreadable or malformed file is one issue, not an exception. */
export const loadHostConfig = (path: string, options: Omit<ParseOptions, "source"> = {}): HostConfig => {
  let raw: unknown
  try {
    raw = parseJsonc(readFileSync(path, "utf8"))
  } catch (e) {
    return {
      servers: [],
      issues: [{ server: undefined, field: undefined, message: `cannot read ${path}: ${errorMessage(e)}`, source: path }],
      separator: DEFAULTS.separator,
      collisions: "prefix",
      sources: [path]
    }
  }
  return parseHostConfig(raw, { ...options, source: path })
}

/** One line per issue: `server "x", field timeouts.call: Expected a value greater than 0 (file)`. */
export const formatIssue = (i: ConfigIssue): string =>
  `${i.server === undefined ? "config" : `server ${JSON.stringify(i.server)}`}${i.field === undefined ? "" : `, field ${i.field}`}: ${i.message}${i.source === undefined ? "" : ` (${i.source})`}`
