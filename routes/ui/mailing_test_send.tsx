// The review page's "Send a test" card and its post: who the test merges as (one of the chosen
// people, any person found by name or address, a raw address, or the first test address) and
// where it goes. Plain forms; a failed post comes back to the card with its error and values.
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { raw } from "hono/html";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { base64url, fromBase64url, hmacSigner, timingSafeEqual } from "../../core/crypto.ts";
import { isUuid } from "../../core/db/ids.ts";
import { AppError } from "../../core/errors.ts";
import { listPersons } from "../../core/people/persons.ts";
import { getMailing, type Mailing } from "../../core/mailings/mailings.ts";
import { type PreviewAs, testSendMailing } from "../../core/mailings/send.ts";
import { Csrf } from "./layout.tsx";
import { errorText, field, readForm } from "./forms.ts";
import type { FlashStore } from "./flash.ts";

/** What the card shows after a failed post: the error and what was filled in. */
interface TestForm {
  mailing: string;
  error: string;
  to: string;
  as: string;
  as_address: string;
}

const COOKIE = "skicka_test_form";
/** Chosen people offered as "merge as" options without a search. */
const CHOSEN_SHOWN = 10;

const splitAddresses = (s: string) => s.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);

/**
 * The form's choice: `person:<id>`, `address` (with as_address) or "" (the first test address;
 * an address typed without ticking its choice is taken as meant).
 */
function chosenAs(choice: string, address: string): PreviewAs | undefined {
  if (choice.startsWith("person:")) return { person_id: choice.slice("person:".length) };
  if (choice === "address" || (choice === "" && address)) return { address };
  return undefined;
}

// Typing an address ticks its choice.
const PICK_SCRIPT = `(() => {
  const box = document.currentScript.closest("section");
  const radio = box.querySelector("input[name=as][value=address]");
  box.querySelector("input[name=as_address]").addEventListener("input", () => radio.checked = true);
})();`;

/** One-shot, signed, per mailing: the failed form waits for the next review page. */
async function testFormCookie(deps: AppDeps) {
  const sign = await hmacSigner(`${deps.secret}|test-form`);
  const enc = new TextEncoder();
  return {
    async set(c: Context, form: TestForm) {
      const value = base64url(enc.encode(JSON.stringify(form)));
      setCookie(c, COOKIE, `${value}.${await sign(value)}`, {
        httpOnly: true,
        sameSite: "Lax",
        secure: deps.config.cookieSecure,
        path: "/mailings",
        maxAge: 60,
      });
    },
    async take(c: Context, mailingId: string): Promise<TestForm | null> {
      const raw = getCookie(c, COOKIE);
      if (!raw) return null;
      deleteCookie(c, COOKIE, { path: "/mailings" });
      const [value = "", mac = ""] = raw.split(".");
      if (!timingSafeEqual(mac, await sign(value))) return null;
      const bytes = fromBase64url(value);
      if (!bytes) return null;
      try {
        const f = JSON.parse(new TextDecoder().decode(bytes)) as TestForm;
        return f.mailing === mailingId ? f : null;
      } catch {
        return null;
      }
    },
  };
}

interface Option {
  id: string;
  first_name: string;
  last_name: string;
  address: string | null;
}

/** The tenant's persons with these ids (unknown and malformed ids left out), in that order. */
async function personsById(deps: AppDeps, tenantId: string, ids: string[]): Promise<Option[]> {
  const wanted = ids.filter(isUuid);
  if (!wanted.length) return [];
  const rows = await deps.db.selectFrom("persons as p")
    .leftJoin(
      "person_addresses as a",
      (j) =>
        j.onRef("a.tenant_id", "=", "p.tenant_id").onRef("a.person_id", "=", "p.id")
          .on("a.is_primary", "=", true),
    )
    .select(["p.id", "p.first_name", "p.last_name", "a.address"])
    .where("p.tenant_id", "=", tenantId)
    .where("p.id", "in", wanted)
    .where("p.status", "<>", "purged")
    .execute();
  return wanted.flatMap((id) => rows.filter((r) => r.id === id));
}

const label = (p: Option) => {
  const name = `${p.first_name} ${p.last_name}`.trim();
  return name && p.address ? `${name} <${p.address}>` : name || p.address || p.id;
};

