/* The three descriptors a guest has: stdin (always at end of file), stdout
 * and stderr (cut into lines that go to the log). */
#include <stdbool.h>
#include <string.h>

#include "engine/instance_state.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "wasi/wasi.h"
#include "wasi/wasi_host.h"

/* A partial line longer than this is logged as a line of its own. */
#define WASI_LINE_LIMIT (64u * 1024u)

typedef struct {
  tarmac_line_sink_t *sink;
  tarmac_log_level_t level;
  const char *name;
} wasi_stream_t;

static wasi_stream_t stdout_stream(struct tarmac_instance *instance) {
  return (wasi_stream_t){&instance->stdout_sink, TARMAC_LOG_INFO, "stdout"};
}

static wasi_stream_t stderr_stream(struct tarmac_instance *instance) {
  return (wasi_stream_t){&instance->stderr_sink, TARMAC_LOG_ERROR, "stderr"};
}

static void log_line(struct tarmac_instance *instance,
                     const wasi_stream_t *stream, const uint8_t *line,
                     size_t len) {
  if (len > 0 && line[len - 1] == '\r') len--;
  tarmac_log_fields(stream->level, (const char *)line, len, "function",
                    instance->name ? instance->name : "", "stream",
                    stream->name, NULL);
}

/* Logs pending bytes followed by data[0, len) as one line. */
static void emit_line(struct tarmac_instance *instance,
                      const wasi_stream_t *stream, const uint8_t *data,
                      size_t len) {
  tarmac_buffer_t *pending = &stream->sink->pending;
  if (pending->len == 0) {
    log_line(instance, stream, data, len);
    return;
  }
  if (tarmac_buffer_append(pending, data, len) != 0)
    tarmac_rt_trap_detail_set(TARMAC_TRAP_RESOURCE,
                              "fd_write: out of memory buffering a line");
  log_line(instance, stream, pending->data, pending->len);
  tarmac_buffer_clear(pending);
}

static void keep_pending(const wasi_stream_t *stream, const uint8_t *data,
                         size_t len) {
  if (tarmac_buffer_append(&stream->sink->pending, data, len) != 0)
    tarmac_rt_trap_detail_set(TARMAC_TRAP_RESOURCE,
                              "fd_write: out of memory buffering a line");
}

/* Cuts data into lines: complete ones are logged, the rest waits in the
 * sink (at most WASI_LINE_LIMIT bytes). */
static void stream_write(struct tarmac_instance *instance,
                         const wasi_stream_t *stream, const uint8_t *data,
                         size_t len) {
  while (len > 0) {
    const uint8_t *newline = memchr(data, '\n', len);
    size_t line_len = newline ? (size_t)(newline - data) : len;
    size_t room = WASI_LINE_LIMIT - stream->sink->pending.len;
    if (line_len > room) {
      emit_line(instance, stream, data, room);
      data += room;
      len -= room;
    } else if (newline) {
      emit_line(instance, stream, data, line_len);
      data += line_len + 1;
      len -= line_len + 1;
    } else {
      keep_pending(stream, data, len);
      return;
    }
  }
}

static void stream_flush(struct tarmac_instance *instance,
                         const wasi_stream_t *stream) {
  tarmac_buffer_t *pending = &stream->sink->pending;
  if (pending->len > 0) log_line(instance, stream, pending->data, pending->len);
  tarmac_buffer_free(pending);
}

void tarmac_wasi_flush(struct tarmac_instance *instance) {
  wasi_stream_t out = stdout_stream(instance);
  wasi_stream_t err = stderr_stream(instance);
  stream_flush(instance, &out);
  stream_flush(instance, &err);
}

