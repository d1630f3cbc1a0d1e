/**
 * What the host gives its upstream client and each call through it, for the benches that time that hop
 * alone (`modernUpstream.ts`, `modernHot.ts`): the client's input handlers make it declare roots, sampling
 * and elicitation (src/host/ServerConnection.ts `clientOptions`); the call's options are what
 * src/host/McpHost.ts `callWith` passes as the gateway forwards a legacy client's call.
 */
export const HOST_CLIENT_OPTIONS = {
  clientInfo: { name: "mcp-actors-host", version: "0.1.0" },
  keepalive: false,
  requestTimeoutMs: 60_000,
  onElicitation: () => ({ action: "decline" }),
  onSampling: () => Promise.reject(new Error("no")),
  onRoots: () => ({ roots: [] })
} as const

const INPUTS = { roots: {}, elicitation: { form: {}, url: {} } }
const noProgress = (): void => {}

export const hostCallOptions = () => ({
  timeoutMs: 60_000,
  onProgress: noProgress,
  resetTimeoutOnProgress: true,
  signal: new AbortController().signal,
  logLevel: "debug",
  inputCapabilities: INPUTS
})
