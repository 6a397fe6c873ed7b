/**
 * TypeScript shapes of the etcd messages in proto/etcdserver.proto, as @grpc/proto-loader
 * decodes them here: snake_case fields, int64 as decimal strings, enums as names, bytes as Buffer.
 */

/** Metadata etcd attaches to every response. */
export interface ResponseHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

/** A stored key and its revisions. */
export interface KeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  lease: string;
}

/** A watch event. */
export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
  prev_kv: KeyValue | null;
}

/** Range request (fields we use). */
export interface RangeRequest {
  key: Buffer;
  range_end?: Buffer;
  limit?: number;
  revision?: string;
  sort_order?: 'NONE' | 'ASCEND' | 'DESCEND';
  sort_target?: 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';
  keys_only?: boolean;
  count_only?: boolean;
  min_create_revision?: string;
  max_create_revision?: string;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: string;
}

export interface PutRequest {
  key: Buffer;
  value: Buffer;
  lease?: string;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prev_kv: KeyValue | null;
}

export interface DeleteRangeRequest {
  key: Buffer;
  range_end?: Buffer;
  prev_kv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: string;
  prev_kvs: KeyValue[];
}

/** One comparison of a Txn. */
export interface Compare {
  result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
  target: 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
  key: Buffer;
  version?: string;
  create_revision?: string;
  mod_revision?: string;
  value?: Buffer;
  lease?: string;
}

/** One operation of a Txn branch. */
export type RequestOp =
  | { request_range: RangeRequest }
  | { request_put: PutRequest }
  | { request_delete_range: DeleteRangeRequest };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface ResponseOp {
  response: 'response_range' | 'response_put' | 'response_delete_range' | 'response_txn';
  response_range?: RangeResponse;
  response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse;
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchCreateRequest {
  key: Buffer;
  range_end?: Buffer;
  start_revision?: string;
  progress_notify?: boolean;
  filters?: ('NOPUT' | 'NODELETE')[];
  prev_kv?: boolean;
}

export type WatchRequest =
  | { create_request: WatchCreateRequest }
  | { cancel_request: { watch_id: string } }
  | { progress_request: Record<string, never> };

export interface WatchResponse {
  header: ResponseHeader;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  events: WatchEvent[];
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
  error: string;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: string;
  TTL: string;
  grantedTTL: string;
  keys: Buffer[];
}

export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  leader: string;
}

export interface AuthenticateResponse {
  header: ResponseHeader;
  token: string;
}

/** Names one candidate's entry in etcd's server-side election service. */
export interface LeaderKey {
  name: Buffer;
  key: Buffer;
  rev: string;
  lease: string;
}

export interface CampaignResponse {
  header: ResponseHeader;
  leader: LeaderKey | null;
}

export interface LeaderResponse {
  header: ResponseHeader;
  kv: KeyValue | null;
}

export interface LockResponse {
  header: ResponseHeader;
  key: Buffer;
}

/** Unary methods by gRPC path, with their request and response types. */
export interface UnaryMethods {
  '/etcdserverpb.KV/Range': [RangeRequest, RangeResponse];
  '/etcdserverpb.KV/Put': [PutRequest, PutResponse];
  '/etcdserverpb.KV/DeleteRange': [DeleteRangeRequest, DeleteRangeResponse];
  '/etcdserverpb.KV/Txn': [TxnRequest, TxnResponse];
  '/etcdserverpb.Lease/LeaseGrant': [{ TTL: number; ID?: string }, LeaseGrantResponse];
  '/etcdserverpb.Lease/LeaseRevoke': [{ ID: string }, { header: ResponseHeader }];
  '/etcdserverpb.Lease/LeaseTimeToLive': [{ ID: string; keys?: boolean }, LeaseTimeToLiveResponse];
  '/etcdserverpb.Maintenance/Status': [Record<string, never>, StatusResponse];
  '/etcdserverpb.Auth/Authenticate': [{ name: string; password: string }, AuthenticateResponse];
  '/v3electionpb.Election/Campaign': [{ name: Buffer; lease: string; value: Buffer }, CampaignResponse];
  '/v3electionpb.Election/Proclaim': [{ leader: LeaderKey; value: Buffer }, { header: ResponseHeader }];
  '/v3electionpb.Election/Leader': [{ name: Buffer }, LeaderResponse];
  '/v3electionpb.Election/Resign': [{ leader: LeaderKey }, { header: ResponseHeader }];
  '/v3lockpb.Lock/Lock': [{ name: Buffer; lease: string }, LockResponse];
  '/v3lockpb.Lock/Unlock': [{ key: Buffer }, { header: ResponseHeader }];
}

/** Server-streaming methods by gRPC path: [request, response]. */
export interface ServerStreamMethods {
  '/v3electionpb.Election/Observe': [{ name: Buffer }, LeaderResponse];
}

/** Bidirectional streaming methods by gRPC path: [request, response]. */
export interface StreamMethods {
  '/etcdserverpb.Watch/Watch': [WatchRequest, WatchResponse];
  '/etcdserverpb.Lease/LeaseKeepAlive': [{ ID: string }, LeaseKeepAliveResponse];
}
