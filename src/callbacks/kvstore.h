/* callbacks/kvstore: the tarmac/kvstore/get|set|delete|keys host calls
 * (guest-contracts.md section 4, docs/callbacks.md) over a key-value store
 * (kvstore/kvstore.h). Payloads in protobuf or JSON (callbacks/encoding.h):
 *   get    KVStoreGet{key}          -> KVStoreGetResponse{status, data}
 *   set    KVStoreSet{key, data}    -> KVStoreSetResponse{status}
 *   delete KVStoreDelete{key}       -> KVStoreDeleteResponse{status}
 *   keys   KVStoreKeys{return_proto} -> KVStoreKeysResponse{status, keys}
 * Statuses: 200; 400 empty or too long key, missing data, bad payload;
 * 404 no such key (get, delete); 507 the store's size bound is reached;
 * 500 the backend failed. keys replies in JSON unless the request is a
 * protobuf KVStoreKeys with return_proto set (an empty payload is the
 * JSON form, as in Tarmac).
 *
 * The store is borrowed: it must outlive the registry. */
#ifndef TARMAC_CALLBACKS_KVSTORE_H
#define TARMAC_CALLBACKS_KVSTORE_H

#include "callbacks/registry.h"
#include "kvstore/kvstore.h"

/* Registers the four routes. 0 or -1 (out of memory). */
int tarmac_callbacks_add_kvstore(tarmac_callbacks_t *registry,
                                 tarmac_kvstore_t *store);

#endif
