/**
 * The version of jobhub (package.json's), which the hub reports and `jobhub --version` prints.
 * Its own module: the CLI reads it without loading the hub's HTTP faces.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
