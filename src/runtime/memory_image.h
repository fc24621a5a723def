/* runtime/memory_image: a linear memory's bytes frozen at one moment, for
 * fresh instances (docs/architecture.md, "Fresh instances").
 *
 * An image is a sealed memfd (no one can write, shrink or grow it) holding
 * the bytes of a memory; pages that were all zero are not written, so the
 * file stays sparse and a mostly empty memory costs only its data. A memory
 * made from an image maps the file copy-on-write over the start of its own
 * reservation; restoring it copies the image's bytes back over the pages
 * it wrote (or, for large images or many pages, drops them so they read the
 * image again) and makes pages grown since inaccessible again, so the
 * reservation and the SIGSEGV bounds checking stay as they are. The image
 * also stays mapped read-only, as restore's source. The image's bytes count
 * against the process budget (runtime.h) until it is freed; memories mapped
 * from it stay valid after that (the mapping holds the file). */
#ifndef TARMAC_RUNTIME_MEMORY_IMAGE_H
#define TARMAC_RUNTIME_MEMORY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

typedef struct tarmac_rt_image tarmac_rt_image_t;

/* Copies mem's bytes into a new image. NULL with err set (the process
 * budget, or the memfd could not be made). */
tarmac_rt_image_t *tarmac_rt_image_new(const wasm_rt_memory_t *mem, char *err,
                                       size_t err_size);
void tarmac_rt_image_free(tarmac_rt_image_t *image);
uint32_t tarmac_rt_image_pages(const tarmac_rt_image_t *image);
/* Bytes the image holds (non-zero pages) and counts against the budget. */
uint64_t tarmac_rt_image_stored_bytes(const tarmac_rt_image_t *image);

/* Allocates *mem as wasm_rt_allocate_memory does (the thread's ceiling,
 * the budget), holding the image's bytes copy-on-write. Traps like
 * wasm_rt_allocate_memory, so only inside tarmac_rt_run_protected. */
void tarmac_rt_memory_from_image(wasm_rt_memory_t *mem,
                                 const tarmac_rt_image_t *image,
                                 uint32_t max_pages);
/* What restore learnt of a memory's private copies (pages written since it
 * was mapped), kept by the caller from one restore to the next, one per
 * memory, zeroed to start. A page becomes a private copy only through a
 * page fault on the thread that writes it, so when no fault happened on the
 * threads that ran the guest since the last restore, the copies are those
 * it found then and restore need not look again. */
#define TARMAC_RT_TRACKED_PAGES 1024u /* OS pages: images up to 4 MiB */
typedef struct {
  uint64_t copies[TARMAC_RT_TRACKED_PAGES / 64]; /* bit per OS page */
  bool known; /* `copies` is exact as of the last restore */
} tarmac_rt_restore_state_t;

/* Page faults (minor and major) of the calling thread so far; UINT64_MAX
 * when they cannot be had. One system call. */
uint64_t tarmac_rt_thread_faults(void);
/* The calling thread's number: never 0, never reused in the process (a
 * thread's address can be). */
uint64_t tarmac_rt_thread_id(void);

/* Puts a memory made from `image` back to the image's bytes and size.
 * `state` (NULL: none) and `faulted` (a page fault happened while the
 * guest ran since the last restore) let it skip looking for the written
 * pages. 0, or -1 (errno set) when the memory cannot be trusted any more:
 * the caller frees it. */
int tarmac_rt_memory_restore(wasm_rt_memory_t *mem,
                             const tarmac_rt_image_t *image,
                             tarmac_rt_restore_state_t *state, bool faulted);

#endif
