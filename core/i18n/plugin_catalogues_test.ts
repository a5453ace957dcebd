// The plugins' own message catalogues against their English: every translation keeps the keys,
// {placeholders} and plural forms of the English, and the translated plugins are complete.
import assert from "node:assert/strict";
import { installedPlugins } from "../../plugins/mod.ts";
import { type Locale, LOCALES, registerMessages, t } from "./mod.ts";

/** Plugins whose strings are translated into every language; a new key needs all of them. */
const COMPLETE = [
  "link_stats",
  "scheduling",
  "categories",
  "automation",
  "typed_addresses",
  "design_templates",
  "rss",
  "transactional",
  "webhooks",
] as const;

const translated = LOCALES.filter((l): l is Exclude<Locale, "en"> => l !== "en");

function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))].sort();
}

const withMessages = installedPlugins.filter((p) => p.messages);

Deno.test("the plugins that should be translated have messages in English", () => {
  for (const name of COMPLETE) {
    const plugin = installedPlugins.find((p) => p.name === name);
    assert.ok(plugin, `${name} is installed`);
    assert.ok(Object.keys(plugin.messages?.en ?? {}).length > 0, `${name} has English messages`);
  }
});

for (const plugin of withMessages) {
  const messages = plugin.messages!;
  const en: Record<string, string> = messages.en ?? {};

  Deno.test(`${plugin.name}: English messages are not empty`, () => {
    assert.ok(Object.keys(en).length > 0, `${plugin.name} has no English messages`);
    for (const [key, value] of Object.entries(en)) {
      assert.ok(value.trim(), `${plugin.name} en ${key} is empty`);
    }
  });

  for (const locale of translated) {
    const catalogue = messages[locale];
    if (!catalogue) continue;
    Deno.test(`${plugin.name} ${locale}: keys exist in English, keep their placeholders, not empty`, () => {
      const stale = Object.keys(catalogue).filter((k) => !(k in en));
      assert.deepEqual(stale, [], `${plugin.name} ${locale} has keys English does not have`);
      for (const [key, value] of Object.entries(catalogue)) {
        assert.equal(typeof value, "string", `${plugin.name} ${locale} ${key}`);
        assert.ok(value.trim(), `${plugin.name} ${locale} ${key} is empty`);
        assert.deepEqual(
          placeholders(value),
          placeholders(en[key]!),
          `${plugin.name} ${locale} ${key}: placeholders`,
        );
      }
    });

    Deno.test(`${plugin.name} ${locale}: plural forms come with their base, as in English`, () => {
      for (const key of Object.keys(en)) {
        if (!key.endsWith(".one")) continue;
        const base = key.slice(0, -".one".length);
        if (catalogue[base]) {
          assert.ok(catalogue[key], `${plugin.name} ${locale} translates ${base} but not ${key}`);
        }
      }
    });
  }
}

for (const name of COMPLETE) {
  Deno.test(`${name}: translated completely into ${translated.join(", ")}`, () => {
    const messages = installedPlugins.find((p) => p.name === name)?.messages ?? {};
    const keys = Object.keys(messages.en ?? {});
    for (const locale of translated) {
      const catalogue = messages[locale] ?? {};
      const missing = keys.filter((k) => !catalogue[k]?.trim());
      assert.deepEqual(missing, [], `${name} ${locale} lacks these keys`);
    }
  });
}

Deno.test("plugin messages reach t() in the reader's language", () => {
  for (const name of COMPLETE) {
    const plugin = installedPlugins.find((p) => p.name === name)!;
    registerMessages(plugin.name, plugin.messages!);
  }
  assert.equal(
    t("sv", "scheduling.scheduled_ok", { at: "5 mars 2026 15:07" }),
    "Schemalagt till 5 mars 2026 15:07.",
  );
  assert.equal(t("fi", "categories.created", { name: "Alumni" }), "Kategoria ”Alumni” lisätty.");
  assert.equal(t("da", "automation.panel_waiting", { days: 30 }), "Karensperiode: 30 dage");
  assert.equal(t("en", "link_stats.title"), "Clicks per link");
  // The transactional plugin merges its SMTP credential strings into every language.
  assert.equal(t("fi", "transactional.smtp_nav"), "SMTP-tunnukset");
  assert.equal(t("sv", "webhooks.retried", { n: 1 }), "1 händelse skickas igen nu.");
});
