// X-Skicka-* headers: read from the header block only, folded lines included, removed from the
// message, and refused with the header's name when they cannot be followed.
import assert from "node:assert/strict";
import { SubmissionHeaderError, takeSubmissionHeaders } from "./smtp_headers.ts";

const BODY = "\r\nX-Skicka-Stream: in-the-body\r\nHello\r\n";

Deno.test("takeSubmissionHeaders() strips folded X-Skicka-* fields and reads them", () => {
  const raw = [
    "From: a@shop.example",
    "X-SKICKA-TAGS: one,",
    "\ttwo , three",
    "Subject: Hi",
    "  there",
    "x-skicka-track: none",
    "",
  ].join("\r\n") + BODY;
  const { raw: out, options } = takeSubmissionHeaders(raw);
  assert.equal(out, "From: a@shop.example\r\nSubject: Hi\r\n  there\r\n\r\n" + BODY.slice(2));
  assert.deepEqual(options, { tags: ["one", "two", "three"], tracking: false });
});

Deno.test("takeSubmissionHeaders() leaves a message without them exactly as it was", () => {
  for (const raw of ["Subject: x\r\n\r\nbody", "Subject: x\n\nbody\n", "Subject: only headers"]) {
    assert.deepEqual(takeSubmissionHeaders(raw), { raw, options: {} });
  }
});

Deno.test("takeSubmissionHeaders() refuses what it cannot follow, naming the header", () => {
  const cases: [string, RegExp][] = [
    ["X-Skicka-Stream: a\r\nX-Skicka-Stream: b", /X-Skicka-Stream: given more than once/i],
    ["X-Skicka-Priority: high", /x-skicka-priority: unknown/],
    ["X-Skicka-Track: opens,none", /X-Skicka-Track: none cannot be combined/],
    ["X-Skicka-Track: everything", /X-Skicka-Track: expected/],
    ["X-Skicka-Tags: " + Array.from({ length: 11 }, (_, i) => `t${i}`).join(","), /at most 10/],
    ["X-Skicka-Tags: <script>", /is not a tag/],
    ["X-Skicka-Metadata: novalue", /X-Skicka-Metadata: expected key=value/],
  ];
  for (const [header, expected] of cases) {
    assert.throws(
      () => takeSubmissionHeaders(`${header}\r\nSubject: x\r\n\r\nbody`),
      (e: unknown) => e instanceof SubmissionHeaderError && expected.test(e.message),
      header,
    );
  }
});
