/**
 * mcp-actors: MCP sessions as xstate actors, supervised by Effect.
 *
 * The plain (Promise) API. Effect users import `mcp-actors/effect`; the pure
 * statecharts are `mcp-actors/machines`.
 */

// Protocol
export { ErrorCode, McpError, type RpcErrorObject } from "./protocol/errors.ts"
export type { JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, Params, RequestId } from "./protocol/jsonrpc.ts"
export { LATEST_LEGACY_VERSION, LATEST_MODERN_VERSION, LEGACY_VERSIONS, MODERN_VERSIONS, negotiateVersion } from "./protocol/versions.ts"
export type { ClientCapabilities, ServerCapabilities } from "./protocol/capabilities.ts"
export type { Era } from "./protocol/era.ts"
export { META_REFUSED_SUBSCRIPTIONS, type RefusedSubscriptions, type ServerChange, type SubscriptionFilter } from "./protocol/subscriptions.ts"
export { type Clock, systemClock } from "./protocol/clock.ts"

// Server
export { McpServer, type McpServerOptions, type ResourceSubscriptionHook, type ServerChangeWatcher, type UnlistedLookup } from "./server/McpServer.ts"
export type { RequestContext } from "./server/RequestContext.ts"
export { type PersistedServerSession, ServerSession, type ServerSessionOptions, type ServerSessionOwner } from "./server/ServerSession.ts"
export {
  CapabilityError,
  ClientCapabilityNotDeclared,
  ClientResponseTimeout,
  RequestTimeoutError,
  type ServerRequestError
} from "./protocol/serverRequestErrors.ts"
export { serveTransport } from "./server/serveTransport.ts"
export type { SessionLimits } from "./server/SessionLimiter.ts"
export { defaultProgressBarrier, type ProgressBarrierPolicy } from "./server/progressBarrier.ts"
export type * from "./server/types.ts"

// Policy gateway (identities, Cedar, rate limits, approvals, audit trail)
export { bearerAuth, type BearerAuthOptions } from "./server/auth/bearerAuth.ts"
export { clientApprover, policyGuard, type PolicyGuardOptions } from "./server/policyGuard.ts"
export type { Admission, CallGuard, CallOutcome, GuardedCall, ListKind } from "./server/CallGuard.ts"
export { ANONYMOUS, type Identity, identityFromClaims } from "./policy/Identity.ts"
export { makeJwtVerifier, type JwtOptions, type Verified } from "./policy/JwtVerifier.ts"
export { type ApiKeyEntry, type ApiKeyTable, loadApiKeyTable, makeApiKeyTable } from "./policy/ApiKeyTable.ts"
export { type Authenticator, makeAuthenticator } from "./policy/Authenticator.ts"
export { CedarPolicySet, type CedarDecision, type CedarTarget, PolicyParseError } from "./policy/CedarPolicySet.ts"
export { Policy } from "./policy/Policy.ts"
export { type Decision, type DecisionRequest, PolicyEngine, type PolicyEngineOptions, type SessionFacts } from "./policy/PolicyEngine.ts"
export { RateLimiter } from "./policy/RateLimiter.ts"
export { argsDigest, AUDIT_HMAC, AuditLog, type AuditLogOptions, type AuditQuery, loadAuditKey, queryAudit, verifyAudit, type VerifyAuditOptions, type VerifyResult } from "./policy/AuditLog.ts"
export { answerApproval, type ApprovalAnswer, ApprovalStore, type PendingApproval } from "./policy/ApprovalStore.ts"
export { type Approver, Approvals, type ApprovalResult, storeApprover, webhookApprover } from "./policy/Approvals.ts"

// Client
export { ClientSession, type ClientSessionOptions, type RequestOptions } from "./client/ClientSession.ts"
export { connectStdio, type StdioConnectOptions } from "./client/connectStdio.ts"
export { connectHttp } from "./client/connectHttp.ts"
export { connectWs, type WsConnectOptions } from "./client/connectWs.ts"
export { HttpClientSession } from "./client/HttpClientSession.ts"
export { makeHttpClientTransport } from "./client/makeHttpClientTransport.ts"
export { Client, type EraBackend } from "./client/Client.ts"
export { AutoClient, connectAuto, connectAutoStdio, type McpClientLike } from "./client/connectAuto.ts"
export { AutoHttpClient, connectAutoHttp } from "./client/connectAutoHttp.ts"
export { ModernClient, type ModernClientOptions, type ModernRequestOptions } from "./client/ModernClient.ts"
export { makeModernHttpWire, ModernHttpWire, type ModernHttpWireOptions } from "./transports/http/client/ModernHttpWire.ts"
export { type ListenOptions, Subscription, type SubscriptionEnd, type SubscriptionState } from "./client/Subscription.ts"
export * from "./client/modernErrors.ts"
export { runSupervisedClient } from "./client/superviseClient.ts"
export * from "./protocol/requestErrors.ts"
export type {
  Annotations,
  AudioContent,
  BlobResourceContents,
  CallToolResult,
  CompleteResult,
  ContentBlock,
  EmbeddedResource,
  GetPromptResult,
  Icon,
  ImageContent,
  ListPromptsResult,
  ListResourcesResult,
  ListResourceTemplatesResult,
  ListToolsResult,
  PaginatedResult,
  Prompt,
  PromptArgument,
  PromptMessage,
  ReadResourceResult,
  Resource,
  ResourceContents,
  ResourceLink,
  ResourceTemplate,
  Result,
  ResultOf,
  TextContent,
  TextResourceContents,
  Tool
} from "./protocol/results.ts"

