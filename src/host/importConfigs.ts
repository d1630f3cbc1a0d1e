/**
 * `mcp-actors host --import`: read the MCP config files of the common clients
 * that are present on this machine and merge them into one host config. The
 * first file that defines a server name wins; later duplicates are reported.
 * The locations are listed in README ("Multi-server host").
 */
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { isObject } from "../protocol/jsonrpc.ts"
import { type ConfigIssue, DEFAULTS, type Env, type HostConfig, loadHostConfig, parseHostConfig, parseJsonc, type ServerConfig } from "./config.ts"

export interface ImportLocation {
  readonly client: string
  readonly path: string
  /** Read `projects[project].mcpServers` of the file instead of its top level (Claude Code's "local" scope in ~/.claude.json). */
  readonly project?: string
}

/** Where each client keeps its config, in the order they are read (project files before user files). */
export const importLocations = (
  options: { readonly home?: string; readonly cwd?: string; readonly platform?: NodeJS.Platform; readonly env?: Env } = {}
): ReadonlyArray<ImportLocation> => {
  const home = options.home ?? homedir()
  const cwd = options.cwd ?? process.cwd()
  const platform = options.platform ?? process.platform
  const env = options.env ?? process.env
  const appData = env.APPDATA ?? join(home, "AppData", "Roaming")
  const xdg = env.XDG_CONFIG_HOME ?? join(home, ".config")
  const claudeDesktop = platform === "darwin"
    ? join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
    : platform === "win32"
    ? join(appData, "Claude", "claude_desktop_config.json")
    : join(xdg, "Claude", "claude_desktop_config.json")
  const vscodeUser = platform === "darwin"
    ? join(home, "Library", "Application Support", "Code", "User", "mcp.json")
    : platform === "win32"
    ? join(appData, "Code", "User", "mcp.json")
    : join(xdg, "Code", "User", "mcp.json")
  return [
    // Claude Code's default scope (`claude mcp add`) is "local": ~/.claude.json, under the project's path.
    { client: "Claude Code (local)", path: join(home, ".claude.json"), project: cwd },
    { client: "mcporter (project)", path: join(cwd, "config", "mcporter.json") },
    { client: "Claude Code (project)", path: join(cwd, ".mcp.json") },
    { client: "Cursor (project)", path: join(cwd, ".cursor", "mcp.json") },
    { client: "VS Code (workspace)", path: join(cwd, ".vscode", "mcp.json") },
    { client: "mcporter", path: join(home, ".mcporter", "mcporter.json") },
    { client: "mcporter", path: join(home, ".mcporter", "mcporter.jsonc") },
    { client: "Claude Desktop", path: claudeDesktop },
    { client: "Claude Code", path: join(home, ".claude.json") },
    { client: "Cursor", path: join(home, ".cursor", "mcp.json") },
    { client: "VS Code (user)", path: vscodeUser }
  ]
}

/** Merge the configs found at `locations` (missing files are skipped). */
export const importConfigs = (
  locations: ReadonlyArray<ImportLocation> = importLocations(),
  options: { readonly env?: Env } = {}
): HostConfig => {
  const servers: Array<ServerConfig> = []
  const issues: Array<ConfigIssue> = []
  const sources: Array<string> = []
  const names = new Map<string, string>()
  for (const location of locations) {
    if (!existsSync(location.path)) continue
    const config = location.project === undefined ? loadHostConfig(location.path, options) : loadProjectScope(location.path, location.project, options)
    if (config === undefined) continue
    sources.push(location.path)
    issues.push(...config.issues.filter((i) => !(i.server === undefined && i.field === "mcpServers" && i.message.startsWith("no `mcpServers`"))))
    for (const server of config.servers) {
      const first = names.get(server.name)
      if (first !== undefined) {
        issues.push({ server: server.name, field: undefined, message: `also defined in ${first}; that one is used`, source: location.path })
        continue
      }
      names.set(server.name, location.path)
      servers.push(server)
    }
  }
  return { servers, issues, separator: DEFAULTS.separator, collisions: "prefix", sources }
}

/** `projects[project].mcpServers` of a Claude Code ~/.claude.json; undefined when that project has none. */
const loadProjectScope = (path: string, project: string, options: { readonly env?: Env }): HostConfig | undefined => {
  let raw: unknown
  try {
    raw = parseJsonc(readFileSync(path, "utf8"))
  } catch {
    return undefined // the user-scope entry of the same file reports an unreadable file
  }
  const projects = isObject(raw) ? raw.projects : undefined
  const entry = isObject(projects) && Object.hasOwn(projects, project) ? projects[project] : undefined
  const servers = isObject(entry) ? entry.mcpServers : undefined
  if (!isObject(servers) || Object.keys(servers).length === 0) return undefined
  return parseHostConfig({ mcpServers: servers }, { ...options, source: path })
}
