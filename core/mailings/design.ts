// Renders a mailing body inside the tenant's design template (MJML, compiled once per version).
//
// Slot syntax in a design's MJML: `[[content]]` (required), and optionally `[[preheader]]`,
// `[[header]]`, `[[footer]]`. Slots are filled after compilation, so MJML runs once per version
// (cached by content hash), not once per mailing. The result is then merged per recipient with
// Handlebars by the send core: `{{` written in the design itself is escaped and prints as-is;
// merge fields belong in the body (the content slot), which is inserted untouched.
import type { AppDeps } from "../deps.ts";
import { isUuid } from "../db/ids.ts";
import { AppError } from "../errors.ts";
import {
  cachedDesign,
  type CompiledDesign,
  compileDesign,
  designHash,
  escapeHtml,
  fillSlots,
} from "./design_mjml.ts";

export interface DesignSlots {
  /** Body HTML, already sanitised by the caller; inserted as given. */
  content: string;
  /** Plain text; HTML-escaped. */
  preheader?: string;
  /** Plain text; HTML-escaped. */
  header?: string;
  /** Plain text; HTML-escaped. */
  footer?: string;
}

/** The neutral design used by tenants that have none. */
export const BUILTIN_DESIGN_MJML = `<mjml>
  <mj-head>
    <mj-preview>[[preheader]]</mj-preview>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="16px" line-height="1.5" color="#222222" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section padding="16px 0 0">
      <mj-column>
        <mj-text font-size="13px" color="#555555">[[header]]</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="24px 0">
      <mj-column>
        <mj-text>[[content]]</mj-text>
      </mj-column>
    </mj-section>
    <mj-section padding="8px 0 24px">
      <mj-column>
        <mj-text font-size="12px" color="#555555" align="center">[[footer]]</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
`;

let builtinHash: Promise<string> | undefined;

/**
 * The tenant's design template version (or, when versionId is null, the tenant's default design;
 * the built-in neutral design when the tenant has none) with the slots filled, as responsive
 * HTML. `versionId` in the answer is the version actually used (null for the built-in design):
 * store it with the mailing so it keeps its look when the design changes later.
 */
export async function renderDesign(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  versionId: string | null,
  slots: DesignSlots,
): Promise<{ html: string; versionId: string | null }> {
  const { design, versionId: used } = await loadCompiled(deps, tenantId, versionId);
  return { html: fillDesign(design, slots), versionId: used };
}

/** Fills a compiled design: content as given, the text slots escaped. */
export function fillDesign(design: CompiledDesign, slots: DesignSlots): string {
  return fillSlots(design, {
    content: slots.content,
    preheader: escapeText(slots.preheader ?? ""),
    header: escapeText(slots.header ?? ""),
    footer: escapeText(slots.footer ?? ""),
  });
}

const MUSTACHE = /\{\{\{?[^{}]*\}?\}\}/g;

/**
 * Plain text for HTML: escaped, except merge fields, which are kept for the per-recipient merge
 * (a `"` inside `{{x default="y"}}` must stay a quote). A triple-stash becomes a double one: a
 * text slot's merged values are always HTML-escaped.
 */
export function escapeText(text: string): string {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(MUSTACHE)) {
    out += escapeHtml(text.slice(last, m.index));
    out += m[0].startsWith("{{{") && m[0].endsWith("}}}") ? m[0].slice(1, -1) : m[0];
    last = m.index + m[0].length;
  }
  return out + escapeHtml(text.slice(last));
}

async function loadCompiled(
  deps: Pick<AppDeps, "db">,
  tenantId: string,
  versionId: string | null,
): Promise<{ design: CompiledDesign; versionId: string | null }> {
  let row: { id: string; content_hash: string } | undefined;
  if (versionId !== null) {
    if (!isUuid(versionId)) throw new AppError("not_found");
    row = await deps.db.selectFrom("design_template_versions").select(["id", "content_hash"])
      .where("tenant_id", "=", tenantId).where("id", "=", versionId).executeTakeFirst();
    if (!row) throw new AppError("not_found");
  } else {
    row = await deps.db.selectFrom("design_templates as t")
      .innerJoin(
        "design_template_versions as v",
        (j) =>
          j.onRef("v.tenant_id", "=", "t.tenant_id").onRef("v.id", "=", "t.current_version_id"),
      )
      .select(["v.id", "v.content_hash"])
      .where("t.tenant_id", "=", tenantId).where("t.is_default", "=", true)
      .where("t.archived_at", "is", null).executeTakeFirst();
  }
  if (!row) {
    builtinHash ??= designHash(BUILTIN_DESIGN_MJML);
    return { design: await compileDesign(await builtinHash, BUILTIN_DESIGN_MJML), versionId: null };
  }
  const { id, content_hash } = row;
  // The source is only fetched when this content has not been compiled in this process yet.
  const hit = cachedDesign(content_hash);
  if (hit) return { design: await hit, versionId: id };
  const src = await deps.db.selectFrom("design_template_versions").select("mjml")
    .where("tenant_id", "=", tenantId).where("id", "=", id).executeTakeFirstOrThrow();
  return { design: await compileDesign(content_hash, src.mjml), versionId: id };
}
