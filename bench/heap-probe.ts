/**
 * Bench-only preload: `node --expose-gc --import ./bench/heap-probe.ts SERVER…`
 * with `MCP_BENCH_STATS_PORT=P` opens a second, unref'd listener on
 * 127.0.0.1:P answering `GET /__stats[?gc=1]` with the process's memory, in
 * the same shape as the comparison servers' `/__stats` (gc=1 runs a full GC
 * first when `--expose-gc` is on), and the live libuv handles by kind. It lets the driver's `http-idle` report heap
 * per session for a server that has no stats endpoint of its own, without
 * touching the server. It does not know the server's session count.
 *
 * `GET /__snapshot` runs a full GC and writes a heap snapshot into
 * `$MCP_BENCH_SNAPSHOT_DIR` (default the temp dir); the answer is `{ file }`.
 * Compare two with `node bench/heapdiff.ts A.heapsnapshot B.heapsnapshot`.
 */
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { writeHeapSnapshot } from "node:v8"

const port = Number(process.env["MCP_BENCH_STATS_PORT"] ?? "")
if (Number.isInteger(port) && port > 0) {
  const gc = (globalThis as { gc?: () => void }).gc
  const probe = createServer((req, res) => {
    if (req.url?.startsWith("/__snapshot")) {
      if (typeof gc === "function") gc()
      const dir = process.env["MCP_BENCH_SNAPSHOT_DIR"] ?? tmpdir()
      const file = writeHeapSnapshot(join(dir, `heap-${process.pid}-${Date.now()}.heapsnapshot`))
      const body = JSON.stringify({ file })
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" }).end(body)
      return
    }
    if (!req.url?.startsWith("/__stats")) {
      res.writeHead(404).end()
      return
    }
    const forced = req.url.includes("gc=1") && typeof gc === "function"
    if (forced) gc!()
    const m = process.memoryUsage()
    // live libuv handles by kind (the probe's own request socket is one TCPSocketWrap)
    const handles: Record<string, number> = {}
    for (const k of process.getActiveResourcesInfo()) handles[k] = (handles[k] ?? 0) + 1
    const body = JSON.stringify({
      rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: forced, handles
    })
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" }).end(body)
  })
  // never keeps the server's process alive: neither the listener nor its connections
  probe.on("connection", (socket) => socket.unref())
  probe.listen(port, "127.0.0.1")
  probe.unref()
}
