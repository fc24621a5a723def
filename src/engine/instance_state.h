/* engine/instance_state: the host-side state of one instance, shared by the
 * engine and the import implementations (wapc, wasi, env). wasm2c passes a
 * pointer to this struct as the "instance" of every imported module, so
 * every import function receives it as its first argument. */
#ifndef TARMAC_ENGINE_INSTANCE_STATE_H
#define TARMAC_ENGINE_INSTANCE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

#include "engine/engine.h"
#include "runtime/memory_image.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "util/buffer.h"

typedef enum {
  TARMAC_PHASE_STARTING, /* instantiation and start-up exports */
  TARMAC_PHASE_IDLE,     /* ready for an invocation */
  TARMAC_PHASE_INVOKING, /* inside __guest_call */
  TARMAC_PHASE_DEAD,     /* trapped; never run again */
} tarmac_phase_t;

/* A guest output stream (WASI stdout/stderr) cut into log lines. */
typedef struct {
  tarmac_buffer_t pending; /* bytes after the last newline */
} tarmac_line_sink_t;

struct tarmac_instance {
  /* Must stay first; points to this struct. See tarmac_import_enter(). */
  struct tarmac_instance *self;
  tarmac_module_t *module;   /* retained */
  const char *name;          /* module's log tag (owned by module) */
  const tarmac_callbacks_t *callbacks;
  void *guest;               /* wasm2c instance struct, module-sized */
  wasm_rt_memory_t *memory;  /* the exported memory (inside guest) */
  tarmac_phase_t phase;
  uint64_t timeout_ns;       /* deadline of each guest entry */
  uint64_t memory_limit;     /* ceiling of memories it allocates */
  void *user_data;
  const void *owner;         /* tarmac_instance_set_owner; not owned */
  struct tarmac_instance *caller; /* while invoking: the instance whose
                                     call this one is nested in, or NULL */
  tarmac_snapshot_t *snapshot; /* retained; NULL unless made from one */
  tarmac_rt_restore_state_t *restore_states; /* owned; one per snapshot
                                                object (memories use it) */
  /* Whether restore must look for the pages the guest wrote (snapshot.c):
   * the thread of the last restore and its page faults then; `faulted` when
   * the guest ran elsewhere since, or nothing is known yet. */
  uint64_t restore_thread;
  uint64_t restore_faults;
  bool faulted;

  /* waPC invocation state */
  const char *op;
  size_t op_len;
  const uint8_t *payload;
  size_t payload_len;
  tarmac_buffer_t response;
  tarmac_buffer_t error;
  bool error_set;
  tarmac_buffer_t host_response; /* last host call's reply */
  tarmac_buffer_t host_error;    /* last host call's error */
  tarmac_buffer_t trap_message;

  /* WASI */
  const char *const *wasi_args;    /* NULL-terminated; owned by the engine */
  const char *const *wasi_environ; /* "KEY=VALUE", NULL-terminated */
  tarmac_line_sink_t stdout_sink;
  tarmac_line_sink_t stderr_sink;
};

/* Every host import starts with `instance = tarmac_import_enter(instance);`.
 * It checks there is stack left for host code, traps when the call's
 * deadline has passed (the deadline signal found the thread in host code),
 * and returns the real
 * instance: called directly, an import receives the instance; called through
 * a table (call_indirect), wasm2c 1.0.32 hands it instead the address of the
 * importing module's field that holds the instance pointer. Both addresses
 * hold the instance pointer in their first word (the `self` member, or the
 * field), so one load gives the instance either way. */
_Static_assert(offsetof(struct tarmac_instance, self) == 0,
               "tarmac_import_enter() reads the instance through the first "
               "word of whatever wasm2c passes");
_Static_assert(sizeof(struct tarmac_instance *) == sizeof(void *),
               "wasm2c's per-import-module field is one data pointer");

static inline struct tarmac_instance *tarmac_import_enter(
    struct tarmac_instance *passed) {
  tarmac_rt_check_host_stack();
  tarmac_rt_deadline_check(); /* a safe point: host code holds nothing yet */
  return *(struct tarmac_instance *const *)passed;
}

#endif
