/**
 * Cron expressions: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds
 * first, evaluated in an IANA time zone (cron-parser does the calendar and daylight-saving work).
 * Pure: the caller passes the time to count from.
 */
import { CronExpressionParser } from 'cron-parser';
import { HubError } from './errors.js';

/** Whether `tz` is a time zone this runtime knows (IANA names such as Europe/Berlin, or UTC). */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Checks an expression and a zone; `validation_failed` saying what is wrong otherwise. */
export function checkCron(cron: string, timezone: string): void {
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new HubError(
      'validation_failed',
      `cron must have 5 fields (minute hour day month weekday) or 6 (seconds first); "${cron}" has ${fields}`,
    );
  }
  if (!validTimeZone(timezone))
    throw new HubError(
      'validation_failed',
      `unknown time zone ${timezone}; use an IANA name such as Europe/Berlin`,
    );
  try {
    CronExpressionParser.parse(cron, { tz: timezone, strict: false });
  } catch (err) {
    throw new HubError('validation_failed', `cron "${cron}": ${(err as Error).message}`);
  }
}

/** The first tick strictly after `after` (ms), or null when the expression has no more. */
export function nextTick(cron: string, timezone: string, after: number): number | null {
  try {
    const e = CronExpressionParser.parse(cron, { tz: timezone, currentDate: new Date(after) });
    return e.next().getTime();
  } catch {
    // No tick within the parser's search range (such as the 31st of a month that never has one).
    return null;
  }
}
