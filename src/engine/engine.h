/* engine: turns a WebAssembly module into loaded native code and runs waPC
 * invocations on instances of it. This is the one public interface the CLI
 * and the server use; everything behind it (translation, cache, runtime,
 * imports) may change.
 *
 *   tarmac_engine_t    configuration shared by modules (cache, compiler,
 *                      limits, host callbacks). Read-only once created,
 *                      but for the failed loads it remembers (under a
 *                      lock); usable from any thread.
 *   tarmac_module_t    a compiled, loaded module. Reference-counted; shared by
 *                      all its instances on any thread.
 *   tarmac_instance_t  one guest state (memory, tables, globals). Used by one
 *                      thread at a time. After a trap it is dead: invoke
 *                      refuses it and the owner frees it.
 *   tarmac_snapshot_t  a module's instance state right after start-up,
 *                      from which fresh instances are made and to which
 *                      they are restored. Reference-counted (instances
 *                      made from it hold a reference); read-only, shared
 *                      by any thread. */
#ifndef TARMAC_ENGINE_ENGINE_H
#define TARMAC_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callbacks/registry.h"

typedef struct tarmac_engine tarmac_engine_t;
typedef struct tarmac_module tarmac_module_t;
typedef struct tarmac_instance tarmac_instance_t;
typedef struct tarmac_snapshot tarmac_snapshot_t;

/* Why creating an instance or a snapshot failed, where the caller acts on
 * it. Only those functions set `kind`; elsewhere it is not written. */
typedef enum {
  TARMAC_ERROR_OTHER = 0,
  TARMAC_ERROR_OVER_BUDGET, /* the process guest memory budget is spent:
                               try again later (HTTP 503) */
  TARMAC_ERROR_NO_SNAPSHOT, /* the module cannot be snapshotted */
  TARMAC_ERROR_POOL_EXHAUSTED, /* server/pool: every instance of the
                                  function stayed busy for the whole wait
                                  (HTTP 503) */
} tarmac_error_kind_t;

/* Error text for the caller to show; always NUL-terminated. */
typedef struct {
  char message[1024];
  tarmac_error_kind_t kind;
  int trap; /* tarmac_instance_new: the trap that failed start-up, else 0 */
} tarmac_error_t;

typedef struct {
  const char *cache_dir;         /* NULL: $TARMAC_CACHE_DIR, else
                                    $XDG_CACHE_HOME/tarmac, else
                                    $HOME/.cache/tarmac; none of them is
                                    an error. Must be ours and writable by
                                    no one else (engine/cache.h). */
  const char *cc;                /* NULL: $CC, else "cc" */
  const char *wasm2c;            /* NULL: $TARMAC_WASM2C, else "wasm2c" */
  uint64_t memory_limit;         /* per-instance memory ceiling in bytes;
                                    0 = TARMAC_RT_DEFAULT_MEMORY_LIMIT */
  uint32_t timeout_ms;           /* deadline of every guest entry: an
                                    invocation, or an instance's whole
                                    start-up; 0 =
                                    TARMAC_ENGINE_DEFAULT_TIMEOUT_MS. A
                                    guest past it is stopped and traps
                                    with TARMAC_TRAP_DEADLINE. */
  const tarmac_callbacks_t *callbacks; /* host-call routes; NULL = none.
                                    Must outlive the engine. */
  const char *const *wasi_args;    /* WASI argv, NULL-terminated; NULL =
                                      none. Copied. */
  const char *const *wasi_environ; /* WASI environment "KEY=VALUE",
                                      NULL-terminated; NULL = none. Copied. */
} tarmac_engine_config_t;

/* 30 s: the usual gateway timeout in front of HTTP services, so a client
 * behind one gets nothing later anyway; long enough for honest slow work
 * (a cold cache, a slow host call) by orders of magnitude. */
#define TARMAC_ENGINE_DEFAULT_TIMEOUT_MS 30000u

/* Limits of one function's instances, where they differ from the
 * engine's: 0 in a field = the engine's value. Given to an instance or a
 * snapshot when it is made; instances made from a snapshot carry the
 * snapshot's. One module may serve several functions with different
 * limits (load it once: limits live in instances and snapshots, not in
 * the module). */
