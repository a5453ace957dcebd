// Weekly timetables in a time zone: the next occurrence of "these weekdays at these local times"
// as an instant, correct across daylight-saving changes.
import { addDays, localDate, localToInstant } from "../../core/time_zone.ts";
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

export interface Timetable {
  /** ISO weekdays: 1 Monday … 7 Sunday. */
  weekdays: number[];
  /** Local wall-clock times, "HH:MM". */
  times: string[];
  /** An IANA zone, e.g. Europe/Stockholm. */
  timeZone: string;
}

export function isTime(s: string): boolean {
  return TIME.test(s);
}

/**
 * The instant a day's (YYYY-MM-DD) local time "HH:MM" happens in a zone (the core's
 * localToInstant). A time skipped by the spring change (02:30 in Stockholm on the last Sunday of
 * March) happens at the same distance after the gap (03:30; 02:15 in Lord Howe's half-hour gap
 * → 02:45); a time the autumn change repeats is taken the first time.
 */
export function occurrenceAt(date: string, hhmm: string, timeZone: string): Date {
  const r = localToInstant(`${date}T${hhmm}`, timeZone);
  if (!r) throw new RangeError(`Not a local time: ${date}T${hhmm}`);
  if ("at" in r) return r.at;
  const after = localToInstant(r.next, timeZone);
  if (!after || !("at" in after)) throw new RangeError(`No instant for ${r.next} in ${timeZone}`);
  return after.at;
}

/**
 * The first occurrence strictly after `after`. Null when the timetable is empty. Looks at most
 * eight local days ahead, which always holds one of a non-empty weekly timetable.
 */
export function nextOccurrence(tt: Timetable, after: Date): Date | null {
  if (!tt.weekdays.length || !tt.times.length) return null;
  const times = [...new Set(tt.times)].filter(isTime).sort();
  if (!times.length) return null;
  // From the day before: an occurrence late on the previous local day may still be ahead when
  // the gap moved it past midnight; the strict "after" check skips the rest.
  const day0 = addDays(localDate(after, tt.timeZone), -1);
  for (let d = 0; d <= 9; d++) {
    const day = addDays(day0, d);
    const iso = ((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7) + 1;
    if (!tt.weekdays.includes(iso)) continue;
    for (const hhmm of times) {
      const at = occurrenceAt(day, hhmm, tt.timeZone);
      if (at.getTime() > after.getTime()) return at;
    }
  }
  return null;
}
