/**
 * Runtime names are `Base[+Feature...]`. A worker runtime `B+F1+F2` can run a job that needs `B`,
 * `B+F1`, `B+F2` or `B+F1+F2`: the job's features must be a subset of the worker's. Names are
 * kept in a canonical form (features sorted, duplicates dropped) so that matching in a store is a
 * plain equality test against the set of names a worker accepts.
 */
import { HubError } from './errors.js';

const PART = /^[A-Za-z0-9_.-]{1,64}$/;
/** More features than this would make the accepted set (2^n names) too large to enumerate. */
export const MAX_RUNTIME_FEATURES = 8;

export interface RuntimeName {
  base: string;
  features: string[];
}

export function parseRuntime(name: string): RuntimeName {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    throw new HubError(
      'validation_failed',
      `runtime name must be 1-256 characters, got ${JSON.stringify(name)}`,
    );
  }
  const [base, ...rest] = name.split('+');
  if (base === undefined || !PART.test(base) || rest.some((f) => !PART.test(f))) {
    throw new HubError(
      'validation_failed',
      `runtime ${JSON.stringify(name)} is not of the form Base[+Feature...] (letters, digits, _ . -)`,
    );
  }
  const features = [...new Set(rest)].sort();
  if (features.length > MAX_RUNTIME_FEATURES) {
    throw new HubError('validation_failed', `runtime ${name} has more than ${MAX_RUNTIME_FEATURES} features`);
  }
  return { base, features };
}

export function formatRuntime(r: RuntimeName): string {
  return [r.base, ...r.features].join('+');
}

/** The canonical spelling of a runtime name (features sorted). */
export function canonicalRuntime(name: string): string {
  return formatRuntime(parseRuntime(name));
}

/** Every canonical job runtime that a worker offering `offered` can run. */
export function acceptedRuntimes(offered: readonly string[]): string[] {
  const out = new Set<string>();
  for (const name of offered) {
    const { base, features } = parseRuntime(name);
    const n = features.length;
    for (let mask = 0; mask < 1 << n; mask++) {
      out.add(formatRuntime({ base, features: features.filter((_, i) => mask & (1 << i)) }));
    }
  }
  return [...out].sort();
}

/** True when a worker runtime can run a job runtime. */
export function runtimeMatches(workerRuntime: string, jobRuntime: string): boolean {
  const w = parseRuntime(workerRuntime);
  const j = parseRuntime(jobRuntime);
  return w.base === j.base && j.features.every((f) => w.features.includes(f));
}
