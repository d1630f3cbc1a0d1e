/**
 * Client-side cost of our client: pipelined `tools/call echo` from `connectStdio` to our own
 * stdio server (`serve --stdio`), `--inflight` calls in flight for `--duration` s. Prints calls/s
 * and the client process's CPU µs per call (the figure that moves when the client's per-request
 * work changes; the server is the same on both sides of a comparison).
 *
 *   node bench/client.ts --duration 5 --inflight 64 --rounds 2
 */
import { parseArgs } from "node:util"
import { connectStdio } from "../src/client/connectStdio.ts"

const { values } = parseArgs({
  options: { duration: { type: "string", default: "5" }, inflight: { type: "string", default: "64" }, rounds: { type: "string", default: "2" } }
})
const durationMs = Number(values.duration) * 1000
const inflight = Number(values.inflight)

const round = async (): Promise<{ readonly callsPerSec: number; readonly cpuUsPerCall: number }> => {
  const client = await connectStdio({ command: process.execPath, args: ["src/cli/main.ts", "serve", "--stdio"] })
  // warm-up
  for (let i = 0; i < 500; i++) await client.callTool("echo", { text: "hi" })
  let calls = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const deadline = t0 + durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      await client.callTool("echo", { text: "hi" })
      calls++
    }
  }
  await Promise.all(Array.from({ length: inflight }, worker))
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  await client.close()
  return { callsPerSec: (calls * 1000) / elapsed, cpuUsPerCall: (cpu.user + cpu.system) / calls }
}

for (let r = 0; r < Number(values.rounds); r++) {
  const res = await round()
  console.log(`round ${r + 1}: ${res.callsPerSec.toFixed(0)} calls/s, client CPU ${res.cpuUsPerCall.toFixed(1)} µs/call`)
}
