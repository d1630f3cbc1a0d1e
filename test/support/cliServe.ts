/** `mcp-actors serve --http 0` / `--ws 0` as a real process: its URL (the first stdout line) and its exit. */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { condition } from "./condition.ts"

const BIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))

export const serveCli = (flag: "--http" | "--ws") => {
  const child = spawn(process.execPath, [BIN, "serve", flag, "0"], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  const stdout = condition()
  child.stdout.setEncoding("utf8").on("data", (c: string) => ((out += c), stdout.changed()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  /** The URL it prints, awaited on its stdout's data (no polling). */
  const url = stdout.when(() => out.includes("\n"), "the URL on stdout").then(() => out.trim())
  return { child, url, exited }
}
