// Staff UI of typed_addresses: a card on the person's page to mark which address is the work,
// private or student one, and a card on a draft mailing's review page to send to that type.
import type { Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import type { MailingPanelContext, PersonPanelContext } from "../../core/plugin.ts";
import { t } from "../../core/i18n/mod.ts";
import { AppError } from "../../core/errors.ts";
import { actorOf, requireTenant } from "../../core/http/context.ts";
import { errorText, field, readForm } from "../../routes/ui/forms.ts";
import { flashStore } from "../../routes/ui/flash.ts";
import { ADDRESS_TYPES, type AddressType, sendOptions } from "./options.ts";
import { setMailingChoice, setTypes, typedAddresses } from "./store.ts";

const P = "typed_addresses";
const BASE = `/p/${P}`;

const typeLabel = (l: PersonPanelContext["locale"], type: string) =>
  t(l, `${P}.address_type.${type}`);

export async function personPanel(ctx: PersonPanelContext) {
  const { deps, tenant, personId, locale: l, csrf } = ctx;
  const addresses = await typedAddresses(deps, tenant.id, personId);
  if (!addresses.length) return null;
  return (
    <section class="card stack" data-testid="typed-addresses-panel">
      <h2>{t(l, `${P}.person_title`)}</h2>
      <p class="muted">{t(l, `${P}.person_help`)}</p>
      <form method="post" action={`${BASE}/persons/${personId}`} class="stack">
        <input type="hidden" name={csrf.field} value={csrf.token} />
        {addresses.map((a) => (
          <label>
            {a.address}{" "}
            <select name={`type.${a.id}`} data-address={a.address}>
              <option value="" selected={a.type === null}>{t(l, `${P}.person_none`)}</option>
              {ADDRESS_TYPES.map((type) => (
                <option value={type} selected={a.type === type}>{typeLabel(l, type)}</option>
              ))}
            </select>
          </label>
        ))}
        <div>
          <button type="submit" class="secondary">{t(l, `${P}.save`)}</button>
        </div>
      </form>
    </section>
  );
}

export function mailingPanel(ctx: MailingPanelContext) {
  const { mailing: m, locale: l, csrf } = ctx;
  let choice = null;
  try {
    choice = sendOptions(m.recipients.plugins?.[P]);
  } catch {
    choice = null; // an invalid stored choice shows as the default, and saving replaces it
  }
  const current = !choice
    ? t(l, `${P}.mailing_current_primary`)
    : t(l, choice.fallback ? `${P}.mailing_current_type_fallback` : `${P}.mailing_current_type`, {
      type: typeLabel(l, choice.type),
    });
  if (m.status !== "draft") {
    if (!choice) return Promise.resolve(null);
    return Promise.resolve(
      <section class="card" data-testid="typed-addresses-mailing">
        <p>{current}</p>
      </section>,
    );
  }
  return Promise.resolve(
    <section class="card stack" data-testid="typed-addresses-mailing">
      <h2>{t(l, `${P}.mailing_title`)}</h2>
      <p class="muted">{t(l, `${P}.mailing_help`)}</p>
      <p data-testid="typed-addresses-current">{current}</p>
      <form method="post" action={`${BASE}/mailings/${m.id}`} class="stack">
        <input type="hidden" name={csrf.field} value={csrf.token} />
        <input type="hidden" name="version" value={String(m.version)} />
        <select name="type" aria-label={t(l, `${P}.mailing_title`)}>
          <option value="" selected={!choice}>{t(l, `${P}.mailing_primary`)}</option>
          {ADDRESS_TYPES.map((type) => (
            <option value={type} selected={choice?.type === type}>
              {t(l, `${P}.mailing_type`, { type: typeLabel(l, type) })}
            </option>
          ))}
        </select>
        <label class="check">
          <input type="checkbox" name="fallback" value="yes" checked={choice?.fallback ?? false} />
          {" "}
          {t(l, `${P}.mailing_fallback`)}
        </label>
        <div>
          <button type="submit" class="secondary">{t(l, `${P}.save`)}</button>
        </div>
      </form>
    </section>,
  );
}

export function typedAddressesUi(app: Hono, deps: AppDeps): void {
  const flashes = flashStore(deps.secret, deps.config.cookieSecure);

  app.post("/persons/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    const form = await readForm(c);
    const types: Record<string, AddressType | null> = {};
    for (const [name, value] of Object.entries(form)) {
      if (!name.startsWith("type.") || typeof value !== "string") continue;
      types[name.slice(5)] = value === "" ? null : value as AddressType;
    }
    const flash = await flashes;
    try {
      const bad = Object.entries(types).filter(([, v]) =>
        v !== null && !(ADDRESS_TYPES as readonly string[]).includes(v)
      );
      if (bad.length) {
        throw new AppError(
          "validation",
          {},
          bad.map(([aid]) => ({ path: `types.${aid}`, code: "unknown_type", message: "" })),
        );
      }
      await setTypes(deps, tenant.id, id, types, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(l, `${P}.person_saved`) });
    } catch (e) {
      await flash.set(c, { kind: "error", text: errorText(c, e) });
    }
    return c.redirect(`/people/${id}`, 303);
  });

  app.post("/mailings/:id", async (c) => {
    const tenant = requireTenant(c);
    const l = c.get("locale");
    const id = c.req.param("id");
    const form = await readForm(c);
    const type = field(form, "type");
    const flash = await flashes;
    try {
      await setMailingChoice(deps, tenant.id, id, {
        version: Number(field(form, "version")),
        choice: type
          ? { type: type as AddressType, fallback: field(form, "fallback") === "yes" }
          : null,
      }, actorOf(c));
      await flash.set(c, { kind: "ok", text: t(l, `${P}.mailing_saved`) });
    } catch (e) {
      await flash.set(c, { kind: "error", text: errorText(c, e) });
    }
    return c.redirect(`/mailings/${id}/review`, 303);
  });
}
