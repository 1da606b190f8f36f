/** A time as Go's encoding/json writes it (RFC 3339, fraction without trailing zeros), as BuildKit and Docker record image times. */
export function rfc3339(milliseconds: number): string {
  return new Date(milliseconds).toISOString().replace(/\.?0+Z$/, 'Z');
}
