/**
 * Job tags: `+x` = the worker must have x, `-x` = the worker must not have x, plain `x` = a
 * preference (more matches win among eligible jobs and workers).
 */
import { HubError } from './errors.js';

// The name may contain '-' but not start with a sign: '-' or '+-x' would read as an exclusion.
const TAG = /^[+-]?[A-Za-z0-9_.:/=][A-Za-z0-9_.:/=-]{0,63}$/;
export const MAX_TAGS = 32;

export interface TagRules {
  required: string[];
  excluded: string[];
  preferred: string[];
}

export function validateTags(tags: readonly string[], what = 'tags'): string[] {
  if (tags.length > MAX_TAGS) throw new HubError('validation_failed', `${what}: at most ${MAX_TAGS} tags`);
  for (const t of tags) {
    if (typeof t !== 'string' || !TAG.test(t)) {
      throw new HubError(
        'validation_failed',
        `${what}: ${JSON.stringify(t)} is not a tag (1-64 of letters, digits, _ . : / = - not starting with -, optional + or - prefix)`,
      );
    }
  }
  return [...new Set(tags)];
}

export function parseTagRules(tags: readonly string[]): TagRules {
  const rules: TagRules = { required: [], excluded: [], preferred: [] };
  for (const t of tags) {
    if (t.startsWith('+')) rules.required.push(t.slice(1));
    else if (t.startsWith('-')) rules.excluded.push(t.slice(1));
    else rules.preferred.push(t);
  }
  return rules;
}

/** Whether a worker with `workerTags` may take a job with `jobTags`. */
export function tagsAllow(jobTags: readonly string[], workerTags: ReadonlySet<string>): boolean {
  for (const t of jobTags) {
    if (t.startsWith('+')) {
      if (!workerTags.has(t.slice(1))) return false;
    } else if (t.startsWith('-')) {
      if (workerTags.has(t.slice(1))) return false;
    }
  }
  return true;
}

/** How many of the job's preference tags the worker has. */
export function preferenceScore(jobTags: readonly string[], workerTags: ReadonlySet<string>): number {
  let score = 0;
  for (const t of jobTags) if (t[0] !== '+' && t[0] !== '-' && workerTags.has(t)) score++;
  return score;
}

/** Tags a worker offers are plain names; a leading + is accepted and dropped, - is refused. */
export function normalizeWorkerTags(tags: readonly string[]): string[] {
  return validateTags(tags, 'worker tags').map((t) => {
    if (t.startsWith('-')) throw new HubError('validation_failed', `worker tags cannot exclude (${t})`);
    return t.startsWith('+') ? t.slice(1) : t;
  });
}
