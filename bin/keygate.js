#!/usr/bin/env node
// The bundle `npm run build` makes of src/cli/entry.ts (tools/bundle.mjs says why).
await import('../dist/bundle/entry.js');
