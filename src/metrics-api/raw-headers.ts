/**
 * Reading a request header without `request.headers`: on an HTTP/1.1 request node:http builds that
 * object on first use, one entry per header line, which costs more than the rest of a metric read.
 * `rawHeaders` is there already on both protocols (names as sent on HTTP/1.1, lower case on h2).
 */

/** The first value of the header `lowerCaseName`, as node:http keeps it for `authorization`. */
export function firstHeaderValue(rawHeaders: readonly string[], lowerCaseName: string): string | undefined {
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index] ?? '';
    if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName)
      return rawHeaders[index + 1];
  }
  return undefined;
}
