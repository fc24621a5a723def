/* kvstore/lmdb: the "internal" store, one LMDB environment (a single file
 * plus its "-lock" file, mode 0600). Writes commit with LMDB's default
 * durability (a sync per commit), so an acknowledged set survives kill -9
 * and power loss. MDB_NOTLS: a read transaction is not tied to its thread,
 * as guest threads come and go. LMDB serialises writers itself; waiting
 * for its writer lock and the commit's sync are blocking waits. */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kvstore/kvstore_internal.h"
#include "util/blocking.h"

#define FILE_MODE 0600
/* Read transactions at once (LMDB's default is 126): one per guest thread
 * in get/keys, and a server may run thousands of guest threads. A slot is
 * 64 bytes of the lock file. */
#define MAX_READERS 4096

typedef struct lmdb_store {
  tarmac_kvstore_t base;
  MDB_env *env;
  MDB_dbi dbi;
  dev_t dev; /* the file's identity, for the open list */
  ino_t ino;
  struct lmdb_store *next_open;
} lmdb_store_t;

/* LMDB forbids opening one environment twice in a process (closing the
 * second file descriptor drops the first one's locks): a process-wide
 * rule, so a process-wide list of the open files enforces it. */
static pthread_mutex_t open_mutex = PTHREAD_MUTEX_INITIALIZER;
static lmdb_store_t *open_stores;

/* Under open_mutex: whether path is a file some store has open. */
static bool already_open(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  for (lmdb_store_t *l = open_stores; l; l = l->next_open)
    if (l->dev == st.st_dev && l->ino == st.st_ino) return true;
  return false;
}

/* Under open_mutex: adds an opened store to the list. */
static int remember_open(lmdb_store_t *l) {
  int fd;
  struct stat st;
  if (mdb_env_get_fd(l->env, &fd) != 0 || fstat(fd, &st) != 0) return -1;
  l->dev = st.st_dev;
  l->ino = st.st_ino;
  l->next_open = open_stores;
  open_stores = l;
  return 0;
}

static void forget_open(lmdb_store_t *l) {
  pthread_mutex_lock(&open_mutex);
  for (lmdb_store_t **p = &open_stores; *p; p = &(*p)->next_open)
    if (*p == l) {
      *p = l->next_open;
      break;
    }
  pthread_mutex_unlock(&open_mutex);
}

static tarmac_kv_result_t fail(int rc, const char *what, char *err,
                               size_t err_size) {
  snprintf(err, err_size, "lmdb %s: %s", what, mdb_strerror(rc));
  return TARMAC_KV_ERROR;
}

static tarmac_kv_result_t lmdb_get(tarmac_kvstore_t *base, const char *key,
                                   size_t key_len, tarmac_buffer_t *value,
                                   char *err, size_t err_size) {
  lmdb_store_t *l = (lmdb_store_t *)base;
  MDB_txn *txn;
  int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0) return fail(rc, "read transaction", err, err_size);
  MDB_val k = {key_len, (void *)key}, v;
  rc = mdb_get(txn, l->dbi, &k, &v);
  tarmac_kv_result_t result = TARMAC_KV_OK;
  if (rc == MDB_NOTFOUND) {
    result = TARMAC_KV_NOT_FOUND;
  } else if (rc != 0) {
    result = fail(rc, "get", err, err_size);
  } else if (tarmac_buffer_append(value, v.mv_data, v.mv_size) != 0) {
    snprintf(err, err_size, "out of memory");
    result = TARMAC_KV_ERROR;
  }
  mdb_txn_abort(txn);
  return result;
}

/* One write: put (data != NULL) or delete. */
static tarmac_kv_result_t write_txn(lmdb_store_t *l, MDB_val *k, MDB_val *v,
                                    char *err, size_t err_size) {
  MDB_txn *txn;
  tarmac_blocking_begin();
  int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
  if (rc != 0) {
    tarmac_blocking_end();
    return fail(rc, "write transaction", err, err_size);
  }
  rc = v ? mdb_put(txn, l->dbi, k, v, 0) : mdb_del(txn, l->dbi, k, NULL);
  if (rc != 0)
    mdb_txn_abort(txn);
  else
    rc = mdb_txn_commit(txn);
  tarmac_blocking_end();
  if (rc == MDB_NOTFOUND) return TARMAC_KV_NOT_FOUND;
  if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
    snprintf(err, err_size, "the internal store is full (%s): raise "
             "APP_KVSTORE_MAP_SIZE", mdb_strerror(rc));
    return TARMAC_KV_FULL;
  }
  return rc == 0 ? TARMAC_KV_OK : fail(rc, v ? "put" : "delete", err, err_size);
}

