/* wasi/wasi_host: what the WASI import implementations share (internal to
 * src/wasi and its tests):
 *  - the ABI: errno values, constants, and the struct layouts that differ
 *    between wasi_snapshot_preview1 and wasi_unstable (snapshot 0);
 *  - the list of imports with their wasm signatures, from which the
 *    signature table and the declarations of every wasm2c-mangled name are
 *    generated;
 *  - the macros that export one implementation under both modules' names
 *    (GCC aliases: no wrapper, and the compiler checks the implementation's
 *    C type against the declared signature);
 *  - checked access to guest memory. */
#ifndef TARMAC_WASI_WASI_HOST_H
#define TARMAC_WASI_WASI_HOST_H

#include <stdint.h>

#include <wasm-rt.h>

struct tarmac_instance;

/* ---- ABI ------------------------------------------------------------- */

/* errno values (identical in both snapshots). */
enum {
  WASI_ESUCCESS = 0,
  WASI_EBADF = 8,
  WASI_EINVAL = 28,
  WASI_EIO = 29,
  WASI_ENOTDIR = 54,
  WASI_ENOTSUP = 58,
  WASI_EOVERFLOW = 61,
  WASI_ESPIPE = 70,
};

enum { WASI_FD_STDIN = 0, WASI_FD_STDOUT = 1, WASI_FD_STDERR = 2 };

enum { WASI_FILETYPE_CHARACTER_DEVICE = 2 };

#define WASI_RIGHT_FD_READ (UINT64_C(1) << 1)
#define WASI_RIGHT_FD_WRITE (UINT64_C(1) << 6)
#define WASI_RIGHT_FD_FILESTAT_GET (UINT64_C(1) << 21)
#define WASI_RIGHT_POLL_FD_READWRITE (UINT64_C(1) << 27)

/* fdflags: append, dsync, nonblock, rsync, sync. */
#define WASI_FDFLAGS_ALL 0x1Fu

enum {
  WASI_EVENTTYPE_CLOCK = 0,
  WASI_EVENTTYPE_FD_READ = 1,
  WASI_EVENTTYPE_FD_WRITE = 2,
};
#define WASI_EVENTRWFLAGS_HANGUP 1u
#define WASI_SUBCLOCKFLAGS_ABSTIME 1u

/* Sizes of fixed layouts (both snapshots). */
enum {
  WASI_CIOVEC_SIZE = 8, /* buf uint32_t, buf_len uint32_t */
  WASI_FDSTAT_SIZE = 24,
  WASI_EVENT_SIZE = 32,
};

/* Layouts that differ between the snapshots. */
typedef struct {
  const char *module;         /* import module name, for trap details */
  uint32_t filestat_size;     /* preview1 64, snapshot 0 56 */
  uint32_t filestat_nlink_at; /* offset of nlink (u64 in preview1, u32 in
                                 snapshot 0) */
  uint32_t subscription_size; /* preview1 48, snapshot 0 56 */
  uint32_t subscription_clock_at; /* offset of the clock id in a
                                     subscription; timeout, precision and
                                     flags follow at +8, +16, +24 */
} wasi_layout_t;

extern const wasi_layout_t wasi_layout_preview1;
extern const wasi_layout_t wasi_layout_unstable;

/* ---- the imports ------------------------------------------------------ */

/* The wasm signatures in use, as C types of the host function (i32 is
 * uint32_t, i64 is uint64_t, as in wasm2c). The name spells the signature:
 * params '_' results. */
