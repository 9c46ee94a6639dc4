#!/usr/bin/env node
// Entry point of the `modeld` command: loads the TypeScript sources through tsx, so that a
// fresh `npm ci` is all the set-up there is (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
