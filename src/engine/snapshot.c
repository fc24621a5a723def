/* Snapshots: an instance's state right after start-up, from which fresh
 * instances are made and to which they are restored (engine.h; design in
 * docs/architecture.md, "Fresh instances").
 *
 * The wasm2c instance struct is copied whole, then the fields that hold
 * addresses are rewritten for the instance it is applied to. Which fields
 * those are is known exactly, never guessed from their contents:
 *  - memories and tables: recorded by the runtime while the template was
 *    instantiated (tarmac_rt_record_allocations); each instance keeps its
 *    own storage, only sizes and contents come from the snapshot;
 *  - import module instance pointers: offsets the generated glue took from
 *    the compiler (descriptor->import_instance_offsets);
 *  - funcref elements: their module_instance points into the template's
 *    struct (wasm2c passes the struct, or the address of an import pointer
 *    field in it), so it is moved by the same distance as the struct;
 *  - globals holding references would need the same, but nothing says where
 *    they are: modules with such globals get no snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/instance_state.h"
#include "runtime/memory_image.h"
#include "runtime/runtime.h"

typedef struct {
  size_t offset;                   /* in the instance struct */
  tarmac_rt_allocation_kind_t kind;
  tarmac_rt_image_t *image;        /* memories: owned */
  void *elements;                  /* tables: owned copy of `size` elements */
  uint32_t size;
} snapshot_object_t;

struct tarmac_snapshot {
  atomic_int references;
  tarmac_module_t *module;  /* retained */
  uint8_t *guest;           /* the instance struct after start-up; owned */
  uintptr_t template_base;  /* where it lived: relocation distance only */
  snapshot_object_t objects[TARMAC_RT_MAX_RECORDED];
  uint32_t object_count;
  tarmac_limits_t limits;   /* given to every instance made from it */
};

static size_t element_size(tarmac_rt_allocation_kind_t kind) {
  return kind == TARMAC_RT_ALLOC_FUNCREF_TABLE ? sizeof(wasm_rt_funcref_t)
                                               : sizeof(wasm_rt_externref_t);
}

/* A table object's element pointer and size, whatever its kind. */
static void **table_data(void *table, tarmac_rt_allocation_kind_t kind) {
  return kind == TARMAC_RT_ALLOC_FUNCREF_TABLE
             ? (void **)&((wasm_rt_funcref_table_t *)table)->data
             : (void **)&((wasm_rt_externref_table_t *)table)->data;
}

static uint32_t table_size(const void *table, tarmac_rt_allocation_kind_t kind) {
  return kind == TARMAC_RT_ALLOC_FUNCREF_TABLE
             ? ((const wasm_rt_funcref_table_t *)table)->size
             : ((const wasm_rt_externref_table_t *)table)->size;
}

static int unsupported(tarmac_error_t *err, const char *name, const char *why) {
  err->kind = TARMAC_ERROR_NO_SNAPSHOT;
  snprintf(err->message, sizeof err->message,
           "%s cannot be snapshotted: %s", name, why);
  return -1;
}

/* Copies one recorded memory or table of the started template. */
static int capture_object(snapshot_object_t *o, const void *object,
                          tarmac_error_t *err) {
  if (o->kind == TARMAC_RT_ALLOC_MEMORY) {
    o->image = tarmac_rt_image_new(object, err->message, sizeof err->message);
    if (!o->image && tarmac_rt_memory_budget())
      err->kind = TARMAC_ERROR_OVER_BUDGET;
    return o->image ? 0 : -1;
  }
  o->size = table_size(object, o->kind);
  size_t bytes = (size_t)o->size * element_size(o->kind);
  o->elements = malloc(bytes ? bytes : 1);
  if (!o->elements) {
    snprintf(err->message, sizeof err->message, "out of memory");
    return -1;
  }
  if (bytes)
    memcpy(o->elements, *table_data((void *)object, o->kind), bytes);
  return 0;
}

static int capture(tarmac_snapshot_t *snap, const tarmac_instance_t *tmpl,
                   const tarmac_rt_allocations_t *rec, tarmac_error_t *err) {
  size_t size = snap->module->descriptor->instance_size;
  if (rec->overflow)
    return unsupported(err, tmpl->name, "too many memories and tables");
  snap->guest = malloc(size);
  if (!snap->guest) {
    snprintf(err->message, sizeof err->message, "out of memory");
    return -1;
  }
  memcpy(snap->guest, tmpl->guest, size);
  snap->template_base = (uintptr_t)tmpl->guest;
  for (uint32_t i = 0; i < rec->count; i++) {
    uintptr_t at = (uintptr_t)rec->objects[i];
    if (at - snap->template_base >= size)
      return unsupported(err, tmpl->name, "a memory or table outside it");
    snapshot_object_t *o = &snap->objects[snap->object_count++];
    o->offset = at - snap->template_base;
    o->kind = rec->kinds[i];
    if (capture_object(o, rec->objects[i], err) != 0) return -1;
  }
  return 0;
}

