// Staff sign-in through the real UI routes: sessions, limits, expiry, sign-out and CSRF.
import assert from "node:assert/strict";
import { Browser, PASSWORD, seedTenant, testApp } from "./helpers/app.ts";
import { LOGIN_LIMITS } from "../core/auth/login.ts";

const t = await testApp();
const { email } = await seedTenant(t, { slug: "login-org" });

async function signIn(b: Browser, password = PASSWORD, who = email) {
  await b.get("/login");
  return await b.post("/login", { email: who, password });
}

Deno.test("login with the right password opens a session that reaches the home page", async () => {
  const b = new Browser(t.app);
  const res = await signIn(b);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/");
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("skicka_session="));
  assert.ok(cookie, "session cookie set");
  assert.match(cookie, /HttpOnly/i);
  assert.match(cookie, /SameSite=Lax/i);
  const home = await b.get("/");
  assert.equal(home.status, 200);
  assert.match(await home.text(), /Org login-org/);
});

Deno.test("login with a wrong password is refused and opens no session", async () => {
  const b = new Browser(t.app);
  const res = await signIn(b, "wrong password!!");
  assert.equal(res.status, 401);
  assert.match(await res.text(), /Wrong email or password/);
  assert.equal(b.cookies.has("skicka_session"), false);
  const home = await b.get("/");
  assert.equal(home.status, 303);
  assert.equal(home.headers.get("location"), "/login");
});

Deno.test("after repeated failures an account is locked out, even with the right password", async () => {
  const victim = await seedTenant(t, { slug: "limit-org" });
  const b = new Browser(t.app);
  for (let i = 0; i < LOGIN_LIMITS.perAccount; i++) {
    assert.equal((await signIn(b, `nope-${i}-password`, victim.email)).status, 401);
  }
  const locked = await signIn(b, PASSWORD, victim.email);
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers.get("retry-after")) > 0);
  assert.match(await locked.text(), /Too many attempts/);
  t.advance(LOGIN_LIMITS.windowMs + 1000);
  assert.equal((await signIn(b, PASSWORD, victim.email)).status, 303, "allowed after the window");
});

Deno.test("a session expires after SESSION_TTL_HOURS", async () => {
  const b = new Browser(t.app);
  assert.equal((await signIn(b)).status, 303);
  assert.equal((await b.get("/settings/api-keys")).status, 200);
  t.advance(t.deps.config.sessionTtlMs + 1000);
  const after = await b.get("/settings/api-keys");
  assert.equal(after.status, 303);
  assert.equal(after.headers.get("location"), "/login?next=%2Fsettings%2Fapi-keys");
});

Deno.test("logout ends the session server-side", async () => {
  const b = new Browser(t.app);
  await signIn(b);
  const stolen = b.cookies.get("skicka_session")!;
  await b.get("/");
  const out = await b.post("/logout", {});
  assert.equal(out.status, 303);
  const replay = new Browser(t.app);
  replay.cookies.set("skicka_session", stolen);
  assert.equal((await replay.get("/")).status, 303, "the old cookie no longer works");
});

Deno.test("a form post without a valid CSRF token is refused with 403", async () => {
  const b = new Browser(t.app);
  await signIn(b);
  await b.get("/settings/api-keys");
  const missing = await b.post("/settings/api-keys", { name: "k", scopes: "read" }, null);
  assert.equal(missing.status, 403);
  assert.match(await missing.text(), /form expired or came from another site/);
  const forged = await b.post("/settings/api-keys", { name: "k", scopes: "read" }, "forged");
  assert.equal(forged.status, 403);
  const noLoginCsrf = await new Browser(t.app).post("/login", { email, password: PASSWORD }, null);
  assert.equal(noLoginCsrf.status, 403, "the login form is protected too");
  const ok = await b.post("/settings/api-keys", { name: "k", scopes: "read" });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /skk_[a-z0-9]{12}_/);
});

Deno.test("after login, only local paths are followed (no open redirect)", async () => {
  const b = new Browser(t.app);
  await b.get("/login");
  const res = await b.post("/login", { email, password: PASSWORD, next: "//evil.example/x" });
  assert.equal(res.headers.get("location"), "/");
});

Deno.test("a one-time set-up link sets a password once and then is spent", async () => {
  const { createUser } = await import("../core/tenants/users.ts");
  const seeded = await seedTenant(t, { slug: "setup-org" });
  const { setupToken } = await createUser(t.deps, seeded.tenant.id, {
    email: "new@setup-org.example",
    role: "user",
  }, "test");
  const b = new Browser(t.app);
  assert.equal((await b.get(`/password/setup/${setupToken}`)).status, 200);
  const short = await b.post(`/password/setup/${setupToken}`, {
    password: "short",
    repeat: "short",
  });
  assert.equal(short.status, 400);
  const res = await b.post(`/password/setup/${setupToken}`, {
    password: PASSWORD,
    repeat: PASSWORD,
  });
  assert.equal(res.status, 303);
  assert.equal((await b.get("/")).status, 200);
  const again = new Browser(t.app);
  await again.get(`/password/setup/${setupToken}`);
  const spent = await again.post(`/password/setup/${setupToken}`, {
    password: PASSWORD,
    repeat: PASSWORD,
  });
  assert.equal(spent.status, 400);
  assert.match(await spent.text(), /invalid, used or expired/);
});

globalThis.addEventListener("unload", () => t.close());
