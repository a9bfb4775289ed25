/** Untrusted text made safe for a terminal: control characters (escape sequences, newlines) become spaces. */
export function clean(text: string): string {
  return text.replace(CONTROL_RE, ' ')
}

/** Left-aligned columns separated by two spaces; cells are single-line (control characters replaced). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => row.map(clean))
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)))
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

// Cells hold untrusted text (subject names signed by anyone): no escape sequences reach the terminal.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g
