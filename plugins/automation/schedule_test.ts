// Weekly timetables across daylight-saving changes (Europe/Stockholm, Australia/Lord_Howe).
import assert from "node:assert/strict";
import { nextOccurrence, occurrenceAt } from "./schedule.ts";

const tz = "Europe/Stockholm";
const mon14 = { weekdays: [1], times: ["14:00"], timeZone: tz };

Deno.test("nextOccurrence(): Monday 14:00 local is 13:00Z in winter and 12:00Z in summer", () => {
  // Sunday 22 March 2026 (CET) → Monday 23 March 14:00 CET.
  assert.equal(
    nextOccurrence(mon14, new Date("2026-03-22T10:00:00Z"))!.toISOString(),
    "2026-03-23T13:00:00.000Z",
  );
  // After that run → Monday 30 March, after the change on the 29th: 14:00 CEST.
  assert.equal(
    nextOccurrence(mon14, new Date("2026-03-23T13:00:00Z"))!.toISOString(),
    "2026-03-30T12:00:00.000Z",
  );
  // Autumn: Monday 26 October 2026, the day after the change back: 14:00 CET.
  assert.equal(
    nextOccurrence(mon14, new Date("2026-10-20T12:00:00Z"))!.toISOString(),
    "2026-10-26T13:00:00.000Z",
  );
});

Deno.test("nextOccurrence(): several days and times, strictly after the given instant", () => {
  const tt = { weekdays: [2, 4], times: ["18:30", "07:15"], timeZone: tz };
  // Tuesday 3 Nov 2026 07:15 CET = 06:15Z; asking at exactly that instant gives the next one.
  assert.equal(
    nextOccurrence(tt, new Date("2026-11-03T06:15:00Z"))!.toISOString(),
    "2026-11-03T17:30:00.000Z",
  );
  assert.equal(
    nextOccurrence(tt, new Date("2026-11-03T17:30:00Z"))!.toISOString(),
    "2026-11-05T06:15:00.000Z",
  );
  assert.equal(nextOccurrence({ ...tt, weekdays: [] }, new Date()), null);
});

Deno.test("occurrenceAt(): a time in the spring gap moves past it; a repeated time is the first", () => {
  // 29 March 2026 02:30 does not exist in Stockholm: 03:30 CEST = 01:30Z.
  assert.equal(occurrenceAt("2026-03-29", "02:30", tz).toISOString(), "2026-03-29T01:30:00.000Z");
  // 25 October 2026 02:30 happens twice: first at 02:30 CEST = 00:30Z.
  assert.equal(occurrenceAt("2026-10-25", "02:30", tz).toISOString(), "2026-10-25T00:30:00.000Z");
});

Deno.test("occurrenceAt(): Lord Howe's half-hour DST change takes the first occurrence", () => {
  const lh = "Australia/Lord_Howe";
  // 4 April 2027: at 02:00 (+11:00) the clocks go back to 01:30 (+10:30), so 01:45 happens
  // twice: 14:45Z and 15:15Z. The first is taken (an hour's step would have found only 15:15Z).
  assert.equal(occurrenceAt("2027-04-04", "01:45", lh).toISOString(), "2027-04-03T14:45:00.000Z");
  // 3 October 2027: at 02:00 (+10:30) the clocks go forward to 02:30 (+11:00): 02:15 does not
  // exist and happens at 02:45 (+11:00) = 15:45Z the day before.
  assert.equal(occurrenceAt("2027-10-03", "02:15", lh).toISOString(), "2027-10-02T15:45:00.000Z");
  const sun0145 = { weekdays: [7], times: ["01:45"], timeZone: lh };
  assert.equal(
    nextOccurrence(sun0145, new Date("2027-04-01T00:00:00Z"))!.toISOString(),
    "2027-04-03T14:45:00.000Z",
  );
  // Right after the first 01:45 comes next Sunday's, not the repeat half an hour later.
  assert.equal(
    nextOccurrence(sun0145, new Date("2027-04-03T14:45:00Z"))!.toISOString(),
    "2027-04-10T15:15:00.000Z",
  );
});
