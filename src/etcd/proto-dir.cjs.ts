import { join } from 'node:path';

// The CommonJS build's stand-in for proto-dir.ts: this file ends up in dist/cjs/etcd/, three levels
// below proto/.
/** Directory of the etcd .proto files shipped with the package. */
export const PROTO_DIR = join(__dirname, '../../../proto/');
