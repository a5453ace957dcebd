// Mailing attachments: uploaded under a per-file and per-message size limit, typed by sniffing
// their first bytes (never by what the client claims), stored in the database.
import { createHash } from "node:crypto";
import type { AppDeps } from "../deps.ts";
import { isUuid, uuidv7 } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import { audit } from "../tenants/audit.ts";
import { assertStatus, lockMailing } from "./mailings.ts";

type Deps = Pick<AppDeps, "db" | "clock" | "config">;

export const MAX_ATTACHMENTS = 20;

export interface AttachmentLimits {
  /** Largest single file, in bytes. */
  perFile: number;
  /** Largest sum of one mailing's files, in bytes. */
  total: number;
}

export function limitsOf(config: AppDeps["config"]): AttachmentLimits {
  return { perFile: config.attachmentsMaxBytes, total: config.attachmentsMaxBytes };
}

const starts = (b: Uint8Array, sig: number[], at = 0) => sig.every((x, i) => b[at + i] === x);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const headText = (b: Uint8Array, n: number) =>
  new TextDecoder("latin1").decode(b.subarray(0, Math.min(n, b.length)));

const OOXML: [string, string][] = [
  ["word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
  ["xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
  ["ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"],
];
const OLE_BY_EXTENSION: Record<string, string> = {
  doc: "application/msword",
  xls: "application/vnd.ms-excel",
  ppt: "application/vnd.ms-powerpoint",
  msg: "application/vnd.ms-outlook",
};

/**
 * The content type from magic bytes. Executables are refused (null); text is told apart from
 * binary by being valid UTF-8 without NUL bytes. The file name only chooses between formats
 * that share one container (OLE documents, CSV vs plain text).
 */
export function sniffContentType(data: Uint8Array, filename: string): string | null {
  const ext = filename.toLowerCase().split(".").pop() ?? "";
  if (starts(data, ascii("%PDF-"))) return "application/pdf";
  if (starts(data, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts(data, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts(data, ascii("GIF87a")) || starts(data, ascii("GIF89a"))) return "image/gif";
  if (starts(data, ascii("RIFF")) && starts(data, ascii("WEBP"), 8)) return "image/webp";
  if (starts(data, [0x50, 0x4b, 0x03, 0x04])) {
    const head = headText(data, 64 * 1024);
    const odf = /^mimetype(application\/vnd\.oasis\.opendocument\.[a-z.]+)/.exec(head.slice(30));
    if (odf) return odf[1]!;
    for (const [dir, type] of OOXML) if (head.includes(dir)) return type;
    return "application/zip";
  }
  if (starts(data, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    return OLE_BY_EXTENSION[ext] ?? "application/x-ole-storage";
  }
  // Windows/ELF/Mach-O executables and scripts with a shebang are not sent to recipients.
  if (
    starts(data, ascii("MZ")) || starts(data, [0x7f, 0x45, 0x4c, 0x46]) ||
    starts(data, [0xcf, 0xfa, 0xed, 0xfe]) || starts(data, [0xfe, 0xed, 0xfa, 0xcf]) ||
    starts(data, ascii("#!"))
  ) return null;
  if (!data.includes(0)) {
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, 64 * 1024));
      const t = text.trimStart().slice(0, 100).toUpperCase();
      if (t.startsWith("BEGIN:VCALENDAR")) return "text/calendar";
      if (t.startsWith("BEGIN:VCARD")) return "text/vcard";
      if (t.startsWith("<!DOCTYPE HTML") || t.startsWith("<HTML")) return "text/html";
      return ext === "csv" ? "text/csv" : "text/plain";
    } catch {
      // Not UTF-8 (possibly cut mid-character at 64 KB is fine: fatal only on real errors).
    }
  }
  return "application/octet-stream";
}

/** A file name safe for a MIME header and any file system: no paths, controls, CR or LF. */
export function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex -- control characters are what is removed
  const clean = base.replace(/[\u0000-\u001f\u007f"<>|:*?]/g, "").replace(/^\.+/, "").trim();
  return (clean || "attachment").slice(0, 200);
}

const ATTACHMENT_COLUMNS = [
  "id",
  "mailing_id",
  "filename",
  "content_type",
  "size",
  "sha256",
  "created_at",
] as const;

/** Stores one file on a draft, within the limits; answers its metadata (not the bytes). */
export async function addAttachment(
  deps: Deps,
  tenantId: string,
  mailingId: string,
  file: { filename: string; data: Uint8Array },
  actor: string,
  limits: AttachmentLimits = limitsOf(deps.config),
) {
  const filename = cleanFilename(file.filename);
  const size = file.data.byteLength;
  if (size === 0) throw issue("empty_file", {});
  if (size > limits.perFile) throw issue("too_large", { limit_mb: mb(limits.perFile) });
  const contentType = sniffContentType(file.data, filename);
  if (!contentType) throw issue("file_type_not_allowed", {});
  const sha256 = createHash("sha256").update(file.data).digest("hex");
  const now = deps.clock();
  const id = uuidv7();
  await deps.db.transaction().execute(async (trx) => {
    assertStatus(await lockMailing(trx, tenantId, mailingId), ["draft"]);
    const used = await trx.selectFrom("mailing_attachments")
      .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.sum<number>("size").as("bytes")])
      .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId)
      .executeTakeFirstOrThrow();
    if (Number(used.n) >= MAX_ATTACHMENTS) throw issue("too_many_files", { n: MAX_ATTACHMENTS });
    if (Number(used.bytes ?? 0) + size > limits.total) {
      throw issue("attachments_too_large", { limit_mb: mb(limits.total) });
    }
    await trx.insertInto("mailing_attachments").values({
      tenant_id: tenantId,
      id,
      mailing_id: mailingId,
      filename,
      content_type: contentType,
      size,
      sha256,
      data: file.data,
      created_at: now,
    }).execute();
    await trx.updateTable("mailings").set((eb) => ({
      version: eb("version", "+", 1),
      updated_by: actor,
      updated_at: now,
    })).where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "mailing.attachment_add",
      target: mailingId,
      details: { attachment: id, filename, size, content_type: contentType },
      at: now,
    });
  });
  return {
    id,
    mailing_id: mailingId,
    filename,
    content_type: contentType,
    size,
    sha256,
    created_at: now,
  };
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) ? 1 : 0);
}

