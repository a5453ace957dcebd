// Calendar days in a time zone: which instant a user's "1 March" starts at, and which day an
// instant falls on for them. Periods and daily figures follow the reader's day, not UTC's.

const dayFormats = new Map<string, Intl.DateTimeFormat>();
const partFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * Whether it is an IANA zone name the runtime knows (and so PostgreSQL's tz database, the same
 * one). Offsets like "+01:00" are refused: JavaScript reads them as UTC+1, PostgreSQL's
 * `at time zone` as POSIX, i.e. UTC−1 — days and hours would come out two hours apart.
 */
export function isTimeZone(tz: string): boolean {
  let known = zones.get(tz);
  if (known === undefined) {
    try {
      known = /^[A-Za-z]/.test(tz) && !!new Intl.DateTimeFormat("en", { timeZone: tz });
    } catch {
      known = false;
    }
    // Asked per request with the user's zone: the answer is kept (bounded).
    if (zones.size > 1_000) zones.clear();
    zones.set(tz, known);
  }
  return known;
}
const zones = new Map<string, boolean>();

/** The day (YYYY-MM-DD) an instant falls on in the time zone. */
export function localDate(at: Date, timeZone: string): string {
  let f = dayFormats.get(timeZone);
  if (!f) {
    // en-CA writes dates as YYYY-MM-DD.
    f = new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" });
    dayFormats.set(timeZone, f);
  }
  return f.format(at);
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
function offsetAt(at: number, timeZone: string): number {
  let f = partFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    partFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, Number(x.value)]));
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(at / 1000) * 1000;
}

/** The instant a day (YYYY-MM-DD) begins in the time zone (DST-safe: checked at the result). */
export function startOfLocalDay(date: string, timeZone: string): Date {
  const [y, m, d] = date.split("-").map(Number);
  const midnightUtc = Date.UTC(y!, m! - 1, d!);
  let at = midnightUtc - offsetAt(midnightUtc, timeZone);
  // The offset at local midnight can differ from the one at UTC midnight (a DST change between).
  at = midnightUtc - offsetAt(at, timeZone);
  return new Date(at);
}

/** The calendar day n days after a YYYY-MM-DD day (n may be negative). */
export function addDays(date: string, n: number): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! + n)).toISOString().slice(0, 10);
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;
const DAY = 86_400_000;

/** The zone's wall clock at an instant, read as if it were UTC (ms), whole seconds. */
function wallClock(at: number, timeZone: string): number {
  const whole = Math.floor(at / 1000) * 1000;
  return whole + offsetAt(whole, timeZone);
}

/**
 * A wall-clock time in a zone as an instant. The two DST cases are explicit: in an overlap
 * (clocks moved back) the time happens twice and the first occurrence is taken, with
 * `ambiguous` set; in a gap (clocks moved forward) it does not exist, and `next` is the wall
 * time the clocks show at the instant it would have been under the old offset (02:30 in a
 * one-hour gap → 03:30; 02:15 in Lord Howe's half-hour gap → 02:45). Any size of shift works:
 * the candidates are the offsets the zone uses within a day of the time.
 */
export type LocalInstant =
  | { at: Date; ambiguous: boolean }
  | { gap: true; next: string };

/** "2027-10-31T02:30" (YYYY-MM-DDTHH:MM) in a zone → the instant; null when not such a time. */
export function localToInstant(local: string, timeZone: string): LocalInstant | null {
  const m = LOCAL.exec(local);
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d ||
    h > 23 || mi > 59
  ) return null;
  const offsets = new Set([-DAY, 0, DAY].map((k) => offsetAt(wall + k, timeZone)));
  const hits = [...new Set([...offsets].map((o) => wall - o))]
    .filter((at) => wallClock(at, timeZone) === wall).sort((a, b) => a - b);
  if (hits.length === 0) {
    const before = offsetAt(wall - DAY, timeZone);
    return { gap: true, next: instantToLocal(new Date(wall - before), timeZone) };
  }
  return { at: new Date(hits[0]!), ambiguous: hits.length > 1 };
}

/** An instant as the zone's wall clock, "YYYY-MM-DDTHH:MM" (what datetime-local takes). */
export function instantToLocal(at: Date, timeZone: string): string {
  return new Date(wallClock(at.getTime(), timeZone)).toISOString().slice(0, 16);
}

/** The zone's offset from UTC at an instant as "+HH:MM" / "-HH:MM" (RFC 3339). */
export function offsetLabel(at: Date, timeZone: string): string {
  const min = Math.round(offsetAt(at.getTime(), timeZone) / 60_000);
  const a = Math.abs(min);
  return `${min < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}
