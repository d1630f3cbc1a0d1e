"use strict"
// The Node version check of the launcher (src/cli/mcp-actors.cjs). Plain ES5-era
// CommonJS on purpose: it must parse and run on any Node, however old, so that
// an old Node gets one clear line instead of a syntax or loader error.

// ">=22.19" or ">=22.19.0" → [22, 19, 0]; the engines range is the one source of truth.
function minimumOf(range) {
  var m = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range)
  if (!m) throw new Error("unsupported engines.node range: " + range)
  return [Number(m[1]), Number(m[2] || 0), Number(m[3] || 0)]
}

// null when `found` ("20.20.2", process.versions.node) satisfies `range`, else the message.
function nodeProblem(found, range) {
  var min = minimumOf(range)
  var parts = String(found).replace(/^v/, "").split(".")
  for (var i = 0; i < 3; i++) {
    var have = Number(parts[i] || 0)
    if (have > min[i]) return null
    if (have < min[i]) {
      return "mcp-actors needs Node.js " + range.replace(/\s+/g, "") + " but this is Node.js v" + found +
        "; install Node.js 24 LTS from https://nodejs.org (or run `nvm install 24`) and try again."
    }
  }
  return null
}

module.exports = { minimumOf: minimumOf, nodeProblem: nodeProblem }
