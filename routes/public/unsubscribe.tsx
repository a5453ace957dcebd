// The recipient's unsubscribe endpoints under /u/<token>: RFC 8058 one-click POST (no login, no
// cookies, 200 and never a redirect) and the preference page. The signed token authorises on its
// own, so there is no session and no CSRF token; GET never changes anything, because scanners and
// mail clients prefetch links.
import type { Context, Hono } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { isLocale, type Locale, negotiateLocale, t } from "../../core/i18n/mod.ts";
import { TokenSigner } from "../../core/feedback/tokens.ts";
import {
  messageForUnsubscribe,
  unsubscribe,
  unsubscribeFromMessage,
  type UnsubscribeScope,
  unsubscribeState,
} from "../../core/feedback/unsubscribe.ts";

type Message = NonNullable<Awaited<ReturnType<typeof messageForUnsubscribe>>>;

/** Nothing cached, nothing indexed, and the token never leaks through a Referer. */
const PRIVATE = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-robots-tag": "noindex, nofollow",
};

export function unsubscribeRoutes(app: Hono, deps: AppDeps): void {
  const signer = new TokenSigner(deps.secret);

  async function load(c: Context) {
    const ref = signer.verifyMessage("unsubscribe", c.req.param("token") ?? "");
    const m = ref && await messageForUnsubscribe(deps, ref);
    if (!ref || !m) return null;
    // The person's language, else the organisation's, else what the browser asks for.
    const l: Locale = isLocale(m.person_language)
      ? m.person_language
      : isLocale(m.tenant_locale)
      ? m.tenant_locale
      : negotiateLocale(c.req.header("accept-language"), deps.config.defaultLocale);
    return { ref, m, l };
  }

  const notFound = (c: Context) =>
    c.text(t(c.get("locale"), "unsubscribe.not_found"), 404, PRIVATE);

  app.get("/u/:token", async function unsubscribePage(c) {
    const found = await load(c);
    if (!found) return notFound(c);
    const { ref, m, l } = found;
    const state = await unsubscribeState(deps, ref.tenantId, m);
    return c.html(<Preferences l={l} m={m} state={state} done={null} />, 200, PRIVATE);
  });

  app.post("/u/:token", async function unsubscribeNow(c) {
    const found = await load(c);
    if (!found) return notFound(c);
    const { ref, m, l } = found;
    let form: Record<string, unknown> = {};
    try {
      form = await c.req.parseBody();
    } catch { /* RFC 8058 mail clients send a form; anything else is still a one-click POST */ }
    const chosen = form.scope === "all" || form.scope === "type";
    let scope: UnsubscribeScope["kind"] = "all";
    if (form.scope === "all") {
      await unsubscribe(deps, { ...ref, scope: { kind: "all" }, source: "link" });
    } else {
      // One-click (and the type button) leave the mailing's list: its type, or all mass mail.
      const r = await unsubscribeFromMessage(deps, ref, chosen ? "link" : "one_click");
      scope = r.scope.kind;
    }
    if (!chosen) return c.text(t(l, "unsubscribe.one_click_done"), 200, PRIVATE);
    const state = await unsubscribeState(deps, ref.tenantId, m);
    return c.html(<Preferences l={l} m={m} state={state} done={scope} />, 200, PRIVATE);
  });
}

const CSS = "body{font-family:system-ui,sans-serif;margin:0;padding:2rem 1rem;background:#f6f6f4;" +
  "color:#1d1d1b}main{max-width:34rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;" +
  "border-radius:8px}form{margin:1.25rem 0}button{font:inherit;padding:.6rem 1rem;" +
  "border-radius:6px;border:1px solid #444;background:#1d1d1b;color:#fff;cursor:pointer}" +
  ".muted{color:#555;font-size:.95rem}.done{font-weight:600}";

function Preferences(
  { l, m, state, done }: {
    l: Locale;
    m: Message;
    state: { all: boolean; type: boolean };
    done: "all" | "type" | null;
  },
) {
  const tenant = m.tenant_name;
  const type = m.subscription_type_name;
  return (
    <html lang={l}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <title>{t(l, "unsubscribe.title")}</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <main data-testid="unsubscribe">
          <h1>{t(l, "unsubscribe.title")}</h1>
          {state.all
            ? (
              <p class="done" role="status">
                {t(l, done === "all" ? "unsubscribe.done_all" : "unsubscribe.already_all", {
                  tenant,
                })}
              </p>
            )
            : (
              <>
                {state.type && type && (
                  <p class="done" role="status">
                    {t(l, done ? "unsubscribe.done_type" : "unsubscribe.already_type", { type })}
                  </p>
                )}
                <p>{t(l, "unsubscribe.intro", { tenant, address: m.address })}</p>
                {type && !state.type && (
                  <form method="post">
                    <input type="hidden" name="scope" value="type" />
                    <button type="submit">{t(l, "unsubscribe.type_option", { type })}</button>
                    <p class="muted">{t(l, "unsubscribe.type_help", { tenant })}</p>
                  </form>
                )}
                <form method="post">
                  <input type="hidden" name="scope" value="all" />
                  <button type="submit">{t(l, "unsubscribe.all_option")}</button>
                  <p class="muted">{t(l, "unsubscribe.all_help")}</p>
                </form>
              </>
            )}
          {(state.all || state.type) && (
            <p class="muted">{t(l, "unsubscribe.resubscribe_hint", { tenant })}</p>
          )}
        </main>
      </body>
    </html>
  );
}
