/**
 * Absolute host paths in a text shown to a customer: `/` followed by at least two names
 * (`/srv/modeld/data/artifacts/ab12/model.onnx`, `file:///tmp/x/y`, `C:\…` is not a concern on
 * the platforms modeld runs on). A lone `/name` (an ONNX node such as `/Add`) is left alone.
 */
const HOST_PATH = /(?:file:\/\/)?(?<![\w.~-])\/(?:[^\s/:'"`()[\]{},;<>|]+\/)+([^\s/:'"`()[\]{},;<>|]*)/g;

/**
 * The text with every absolute path cut to its last name (`…/model.onnx`), for messages that
 * reach customers (import refusals, replica exit reasons): where a file lives on the host is the
 * operator's business, which file it was is the user's. Pure; idempotent.
 */
export function redactHostPaths(text: string): string {
  return text.replace(HOST_PATH, (_match, last: string) => `…/${last}`);
}
