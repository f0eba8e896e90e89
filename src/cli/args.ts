/**
 * Flag value parsers shared by the commands. They throw commander's InvalidArgumentError, which
 * commander turns into one `error: option … is invalid` line (and main.ts into the usage status).
 */
import { InvalidArgumentError } from 'commander';
import { CliError, EXIT } from './exit-codes.js';

export function int(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n))
    throw new InvalidArgumentError(`${value} is not an integer`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = int(value);
  if (n < 0) throw new InvalidArgumentError(`${value} is not a non-negative integer`);
  return n;
}

export function positiveInt(value: string): number {
  const n = int(value);
  if (n < 1) throw new InvalidArgumentError(`${value} is not a positive integer`);
  return n;
}

export const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * A hub (or portal) base URL. `127.0.0.1:18080` and `hub.example:8080` mean http://: people copy
 * the address a server prints without its scheme, and `new URL` would read `hub.example:` as a
 * scheme. Anything but http(s) with a host is refused with the flag named.
 */
export function baseUrl(value: string, flag = '--hub'): string {
  const s = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(
      EXIT.USAGE,
      `${flag} ${JSON.stringify(value)} is not a URL; give one like http://127.0.0.1:8080`,
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
    throw new CliError(
      EXIT.USAGE,
      `${flag} ${JSON.stringify(value)} must be an http:// or https:// URL, like http://127.0.0.1:8080`,
    );
  return withScheme;
}

/** `baseUrl` as a commander parser. */
export const urlOption =
  (flag: string) =>
  (value: string): string => {
    try {
      return baseUrl(value, flag);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message.replace(`${flag} `, ''));
    }
  };
