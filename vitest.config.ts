import { defineConfig } from "vitest/config"

// Self-references (`import "mcp-actors"`) resolve to the TypeScript sources in
// the clone (the "mcp-actors-source" export condition), never to a stale dist/.
const conditions = ["mcp-actors-source", "import", "node", "default"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // Many tests start real processes (our CLI, the official SDK, server-everything, the
    // Inspector CLI); on a loaded 2-core machine (CI, parallel workers) a cold Node plus the
    // sources' type stripping can take seconds. Virtual-time tests finish in milliseconds
    // whatever the limit; tests that need longer still say so.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
