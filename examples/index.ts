/** The example servers the CLI can serve (`--example NAME`). */
import type { McpServer } from "../src/server/McpServer.ts"
import { makeConformanceServer } from "./conformance.ts"
import { makeDemoServer } from "./demo.ts"

export const examples: Readonly<Record<string, { readonly description: string; readonly make: () => McpServer }>> = {
  demo: { description: "echo, count (progress), log, slow (cancellable), a resource, a template and a prompt", make: makeDemoServer },
  conformance: { description: "the @modelcontextprotocol/conformance server fixture (test_* tools, test:// resources, test_* prompts)", make: () => makeConformanceServer() }
}
