import { defineConfig } from "vitest/config"

// Self-references (`import "mcp-actors"`) resolve to the TypeScript sources in
// the clone (the "mcp-actors-source" export condition), never to a stale dist/.
const conditions = ["mcp-actors-source", "import", "node", "default"]

export default defineConfig({
  // Many tests drive real peer processes (our CLI, the official SDK, server-everything, the
  // Inspector CLI). On a busy 2-core machine a Node start alone can take seconds, so the
  // limits are generous; virtual-time tests finish in milliseconds whatever the limit.
  test: { testTimeout: 60_000, hookTimeout: 120_000 },
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // Many tests start real processes; on a loaded 2-core machine (CI, parallel
    // workers) a cold Node plus the sources' type stripping can take seconds.
    // Tests that need longer still say so.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
