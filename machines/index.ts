/**
 * Every statechart of mcp-actors. The charts are pure (no I/O, no Effect, no
 * timers of their own); `src/visualization/exportCharts.ts` renders every
 * machine exported here.
 */
// client-side machines
export * from "./keepalive.ts"
export * from "./legacyClientSession.ts"
export * from "./outboundRequest.ts"
export * from "./outboundRequests.ts"
export * from "./modernClient.ts"
export * from "./eraProbe.ts"
export * from "./listenStream.ts"
export * from "./httpClientConnection.ts"
export * from "./httpClientSession.ts"
export * from "./httpExchange.ts"
// server-side machines
export { legacyServerSessionMachine, type LegacyServerSessionContext, type LegacyServerSessionEvent, type LegacyServerSessionInput, type LegacyServerSessionMachine } from "./legacyServerSession.ts"
export * from "./modernRequest.ts"
// host-side machines (the multi-server host: a host actor whose children are server connections)
export * from "./serverConnection.ts"
export * from "./host.ts"
export * from "./resourceSubscription.ts"
// policy gateway
export * from "./policedRequest.ts"
// the runtime's actor tree: root → listeners / connections → sessions
export * from "./runtime.ts"
export * from "./listener.ts"
export * from "./connection.ts"
