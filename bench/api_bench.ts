// Per-request cost of the API's fixed path: bearer-key lookup, tenant plugins, JSON answer.
// Run: deno bench -A bench/api_bench.ts
import { bearer, seedTenant, testApp } from "../tests/helpers/app.ts";

const t = await testApp();
const { key } = await seedTenant(t, { slug: "bench-org", tier: "advanced" });
const init = bearer(key);

Deno.bench(
  "GET /api/v1/me with an API key (PGlite)",
  { group: "api", baseline: true },
  async () => {
    const res = await t.app.request("/api/v1/me", init);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.body?.cancel();
  },
);

Deno.bench("GET /healthz (no auth, no database)", { group: "api" }, async () => {
  const res = await t.app.request("/healthz");
  await res.body?.cancel();
});
