import assert from "node:assert/strict";
import {
  addDays,
  instantToLocal,
  isTimeZone,
  localDate,
  localToInstant,
  offsetLabel,
  startOfLocalDay,
} from "./time_zone.ts";

Deno.test("startOfLocalDay() is local midnight, across DST changes and on both sides of UTC", () => {
  assert.equal(
    startOfLocalDay("2026-03-02", "Europe/Helsinki").toISOString(),
    "2026-03-01T22:00:00.000Z",
  );
  // Summer time in Helsinki (+3), and the day DST starts there (29 March 2026 at 03:00).
  assert.equal(
    startOfLocalDay("2026-07-01", "Europe/Helsinki").toISOString(),
    "2026-06-30T21:00:00.000Z",
  );
  assert.equal(
    startOfLocalDay("2026-03-30", "Europe/Helsinki").toISOString(),
    "2026-03-29T21:00:00.000Z",
  );
  assert.equal(
    startOfLocalDay("2026-03-29", "Europe/Helsinki").toISOString(),
    "2026-03-28T22:00:00.000Z",
  );
  assert.equal(
    startOfLocalDay("2026-03-01", "America/New_York").toISOString(),
    "2026-03-01T05:00:00.000Z",
  );
  assert.equal(
    startOfLocalDay("2026-03-01", "Asia/Kolkata").toISOString(),
    "2026-02-28T18:30:00.000Z",
  );
  assert.equal(startOfLocalDay("2026-03-01", "UTC").toISOString(), "2026-03-01T00:00:00.000Z");
});

Deno.test("localDate(), addDays() and isTimeZone()", () => {
  assert.equal(localDate(new Date("2026-03-01T23:30:00Z"), "Europe/Helsinki"), "2026-03-02");
  assert.equal(localDate(new Date("2026-03-01T23:30:00Z"), "UTC"), "2026-03-01");
  assert.equal(addDays("2026-02-28", 1), "2026-03-01");
  assert.equal(addDays("2026-01-01", -1), "2025-12-31");
  assert.ok(isTimeZone("Europe/Stockholm"));
  assert.ok(!isTimeZone("Mars/Olympus"));
});

Deno.test("isTimeZone() takes IANA names only: an offset means opposite things in JS and SQL", () => {
  assert.equal(isTimeZone("Europe/Helsinki"), true);
  assert.equal(isTimeZone("UTC"), true);
  assert.equal(isTimeZone("+01:00"), false);
  assert.equal(isTimeZone("-05:00"), false);
  assert.equal(isTimeZone("Mars/Olympus"), false);
});

const STHLM = "Europe/Stockholm";

Deno.test("localToInstant() refuses 02:30 on the spring-forward night and names 03:30", () => {
  assert.deepEqual(localToInstant("2027-03-28T02:30", STHLM), {
    gap: true,
    next: "2027-03-28T03:30",
  });
  // Either side of the gap: 01:59 is still CET (+1), 03:00 already CEST (+2).
  assert.deepEqual(localToInstant("2027-03-28T01:59", STHLM), {
    at: new Date("2027-03-28T00:59:00Z"),
    ambiguous: false,
  });
  assert.deepEqual(localToInstant("2027-03-28T03:00", STHLM), {
    at: new Date("2027-03-28T01:00:00Z"),
    ambiguous: false,
  });
});

Deno.test("localToInstant() takes the first 02:30 of the fall-back night (still CEST)", () => {
  assert.deepEqual(localToInstant("2027-10-31T02:30", STHLM), {
    at: new Date("2027-10-31T00:30:00Z"),
    ambiguous: true,
  });
  // Both occurrences read back as 02:30 on the wall; the offset tells them apart.
  assert.equal(instantToLocal(new Date("2027-10-31T01:30:00Z"), STHLM), "2027-10-31T02:30");
  assert.equal(instantToLocal(new Date("2027-10-31T00:30:00Z"), STHLM), "2027-10-31T02:30");
  assert.equal(offsetLabel(new Date("2027-10-31T00:30:00Z"), STHLM), "+02:00");
  assert.equal(offsetLabel(new Date("2027-10-31T01:30:00Z"), STHLM), "+01:00");
  assert.deepEqual(localToInstant("2027-10-31T03:00", STHLM), {
    at: new Date("2027-10-31T02:00:00Z"),
    ambiguous: false,
  });
});

Deno.test("localToInstant() with Lord Howe's half-hour DST: gap and overlap of 30 minutes", () => {
  const LH = "Australia/Lord_Howe"; // +10:30 standard, +11:00 summer; changes at 02:00 local
  // Summer time starts 2027-10-03 02:00 → 02:30: 02:15 does not exist.
  assert.deepEqual(localToInstant("2027-10-03T02:15", LH), { gap: true, next: "2027-10-03T02:45" });
  assert.deepEqual(localToInstant("2027-10-03T02:30", LH), {
    at: new Date("2027-10-02T15:30:00Z"),
    ambiguous: false,
  });
  // Summer time ends 2027-04-04 02:00 → 01:30: 01:45 happens twice; the first is at +11.
  assert.deepEqual(localToInstant("2027-04-04T01:45", LH), {
    at: new Date("2027-04-03T14:45:00Z"),
    ambiguous: true,
  });
  assert.equal(offsetLabel(new Date("2027-04-03T15:15:00Z"), LH), "+10:30");
  assert.equal(instantToLocal(new Date("2027-04-03T15:15:00Z"), LH), "2027-04-04T01:45");
  assert.equal(offsetLabel(new Date("2027-06-01T00:00:00Z"), "America/New_York"), "-04:00");
});

Deno.test("localToInstant() in other zones, and null for what is not a date and time", () => {
  assert.deepEqual(localToInstant("2027-06-01T09:00", "America/New_York"), {
    at: new Date("2027-06-01T13:00:00Z"),
    ambiguous: false,
  });
  assert.deepEqual(localToInstant("2027-06-01T09:00", "Asia/Kolkata"), {
    at: new Date("2027-06-01T03:30:00Z"),
    ambiguous: false,
  });
  assert.equal(localToInstant("2027-02-30T09:00", STHLM), null);
  assert.equal(localToInstant("2027-02-03 09:00", STHLM), null);
  assert.equal(localToInstant("2027-02-03T24:00", STHLM), null);
});
