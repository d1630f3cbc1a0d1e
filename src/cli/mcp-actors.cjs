#!/usr/bin/env node
"use strict"
// The `mcp-actors` executable (also what `npm start` / `npm run demo` run).
// Plain CommonJS that parses on old Nodes: check the version first, then load
// the CLI, which needs Node >= 22.19.
var nodeProblem = require("./nodeVersion.cjs").nodeProblem
var problem = nodeProblem(process.versions.node, require("../../package.json").engines.node)
if (problem) {
  process.stderr.write(problem + "\n")
  process.exit(2)
}

var fs = require("fs")
var path = require("path")
var url = require("url")

// From a clone (sources present, not under node_modules) Node runs the
// TypeScript sources directly, so no build is needed and nothing is stale; an
// installed package runs the build, since Node will not strip types under node_modules.
var root = path.join(__dirname, "..", "..")
var source = path.join(root, "src", "cli", "main.ts")
var built = path.join(root, "dist", "src", "cli", "main.js")
var installed = root.split(path.sep).indexOf("node_modules") !== -1
var entry = !installed && fs.existsSync(source) ? source : built

import(url.pathToFileURL(entry).href).catch(function (e) {
  process.stderr.write("mcp-actors: " + (e && e.stack ? e.stack : String(e)) + "\n")
  process.exitCode = 1
})