// Transports
export type { FrameEdges, Transport, TransportClosed, TransportHandlers, TransportKind } from "./transports/Transport.ts"
export { makeStdioServerTransport } from "./transports/stdioServer.ts"
export { makeStdioClientTransport, SpawnError } from "./transports/stdioClient.ts"
export { makeMemoryTransportPair } from "./transports/memory.ts"
export { makeHttpHandler, makeHttpServer, type HttpServerHandle, type HttpServerOptions } from "./server/http/HttpServer.ts"
export { makeWsServer, type WsServerHandle, type WsServerOptions } from "./server/ws/WsServer.ts"
export { makeWsTransport, WS_SUBPROTOCOL, type WsTransportOptions } from "./transports/wsTransport.ts"
export { makeWsClientTransport, type WsClientOptions, type WsClientTransport, WsConnectError } from "./transports/wsClient.ts"

// Runtime (plain parts)
export type { SessionEnd, SessionHandle, SessionInfo } from "./runtime/SessionHandle.ts"
export { makeRegistryUnsafe, type RegistryChange, RegistryEntry, type RegistryUnsafe } from "./runtime/Registry.ts"
export { defaultMcpRuntime, type ListenerNode, makeMcpRuntime, type McpRuntime, type McpRuntimeOptions } from "./runtime/McpRuntime.ts"
export { defaultRestartPolicy, makeRestartPolicy, type RestartPolicy } from "./runtime/RestartPolicy.ts"

// Observability (OpenTelemetry spans and metrics, Prometheus /metrics)
export { type ClientFacts, PROMETHEUS_CONTENT_TYPE, Telemetry, type TelemetryOptions } from "./observability/Telemetry.ts"
export { makeOtlpTelemetry, type OtlpTelemetryOptions } from "./observability/otlp.ts"
export { makeMemoryTracer, type RecordedSpan } from "./observability/memoryTracer.ts"
export { type MetricsServerHandle, type MetricsSource, serveMetrics } from "./observability/metricsEndpoint.ts"
export { formatTraceparent, readTraceContext, type RemoteParent, withTraceContext } from "./observability/traceContext.ts"

// Visualization
export { toMermaid } from "./visualization/toMermaid.ts"
export { toDot } from "./visualization/toDot.ts"

// Live inspector, records and replay (docs/inspector.md)
export { type InspectionHub, type InspectionInterest, type InspectionKind, type InspectionListener, type InspectionSubscription, inspection } from "./runtime/inspection.ts"
export { type Inspector, type InspectorOptions, startInspector } from "./inspect/InspectorServer.ts"
export { type ApprovalChange, InspectorApprover, type InspectorApprovalAnswer, type InspectorPendingApproval } from "./inspect/inspectorApprover.ts"
export { formatReplay, parseRecord, ReplayError, replayRecord, type ReplayResult, type ReplayStep } from "./inspect/replay.ts"
export type { RecordBase, RecordEnd, RecordFile } from "./inspect/SessionRecord.ts"

// Multi-server host and gateway
export { type CallOptions, type HostEvent, type HostOptions, McpHost, type ServerView, startHost } from "./host/McpHost.ts"
export type { ResourceSubscriptionView, ResourceUpdate, SubscribeOptions } from "./host/ResourceSubscriptions.ts"
export { type HostConfig, loadHostConfig, parseHostConfig, type ServerConfig, type ConfigIssue, formatIssue } from "./host/config.ts"
export { importConfigs, importLocations } from "./host/importConfigs.ts"
export { HostClosed, ServerConnectionLost, ServerUnavailable, SubscriptionUnsupported, UnknownName } from "./host/errors.ts"
export { type Gateway, HOST_ERROR_META, makeGateway, serveGatewayHttp, serveGatewayStdio, serveGatewayWs } from "./host/gateway.ts"
export type { Catalog, CatalogEntry, Collision, ServerListing } from "./host/Catalog.ts"
export type { Root, RootsSource } from "./host/roots.ts"
