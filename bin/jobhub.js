#!/usr/bin/env node
// The installed command: runs the compiled CLI (built by `npm install` / `npm start`).
import '../dist/cli/main.js';