#define WASI_PARAMS(...) (struct tarmac_instance *, __VA_ARGS__)
#define W32 uint32_t
#define W64 uint64_t
typedef W32 wasi_sig__i(struct tarmac_instance *);
typedef void wasi_sig_i_ WASI_PARAMS(W32);
typedef W32 wasi_sig_i_i WASI_PARAMS(W32);
typedef W32 wasi_sig_ii_i WASI_PARAMS(W32, W32);
typedef W32 wasi_sig_iI_i WASI_PARAMS(W32, W64);
typedef W32 wasi_sig_iii_i WASI_PARAMS(W32, W32, W32);
typedef W32 wasi_sig_iIi_i WASI_PARAMS(W32, W64, W32);
typedef W32 wasi_sig_iII_i WASI_PARAMS(W32, W64, W64);
typedef W32 wasi_sig_iiii_i WASI_PARAMS(W32, W32, W32, W32);
typedef W32 wasi_sig_iIii_i WASI_PARAMS(W32, W64, W32, W32);
typedef W32 wasi_sig_iIIi_i WASI_PARAMS(W32, W64, W64, W32);
typedef W32 wasi_sig_iiiii_i WASI_PARAMS(W32, W32, W32, W32, W32);
typedef W32 wasi_sig_iiiIi_i WASI_PARAMS(W32, W32, W32, W64, W32);
typedef W32 wasi_sig_iiiiii_i WASI_PARAMS(W32, W32, W32, W32, W32, W32);
typedef W32 wasi_sig_iiiiIIi_i WASI_PARAMS(W32, W32, W32, W32, W64, W64, W32);
typedef W32 wasi_sig_iiiiiii_i WASI_PARAMS(W32, W32, W32, W32, W32, W32, W32);
typedef W32 wasi_sig_iiiiiIIii_i WASI_PARAMS(W32, W32, W32, W32, W32, W64, W64,
                                             W32, W32);
#undef W32
#undef W64

/* Every import: X(field, signature, kind). kind is
 *   SHARED    one implementation wasi_<field> for both modules;
 *   SPLIT     wasi_<field>_preview1 and wasi_<field>_unstable (layouts
 *             differ);
 *   PREVIEW1  only in wasi_snapshot_preview1 (added after snapshot 0). */
#define WASI_IMPORTS(X)                          \
  X(args_get, ii_i, SHARED)                      \
  X(args_sizes_get, ii_i, SHARED)                \
  X(environ_get, ii_i, SHARED)                   \
  X(environ_sizes_get, ii_i, SHARED)             \
  X(clock_res_get, ii_i, SHARED)                 \
  X(clock_time_get, iIi_i, SHARED)               \
  X(fd_advise, iIIi_i, SHARED)                   \
  X(fd_allocate, iII_i, SHARED)                  \
  X(fd_close, i_i, SHARED)                       \
  X(fd_datasync, i_i, SHARED)                    \
  X(fd_fdstat_get, ii_i, SHARED)                 \
  X(fd_fdstat_set_flags, ii_i, SHARED)           \
  X(fd_fdstat_set_rights, iII_i, SHARED)         \
  X(fd_filestat_get, ii_i, SPLIT)                \
  X(fd_filestat_set_size, iI_i, SHARED)          \
  X(fd_filestat_set_times, iIIi_i, SHARED)       \
  X(fd_pread, iiiIi_i, SHARED)                   \
  X(fd_prestat_get, ii_i, SHARED)                \
  X(fd_prestat_dir_name, iii_i, SHARED)          \
  X(fd_pwrite, iiiIi_i, SHARED)                  \
  X(fd_read, iiii_i, SHARED)                     \
  X(fd_readdir, iiiIi_i, SHARED)                 \
  X(fd_renumber, ii_i, SHARED)                   \
  X(fd_seek, iIii_i, SHARED)                     \
  X(fd_sync, i_i, SHARED)                        \
  X(fd_tell, ii_i, SHARED)                       \
  X(fd_write, iiii_i, SHARED)                    \
  X(path_create_directory, iii_i, SHARED)        \
  X(path_filestat_get, iiiii_i, SHARED)          \
  X(path_filestat_set_times, iiiiIIi_i, SHARED)  \
  X(path_link, iiiiiii_i, SHARED)                \
  X(path_open, iiiiiIIii_i, SHARED)              \
  X(path_readlink, iiiiii_i, SHARED)             \
  X(path_remove_directory, iii_i, SHARED)        \
  X(path_rename, iiiiii_i, SHARED)               \
  X(path_symlink, iiiii_i, SHARED)               \
  X(path_unlink_file, iii_i, SHARED)             \
  X(poll_oneoff, iiii_i, SPLIT)                  \
  X(proc_exit, i_, SHARED)                       \
  X(proc_raise, i_i, SHARED)                     \
  X(sched_yield, _i, SHARED)                     \
  X(random_get, ii_i, SHARED)                    \
  X(sock_accept, iii_i, PREVIEW1)                \
  X(sock_recv, iiiiii_i, SHARED)                 \
  X(sock_send, iiiii_i, SHARED)                  \
  X(sock_shutdown, ii_i, SHARED)

