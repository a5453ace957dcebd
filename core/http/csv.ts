// CSV written for spreadsheets: one cell at a time.

/** A cell as spreadsheet programs read it safely: quoted when needed, formulas defused. */
export function csvCell(value: string): string {
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n;]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}
