/**
 * `mcp-actors` command line: serve an example server (stdio or HTTP), run the
 * demo, export the charts. Exit codes: 0 success, 1 runtime failure, 2 usage error.
 */
import { readFileSync } from "node:fs"
import { findPackageJSON } from "node:module"
import { parseArgs } from "node:util"
import { commands, type Command } from "./commands.ts"
import { outputMayBeCut } from "./outputMayBeCut.ts"

const USAGE = `mcp-actors — MCP sessions as xstate actors, supervised by Effect

Usage: mcp-actors <command> [options]

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join("\n")}

Run "mcp-actors <command> --help" for a command's options.`

import { UsageError } from "./commands.ts"

/** \`--inspect [PORT]\`: parseArgs has no optional values, so a bare \`--inspect\` becomes \`--inspect=0\` (any free port). */
const optionalInspectPort = (args: ReadonlyArray<string>, command: Command): Array<string> => {
  if (command.options.inspect?.type !== "string") return [...args]
  return args.flatMap((arg, i) => (arg === "--inspect" && (args[i + 1] === undefined || !/^\d+$/.test(args[i + 1]!)) ? ["--inspect=0"] : [arg]))
}

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  outputMayBeCut()
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE + "\n")
    return name === undefined ? 2 : 0
  }
  if (name === "--version" || name === "-v") {
    // The nearest package.json: the same file from the sources and from dist/.
    const file = findPackageJSON(import.meta.url)
    const pkg = JSON.parse(readFileSync(file!, "utf8")) as { readonly version: string }
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  const command: Command | undefined = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) {
    process.stderr.write(`mcp-actors: unknown command "${name}"\n\n${USAGE}\n`)
    return 2
  }
  let parsed
  try {
    parsed = parseArgs({ args: optionalInspectPort(rest, command), options: { ...command.options, help: { type: "boolean", short: "h" } }, allowPositionals: command.positionals === true, strict: true })
  } catch (e) {
    process.stderr.write(`mcp-actors ${name}: ${(e as Error).message}\n\n${command.usage}\n`)
    return 2
  }
  if (parsed.values.help) {
    process.stdout.write(command.usage + "\n")
    return 0
  }
  try {
    return await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals)
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mcp-actors ${name}: ${e.message}\n\n${command.usage}\n`)
      return 2
    }
    process.stderr.write(`mcp-actors ${name}: ${e instanceof Error ? e.message : String(e)}\n`)
    return 1
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Commands that keep serving return -1 and exit on their own.
    if (code >= 0) process.exitCode = code
  },
  (e) => {
    process.stderr.write(`mcp-actors: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exitCode = 1
  }
)
