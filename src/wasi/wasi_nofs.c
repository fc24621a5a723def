/* The descriptor, path and socket operations of a host without files or
 * sockets: they check the descriptor and answer with an errno. Guest
 * pointers are not read by these calls, so they are not checked either.
 *
 * An unknown descriptor is EBADF. For the standard descriptors (character
 * devices) each operation answers what POSIX answers for a terminal or pipe:
 * ESPIPE for positioned I/O, EINVAL for sync and truncation, ENOTDIR as the
 * base of a path. See docs/wasi.md. */
#include "engine/instance_state.h"
#include "runtime/deadline.h"
#include "runtime/runtime.h"
#include "wasi/wasi_host.h"

static uint32_t fd_errno(uint32_t fd, uint32_t stdio_errno) {
  tarmac_rt_check_host_stack();
  tarmac_rt_deadline_check();
  return wasi_fd_is_stdio(fd) ? stdio_errno : WASI_EBADF;
}

/* There are no preopened directories: libc sees no filesystem. */
static uint32_t wasi_fd_prestat_get(struct tarmac_instance *instance,
                                    uint32_t fd, uint32_t prestat_ptr) {
  return fd_errno(fd, WASI_EBADF);
}
WASI_EXPORT_SHARED(fd_prestat_get)

static uint32_t wasi_fd_prestat_dir_name(struct tarmac_instance *instance,
                                         uint32_t fd, uint32_t path,
                                         uint32_t path_len) {
  return fd_errno(fd, WASI_EBADF);
}
WASI_EXPORT_SHARED(fd_prestat_dir_name)

static uint32_t wasi_fd_advise(struct tarmac_instance *instance, uint32_t fd,
                               uint64_t offset, uint64_t len,
                               uint32_t advice) {
  return fd_errno(fd, WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_advise)

static uint32_t wasi_fd_allocate(struct tarmac_instance *instance, uint32_t fd,
                                 uint64_t offset, uint64_t len) {
  return fd_errno(fd, WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_allocate)

static uint32_t wasi_fd_datasync(struct tarmac_instance *instance,
                                 uint32_t fd) {
  return fd_errno(fd, WASI_EINVAL);
}
WASI_EXPORT_SHARED(fd_datasync)

static uint32_t wasi_fd_sync(struct tarmac_instance *instance, uint32_t fd) {
  return fd_errno(fd, WASI_EINVAL);
}
WASI_EXPORT_SHARED(fd_sync)

/* Flags on a standard descriptor are accepted and have no effect: writes to
 * the log never block and always append. Unknown flag bits are EINVAL. */
static uint32_t wasi_fd_fdstat_set_flags(struct tarmac_instance *instance,
                                         uint32_t fd, uint32_t flags) {
  uint32_t stdio_errno = flags & ~WASI_FDFLAGS_ALL ? WASI_EINVAL
                                                   : WASI_ESUCCESS;
  return fd_errno(fd, stdio_errno);
}
WASI_EXPORT_SHARED(fd_fdstat_set_flags)

/* The rights of the standard descriptors are fixed. */
static uint32_t wasi_fd_fdstat_set_rights(struct tarmac_instance *instance,
                                          uint32_t fd, uint64_t base,
                                          uint64_t inheriting) {
  return fd_errno(fd, WASI_ENOTSUP);
}
WASI_EXPORT_SHARED(fd_fdstat_set_rights)

static uint32_t wasi_fd_filestat_set_size(struct tarmac_instance *instance,
                                          uint32_t fd, uint64_t size) {
  return fd_errno(fd, WASI_EINVAL);
}
WASI_EXPORT_SHARED(fd_filestat_set_size)

static uint32_t wasi_fd_filestat_set_times(struct tarmac_instance *instance,
                                           uint32_t fd, uint64_t atim,
                                           uint64_t mtim, uint32_t flags) {
  return fd_errno(fd, WASI_ENOTSUP);
}
WASI_EXPORT_SHARED(fd_filestat_set_times)

static uint32_t wasi_fd_pread(struct tarmac_instance *instance, uint32_t fd,
                              uint32_t iovs, uint32_t iovs_len,
                              uint64_t offset, uint32_t nread_ptr) {
  return fd_errno(fd, WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_pread)

static uint32_t wasi_fd_pwrite(struct tarmac_instance *instance, uint32_t fd,
                               uint32_t iovs, uint32_t iovs_len,
                               uint64_t offset, uint32_t nwritten_ptr) {
  return fd_errno(fd, WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_pwrite)

static uint32_t wasi_fd_readdir(struct tarmac_instance *instance, uint32_t fd,
                                uint32_t buf, uint32_t buf_len,
                                uint64_t cookie, uint32_t bufused_ptr) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(fd_readdir)

/* Renumbering would make a standard stream disappear or appear twice. */
static uint32_t wasi_fd_renumber(struct tarmac_instance *instance, uint32_t fd,
                                 uint32_t to) {
  return fd_errno(wasi_fd_is_stdio(fd) ? to : fd, WASI_ENOTSUP);
}
WASI_EXPORT_SHARED(fd_renumber)

/* whence numbering differs between the snapshots (preview1: set, cur, end;
 * snapshot 0: cur, end, set) but both have three values, and a standard
 * descriptor cannot seek with any of them. */
static uint32_t wasi_fd_seek(struct tarmac_instance *instance, uint32_t fd,
                             uint64_t offset, uint32_t whence,
                             uint32_t newoffset_ptr) {
  return fd_errno(fd, whence > 2 ? WASI_EINVAL : WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_seek)

static uint32_t wasi_fd_tell(struct tarmac_instance *instance, uint32_t fd,
                             uint32_t offset_ptr) {
  return fd_errno(fd, WASI_ESPIPE);
}
WASI_EXPORT_SHARED(fd_tell)

/* ---- paths: no descriptor is a directory ------------------------------ */

static uint32_t wasi_path_create_directory(struct tarmac_instance *instance,
                                           uint32_t fd, uint32_t path,
                                           uint32_t path_len) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_create_directory)

static uint32_t wasi_path_filestat_get(struct tarmac_instance *instance,
                                       uint32_t fd, uint32_t flags,
                                       uint32_t path, uint32_t path_len,
                                       uint32_t stat_ptr) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_filestat_get)

static uint32_t wasi_path_filestat_set_times(struct tarmac_instance *instance,
                                             uint32_t fd, uint32_t flags,
                                             uint32_t path, uint32_t path_len,
                                             uint64_t atim, uint64_t mtim,
                                             uint32_t fst_flags) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_filestat_set_times)

/* Two base descriptors: EBADF unless both are open. */
static uint32_t two_dirs_errno(uint32_t fd1, uint32_t fd2) {
  return fd_errno(wasi_fd_is_stdio(fd1) ? fd2 : fd1, WASI_ENOTDIR);
}

static uint32_t wasi_path_link(struct tarmac_instance *instance,
                               uint32_t old_fd, uint32_t old_flags,
                               uint32_t old_path, uint32_t old_path_len,
                               uint32_t new_fd, uint32_t new_path,
                               uint32_t new_path_len) {
  return two_dirs_errno(old_fd, new_fd);
}
WASI_EXPORT_SHARED(path_link)

static uint32_t wasi_path_open(struct tarmac_instance *instance, uint32_t fd,
                               uint32_t dirflags, uint32_t path,
                               uint32_t path_len, uint32_t oflags,
                               uint64_t rights_base,
                               uint64_t rights_inheriting, uint32_t fdflags,
                               uint32_t fd_ptr) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_open)

static uint32_t wasi_path_readlink(struct tarmac_instance *instance,
                                   uint32_t fd, uint32_t path,
                                   uint32_t path_len, uint32_t buf,
                                   uint32_t buf_len, uint32_t bufused_ptr) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_readlink)