static tarmac_kv_result_t lmdb_set(tarmac_kvstore_t *base, const char *key,
                                   size_t key_len, const uint8_t *data,
                                   size_t len, char *err, size_t err_size) {
  MDB_val k = {key_len, (void *)key}, v = {len, (void *)data};
  return write_txn((lmdb_store_t *)base, &k, &v, err, err_size);
}

static tarmac_kv_result_t lmdb_del(tarmac_kvstore_t *base, const char *key,
                                   size_t key_len, char *err, size_t err_size) {
  MDB_val k = {key_len, (void *)key};
  return write_txn((lmdb_store_t *)base, &k, NULL, err, err_size);
}

static tarmac_kv_result_t lmdb_keys(tarmac_kvstore_t *base,
                                    tarmac_kv_key_fn fn, void *ctx, char *err,
                                    size_t err_size) {
  lmdb_store_t *l = (lmdb_store_t *)base;
  MDB_txn *txn;
  MDB_cursor *cur;
  int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0) return fail(rc, "read transaction", err, err_size);
  rc = mdb_cursor_open(txn, l->dbi, &cur);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return fail(rc, "cursor", err, err_size);
  }
  MDB_val k, v;
  tarmac_kv_result_t result = TARMAC_KV_OK;
  size_t n = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
       rc == 0 && n < TARMAC_KV_KEYS_MAX;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++)
    if (fn(ctx, k.mv_data, k.mv_size) != 0) {
      snprintf(err, err_size, "out of memory");
      result = TARMAC_KV_ERROR;
      break;
    }
  if (result == TARMAC_KV_OK && rc != 0 && rc != MDB_NOTFOUND)
    result = fail(rc, "cursor", err, err_size);
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  return result;
}

static void lmdb_free(tarmac_kvstore_t *base) {
  lmdb_store_t *l = (lmdb_store_t *)base;
  forget_open(l);
  mdb_env_close(l->env);
  free(l);
}

static const tarmac_kvstore_ops_t lmdb_ops = {
    lmdb_get, lmdb_set, lmdb_del, lmdb_keys, NULL, lmdb_free,
};

/* The unnamed database, created on first open. */
static int open_dbi(lmdb_store_t *l) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
  if (rc != 0) return rc;
  rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

/* Opens the environment; 0 or an LMDB error with *step naming the stage. */
static int open_env(lmdb_store_t *l, const tarmac_kvstore_config_t *c,
                    const char **step) {
  int rc = mdb_env_create(&l->env), dead = 0;
  *step = "create";
  if (rc == 0 && (rc = mdb_env_set_mapsize(l->env, c->map_size)) != 0)
    *step = "map size";
  if (rc == 0 && (rc = mdb_env_set_maxreaders(l->env, MAX_READERS)) != 0)
    *step = "readers";
  if (rc == 0 &&
      (rc = mdb_env_open(l->env, c->path, MDB_NOSUBDIR | MDB_NOTLS,
                         FILE_MODE)) != 0)
    *step = "open";
  /* Readers of processes killed while reading hold no pages hostage. */
  if (rc == 0 && (rc = mdb_reader_check(l->env, &dead)) != 0)
    *step = "reader check";
  if (rc == 0 && (rc = open_dbi(l)) != 0) *step = "open database";
  if (rc == 0 && remember_open(l) != 0) {
    *step = "identify the file";
    rc = EIO;
  }
  return rc;
}

tarmac_kvstore_t *tarmac_kvstore_lmdb_new(const tarmac_kvstore_config_t *c,
                                          char *err, size_t err_size) {
  lmdb_store_t *l = calloc(1, sizeof *l);
  if (!l) return snprintf(err, err_size, "out of memory"), NULL;
  l->base.ops = &lmdb_ops;
  const char *step = "open";
  int rc = EBUSY;
  pthread_mutex_lock(&open_mutex);
  if (!already_open(c->path)) rc = open_env(l, c, &step);
  pthread_mutex_unlock(&open_mutex);
  if (rc == 0) return &l->base;
  if (rc == EBUSY)
    snprintf(err, err_size, "key-value store %s is already open in this "
             "process", c->path);
  else
    snprintf(err, err_size, "key-value store %s: %s: %s", c->path, step,
             mdb_strerror(rc));
  if (l->env) mdb_env_close(l->env);
  free(l);
  return NULL;
}
