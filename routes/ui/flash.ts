// One-shot messages shown on the next page after a redirect, kept in a signed cookie.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { hmacSigner, timingSafeEqual } from "../../core/crypto.ts";

export interface Flash {
  kind: "ok" | "error";
  text: string;
}

const COOKIE = "skicka_flash";

export async function flashStore(secret: string, secure: boolean) {
  const sign = await hmacSigner(`${secret}|flash`);
  return {
    async set(c: Context, flash: Flash) {
      const value = btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(flash))));
      setCookie(c, COOKIE, `${value}.${await sign(value)}`, {
        httpOnly: true,
        sameSite: "Lax",
        secure,
        path: "/",
        maxAge: 60,
      });
    },
    /** Reads and clears the flash; a tampered cookie is ignored. */
    async take(c: Context): Promise<Flash | null> {
      const raw = getCookie(c, COOKIE);
      if (!raw) return null;
      deleteCookie(c, COOKIE, { path: "/" });
      const [value = "", mac = ""] = raw.split(".");
      if (!timingSafeEqual(mac, await sign(value))) return null;
      try {
        const json = new TextDecoder().decode(
          Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)),
        );
        const f = JSON.parse(json) as Flash;
        return (f.kind === "ok" || f.kind === "error") && typeof f.text === "string" ? f : null;
      } catch {
        return null;
      }
    },
  };
}
export type FlashStore = Awaited<ReturnType<typeof flashStore>>;