tarmac_snapshot_t *tarmac_snapshot_new(tarmac_module_t *module,
                                       tarmac_error_t *err) {
  return tarmac_snapshot_new_limited(module, NULL, err);
}

tarmac_snapshot_t *tarmac_snapshot_new_limited(tarmac_module_t *module,
                                               const tarmac_limits_t *limits,
                                               tarmac_error_t *err) {
  err->kind = TARMAC_ERROR_OTHER;
  if (module->descriptor->reference_globals) {
    unsupported(err, module->name, "a global holds a reference");
    return NULL;
  }
  tarmac_rt_allocations_t rec;
  tarmac_rt_record_allocations(&rec);
  tarmac_instance_t *tmpl = tarmac_instance_new_limited(module, limits, err);
  tarmac_rt_record_allocations(NULL);
  if (!tmpl) return NULL;
  tarmac_snapshot_t *snap = calloc(1, sizeof *snap);
  if (!snap) {
    snprintf(err->message, sizeof err->message, "out of memory");
    tarmac_instance_free(tmpl);
    return NULL;
  }
  atomic_init(&snap->references, 1);
  if (limits) snap->limits = *limits;
  snap->module = module;
  tarmac_module_retain(module);
  int rc = capture(snap, tmpl, &rec, err);
  tarmac_instance_free(tmpl);
  if (rc != 0) {
    tarmac_snapshot_release(snap);
    return NULL;
  }
  return snap;
}

void tarmac_snapshot_retain(tarmac_snapshot_t *snapshot) {
  atomic_fetch_add(&snapshot->references, 1);
}

void tarmac_snapshot_release(tarmac_snapshot_t *snap) {
  if (!snap || atomic_fetch_sub(&snap->references, 1) != 1) return;
  for (uint32_t i = 0; i < snap->object_count; i++) {
    tarmac_rt_image_free(snap->objects[i].image);
    free(snap->objects[i].elements);
  }
  free(snap->guest);
  tarmac_module_release(snap->module);
  free(snap);
}

/* Resets a memory or resizes a table's storage to the snapshot's size, and
 * returns the storage this instance keeps (NULL: failed). */
static void *reset_storage(tarmac_instance_t *inst, uint32_t index) {
  const snapshot_object_t *o = &inst->snapshot->objects[index];
  void *object = (uint8_t *)inst->guest + o->offset;
  if (o->kind == TARMAC_RT_ALLOC_MEMORY) {
    wasm_rt_memory_t *mem = object;
    return tarmac_rt_memory_restore(mem, o->image,
                                    &inst->restore_states[index],
                                    inst->faulted) == 0
               ? mem->data
               : NULL;
  }
  void **data = table_data(object, o->kind);
  size_t bytes = (size_t)o->size * element_size(o->kind);
  void *resized = realloc(*data, bytes ? bytes : 1);
  if (resized) *data = resized;
  return resized;
}

/* Copies a table's elements back; funcrefs into the template move to this
 * instance's struct. */
static void restore_elements(const tarmac_snapshot_t *snap,
                             const snapshot_object_t *o, void *data,
                             uint8_t *guest) {
  size_t size = snap->module->descriptor->instance_size;
  memcpy(data, o->elements, (size_t)o->size * element_size(o->kind));
  if (o->kind != TARMAC_RT_ALLOC_FUNCREF_TABLE) return;
  wasm_rt_funcref_t *elements = data;
  for (uint32_t i = 0; i < o->size; i++) {
    uintptr_t delta =
        (uintptr_t)elements[i].module_instance - snap->template_base;
    if (elements[i].module_instance && delta < size)
      elements[i].module_instance = guest + delta;
  }
}

/* Notes whether the guest may have written pages restore has not seen.
 * A page becomes a private copy only through a fault on the thread writing
 * it; the guest runs on the thread that invokes it, and invoke marks the
 * instance when that is not the thread of the last restore. So with the
 * same thread and the same fault count as at the last restore (a count
 * that covers the restore's own work too), no new page was written. One
 * system call instead of reading the page map. */
static void note_faults(tarmac_instance_t *inst) {
  uint64_t thread = tarmac_rt_thread_id(), faults = tarmac_rt_thread_faults();
  if (thread != inst->restore_thread || faults == UINT64_MAX ||
      faults != inst->restore_faults)
    inst->faulted = true;
  inst->restore_thread = thread;
  inst->restore_faults = faults;
}