/* The wasm2c names of every import, declared with their signature type. */
#define WASI_PREVIEW1_NAME(field) Z_wasi_snapshot_preview1Z_##field
#define WASI_UNSTABLE_NAME(field) Z_wasi_unstableZ_##field
#define WASI_DECLARE_PREVIEW1(field, sig) \
  extern wasi_sig_##sig WASI_PREVIEW1_NAME(field);
#define WASI_DECLARE_UNSTABLE(field, sig) \
  extern wasi_sig_##sig WASI_UNSTABLE_NAME(field);
#define WASI_DECLARE_SHARED(field, sig) \
  WASI_DECLARE_PREVIEW1(field, sig) WASI_DECLARE_UNSTABLE(field, sig)
#define WASI_DECLARE_SPLIT WASI_DECLARE_SHARED
#define WASI_DECLARE(field, sig, kind) WASI_DECLARE_##kind(field, sig)
WASI_IMPORTS(WASI_DECLARE)

/* env.abort (AssemblyScript), defined in env_abort.c. */
void Z_envZ_abort(struct tarmac_instance *instance, uint32_t message_ptr,
                  uint32_t file_ptr, uint32_t line, uint32_t column);

/* Exports an implementation under the declared names. Placed after the
 * implementation's definition, in the same file. */
#define WASI_ALIAS(name, impl) \
  extern __typeof__(impl) name __attribute__((alias(#impl)));
#define WASI_EXPORT_SHARED(field)                   \
  WASI_ALIAS(WASI_PREVIEW1_NAME(field), wasi_##field) \
  WASI_ALIAS(WASI_UNSTABLE_NAME(field), wasi_##field)
#define WASI_EXPORT_SPLIT(field)                                \
  WASI_ALIAS(WASI_PREVIEW1_NAME(field), wasi_##field##_preview1) \
  WASI_ALIAS(WASI_UNSTABLE_NAME(field), wasi_##field##_unstable)
#define WASI_EXPORT_PREVIEW1(field) \
  WASI_ALIAS(WASI_PREVIEW1_NAME(field), wasi_##field)

/* ---- guest memory ----------------------------------------------------- */

/* Host pointer to [ptr, ptr+len) of the instance's memory. Traps with a
 * host fault when the module exports no memory, and with an out-of-bounds
 * trap naming `what` when the range is outside it. */
uint8_t *wasi_guest_range(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t len, const char *what);
/* Same for an array of `count` elements of `size` bytes. */
uint8_t *wasi_guest_array(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t count, uint32_t size, const char *what);
/* Stores a little-endian uint32_t/uint64_t at guest address ptr (checked). */
void wasi_guest_store_u32(struct tarmac_instance *instance, uint32_t ptr,
                          uint32_t value, const char *what);
void wasi_guest_store_u64(struct tarmac_instance *instance, uint32_t ptr,
                          uint64_t value, const char *what);

/* Little-endian access to host pointers already checked. */
static inline uint32_t wasi_load_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t wasi_load_u64(const uint8_t *p) {
  return (uint64_t)wasi_load_u32(p) | (uint64_t)wasi_load_u32(p + 4) << 32;
}
static inline void wasi_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void wasi_put_u32(uint8_t *p, uint32_t v) {
  wasi_put_u16(p, (uint16_t)v);
  wasi_put_u16(p + 2, (uint16_t)(v >> 16));
}
static inline void wasi_put_u64(uint8_t *p, uint64_t v) {
  wasi_put_u32(p, (uint32_t)v);
  wasi_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* ---- shared between the files of src/wasi ----------------------------- */

/* 1 when fd is stdin, stdout or stderr (the only open descriptors). */
static inline int wasi_fd_is_stdio(uint32_t fd) { return fd <= WASI_FD_STDERR; }

/* Validates an iovec array (count * 8 bytes, then each buffer) and returns
 * the sum of the lengths; errno WASI_EINVAL in *err when the sum does not
 * fit in uint32_t (nothing has been read or written then). */
uint64_t wasi_iovecs_check(struct tarmac_instance *instance, uint32_t iovs,
                           uint32_t count, const char *what);

#endif
