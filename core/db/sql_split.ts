// Splits a SQL script into statements: both drivers run one statement per extended-protocol query.

/** Splits on semicolons outside quotes, dollar-quoted bodies and comments. */
export function splitSql(script: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === "-" && next === "-") {
      const end = script.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (c === "/" && next === "*") {
      const end = script.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      i++;
      while (i < n) {
        if (script[i] === c) {
          if (script[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i));
      if (tag) {
        const end = script.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      } else i++;
    } else if (c === ";") {
      push(script.slice(start, i));
      start = ++i;
    } else i++;
  }
  push(script.slice(start));
  return out;

  function push(stmt: string) {
    const withoutComments = stmt.replace(/--[^\n]*/g, "").trim();
    if (withoutComments) out.push(stmt.trim());
  }
}
