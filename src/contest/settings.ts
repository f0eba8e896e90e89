/**
 * The organisers' settings, changed by staff while the hub runs (so kept in the portal store, not
 * in the hub's start-up config): when a silent benchmarker counts as offline, whether contestants
 * may read their runs' stdout after the end, and where notifications go. Defaults live here;
 * every write is checked whole, and a bad value is refused with the setting named.
 */
import { HubError } from '../core/errors.js';
import type { OrganiserStore } from './store/organisers.js';

export interface OrganiserSettings {
  /** A benchmarker without a dequeue for this long is offline (seconds). */
  offlineAfterS: number;
  /** After the end, contestants still see their runs' stdout (stderr: never). */
  contestantStdoutAfterEnd: boolean;
  /** Where notifications are POSTed (Slack-compatible `{"text": …}`). */
  webhooks: string[];
}

export const DEFAULT_SETTINGS: OrganiserSettings = {
  offlineAfterS: 60,
  contestantStdoutAfterEnd: true,
  webhooks: [],
};

const MAX_WEBHOOKS = 10;
/** Other hubs may change the settings: a read is reused this long. */
const SETTINGS_TTL_MS = 1_000;

export function settingsJson(s: OrganiserSettings) {
  return {
    offline_after_s: s.offlineAfterS,
    contestant_stdout_after_end: s.contestantStdoutAfterEnd,
    webhooks: s.webhooks,
  };
}

function webhookUrl(raw: unknown, field: string): string {
  let url: URL | null = null;
  try {
    url = typeof raw === 'string' && raw.length <= 2048 ? new URL(raw) : null;
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new HubError('validation_failed', `${field} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return url.href;
}

/** Applies an API body (`{offline_after_s?, contestant_stdout_after_end?, webhooks?}`) to `base`. */
export function applySettings(base: OrganiserSettings, body: Record<string, unknown>): OrganiserSettings {
  const known = new Set(['offline_after_s', 'contestant_stdout_after_end', 'webhooks']);
  for (const key of Object.keys(body))
    if (!known.has(key))
      throw new HubError('validation_failed', `unknown setting ${key} (known: ${[...known].join(', ')})`);
  const next = { ...base };
  const offline = body.offline_after_s;
  if (offline !== undefined) {
    if (typeof offline !== 'number' || !Number.isInteger(offline) || offline < 1 || offline > 86_400)
      throw new HubError(
        'validation_failed',
        'offline_after_s must be an integer number of seconds in [1, 86400]',
      );
    next.offlineAfterS = offline;
  }
  const stdout = body.contestant_stdout_after_end;
  if (stdout !== undefined) {
    if (typeof stdout !== 'boolean')
      throw new HubError('validation_failed', 'contestant_stdout_after_end must be true or false');
    next.contestantStdoutAfterEnd = stdout;
  }
  const hooks = body.webhooks;
  if (hooks !== undefined) {
    if (hooks === null) next.webhooks = [];
    else if (!Array.isArray(hooks) || hooks.length > MAX_WEBHOOKS)
      throw new HubError('validation_failed', `webhooks must be a list of at most ${MAX_WEBHOOKS} URLs`);
    else next.webhooks = [...new Set(hooks.map((h, i) => webhookUrl(h, `webhooks[${i}]`)))];
  }
  return next;
}

/** Stored data (written by this code, maybe by an older version) read leniently over the defaults. */
function fromStored(data: Record<string, unknown>): OrganiserSettings {
  try {
    return applySettings(DEFAULT_SETTINGS, data);
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export class Settings {
  private cached: { at: number; value: OrganiserSettings } | null = null;

  constructor(
    private readonly store: () => OrganiserStore,
    private readonly clock: () => number,
  ) {}

  async get(): Promise<OrganiserSettings> {
    const now = performance.now();
    if (this.cached && now - this.cached.at < SETTINGS_TTL_MS) return this.cached.value;
    const value = fromStored(await this.store().settingsGet());
    this.cached = { at: now, value };
    return value;
  }

  /** Changes the settings the body names; answers the whole new set. */
  async set(body: Record<string, unknown>): Promise<OrganiserSettings> {
    const next = applySettings(fromStored(await this.store().settingsGet()), body);
    await this.store().settingsSet({ data: settingsJson(next), now: this.clock() });
    this.cached = { at: performance.now(), value: next };
    return next;
  }
}