typedef struct {
  uint32_t timeout_ms;   /* deadline of every guest entry (start-up, each
                            invoke); nested calls keep the caller's
                            deadline when it is earlier */
  uint64_t memory_limit; /* ceiling of each linear memory, bytes */
} tarmac_limits_t;

/* Load failure classes (for exit codes and messages). */
typedef enum {
  TARMAC_LOAD_OK = 0,
  TARMAC_LOAD_IO,          /* cannot read the file / cache */
  TARMAC_LOAD_NOT_WASM,    /* bad magic or version */
  TARMAC_LOAD_INVALID,     /* malformed or invalid module */
  TARMAC_LOAD_IMPORT,      /* unknown import or wrong import signature */
  TARMAC_LOAD_EXPORT,      /* no __guest_call / memory, or wrong signature */
  TARMAC_LOAD_TOOLCHAIN,   /* wasm2c or the C compiler missing or failing */
} tarmac_load_status_t;

/* Fails (NULL, err set) when the cache directory cannot be had or is not
 * trusted, or wasm2c is missing or not TARMAC_WASM2C_REQUIRED_VERSION. */
tarmac_engine_t *tarmac_engine_new(const tarmac_engine_config_t *config,
                                   tarmac_error_t *err);
void tarmac_engine_free(tarmac_engine_t *engine);
const char *tarmac_engine_cache_dir(const tarmac_engine_t *engine);

/* Compiles (or finds in the cache) and loads the module at `path`. `name`
 * tags the module's log lines (NULL: the file's base name). A module that
 * failed to compile or load is not tried again: this engine remembers the
 * failure, and a failure that is the module's own under this toolchain is
 * recorded in the cache next to where its artifact would be, so later
 * processes report it without compiling. */
tarmac_load_status_t tarmac_module_load(tarmac_engine_t *engine,
                                        const char *path, const char *name,
                                        tarmac_module_t **out,
                                        tarmac_error_t *err);
/* Same, from bytes already in memory. */
tarmac_load_status_t tarmac_module_load_bytes(tarmac_engine_t *engine,
                                              const uint8_t *bytes, size_t len,
                                              const char *name,
                                              tarmac_module_t **out,
                                              tarmac_error_t *err);
/* Compiles into the cache without loading; writes the artifact's path into
 * artifact_path (size bytes). */
tarmac_load_status_t tarmac_module_compile(tarmac_engine_t *engine,
                                           const char *path,
                                           char *artifact_path, size_t size,
                                           tarmac_error_t *err);
void tarmac_module_retain(tarmac_module_t *module);
void tarmac_module_release(tarmac_module_t *module);
const char *tarmac_module_name(const tarmac_module_t *module);
/* Path of the loaded native artifact. */
const char *tarmac_module_artifact(const tarmac_module_t *module);

/* Creates an instance: allocates its state, instantiates under trap
 * protection (the module's start section runs here), then runs the exports
 * _start, _initialize and wapc_init in that order when present, all under
 * one deadline (the engine's timeout). proc_exit(0)
 * during start-up counts as a normal return. Returns NULL with err set when
 * instantiation traps or memory cannot be had. */
tarmac_instance_t *tarmac_instance_new(tarmac_module_t *module,
                                       tarmac_error_t *err);
/* Same under `limits` (NULL: the engine's) instead of the engine's. */
tarmac_instance_t *tarmac_instance_new_limited(tarmac_module_t *module,
                                               const tarmac_limits_t *limits,
                                               tarmac_error_t *err);
void tarmac_instance_free(tarmac_instance_t *instance);

/* Starts one instance as tarmac_instance_new does and keeps its state
 * (memory as a copy-on-write image, globals, tables); the instance itself
 * is freed. NULL with err set when start-up fails, or with err->kind
 * TARMAC_ERROR_NO_SNAPSHOT when the module keeps references in globals
 * (they cannot be relocated). The caller owns the one reference. */
tarmac_snapshot_t *tarmac_snapshot_new(tarmac_module_t *module,
                                       tarmac_error_t *err);
/* Same, started under `limits` (NULL: the engine's); every instance made
 * from the snapshot runs under them too. */
tarmac_snapshot_t *tarmac_snapshot_new_limited(tarmac_module_t *module,
                                               const tarmac_limits_t *limits,
                                               tarmac_error_t *err);
