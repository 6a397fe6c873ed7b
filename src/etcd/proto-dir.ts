import { fileURLToPath } from 'node:url';

// proto/ sits two levels above both src/etcd/ and dist/etcd/, so one relative URL serves both.
// The CommonJS build compiles proto-dir.cjs.ts in this file's place (moduleSuffixes in
// tsconfig.cjs.json), since import.meta does not exist there.
/** Directory of the etcd .proto files shipped with the package. */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
