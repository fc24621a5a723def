/* Memory images: sealed memfds mapped copy-on-write (see memory_image.h). */
#include "runtime/memory_image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"

#define WASM_PAGE_SIZE 65536u
/* Restore copies back the pages a request dirtied when the image is at most
 * TARMAC_RT_TRACKED_PAGES OS pages (its page map is read in one small call)
 * and at most COPY_MAX_DIRTY of them are dirty; otherwise it drops all
 * private copies with madvise, which is cheap itself but makes every page
 * touched next time fault again and, with threads on other CPUs, costs TLB
 * shootdowns. */
#define COPY_MAX_DIRTY 64u
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define PAGEMAP_FILE (1ull << 61) /* file page (not a private copy) */

struct tarmac_rt_image {
  int fd;             /* sealed memfd, image bytes at offset 0 */
  const uint8_t *bytes; /* the file mapped read-only: restore's source */
  uint32_t pages;     /* wasm pages */
  uint64_t stored;    /* bytes written (the non-zero OS pages) */
};

static bool all_zero(const uint8_t *p, size_t n) {
  return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Writes the non-zero OS pages of [data, data+size), runs of them with one
 * pwrite each; the holes read as zeros. -1 with errno on failure. */
static int write_sparse(int fd, const uint8_t *data, size_t size,
                        uint64_t *stored) {
  size_t page = tarmac_rt_os_page_size();
  size_t at = 0;
  *stored = 0;
  while (at < size) {
    if (all_zero(data + at, page)) {
      at += page;
      continue;
    }
    size_t end = at + page;
    while (end < size && !all_zero(data + end, page)) end += page;
    for (size_t done = at; done < end;) {
      ssize_t n = pwrite(fd, data + done, end - done, (off_t)done);
      if (n <= 0) return n == 0 ? (errno = EIO, -1) : -1;
      done += (size_t)n;
    }
    *stored += end - at;
    at = end;
  }
  return 0;
}

static int fill_image(int fd, const wasm_rt_memory_t *mem, uint64_t *stored) {
  if (ftruncate(fd, (off_t)mem->size) != 0) return -1;
  if (write_sparse(fd, mem->data, mem->size, stored) != 0) return -1;
  /* from now on the file is the snapshot: nobody may change it */
  return fcntl(fd, F_ADD_SEALS,
               F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
}

tarmac_rt_image_t *tarmac_rt_image_new(const wasm_rt_memory_t *mem, char *err,
                                       size_t err_size) {
  tarmac_rt_image_t *image = calloc(1, sizeof *image);
  if (!image) {
    snprintf(err, err_size, "out of memory for a memory image");
    return NULL;
  }
  image->pages = mem->pages;
  image->fd = memfd_create("tarmac-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (image->fd < 0 || fill_image(image->fd, mem, &image->stored) != 0) {
    snprintf(err, err_size, "cannot make a memory image of %u pages: %s",
             mem->pages, strerror(errno));
    goto fail;
  }
  image->bytes = mem->size ? mmap(NULL, mem->size, PROT_READ, MAP_SHARED,
                                  image->fd, 0)
                           : NULL;
  if (image->bytes == MAP_FAILED) {
    image->bytes = NULL;
    snprintf(err, err_size, "cannot map a memory image: %s", strerror(errno));
    goto fail;
  }
  if (!tarmac_rt_budget_charge(image->stored)) {
    snprintf(err, err_size,
             "a memory image of %llu bytes exceeds the process guest memory "
             "budget of %llu bytes",
             (unsigned long long)image->stored,
             (unsigned long long)tarmac_rt_memory_budget());
    goto fail;
  }
  return image;
fail:
  if (image->bytes) munmap((void *)image->bytes, mem->size);
  if (image->fd >= 0) close(image->fd);
  free(image);
  return NULL;
}

void tarmac_rt_image_free(tarmac_rt_image_t *image) {
  if (!image) return;
  if (image->bytes)
    munmap((void *)image->bytes, (size_t)image->pages * WASM_PAGE_SIZE);
  close(image->fd);
  tarmac_rt_budget_refund(image->stored);
  free(image);
}

uint32_t tarmac_rt_image_pages(const tarmac_rt_image_t *image) {
  return image->pages;
}

uint64_t tarmac_rt_image_stored_bytes(const tarmac_rt_image_t *image) {
  return image->stored;
}

void tarmac_rt_memory_from_image(wasm_rt_memory_t *mem,
                                 const tarmac_rt_image_t *image,
                                 uint32_t max_pages) {
  /* an empty memory first: the reservation, its ceiling, its slot */
  wasm_rt_allocate_memory(mem, 0, max_pages);
  size_t bytes = (size_t)image->pages * WASM_PAGE_SIZE;
  if (bytes == 0) return;
  if (image->pages > max_pages ||
      bytes > tarmac_rt_memory_limit(mem)) {
    wasm_rt_free_memory(mem);
    tarmac_rt_trap_detail_set(TARMAC_TRAP_RESOURCE,
                              "memory image exceeds the memory's ceiling");
  }
  if (!tarmac_rt_budget_charge(bytes)) {
    wasm_rt_free_memory(mem);
    tarmac_rt_trap_over_budget(bytes);
  }
  /* the pages the memory uses are counted from here, as if grown */
  mem->pages = image->pages;
  mem->size = (uint32_t)bytes;
  if (mmap(mem->data, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
           image->fd, 0) == MAP_FAILED) {
    char detail[128];
    snprintf(detail, sizeof detail, "cannot map a memory image: %s",
             strerror(errno));
    wasm_rt_free_memory(mem); /* refunds mem->size */
    tarmac_rt_trap_detail_set(TARMAC_TRAP_RESOURCE, detail);
  }
}

static pthread_once_t g_pagemap_once = PTHREAD_ONCE_INIT;
static int g_pagemap_fd = -1; /* process-wide, open for the process's life */

static void open_pagemap(void) {
  g_pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* Finds the OS pages of [0, bytes) that hold private copies (written, or
 * swapped out) in /proc/self/pagemap (its flag bits need no privilege).
 * -1 when the page map cannot be had or there are too many to copy back:
 * the caller drops them instead. */
static int find_copies(wasm_rt_memory_t *mem, const tarmac_rt_image_t *image,
                       size_t bytes, tarmac_rt_restore_state_t *state) {
  size_t page = tarmac_rt_os_page_size(), n = bytes / page;
  uint64_t entries[TARMAC_RT_TRACKED_PAGES];
  pthread_once(&g_pagemap_once, open_pagemap);
  if (g_pagemap_fd < 0 || n > TARMAC_RT_TRACKED_PAGES || !image->bytes)
    return -1;
  off_t at = (off_t)((uintptr_t)mem->data / page * sizeof entries[0]);
  if (pread(g_pagemap_fd, entries, n * sizeof entries[0], at) !=
      (ssize_t)(n * sizeof entries[0]))
    return -1;
  unsigned dirty = 0;
  memset(state->copies, 0, sizeof state->copies);
  for (size_t i = 0; i < n; i++) {
    bool copy = (entries[i] & PAGEMAP_SWAPPED) ||
                ((entries[i] & PAGEMAP_PRESENT) && !(entries[i] & PAGEMAP_FILE));
    state->copies[i / 64] |= (uint64_t)copy << (i % 64);
    dirty += copy;
  }
  return dirty > COPY_MAX_DIRTY ? -1 : 0;
}

/* Copies the image's bytes over the pages state->copies names; they stay
 * private copies (mapped: no fault next time, no TLB shootdown). */
static void copy_back(wasm_rt_memory_t *mem, const tarmac_rt_image_t *image,
                      const tarmac_rt_restore_state_t *state) {
  size_t page = tarmac_rt_os_page_size();
  for (size_t w = 0; w < TARMAC_RT_TRACKED_PAGES / 64; w++)
    for (uint64_t bits = state->copies[w]; bits; bits &= bits - 1) {
      size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
      memcpy(mem->data + i * page, image->bytes + i * page, page);
    }
}

/* The calling thread's identity; a fiber resumed after a suspension
 * renews it (fiber.c). */
static atomic_uint_fast64_t next_thread_id;
static _Thread_local uint64_t thread_id;

uint64_t tarmac_rt_thread_id(void) {
  if (thread_id == 0) thread_id = atomic_fetch_add(&next_thread_id, 1) + 1;
  return thread_id;
}

void tarmac_rt_thread_id_renew(void) {
  thread_id = atomic_fetch_add(&next_thread_id, 1) + 1;
}

uint64_t tarmac_rt_thread_faults(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return UINT64_MAX;
  return (uint64_t)usage.ru_minflt + (uint64_t)usage.ru_majflt;
}

int tarmac_rt_memory_restore(wasm_rt_memory_t *mem,
                             const tarmac_rt_image_t *image,
                             tarmac_rt_restore_state_t *state, bool faulted) {
  tarmac_rt_restore_state_t scratch = {0};
  if (!state) state = &scratch;
  size_t bytes = (size_t)image->pages * WASM_PAGE_SIZE;
  if (!mem->data || mem->size < bytes) return errno = EINVAL, -1;
  if (mem->size > bytes) {
    /* one call drops the grown pages and makes them fault again */
    size_t extra = mem->size - bytes;
    if (mmap(mem->data + bytes, extra, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
             0) == MAP_FAILED)
      return -1;
    mem->size = (uint32_t)bytes;
    mem->pages = image->pages;
    tarmac_rt_budget_refund(extra);
  }
  if (bytes == 0) return 0;
  /* no fault since the last look: no page became a private copy */
  if (!state->known || faulted) {
    state->known = false;
    if (find_copies(mem, image, bytes, state) != 0) {
      /* private copies go; the pages read the file again */
      if (madvise(mem->data, bytes, MADV_DONTNEED) != 0) return -1;
      memset(state->copies, 0, sizeof state->copies);
      state->known = true;
      return 0;
    }
    state->known = true;
  }
  copy_back(mem, image, state);
  return 0;
}
