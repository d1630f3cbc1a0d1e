import { defineConfig } from "vitest/config"

// Self-references (`import "mcp-actors"`) resolve to the TypeScript sources in
// the clone (the "mcp-actors-source" export condition), never to a stale dist/.
const conditions = ["mcp-actors-source", "import", "node", "default"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } }
})
