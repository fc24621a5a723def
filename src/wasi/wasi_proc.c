/* Arguments, environment, randomness and proc_exit. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "engine/instance_state.h"
#include "runtime/runtime.h"
#include "wasi/wasi_host.h"

/* Count of a NULL-terminated list (NULL: none) and the bytes its strings
 * take with their NULs. */
typedef struct {
  uint64_t count;
  uint64_t bytes;
} string_list_size_t;

static string_list_size_t list_size(const char *const *list) {
  string_list_size_t size = {0, 0};
  for (; list && *list; list++) {
    size.count++;
    size.bytes += strlen(*list) + 1;
  }
  return size;
}

static uint32_t list_sizes_get(struct tarmac_instance *instance,
                               const char *const *list, uint32_t count_ptr,
                               uint32_t bytes_ptr, const char *what) {
  instance = tarmac_import_enter(instance);
  string_list_size_t size = list_size(list);
  if (size.count > UINT32_MAX || size.bytes > UINT32_MAX)
    return WASI_EOVERFLOW;
  uint8_t *count = wasi_guest_range(instance, count_ptr, 4, what);
  uint8_t *bytes = wasi_guest_range(instance, bytes_ptr, 4, what);
  wasi_put_u32(count, (uint32_t)size.count);
  wasi_put_u32(bytes, (uint32_t)size.bytes);
  return WASI_ESUCCESS;
}

/* Writes the strings, NUL-terminated, one after another at buf_ptr and
 * their guest addresses at pointers_ptr. */
static uint32_t list_get(struct tarmac_instance *instance,
                         const char *const *list, uint32_t pointers_ptr,
                         uint32_t buf_ptr, const char *what) {
  instance = tarmac_import_enter(instance);
  string_list_size_t size = list_size(list);
  if (size.count > UINT32_MAX || size.bytes > UINT32_MAX)
    return WASI_EOVERFLOW;
  uint8_t *pointers =
      wasi_guest_array(instance, pointers_ptr, (uint32_t)size.count, 4, what);
  uint8_t *buf = wasi_guest_range(instance, buf_ptr, (uint32_t)size.bytes,
                                  what);
  uint32_t offset = 0;
  for (uint64_t i = 0; i < size.count; i++) {
    size_t len = strlen(list[i]) + 1;
    wasi_put_u32(pointers + i * 4, buf_ptr + offset);
    memcpy(buf + offset, list[i], len);
    offset += (uint32_t)len;
  }
  return WASI_ESUCCESS;
}

static uint32_t wasi_args_sizes_get(struct tarmac_instance *instance,
                                    uint32_t argc_ptr, uint32_t size_ptr) {
  instance = tarmac_import_enter(instance);
  return list_sizes_get(instance, instance->wasi_args, argc_ptr, size_ptr,
                        "args_sizes_get");
}
WASI_EXPORT_SHARED(args_sizes_get)

static uint32_t wasi_args_get(struct tarmac_instance *instance,
                              uint32_t argv_ptr, uint32_t buf_ptr) {
  instance = tarmac_import_enter(instance);
  return list_get(instance, instance->wasi_args, argv_ptr, buf_ptr,
                  "args_get");
}
WASI_EXPORT_SHARED(args_get)

static uint32_t wasi_environ_sizes_get(struct tarmac_instance *instance,
                                       uint32_t count_ptr, uint32_t size_ptr) {
  instance = tarmac_import_enter(instance);
  return list_sizes_get(instance, instance->wasi_environ, count_ptr, size_ptr,
                        "environ_sizes_get");
}
WASI_EXPORT_SHARED(environ_sizes_get)

static uint32_t wasi_environ_get(struct tarmac_instance *instance,
                                 uint32_t environ_ptr, uint32_t buf_ptr) {
  instance = tarmac_import_enter(instance);
  return list_get(instance, instance->wasi_environ, environ_ptr, buf_ptr,
                  "environ_get");
}
WASI_EXPORT_SHARED(environ_get)

static uint32_t wasi_random_get(struct tarmac_instance *instance,
                                uint32_t buf_ptr, uint32_t buf_len) {
  instance = tarmac_import_enter(instance);
  uint8_t *buf = wasi_guest_range(instance, buf_ptr, buf_len,
                                  "random_get buf");
  size_t done = 0;
  while (done < buf_len) {
    ssize_t n = getrandom(buf + done, buf_len - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return WASI_EIO;
    done += (size_t)n;
  }
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(random_get)

/* Ends the guest's run with TARMAC_TRAP_EXIT; the engine decides what the
 * code means (0 during start-up is a normal return). */
static void wasi_proc_exit(struct tarmac_instance *instance, uint32_t code) {
  tarmac_rt_check_host_stack();
  tarmac_rt_exit(code);
}
WASI_EXPORT_SHARED(proc_exit)
