#!/usr/bin/env node
// The one Tessera binary. The TypeScript sources compile to dist/ (npm run build).
'use strict';
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('tessera: dist/ is missing; run `npm run build` (or `npm start`, which builds) first\n');
  process.exit(1);
}
require(entry).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`tessera: ${err && err.stack ? err.stack : err}\n`); process.exitCode = 1; },
);
