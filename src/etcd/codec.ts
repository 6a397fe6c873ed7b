import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** Serializer pair for one gRPC method. */
export interface MethodCodec {
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

// proto/ sits two levels above both src/etcd/ and dist/etcd/, so one relative URL serves both.
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

let definitions: protoLoader.PackageDefinition | undefined;

function load(): protoLoader.PackageDefinition {
  definitions ??= protoLoader.loadSync(['etcdserver.proto', 'concurrency.proto', 'lock.proto'], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return definitions;
}

/** Returns the codec for a method path such as "/etcdserverpb.KV/Range". */
export function codecFor(path: string): MethodCodec {
  const [, service, method] = path.split('/');
  const serviceDef = load()[service ?? ''] as
    Record<string, protoLoader.MethodDefinition<object, object>> | undefined;
  const def = serviceDef?.[method ?? ''];
  if (!def) throw new Error(`unknown gRPC method ${path}`);
  return {
    serialize: (value) => def.requestSerialize(value as object),
    deserialize: (bytes) => def.responseDeserialize(bytes),
  };
}
