/** `Implementation`: how a client or server names itself (`clientInfo` / `serverInfo`). */
export interface PeerInfo {
  readonly name: string
  readonly version: string
  readonly [key: string]: unknown
}
