/**
 * `mcp-actors host CONFIG`: run the servers of a config with a live status
 * table (redrawn in place on a TTY; one line per change otherwise; JSON lines
 * with `--json`), optionally serving the aggregated catalog as a gateway.
 * SIGINT/SIGTERM (or stdin's end with `--serve-stdio`) stops the gateway and
 * every server: stdin close → SIGTERM → SIGKILL per process group.
 */
import { type ConfigIssue, formatIssue, type HostConfig, loadHostConfig } from "../host/config.ts"
import { makeGateway, serveGatewayHttp, serveGatewayStdio, serveGatewayWs, serverOfPath } from "../host/gateway.ts"
import { importConfigs } from "../host/importConfigs.ts"
import { startHost, type ServerView } from "../host/McpHost.ts"
import type { Authenticate } from "../server/http/HttpServer.ts"
import { buildPolicy, type PolicyCliOptions, type PolicyParts } from "./policySetup.ts"
import type { InspectorOptions } from "../inspect/InspectorServer.ts"
import { announceInspector } from "./inspectCommands.ts"
import { stopOnSignals } from "./stopOnSignals.ts"
import { setupTelemetry, type TelemetryCliOptions } from "./telemetrySetup.ts"
import { requestUrl } from "../transports/http/requestTarget.ts"

export interface HostCommandOptions {
  readonly config: string | undefined
  readonly import: boolean
  readonly serve: { readonly kind: "http" | "ws" | "stdio"; readonly port: number } | undefined
  readonly bind: string
  /** Gateway sessions idle this long are closed (0 = never); default: the gateway's (30 min). */
  readonly idleTimeoutMs?: number
  /** Resource URIs one gateway session (or modern listen) may subscribe to; default: the gateway's (1 000). */
  readonly maxSubscriptionsPerSession?: number
  readonly json: boolean
  readonly stateFile: string | undefined
  /** The policy gateway in front of every upstream (--serve-http / --serve-ws). */
  readonly policy?: PolicyCliOptions
  /** Serve the live inspector (`--inspect`). */
  readonly inspect?: InspectorOptions
  /** --otlp / --metrics (Prometheus text on a /metrics listener of its own). */
  readonly telemetry?: TelemetryCliOptions
}

const duration = (ms: number | undefined): string => {
  if (ms === undefined) return "-"
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`
}

const clip = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, width - 1)}…`)

/** Text for one line of the terminal: each run of control characters (newline, tab, ESC, C1) as one space; a last error is an upstream's text. */
const oneLine = (text: string): string => text.replace(/[\x00-\x1f\x7f-\x9f]+/g, " ")

/** The status table as text: one header line and one line per server, clipped to `width` (0 = unknown, as on a pty with no size). */
export const renderStatusTable = (rows: ReadonlyArray<ServerView>, hostState: string, width = 120): string => {
  if (!(width > 0)) width = 120
  const header = ["SERVER", "STATE", "ERA/VERSION", "TOOLS", "RESTARTS", "UPTIME", "LAST ERROR"]
  const cells = rows.map((r) => [
    r.name,
    r.state === "parked" && r.parked ? `parked (probe in ${duration(Math.max(0, r.parked.nextProbeAt - Date.now()))})` : r.state,
    r.protocolVersion === undefined ? "-" : `${r.era ?? "?"} ${r.protocolVersion}`,
    String(r.tools),
    String(r.restarts),
    duration(r.uptimeMs),
    r.lastError ?? ""
  ].map(oneLine))
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: ReadonlyArray<string>) =>
    clip(c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join("  ").trimEnd(), width)
  return [`host: ${hostState}`, line(header), ...cells.map(line)].join("\n")
}