static uint32_t wasi_path_remove_directory(struct tarmac_instance *instance,
                                           uint32_t fd, uint32_t path,
                                           uint32_t path_len) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_remove_directory)

static uint32_t wasi_path_rename(struct tarmac_instance *instance, uint32_t fd,
                                 uint32_t old_path, uint32_t old_path_len,
                                 uint32_t new_fd, uint32_t new_path,
                                 uint32_t new_path_len) {
  return two_dirs_errno(fd, new_fd);
}
WASI_EXPORT_SHARED(path_rename)

static uint32_t wasi_path_symlink(struct tarmac_instance *instance,
                                  uint32_t old_path, uint32_t old_path_len,
                                  uint32_t fd, uint32_t new_path,
                                  uint32_t new_path_len) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_symlink)

static uint32_t wasi_path_unlink_file(struct tarmac_instance *instance,
                                      uint32_t fd, uint32_t path,
                                      uint32_t path_len) {
  return fd_errno(fd, WASI_ENOTDIR);
}
WASI_EXPORT_SHARED(path_unlink_file)

/* ---- sockets: the host offers none ------------------------------------ */

static uint32_t not_supported(void) {
  tarmac_rt_check_host_stack();
  tarmac_rt_deadline_check();
  return WASI_ENOTSUP;
}

static uint32_t wasi_sock_accept(struct tarmac_instance *instance, uint32_t fd,
                                 uint32_t flags, uint32_t fd_ptr) {
  return not_supported();
}
WASI_EXPORT_PREVIEW1(sock_accept)

static uint32_t wasi_sock_recv(struct tarmac_instance *instance, uint32_t fd,
                               uint32_t ri_data, uint32_t ri_data_len,
                               uint32_t ri_flags, uint32_t ro_datalen_ptr,
                               uint32_t ro_flags_ptr) {
  return not_supported();
}
WASI_EXPORT_SHARED(sock_recv)

static uint32_t wasi_sock_send(struct tarmac_instance *instance, uint32_t fd,
                               uint32_t si_data, uint32_t si_data_len,
                               uint32_t si_flags, uint32_t so_datalen_ptr) {
  return not_supported();
}
WASI_EXPORT_SHARED(sock_send)

static uint32_t wasi_sock_shutdown(struct tarmac_instance *instance,
                                   uint32_t fd, uint32_t how) {
  return not_supported();
}
WASI_EXPORT_SHARED(sock_shutdown)

/* Signals are not delivered to guests. */
static uint32_t wasi_proc_raise(struct tarmac_instance *instance,
                                uint32_t sig) {
  return not_supported();
}
WASI_EXPORT_SHARED(proc_raise)
