/**
 * `mcp-actors demo` (what `npm start` ran before the HTTP server existed, and
 * still the quickest tour): spawn the demo server over stdio, connect our
 * client, print every session state transition, call echo, close.
 */
import { fileURLToPath } from "node:url"
import { connectStdio } from "../client/connectStdio.ts"

// main.ts beside this file from the sources, main.js from the build.
const cli = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./main.ts" : "./main.js", import.meta.url))

export const runDemo = async (options: { readonly text: string }): Promise<number> => {
  const out = (line: string) => process.stdout.write(line + "\n")
  out(`spawning: ${process.execPath} ${cli} serve --stdio --example demo`)
  const session = await connectStdio({
    command: process.execPath,
    args: [cli, "serve", "--stdio", "--example", "demo"],
    stderr: "ignore",
    onStateChange: (state) => out(`state: ${state}`),
    clientInfo: { name: "mcp-actors-demo-client", version: "0.1.0" }
  })
  out(`connected: ${session.serverInfo?.name} ${session.serverInfo?.version}, protocol ${session.protocolVersion}`)
  const tools = await session.listTools()
  out(`tools: ${tools.tools.map((t) => t.name).join(", ")}`)
  const result = await session.callTool("echo", { text: options.text })
  const first = result.content[0]
  const text = first?.type === "text" ? first.text : undefined
  out(`echo → ${JSON.stringify(text)}`)
  const end = session.ended
  await session.close()
  out(`session ended: ${(await end).reason}`)
  return text === options.text ? 0 : 1
}
