/**
 * Markdown table rows, unaligned: deno fmt pads the columns when the report is written.
 *
 * @module
 */

/** One table row. */
export function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

/** A table's header row and its alignment row ("---", or "---:" for right-aligned numbers). */
export function head(cells: string[], align: string[]): string[] {
  return [row(cells), row(align)];
}

/** The header of a table whose first column is text and the others numbers. */
export function numberHead(first: string, titles: string[]): string[] {
  return head([first, ...titles], ["---", ...titles.map(() => "---:")]);
}
