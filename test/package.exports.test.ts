import { describe, expect, it } from "vitest"

// The package's public entry points, imported by name (self-reference through
// package.json "exports"), as the README's examples do.
describe("package exports", () => {
  it("mcp-actors exposes the plain API", async () => {
    const m = await import("mcp-actors")
    for (const name of ["McpServer", "serveTransport", "connectStdio", "connectHttp", "connectAuto", "connectAutoHttp", "makeHttpServer", "makeStdioServerTransport", "RpcError", "SessionLost", "toMermaid", "startHost", "McpHost", "makeGateway", "ServerUnavailable"]) {
      expect(m, name).toHaveProperty(name)
    }
  })
  it("mcp-actors/effect exposes services and layers", async () => {
    const m = await import("mcp-actors/effect")
    for (const name of ["McpServerService", "registerSchemaTool", "serveStdio", "RuntimeLayer", "McpClient", "callTool", "Registry", "Supervisor", "supervise", "makeHttpServerScoped", "Host", "callHostTool"]) {
      expect(m, name).toHaveProperty(name)
    }
  })
  it("mcp-actors/machines exposes every chart", async () => {
    const m = await import("mcp-actors/machines")
    for (const name of ["legacyServerSessionMachine", "legacyClientSessionMachine", "keepaliveMachine", "outboundRequestMachine", "eraProbeMachine", "hostMachine", "serverConnectionMachine"]) {
      expect(m, name).toHaveProperty(name)
    }
  })
})
