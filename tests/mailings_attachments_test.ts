// Mailing attachments through the API: per-file and per-message limits, the type sniffed from
// the bytes (not the client's word), programs refused, copies keep them, sends reference them.
import assert from "node:assert/strict";
import { apiClient, seedTenant, testApp } from "./helpers/app.ts";
import { createSender, verifySender } from "../core/mailings/senders.ts";
import { loadAttachmentData, sniffContentType } from "../core/mailings/attachments.ts";

// A small limit, so the test does not move megabytes around.
const t = await testApp({ env: { ATTACHMENTS_MAX_MB: "1" } });
const org = await seedTenant(t, { slug: "attach-org", scopes: ["read", "write", "send"] });
const api = apiClient(t, org.key);
const MB = 1024 * 1024;

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const PDF = new TextEncoder().encode("%PDF-1.7\n%âãÏÓ\n1 0 obj <<>> endobj\n");

async function upload(mailingId: string, filename: string, data: Uint8Array, type = "image/gif") {
  const res = await t.app.request(
    `/api/v1/mailings/${mailingId}/attachments?filename=${encodeURIComponent(filename)}`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${org.key}`, "content-type": type },
      body: data as Uint8Array<ArrayBuffer>,
    },
  );
  return { status: res.status, body: await res.json() };
}

function padded(head: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(head);
  return out;
}

Deno.test("upload: the type is sniffed from the bytes, the name cleaned, a hash kept", async () => {
  const m = (await api("POST", "/mailings", { subject: "With files" })).body;
  const png = await upload(m.id, "../../logo.exe\r\n.png", PNG, "application/x-msdownload");
  assert.equal(png.status, 201, JSON.stringify(png.body));
  assert.equal(png.body.content_type, "image/png");
  assert.equal(png.body.filename, "logo.exe.png");
  assert.equal(png.body.size, PNG.length);
  assert.match(png.body.sha256, /^[0-9a-f]{64}$/);
  const pdf = await upload(m.id, "report.txt", PDF, "text/plain");
  assert.equal(pdf.body.content_type, "application/pdf");
  const list = await api("GET", `/mailings/${m.id}/attachments`);
  assert.deepEqual(list.body.items.map((a: { filename: string }) => a.filename), [
    "logo.exe.png",
    "report.txt",
  ]);
  const after = (await api("GET", `/mailings/${m.id}`)).body;
  assert.equal(after.version, 3, "each upload is a change other tabs must see");
});

Deno.test("upload: programs are refused whatever they are called", async () => {
  const m = (await api("POST", "/mailings", {})).body;
  const exe = await upload(m.id, "invoice.pdf", new TextEncoder().encode("MZ\x90\x00binary"));
  assert.equal(exe.status, 400);
  assert.equal(exe.body.error.details[0].code, "file_type_not_allowed");
  const sh = await upload(m.id, "notes.txt", new TextEncoder().encode("#!/bin/sh\nrm -rf /\n"));
  assert.equal(sh.body.error.details[0].code, "file_type_not_allowed");
  const empty = await upload(m.id, "x.txt", new Uint8Array());
  assert.equal(empty.status, 400);
});

Deno.test("limits: one file over the limit, and files together over it, are refused", async () => {
  const m = (await api("POST", "/mailings", {})).body;
  const big = await upload(m.id, "big.pdf", padded(PDF, MB + 1));
  assert.equal(big.status, 400);
  assert.equal(big.body.error.details[0].code, "too_large");
  assert.equal((await upload(m.id, "a.pdf", padded(PDF, 600 * 1024))).status, 201);
  const second = await upload(m.id, "b.pdf", padded(PDF, 600 * 1024));
  assert.equal(second.status, 400);
  assert.equal(second.body.error.details[0].code, "attachments_too_large");
  assert.match(second.body.error.details[0].message, /larger than allowed/);
  assert.equal((await upload(m.id, "c.pdf", padded(PDF, 300 * 1024))).status, 201);
  assert.equal((await api("GET", `/mailings/${m.id}/attachments`)).body.items.length, 2);
});

Deno.test("delete, copy, and the send references attachments without their bytes", async () => {
  const sender = await createSender(t.deps, org.tenant.id, {
    name: "Office",
    address: "office@uni.example",
  }, "t");
  await verifySender(t.deps, org.tenant.id, sender.id, "t");
  const m = (await api("POST", "/mailings", {
    from_identity_id: sender.id,
    subject: "Files",
    body_html: "<p>See attached</p>",
    recipients: { addresses: ["someone@ext.example"] },
  })).body;
  const a = (await upload(m.id, "a.png", PNG)).body;
  const b = (await upload(m.id, "b.pdf", PDF)).body;
  const res = await t.app.request(`/api/v1/mailings/${m.id}/attachments/${a.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${org.key}` },
  });
  assert.equal(res.status, 204);
  const copy = (await api("POST", `/mailings/${m.id}/copy`)).body;
  const copied = (await api("GET", `/mailings/${copy.id}/attachments`)).body.items;
  assert.deepEqual(
    copied.map((x: { filename: string; sha256: string }) => [x.filename, x.sha256]),
    [
      ["b.pdf", b.sha256],
    ],
  );
  const sent = await api("POST", `/mailings/${m.id}/send`, {});
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const s = await t.deps.db.selectFrom("sends").select("content").where(
    "id",
    "=",
    sent.body.send_id,
  )
    .executeTakeFirstOrThrow();
  assert.deepEqual((s.content as { attachments: unknown }).attachments, [
    { id: b.id, filename: "b.pdf", content_type: "application/pdf" },
  ]);
  const bytes = await loadAttachmentData(t.deps, org.tenant.id, [b.id]);
  assert.deepEqual(bytes.get(b.id)!.data, PDF);
  // The mailing is no longer a draft: its files are fixed.
  assert.equal((await upload(m.id, "late.png", PNG)).status, 409);
});

Deno.test("sniffContentType() tells formats apart by their bytes", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const zip = (name: string) => {
    const b = new Uint8Array(80);
    b.set([0x50, 0x4b, 0x03, 0x04]);
    b.set(enc(name), 30);
    return b;
  };
  assert.equal(sniffContentType(enc("GIF89a...."), "x"), "image/gif");
  assert.equal(sniffContentType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]), "x.png"), "image/jpeg");
  assert.equal(
    sniffContentType(zip("word/document.xml"), "x.zip"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  );
  assert.equal(
    sniffContentType(zip("mimetypeapplication/vnd.oasis.opendocument.text"), "a"),
    "application/vnd.oasis.opendocument.text",
  );
  assert.equal(sniffContentType(zip("other.txt"), "a.docx"), "application/zip");
  assert.equal(sniffContentType(enc("BEGIN:VCALENDAR\r\n"), "x.txt"), "text/calendar");
  assert.equal(sniffContentType(enc("a;b\n1;2\n"), "x.csv"), "text/csv");
  assert.equal(sniffContentType(enc("Hej då, åäö"), "x.bin"), "text/plain");
  assert.equal(
    sniffContentType(new Uint8Array([1, 0, 255, 254]), "x.txt"),
    "application/octet-stream",
  );
  assert.equal(sniffContentType(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2]), "x.pdf"), null);
});
