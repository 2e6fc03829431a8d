/**
 * Splits a byte stream into lines, for reading a child's output as it comes.
 * @module
 */

/**
 * Calls `onLine` for each complete line of the stream, and for a last line
 * without a newline at its end.
 * @param stream the byte stream (a child's stdout or stderr)
 * @param onLine called once per line, without the newline
 * @returns resolves when the stream ends
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
  rest += decoder.decode();
  if (rest !== "") onLine(rest);
}