/** Where the status table is drawn: process.stdout, or process.stderr under `--serve-stdio`. */
export interface StatusTableOutput {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

/**
 * A function that draws the frame `frame(width)` on `out`: on a TTY in place (the cursor moves up
 * over the previous frame and clears to the end of the screen, so a shorter frame leaves nothing
 * behind), at the terminal's width; otherwise appended, 200 columns wide, with no escape codes.
 */
export const statusTableDrawer = (out: StatusTableOutput, frame: (width: number) => string): (() => void) => {
  const tty = out.isTTY === true
  let drawnLines = 0
  return () => {
    const text = frame(tty ? (out.columns ?? 120) : 200)
    if (tty) {
      // Redraw in place: move up over the previous table, clear to the end of the screen.
      out.write(`${drawnLines > 0 ? `\x1b[${drawnLines}F` : ""}\x1b[0J${text}\n`)
      drawnLines = text.split("\n").length
    } else out.write(`${text}\n`)
  }
}

const loadConfig = (options: HostCommandOptions): HostConfig => {
  const parts: Array<HostConfig> = []
  if (options.config !== undefined) parts.push(loadHostConfig(options.config))
  if (options.import) parts.push(importConfigs())
  const first = parts[0]!
  const names = new Set<string>()
  const servers = []
  const issues: Array<ConfigIssue> = []
  for (const part of parts) {
    issues.push(...part.issues)
    for (const s of part.servers) {
      if (names.has(s.name)) {
        issues.push({ server: s.name, field: undefined, message: "defined more than once; the first definition is used", source: undefined })
        continue
      }
      names.add(s.name)
      servers.push(s)
    }
  }
  return { ...first, servers, issues, sources: parts.flatMap((p) => p.sources) }
}

/**
 * Bearer auth for the gateway's endpoints: `/mcp/<server>` needs a grant for
 * that server, the aggregate `/mcp` a grant for at least one of the host's.
 */
const gatewayAuth = (policy: PolicyParts, servers: ReadonlyArray<string>): Authenticate | undefined => {
  const byEndpoint = new Map<string, Authenticate | undefined>()
  const endpoint = (name: string) => {
    if (!byEndpoint.has(name)) {
      byEndpoint.set(name, policy.authenticate((engine, identity) => {
        if (name !== "") return engine.grant(identity, name)
        return servers.some((s) => engine.grant(identity, s) === undefined) ? undefined : `${identity.id} has no grant for any server of this host`
      }))
    }
    return byEndpoint.get(name)
  }
  if (endpoint("") === undefined) return undefined
  return (req) => {
    const path = requestUrl(req.url, "http://gateway")?.pathname
    const name = path === undefined ? undefined : serverOfPath(path)
    // Unknown endpoints (404 later) still get the aggregate's check: nothing is said to an unauthenticated caller.
    return endpoint(name !== undefined && servers.includes(name) ? name : "")!(req)
  }
}

export const hostCommand = async (options: HostCommandOptions): Promise<number> => {
  const config = loadConfig(options)
  const err = (text: string) => process.stderr.write(`${text}\n`)
  for (const issue of config.issues) err(`mcp-actors host: ${formatIssue(issue)}`)
  if (config.servers.length === 0) {
    err("mcp-actors host: no server to start")
    return 1
  }
  // With --serve-stdio, stdout carries the protocol: everything else goes to stderr.
  const out = options.serve?.kind === "stdio" ? process.stderr : process.stdout
  const observed = options.telemetry === undefined ? undefined : await setupTelemetry(options.telemetry)
  // Ctrl-C or SIGTERM while the servers start (up to their connect timeout): the start is given up,
  // what started is stopped, and the process exits 0 as after a shutdown; a second signal exits at once.
  const starting = new AbortController()
  const onStartSignal = (signal: NodeJS.Signals) => {
    if (starting.signal.aborted) {
      err(`mcp-actors: ${signal} again, exiting now`)
      process.exit(130)
    }
    err(`mcp-actors: ${signal}, shutting down (while starting ${config.servers.length} servers)`)
    starting.abort(new Error(`${signal} while starting`))
  }
  process.on("SIGINT", onStartSignal)
  process.on("SIGTERM", onStartSignal)
  let host: Awaited<ReturnType<typeof startHost>>
  try {
    host = await startHost(config, {
      ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
      ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
      ...(observed === undefined ? {} : { telemetry: observed.telemetry }),
      onStderr: () => {},
      signal: starting.signal
    })
  } catch (e) {
    if (!starting.signal.aborted) throw e
    await observed?.close()
    err("mcp-actors: stopped")
    return 0
  } finally {
    process.off("SIGINT", onStartSignal)
    process.off("SIGTERM", onStartSignal)
  }
  try {
    await observed?.listenMetrics()
  } catch (e) {
    // --metrics-port taken: stop the servers, or the process would live on without its /metrics.
    await host.close()
    await observed?.close()
    throw e
  }
  if (host.inspector !== undefined) announceInspector(host.inspector)
  if (host.reaped.length > 0) err(`mcp-actors host: killed ${host.reaped.length} processes left by a crashed host`)

  // Name clashes are reported once per change of the set (the collision policy decided who serves them).
  let reported = ""
  const reportCollisions = () => {
    const text = host.catalog.collisions.map((c) =>
      `mcp-actors host: ${c.kind} ${JSON.stringify(c.name)}: ${c.kept === undefined ? "served by nobody" : `served by ${c.kept}`} (also on ${c.dropped.filter((d) => d !== c.kept).join(", ")})`
    ).join("\n")
    if (text !== reported && text !== "") err(text)
    reported = text
  }
  reportCollisions()
  host.on("change", reportCollisions)

  const tty = !options.json && out.isTTY === true
  const draw = statusTableDrawer(out, (width) => renderStatusTable(host.status(), host.state, width))
  const emitJson = (view: ServerView) => out.write(`${JSON.stringify({ type: "status", time: new Date().toISOString(), ...view })}\n`)
  if (options.json) for (const view of host.status()) emitJson(view)
  else draw()
  const offStatus = host.on("status", (e) => (options.json ? emitJson(e.server) : tty ? draw() : out.write(`${oneLine(e.server.name)}: ${e.server.state}${e.server.lastError ? ` (${oneLine(e.server.lastError)})` : ""}\n`)))
  const offChange = options.json ? host.on("change", (e) => out.write(`${JSON.stringify({ type: "catalog", time: new Date().toISOString(), tools: e.catalog.tools.size, added: e.added, removed: e.removed })}\n`)) : () => {}
  // Uptimes and probe countdowns move: refresh the TTY table every second.
  const ticker = tty ? setInterval(draw, 1_000) : undefined

  let policy: PolicyParts | undefined
  try {
    policy = options.policy === undefined ? undefined : buildPolicy(options.policy, (line) => err(`mcp-actors host: ${line}`))
  } catch (e) {
    await host.close()
    throw e
  }
  const gateway = options.serve === undefined
    ? undefined
    : makeGateway(host, {
      ...(policy?.engine === undefined ? {} : { guard: (server, route) => policy!.guard(server ?? "host", route)! }),
      ...(options.maxSubscriptionsPerSession === undefined ? {} : { maxSubscriptionsPerSession: options.maxSubscriptionsPerSession }),
      ...(observed === undefined ? {} : { telemetry: observed.telemetry })
    })
  const authenticate = policy === undefined ? undefined : gatewayAuth(policy, host.serverNames)
  const serveOptions = {
    port: options.serve?.port ?? 0,
    host: options.bind,
    ...(authenticate === undefined ? {} : { authenticate }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs })
  }
  let closeGateway: () => Promise<void> = async () => {}
  let stopped: Promise<void> | undefined
  const shutdown = () =>
    stopped ??= (async () => {
      if (ticker !== undefined) clearInterval(ticker)
      offStatus()
      offChange()
      await closeGateway()
      gateway?.close()
      await host.close()
      policy?.close()
      await observed?.close()
    })()
  try {
    if (options.serve?.kind === "http") {
      const h = await serveGatewayHttp(gateway!, serveOptions)
      err(`mcp-actors host: gateway on ${h.url} (one server: ${h.url}/<server>)`)
      closeGateway = () => h.close({ drainMs: 2_000 })
    } else if (options.serve?.kind === "ws") {
      const h = await serveGatewayWs(gateway!, serveOptions)
      err(`mcp-actors host: gateway on ${h.url} (one server: ${h.url}/<server>)`)
      closeGateway = () => h.close({ drainMs: 2_000 })
    }
  } catch (e) {
    // The port is taken (or the address unusable): stop the servers too, or the process would live on without its gateway.
    await shutdown()
    throw e
  }
  stopOnSignals(() => `${host.serverNames.length} servers`, shutdown)
  if (options.serve?.kind === "stdio") {
    // The client closing stdin ends the gateway session: stop everything.
    void serveGatewayStdio(gateway!).then(async () => {
      await shutdown()
      process.exit(0)
    })
  }
  return -1
}