void tarmac_snapshot_retain(tarmac_snapshot_t *snapshot);
void tarmac_snapshot_release(tarmac_snapshot_t *snapshot);
/* A new instance in the snapshot's state, without running start-up again.
 * The memory ceiling applies. NULL with err set (err->kind
 * TARMAC_ERROR_OVER_BUDGET when the process budget is spent). */
tarmac_instance_t *tarmac_instance_from_snapshot(tarmac_snapshot_t *snapshot,
                                                 tarmac_error_t *err);
/* Puts an idle instance made from a snapshot back into the snapshot's
 * state: memory, globals, tables, and the host side (waPC buffers, user
 * data). False when it cannot (dead, not from a snapshot, or the memory
 * could not be reset): the owner frees it. */
bool tarmac_instance_restore(tarmac_instance_t *instance);
/* Whether the instance was last restored on the calling thread: running
 * it here next lets its next restore skip looking for the pages the
 * request wrote (snapshot.c), so a pool prefers such an instance. */
bool tarmac_instance_restored_here(const tarmac_instance_t *instance);

typedef enum {
  TARMAC_CALL_OK = 0,      /* result = response bytes */
  TARMAC_CALL_GUEST_ERROR, /* result = the guest's error message */
  TARMAC_CALL_TRAP,        /* result = "<trap name>[: detail]"; instance
                              dead. trap TARMAC_TRAP_DEADLINE (runtime.h):
                              the guest ran past the engine's timeout */
  TARMAC_CALL_DEAD,        /* the instance trapped earlier, or is inside
                              a call already (re-entry); not run */
} tarmac_call_status_t;

typedef struct {
  tarmac_call_status_t status;
  int trap;                /* trap kind when status is TARMAC_CALL_TRAP */
  const uint8_t *data;     /* owned by the instance; valid until the next
                              invoke or free */
  size_t len;
} tarmac_call_result_t;

/* Invokes operation `op` with `payload` (waPC __guest_call) under the
 * instance's timeout (its limits, else the engine's).
 *
 * Nested calls: a host callback running inside instance A's call may
 * invoke another instance B on the same thread (never A itself: that is
 * refused with TARMAC_CALL_DEAD). B's trap of any kind ends B's call only;
 * A's waPC state is A's own. B's deadline is the earlier of its own
 * timeout and A's; when A's passes during B, B traps with
 * TARMAC_TRAP_DEADLINE and A traps at its next safe point (its next host
 * import, or at once in guest code). B shares the thread's native stack:
 * entered with less than TARMAC_ENGINE_NESTED_STACK_RESERVE left, B is not
 * run and the call ends as a trap WASM_RT_TRAP_EXHAUSTION (B dead); deep
 * recursion inside B traps B with the same kind. */
tarmac_call_status_t tarmac_instance_invoke(tarmac_instance_t *instance,
                                            const char *op, size_t op_len,
                                            const uint8_t *payload,
                                            size_t payload_len,
                                            tarmac_call_result_t *result);
bool tarmac_instance_alive(const tarmac_instance_t *instance);

/* Stack a nested invoke needs left to run its guest at all: twice what a
 * host import needs (runtime.h), so the guest keeps as much for itself as
 * its imports need below it. */
#define TARMAC_ENGINE_NESTED_STACK_RESERVE (512u * 1024u)
/* How many tarmac_instance_invoke calls are in progress on the calling
 * thread: 0 outside any guest, 1 inside a host callback of a top-level
 * call, 2 inside one of a nested call, ... One thread-local load. */
unsigned tarmac_instance_depth(void);
/* Tags an instance with its owner (e.g. the pool it belongs to; NULL, the
 * default: none). Kept across restores. */
void tarmac_instance_set_owner(tarmac_instance_t *instance, const void *owner);
/* How many of the instances in a call on this thread (the chain of nested
 * calls the caller is inside) are tagged `owner`: a pool whose every
 * instance is in the chain cannot get one back by waiting. Walks the
 * chain: as cheap as the depth is small. */
unsigned tarmac_instance_chain_count(const void *owner);
tarmac_module_t *tarmac_instance_module(const tarmac_instance_t *instance);
/* Opaque per-instance pointer for callbacks (e.g. the current request). */
void tarmac_instance_set_user_data(tarmac_instance_t *instance, void *data);
void *tarmac_instance_user_data(const tarmac_instance_t *instance);

#endif
