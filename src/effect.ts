/**
 * mcp-actors for Effect programs: services, layers and scoped resources.
 */
export { McpServerService, registerPrompt, registerResource, registerSchemaTool, registerTool, RuntimeLayer, serveStdio, serveSupervised } from "./server/effect.ts"
export { callTool, getPrompt, listPrompts, listResources, listTools, McpClient, ping, readResource, request } from "./client/effect.ts"
export { connectStdioScoped } from "./client/connectStdio.ts"
export { superviseClient } from "./client/superviseClient.ts"
export { makeHttpServerScoped } from "./server/http/effect.ts"
export { serveTransportScoped } from "./server/serveTransport.ts"
export { Registry } from "./runtime/Registry.ts"
export { Supervisor } from "./runtime/Supervisor.ts"
export { supervise, type Supervised, type SupervisionStatus } from "./runtime/supervise.ts"
export { makeEffectClock } from "./runtime/XStateClock.ts"
export { callHostTool, getHostPrompt, Host, hostTools, readHostResource, subscribeHostResource, unsubscribeHostResource } from "./host/effect.ts"
