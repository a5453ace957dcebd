// The one message catalogue: every user-facing string, per language, with locale-aware formatting.
import { en, type MessageKey } from "./en.ts";
import { sv } from "./sv.ts";
import { fi } from "./fi.ts";
import { da } from "./da.ts";

export type { MessageKey };
export const LOCALES = ["en", "sv", "fi", "da"] as const;
export type Locale = (typeof LOCALES)[number];

// A key not yet translated into Swedish, Finnish or Danish is shown in English.
const catalogues: Record<Locale, Record<string, string>> = {
  en: { ...en },
  sv: { ...sv } as Record<string, string>,
  fi: { ...fi } as Record<string, string>,
  da: { ...da } as Record<string, string>,
};

/** Adds a plugin's strings as "<prefix>.<key>" (called once per plugin at boot). */
export function registerMessages(
  prefix: string,
  messages: Partial<Record<Locale, Record<string, string>>>,
): void {
  for (const locale of LOCALES) {
    for (const [k, v] of Object.entries(messages[locale] ?? {})) {
      catalogues[locale][`${prefix}.${k}`] = v;
    }
  }
}

export type Params = Record<string, string | number>;

const pluralRules = new Map<Locale, Intl.PluralRules>();

/** The catalogue entry, preferring the plural form for a numeric {n}: "key.one", "key.other". */
function lookup(locale: Locale, key: string, params?: Params): string | undefined {
  const n = params?.n;
  if (typeof n === "number") {
    let rules = pluralRules.get(locale);
    if (!rules) pluralRules.set(locale, rules = new Intl.PluralRules(intlLocale(locale)));
    const form = `${key}.${rules.select(n)}`;
    const hit = catalogues[locale][form] ?? catalogues.en[form];
    if (hit) return hit;
  }
  return catalogues[locale][key] ?? catalogues.en[key];
}

/**
 * Looks up a message and fills {placeholders}; numbers are formatted for the locale. A numeric
 * `n` picks the plural form when the catalogue has one ("key.one" beside "key").
 */
// deno-lint-ignore ban-types -- keeps autocompletion of known keys while accepting any string
export function t(locale: Locale, key: MessageKey | (string & {}), params?: Params): string {
  // An unknown key shows itself, so a missing translation is visible rather than blank.
  const template = lookup(locale, key, params) ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    if (v === undefined) return whole;
    return typeof v === "number" ? formatNumber(v, locale) : v;
  });
}

export function isLocale(s: string | null | undefined): s is Locale {
  return !!s && (LOCALES as readonly string[]).includes(s);
}

/** Picks the best supported locale from an Accept-Language header. */
export function negotiateLocale(header: string | null | undefined, fallback: Locale): Locale {
  if (!header) return fallback;
  const ranked = header.split(",").map((part) => {
    const [tag = "", ...rest] = part.trim().split(";");
    const q = rest.find((r) => r.trim().startsWith("q="));
    return { tag: tag.toLowerCase(), q: q ? Number(q.trim().slice(2)) || 0 : 1 };
  }).sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    const base = tag.split("-")[0];
    if (isLocale(base)) return base;
  }
  return fallback;
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** A date and time in the user's locale and time zone (formatters cached: they are costly). */
export function formatDateTime(date: Date, locale: Locale, timeZone: string): string {
  const k = `${locale}|${timeZone}`;
  let f = dateFormats.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(intlLocale(locale), {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone,
    });
    dateFormats.set(k, f);
  }
  return f.format(date);
}

const dayFormats = new Map<Locale, Intl.DateTimeFormat>();

/** A calendar day (YYYY-MM-DD, already the reader's) as the locale writes it, with weekday. */
export function formatDay(day: string, locale: Locale): string {
  let f = dayFormats.get(locale);
  if (!f) {
    // The day is a calendar date, not an instant: formatted at UTC so no zone can shift it.
    f = new Intl.DateTimeFormat(intlLocale(locale), {
      weekday: "short",
      day: "numeric",
      month: "short",
      year: "numeric",
      timeZone: "UTC",
    });
    dayFormats.set(locale, f);
  }
  return f.format(new Date(`${day}T00:00:00Z`));
}

const numberFormats = new Map<Locale, Intl.NumberFormat>();

export function formatNumber(n: number, locale: Locale): string {
  let f = numberFormats.get(locale);
  if (!f) {
    f = new Intl.NumberFormat(intlLocale(locale));
    numberFormats.set(locale, f);
  }
  return f.format(n);
}

const percentFormats = new Map<Locale, Intl.NumberFormat>();

/** 0.125 → "12.5 %" (as the locale writes it), at most one decimal. */
export function formatPercent(fraction: number, locale: Locale): string {
  let f = percentFormats.get(locale);
  if (!f) {
    f = new Intl.NumberFormat(intlLocale(locale), { style: "percent", maximumFractionDigits: 1 });
    percentFormats.set(locale, f);
  }
  return f.format(fraction);
}

function intlLocale(locale: Locale): string {
  return { en: "en-GB", sv: "sv-SE", fi: "fi-FI", da: "da-DK" }[locale];
}

/**
 * The label of a reason a recipient was left out of a send: the core's ("unsubscribed") or a
 * plugin's ("<plugin>.<reason>", labelled by the plugin's message "exclusion.<reason>").
 */
export function exclusionLabel(locale: Locale, reason: string): string {
  const dot = reason.indexOf(".");
  return dot < 0
    ? t(locale, `sends.excluded.${reason}`)
    : t(locale, `${reason.slice(0, dot)}.exclusion.${reason.slice(dot + 1)}`);
}