/** A validation error on the file; limits go in the issue so clients can show them. */
function issue(code: string, limits: Record<string, string | number>): AppError {
  return new AppError("validation", {}, [{ path: "file", code, message: "", ...limits }]);
}

export async function listAttachments(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  mailingId: string,
) {
  return await deps.db.selectFrom("mailing_attachments").select(ATTACHMENT_COLUMNS)
    .where("tenant_id", "=", tenantId).where("mailing_id", "=", mailingId).orderBy("id")
    .execute();
}
export type AttachmentInfo = Awaited<ReturnType<typeof listAttachments>>[number];

export async function deleteAttachment(
  deps: Deps,
  tenantId: string,
  mailingId: string,
  attachmentId: string,
  actor: string,
): Promise<void> {
  if (!isUuid(attachmentId)) throw new AppError("not_found");
  const now = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    assertStatus(await lockMailing(trx, tenantId, mailingId), ["draft"]);
    const r = await trx.deleteFrom("mailing_attachments").where("tenant_id", "=", tenantId)
      .where("mailing_id", "=", mailingId).where("id", "=", attachmentId).executeTakeFirst();
    if (!r.numDeletedRows) throw new AppError("not_found");
    await trx.updateTable("mailings").set((eb) => ({
      version: eb("version", "+", 1),
      updated_by: actor,
      updated_at: now,
    })).where("tenant_id", "=", tenantId).where("id", "=", mailingId).execute();
    await audit(trx, {
      tenantId,
      actor,
      action: "mailing.attachment_delete",
      target: mailingId,
      details: { attachment: attachmentId },
      at: now,
    });
  });
}

/**
 * The bytes of the given attachments, for the render stage: called once per send (the ids are
 * in the frozen SendContent.attachments), not once per message.
 */
export async function loadAttachmentData(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  ids: string[],
): Promise<Map<string, { filename: string; content_type: string; data: Uint8Array }>> {
  if (!ids.length) return new Map();
  const rows = await deps.db.selectFrom("mailing_attachments")
    .select(["id", "filename", "content_type", "data"])
    .where("tenant_id", "=", tenantId).where("id", "in", ids).execute();
  return new Map(rows.map((r) => [r.id, { ...r, data: new Uint8Array(r.data) }]));
}