static uint32_t wasi_fd_write(struct tarmac_instance *instance, uint32_t fd,
                              uint32_t iovs, uint32_t iovs_len,
                              uint32_t nwritten_ptr) {
  instance = tarmac_import_enter(instance);
  if (fd != WASI_FD_STDOUT && fd != WASI_FD_STDERR) return WASI_EBADF;
  uint64_t total = wasi_iovecs_check(instance, iovs, iovs_len, "fd_write iovs");
  if (total > UINT32_MAX) return WASI_EINVAL;
  uint8_t *nwritten = wasi_guest_range(instance, nwritten_ptr, 4,
                                       "fd_write nwritten");
  wasi_stream_t stream = fd == WASI_FD_STDOUT ? stdout_stream(instance)
                                              : stderr_stream(instance);
  if (tarmac_log_enabled(stream.level)) {
    const uint8_t *array = instance->memory->data + iovs;
    for (uint32_t i = 0; i < iovs_len; i++) {
      const uint8_t *iov = array + (size_t)i * WASI_CIOVEC_SIZE;
      stream_write(instance, &stream,
                   instance->memory->data + wasi_load_u32(iov),
                   wasi_load_u32(iov + 4));
    }
  }
  wasi_put_u32(nwritten, (uint32_t)total);
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(fd_write)

static uint32_t wasi_fd_read(struct tarmac_instance *instance, uint32_t fd,
                             uint32_t iovs, uint32_t iovs_len,
                             uint32_t nread_ptr) {
  instance = tarmac_import_enter(instance);
  if (fd != WASI_FD_STDIN) return WASI_EBADF;
  wasi_iovecs_check(instance, iovs, iovs_len, "fd_read iovs");
  wasi_guest_store_u32(instance, nread_ptr, 0, "fd_read nread");
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(fd_read)

static uint32_t wasi_fd_fdstat_get(struct tarmac_instance *instance,
                                   uint32_t fd, uint32_t stat_ptr) {
  instance = tarmac_import_enter(instance);
  if (!wasi_fd_is_stdio(fd)) return WASI_EBADF;
  uint8_t *stat = wasi_guest_range(instance, stat_ptr, WASI_FDSTAT_SIZE,
                                   "fd_fdstat_get fdstat");
  uint64_t direction =
      fd == WASI_FD_STDIN ? WASI_RIGHT_FD_READ : WASI_RIGHT_FD_WRITE;
  memset(stat, 0, WASI_FDSTAT_SIZE);
  stat[0] = WASI_FILETYPE_CHARACTER_DEVICE;
  wasi_put_u64(stat + 8, direction | WASI_RIGHT_POLL_FD_READWRITE |
                             WASI_RIGHT_FD_FILESTAT_GET);
  return WASI_ESUCCESS;
}
WASI_EXPORT_SHARED(fd_fdstat_get)

/* A character device with one link; no times, no size. */
static uint32_t filestat_get(struct tarmac_instance *instance, uint32_t fd,
                             uint32_t stat_ptr, const wasi_layout_t *layout) {
  instance = tarmac_import_enter(instance);
  if (!wasi_fd_is_stdio(fd)) return WASI_EBADF;
  uint8_t *stat = wasi_guest_range(instance, stat_ptr, layout->filestat_size,
                                   "fd_filestat_get filestat");
  memset(stat, 0, layout->filestat_size);
  stat[16] = WASI_FILETYPE_CHARACTER_DEVICE;
  stat[layout->filestat_nlink_at] = 1; /* little-endian u32 or u64 */
  return WASI_ESUCCESS;
}

static uint32_t wasi_fd_filestat_get_preview1(struct tarmac_instance *instance,
                                              uint32_t fd, uint32_t stat_ptr) {
  return filestat_get(instance, fd, stat_ptr, &wasi_layout_preview1);
}

static uint32_t wasi_fd_filestat_get_unstable(struct tarmac_instance *instance,
                                              uint32_t fd, uint32_t stat_ptr) {
  return filestat_get(instance, fd, stat_ptr, &wasi_layout_unstable);
}
WASI_EXPORT_SPLIT(fd_filestat_get)

/* Closing a standard descriptor succeeds but keeps it usable: the log
 * behind stdout and stderr belongs to the host. */
static uint32_t wasi_fd_close(struct tarmac_instance *instance, uint32_t fd) {
  tarmac_rt_check_host_stack();
  return wasi_fd_is_stdio(fd) ? WASI_ESUCCESS : WASI_EBADF;
}
WASI_EXPORT_SHARED(fd_close)