/* Puts inst's wasm2c state into the snapshot's state. -1: the instance's
 * state is undefined and it must be freed. */
static int apply(tarmac_instance_t *inst) {
  const tarmac_snapshot_t *snap = inst->snapshot;
  const tarmac_module_descriptor_t *d = snap->module->descriptor;
  uint8_t *guest = inst->guest;
  void *kept[TARMAC_RT_MAX_RECORDED];
  note_faults(inst);
  for (uint32_t i = 0; i < snap->object_count; i++) {
    kept[i] = reset_storage(inst, i);
    if (!kept[i]) return -1;
  }
  inst->faulted = false;
  memcpy(guest, snap->guest, d->instance_size);
  for (uint32_t i = 0; i < d->import_module_count; i++)
    if (d->import_instance_offsets[i] != SIZE_MAX)
      memcpy(guest + d->import_instance_offsets[i], &inst, sizeof inst);
  for (uint32_t i = 0; i < snap->object_count; i++) {
    const snapshot_object_t *o = &snap->objects[i];
    void *object = guest + o->offset;
    if (o->kind == TARMAC_RT_ALLOC_MEMORY) {
      ((wasm_rt_memory_t *)object)->data = kept[i];
      continue;
    }
    *table_data(object, o->kind) = kept[i];
    restore_elements(snap, o, kept[i], guest);
  }
  return 0;
}

/* Gives a zeroed instance struct its own memories (from the images) and
 * empty tables, at the places the template had them. */
static void build_storage(void *arg) {
  tarmac_instance_t *inst = arg;
  const tarmac_snapshot_t *snap = inst->snapshot;
  for (uint32_t i = 0; i < snap->object_count; i++) {
    const snapshot_object_t *o = &snap->objects[i];
    void *object = (uint8_t *)inst->guest + o->offset;
    const void *original = snap->guest + o->offset;
    if (o->kind == TARMAC_RT_ALLOC_MEMORY)
      tarmac_rt_memory_from_image(
          object, o->image, ((const wasm_rt_memory_t *)original)->max_pages);
    else if (o->kind == TARMAC_RT_ALLOC_FUNCREF_TABLE)
      wasm_rt_allocate_funcref_table(object, 0, 0);
    else
      wasm_rt_allocate_externref_table(object, 0, 0);
  }
}

tarmac_instance_t *tarmac_instance_from_snapshot(tarmac_snapshot_t *snap,
                                                 tarmac_error_t *err) {
  tarmac_instance_t *inst = tarmac_instance_alloc(snap->module, err);
  if (!inst) return NULL;
  tarmac_instance_set_limits(inst, &snap->limits);
  tarmac_snapshot_retain(snap);
  inst->snapshot = snap;
  inst->faulted = true; /* nothing known yet of its pages */
  inst->restore_states = calloc(snap->object_count ? snap->object_count : 1,
                                sizeof *inst->restore_states);
  if (!inst->restore_states) {
    snprintf(err->message, sizeof err->message, "out of memory");
    tarmac_instance_free(inst);
    return NULL;
  }
  int trap = tarmac_instance_run_limited(inst, build_storage, inst);
  if (trap != WASM_RT_TRAP_NONE) {
    if (trap == TARMAC_TRAP_MEMORY_BUDGET) err->kind = TARMAC_ERROR_OVER_BUDGET;
    snprintf(err->message, sizeof err->message,
             "cannot create an instance of %s: %s: %s", inst->name,
             tarmac_rt_trap_name(trap), tarmac_rt_trap_detail());
    tarmac_instance_free(inst);
    return NULL;
  }
  if (apply(inst) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot create an instance of %s from its snapshot", inst->name);
    tarmac_instance_free(inst);
    return NULL;
  }
  inst->phase = TARMAC_PHASE_IDLE;
  return inst;
}

bool tarmac_instance_restore(tarmac_instance_t *inst) {
  if (!inst->snapshot || inst->phase != TARMAC_PHASE_IDLE) return false;
  if (apply(inst) != 0) {
    inst->phase = TARMAC_PHASE_DEAD;
    return false;
  }
  /* nothing of the last request stays on the host side either */
  tarmac_buffer_clear(&inst->response);
  tarmac_buffer_clear(&inst->error);
  tarmac_buffer_clear(&inst->host_response);
  tarmac_buffer_clear(&inst->host_error);
  tarmac_buffer_clear(&inst->trap_message);
  inst->error_set = false;
  inst->user_data = NULL;
  return true;
}

bool tarmac_instance_restored_here(const tarmac_instance_t *inst) {
  return inst->restore_thread == tarmac_rt_thread_id();
}