export function testSendParts(deps: AppDeps, flash: FlashStore) {
  const cookie = testFormCookie(deps);

  /** The "Send a test" card of the review page. */
  async function TestSendCard({ c, mailing: m }: { c: Context; mailing: Mailing }) {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const auth = c.get("auth");
    const failed = await (await cookie).take(c, m.id);
    const q = (c.req.query("as_q") ?? "").trim().slice(0, 200);
    const found = q
      ? (await listPersons(deps, tenant.id, { q, status: "active" }, { limit: 20 })).items
        .map((p) => ({ ...p, address: p.primary_address }))
      : [];
    const failedPerson = failed?.as.startsWith("person:") ? failed.as.slice(7) : "";
    const known = await personsById(deps, tenant.id, [
      ...(failedPerson ? [failedPerson] : []),
      ...m.recipients.persons.slice(0, CHOSEN_SHOWN),
    ]);
    const options: Option[] = [];
    for (const p of [...found, ...known]) {
      if (!options.some((o) => o.id === p.id)) options.push(p);
    }
    // Checked: what was posted last, else the first person found, else the first chosen one.
    const checked = failed
      ? failed.as
      : found[0]
      ? `person:${found[0].id}`
      : m.recipients.persons[0] && options.length
      ? `person:${m.recipients.persons[0]}`
      : "";
    const to = failed?.to ?? (auth?.kind === "user" ? auth.user.email : "");
    const review = `/mailings/${m.id}/review`;
    return (
      <section class="card stack" id="test-send" data-testid="test-send">
        <h2>{t(l, "mailui.test_send")}</h2>
        {failed?.error && (
          <p class="field-error" role="alert" data-testid="test-error">{failed.error}</p>
        )}
        <form method="get" action={`${review}#test-send`} class="row" role="search">
          <input
            type="search"
            name="as_q"
            value={q}
            placeholder={t(l, "people.search_hint")}
            aria-label={t(l, "mailui.test_find_label")}
          />
          <button type="submit" class="secondary">{t(l, "mailui.find_person")}</button>
        </form>
        <form method="post" action={`/mailings/${m.id}/test`} class="stack">
          <Csrf c={c} />
          <fieldset data-testid="test-as">
            <legend>{t(l, "mailui.test_as")}</legend>
            {q && found.length === 0 && <p class="muted">{t(l, "mailui.found_none")}</p>}
            {options.map((p) => (
              <label class="check">
                <input
                  type="radio"
                  name="as"
                  value={`person:${p.id}`}
                  checked={checked === `person:${p.id}`}
                />{" "}
                {label(p)}
              </label>
            ))}
            <label class="check">
              <input type="radio" name="as" value="address" checked={checked === "address"} />{" "}
              {t(l, "mailui.test_as_address")}{" "}
              <input
                type="email"
                name="as_address"
                value={failed?.as_address ?? ""}
                aria-label={t(l, "mailui.test_as_address")}
              />
            </label>
            <label class="check">
              <input type="radio" name="as" value="" checked={checked === ""} />{" "}
              {t(l, "mailui.test_as_first")}
            </label>
          </fieldset>
          <label>
            {t(l, "mailui.test_to")}
            <textarea name="to" rows={2}>{to}</textarea>
            <small class="muted">{t(l, "mailui.test_help")}</small>
          </label>
          <button type="submit" class="secondary">{t(l, "mailui.test_send")}</button>
        </form>
        <script>{raw(PICK_SCRIPT)}</script>
      </section>
    );
  }

  function routes(app: Hono) {
    app.post("/mailings/:id/test", async (c) => {
      const tenant = requireTenant(c);
      const l = c.get("locale");
      const id = c.req.param("id");
      await getMailing(deps, tenant.id, id);
      const form = await readForm(c);
      const toText = field(form, "to");
      // `as_person` is the card's older field, still accepted from saved pages and scripts.
      const legacy = field(form, "as_person");
      const choice = field(form, "as") || (legacy ? `person:${legacy}` : "");
      const asAddress = field(form, "as_address").trim();
      const as = chosenAs(choice, asAddress);
      const to = splitAddresses(toText);
      try {
        const r = await testSendMailing(deps, tenant.id, id, { to, as, locale: l }, actorOf(c));
        await flash.set(c, {
          kind: "ok",
          text: t(l, "mailui.test_sent", { n: r.total ?? to.length }),
        });
      } catch (err) {
        // The mailing was found above: a missing thing now is the person to merge as.
        const error = err instanceof AppError && err.code === "not_found" && as &&
            "person_id" in as
          ? t(l, "mailui.test_as_unknown")
          : errorText(c, err);
        await (await cookie).set(c, {
          mailing: id,
          error,
          // Kept short: a cookie holds about 4 KB.
          to: toText.slice(0, 1000),
          as: choice.slice(0, 100),
          as_address: asAddress.slice(0, 320),
        });
      }
      return c.redirect(`/mailings/${id}/review#test-send`, 303);
    });
  }

  return { TestSendCard, routes };
}
