#!/usr/bin/env node
// The promptlab command. TypeScript sources run through tsx, so it works right after `npm ci`.
'use strict';
require('tsx/cjs');
require('../src/cli.ts')
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; });
