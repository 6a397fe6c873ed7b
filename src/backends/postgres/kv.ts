import { splitEntryKey } from '../shared/names.js';

/**
 * Parameters of the kv read of `key`. A key shaped like an entry's (`<escaped election>/<session
 * id>`) also reads that entry's value, so term.key reads as it does on etcd and memory.
 */
export function kvGetParams(key: string): [string, string | null, string | null] {
  const parts = splitEntryKey(key);
  return parts && /^[1-9][0-9]{0,17}$/.test(parts.entry)
    ? [key, parts.election, parts.entry]
    : [key, null, null];
}
