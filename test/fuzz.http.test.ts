/**
 * Fuzzing the real `serve --http` server (issue 8): seeded hostile POSTs, legacy (on a
 * session, with header faults) and modern (2026-07-28, stateless), each answer (status and
 * body) judged by the oracle (test/fuzz/httpOracle.ts); a sentinel request on the same session
 * after every window, and a new session served. `FUZZ_SEED=N` replays another campaign;
 * `npm run fuzz` runs 100,000 frames per transport.
 */
import { expect, it } from "vitest"
import { cleanCampaign } from "./fuzz/suiteCampaign.ts"

it("2,000 hostile POSTs: every status and reply is one the oracle allows, the sentinel is answered", async () => {
  // A failure names the frame, its headers, the session phase, what was expected and got, and the seed.
  const r = await cleanCampaign("http")
  // Every class of answer occurred: results, 202, parse errors, header refusals, unknown sessions, unknown methods.
  const labels = [...r.stats.byLabel.keys()]
  for (const re of [/^200 result$/, /^202$/, /-32700/, /^406/, /^415/, /^413/, /^404 session$/, /-32601/, /-32602/]) {
    expect(labels.some((l) => re.test(l)), String(re)).toBe(true)
  }
}, 600_000)
