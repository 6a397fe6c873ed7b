import * as protoLoader from '@grpc/proto-loader';
import { InternalError } from '../core/errors.js';
import { PROTO_DIR } from './proto-dir.js';

/** Serializer pair for one gRPC method. */
export interface MethodCodec {
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

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
  if (!def) throw new InternalError(`unknown gRPC method ${path}`); // paths are typed: unreachable
  return {
    serialize: (value) => def.requestSerialize(value as object),
    deserialize: (bytes) => def.responseDeserialize(bytes),
  };
}

const kv = {
  key: Buffer.from('k'),
  create_revision: '1',
  mod_revision: '1',
  version: '1',
  value: Buffer.from('v'),
  lease: '1',
};
const header = { cluster_id: '1', member_id: '1', revision: '1', raft_term: '1' };

/**
 * Messages shaped like those of a handover: a guarded txn with every op kind, and a watch response
 * with events. protobufjs compiles each type's codec on first use, which costs a few milliseconds
 * per type; paying that at connect time keeps it off the first resign and the first wake-up.
 */
const SAMPLES: [path: string, request: object, response: object][] = [
  [
    '/etcdserverpb.KV/Txn',
    {
      compare: [{ result: 'EQUAL', target: 'CREATE', key: kv.key, create_revision: '1' }],
      success: [
        { request_put: { key: kv.key, value: kv.value, lease: '1' } },
        { request_delete_range: { key: kv.key } },
        { request_range: { key: kv.key, limit: 1 } },
      ],
      failure: [],
    },
    {
      header,
      succeeded: true,
      responses: [
        { response_put: { header } },
        { response_delete_range: { header, deleted: '1' } },
        { response_range: { header, kvs: [kv], count: '1' } },
      ],
    },
  ],
  ['/etcdserverpb.KV/Range', { key: kv.key }, { header, kvs: [kv], count: '1' }],
  ['/etcdserverpb.Lease/LeaseRevoke', { ID: '1' }, { header }],
  // A leader's resign in service mode, and a waiter's wake-up there.
  [
    '/v3electionpb.Election/Resign',
    { leader: { name: kv.key, key: kv.key, rev: '1', lease: '1' } },
    { header },
  ],
  [
    '/v3electionpb.Election/Campaign',
    { name: kv.key, lease: '1', value: kv.value },
    { header, leader: { name: kv.key, key: kv.key, rev: '1', lease: '1' } },
  ],
  // Ending a term cancels the watch on its own key before the delete is sent.
  [
    '/etcdserverpb.Watch/Watch',
    { cancel_request: { watch_id: '1' } },
    { header, watch_id: '1', canceled: true },
  ],
  ['/etcdserverpb.Lease/LeaseKeepAlive', { ID: '1' }, { header, ID: '1', TTL: '1' }],
  [
    '/etcdserverpb.Watch/Watch',
    { create_request: { key: kv.key, start_revision: '1', filters: ['NOPUT'] } },
    { header, watch_id: '1', events: [{ type: 'DELETE', kv, prev_kv: null }] },
  ],
];

/** Compiles the codecs of the hot paths ahead of their first real use (see SAMPLES). */
export function warmCodecs(): void {
  for (const [path, request, response] of SAMPLES) {
    const [, service, method] = path.split('/');
    const def = (load()[service ?? ''] as Record<string, protoLoader.MethodDefinition<object, object>>)[
      method ?? ''
    ];
    if (!def) continue;
    def.requestDeserialize(def.requestSerialize(request));
    def.responseDeserialize(def.responseSerialize(response));
  }
}
