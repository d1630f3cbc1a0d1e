import type { Window } from "./MessageFuzzer.ts"
import { newStats } from "./report.ts"
export class HttpFuzzer {
  readonly stats = newStats()
  constructor(_options: { url: string; maxMessageBytes: number; timeoutMs?: number }) {}
  async runWindow(_w: Window): Promise<void> {
    throw new Error("not yet")
  }
  async close(): Promise<void> {}
}
