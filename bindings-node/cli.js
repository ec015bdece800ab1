#!/usr/bin/env node
// The `corral` command of the npm package: the Rust CLI, run from the N-API addon.
'use strict';
const { cliMain } = require('./index.js');

process.exitCode = cliMain(['corral', ...process.argv.slice(2)]);
