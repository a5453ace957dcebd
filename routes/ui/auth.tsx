// Sign-in, sign-out and one-time password set-up pages.
import type { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { Context } from "hono";
import type { AppDeps } from "../../core/deps.ts";
import { t } from "../../core/i18n/mod.ts";
import { consumeLoginToken, login, setPassword } from "../../core/auth/login.ts";
import { createSession, deleteSession, type Subject } from "../../core/auth/sessions.ts";
import { SESSION_COOKIE } from "../../core/http/context.ts";
import { hmacSigner, timingSafeEqual } from "../../core/crypto.ts";
import { AppError } from "../../core/errors.ts";
import { Csrf, Page } from "./layout.tsx";
import { errorText, field, readForm, safeNext } from "./forms.ts";
import type { FlashStore } from "./flash.ts";

const CHOICE_TTL_MS = 5 * 60_000;

export async function authPages(app: Hono, deps: AppDeps, flash: FlashStore) {
  // When one email has several accounts, the choice travels in a short-lived signed token,
  // so the password is never put back into the page.
  const signChoice = await hmacSigner(`${deps.secret}|login-choice`);

  async function startSession(c: Context, subject: Subject) {
    const token = await createSession(deps, subject, {
      ip: clientIp(c),
      userAgent: c.req.header("user-agent"),
    });
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: "Lax",
      secure: deps.config.cookieSecure,
      path: "/",
      maxAge: Math.floor(deps.config.sessionTtlMs / 1000),
    });
  }

  function LoginForm(
    { c, email, error, next }: { c: Context; email?: string; error?: string; next?: string },
  ) {
    const l = c.get("locale");
    return (
      <div class="card narrow">
        <h1>{t(l, "login.title")}</h1>
        {error && <div class="flash error" role="alert">{error}</div>}
        <form method="post" action="/login" class="stack">
          <Csrf c={c} />
          <input type="hidden" name="next" value={next ?? ""} />
          <label>
            {t(l, "login.email")}
            <input type="email" name="email" required autocomplete="username" value={email ?? ""} />
          </label>
          <label>
            {t(l, "login.password")}
            <input type="password" name="password" required autocomplete="current-password" />
          </label>
          <button type="submit">{t(l, "login.submit")}</button>
        </form>
      </div>
    );
  }

  app.get("/login", async (c) => {
    const l = c.get("locale");
    return c.html(
      <Page c={c} deps={deps} title={t(l, "login.title")} flash={await flash.take(c)}>
        <LoginForm c={c} next={c.req.query("next")} />
      </Page>,
    );
  });

  app.post("/login", async (c) => {
    const l = c.get("locale");
    const form = await readForm(c);
    const next = safeNext(field(form, "next"));
    const choice = field(form, "choice");
    if (choice) {
      const subjects = await readChoice(choice);
      const picked = subjects?.[Number(field(form, "pick"))];
      if (!picked) throw new AppError("link_invalid");
      await startSession(c, picked);
      return c.redirect(next, 303);
    }
    const email = field(form, "email");
    try {
      const accounts = await login(deps, {
        email,
        password: field(form, "password"),
        ip: clientIp(c),
      });
      if (accounts.length === 1) {
        await startSession(c, accounts[0]!.subject);
        return c.redirect(next, 303);
      }
      const token = await makeChoice(accounts.map((a) => a.subject));
      return c.html(
        <Page c={c} deps={deps} title={t(l, "login.title")}>
          <div class="card narrow">
            <h1>{t(l, "login.choose_account")}</h1>
            <form method="post" action="/login" class="stack">
              <Csrf c={c} />
              <input type="hidden" name="choice" value={token} />
              <input type="hidden" name="next" value={next} />
              {accounts.map((a, i) => (
                <button type="submit" name="pick" value={String(i)}>{a.label}</button>
              ))}
            </form>
          </div>
        </Page>,
      );
    } catch (err) {
      const status = err instanceof AppError ? err.status : 400;
      if (err instanceof AppError) {
        for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      }
      return c.html(
        <Page c={c} deps={deps} title={t(l, "login.title")}>
          <LoginForm c={c} email={email} error={errorText(c, err)} next={next} />
        </Page>,
        status as 401,
      );
    }
  });

  app.post("/logout", async (c) => {
    const auth = c.get("auth");
    if (auth && "sessionId" in auth) await deleteSession(deps, auth.sessionId);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    await flash.set(c, { kind: "ok", text: t(c.get("locale"), "login.logged_out") });
    return c.redirect("/login", 303);
  });

  function SetupForm({ c, token, error }: { c: Context; token: string; error?: string }) {
    const l = c.get("locale");
    return (
      <div class="card narrow">
        <h1>{t(l, "password.set_title")}</h1>
        {error && <div class="flash error" role="alert">{error}</div>}
        <form method="post" action={`/password/setup/${token}`} class="stack">
          <Csrf c={c} />
          <label>
            {t(l, "password.new")} <span class="hint">{t(l, "error.password_weak")}</span>
            <input
              type="password"
              name="password"
              required
              minlength={12}
              autocomplete="new-password"
            />
          </label>
          <label>
            {t(l, "password.repeat")}
            <input
              type="password"
              name="repeat"
              required
              minlength={12}
              autocomplete="new-password"
            />
          </label>
          <button type="submit">{t(l, "password.save")}</button>
        </form>
      </div>
    );
  }

  // GET only shows the form: mail scanners that open links must not use up the token.
  app.get("/password/setup/:token", (c) => {
    const l = c.get("locale");
    return c.html(
      <Page c={c} deps={deps} title={t(l, "password.set_title")}>
        <SetupForm c={c} token={c.req.param("token")} />
      </Page>,
    );
  });

  app.post("/password/setup/:token", async (c) => {
    const l = c.get("locale");
    const token = c.req.param("token");
    const form = await readForm(c);
    const password = field(form, "password");
    let error: string | undefined;
    if (password !== field(form, "repeat")) error = t(l, "error.password_mismatch");
    else if (password.length < 12) error = t(l, "error.password_weak");
    if (!error) {
      try {
        const subject = await consumeLoginToken(deps, token);
        await setPassword(deps, subject, password);
        await startSession(c, subject);
        await flash.set(c, { kind: "ok", text: t(l, "password.saved") });
        return c.redirect("/", 303);
      } catch (err) {
        error = errorText(c, err);
      }
    }
    return c.html(
      <Page c={c} deps={deps} title={t(l, "password.set_title")}>
        <SetupForm c={c} token={token} error={error} />
      </Page>,
      400,
    );
  });

  async function makeChoice(subjects: Subject[]): Promise<string> {
    const body = btoa(JSON.stringify({ s: subjects, exp: deps.clock().getTime() + CHOICE_TTL_MS }));
    return `${body}.${await signChoice(body)}`;
  }

  async function readChoice(token: string): Promise<Subject[] | null> {
    const [body = "", mac = ""] = token.split(".");
    if (!timingSafeEqual(mac, await signChoice(body))) return null;
    const parsed = JSON.parse(atob(body)) as { s: Subject[]; exp: number };
    return parsed.exp > deps.clock().getTime() ? parsed.s : null;
  }
}

/** The peer address; X-Forwarded-For is not trusted (a proxy setting would be needed first). */
export function clientIp(c: Context): string {
  const info = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return info?.hostname ?? "unknown";
}
