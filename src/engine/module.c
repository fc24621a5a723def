/* Loading modules: validation against the host's imports, the artifact
 * cache (content-addressed, atomic, locked), and dlopen. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "engine/engine_testing.h"
#include "engine/host_imports.h"
#include "engine/wasm_binary.h"
#include "log/log.h"

#define MAX_MODULE_BYTES ((size_t)512 << 20)
#define CACHE_KEY_HEX TARMAC_CACHE_KEY_HEX

/* "ii:i" -> "(i32, i32) -> i32" */
static void describe_signature(const char *sig, char *out, size_t size) {
  static const struct { char letter; const char *name; } names[] = {
      {'i', "i32"}, {'I', "i64"}, {'f', "f32"}, {'F', "f64"},
      {'V', "v128"}, {'r', "funcref"}, {'x', "externref"}};
  size_t used = (size_t)snprintf(out, size, "(");
  bool first = true;
  for (const char *p = sig; *p && used < size; p++) {
    if (*p == ':') {
      used += (size_t)snprintf(out + used, size - used, ") -> (");
      first = true;
      continue;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (names[i].letter == *p && used < size)
        used += (size_t)snprintf(out + used, size - used, "%s%s",
                                 first ? "" : ", ", names[i].name);
    first = false;
  }
  if (used < size) snprintf(out + used, size - used, ")");
}

static const char *import_kind_name(uint8_t kind) {
  switch (kind) {
    case WASM_EXTERN_TABLE: return "table";
    case WASM_EXTERN_MEMORY: return "memory";
    case WASM_EXTERN_GLOBAL: return "global";
    case WASM_EXTERN_TAG: return "tag";
    default: return "function";
  }
}

static tarmac_load_status_t check_imports(const wasm_module_info_t *info,
                                          tarmac_error_t *err) {
  for (uint32_t i = 0; i < info->import_count; i++) {
    const wasm_import_t *imp = &info->imports[i];
    const tarmac_host_import_t *host =
        tarmac_host_import_find(imp->module, imp->field);
    if (!host || imp->kind != WASM_EXTERN_FUNC) {
      snprintf(err->message, sizeof err->message,
               "unknown import `%s.%s` (%s): the host provides functions of "
               "wapc, wasi_snapshot_preview1, wasi_unstable and env.abort",
               imp->module, imp->field, import_kind_name(imp->kind));
      return TARMAC_LOAD_IMPORT;
    }
    const char *sig = info->signatures[imp->type_index];
    if (strcmp(sig, host->signature) != 0) {
      char got[128], want[128];
      describe_signature(sig, got, sizeof got);
      describe_signature(host->signature, want, sizeof want);
      snprintf(err->message, sizeof err->message,
               "import `%s.%s` has type %s but the host provides %s",
               imp->module, imp->field, got, want);
      return TARMAC_LOAD_IMPORT;
    }
  }
  return TARMAC_LOAD_OK;
}

static tarmac_load_status_t check_function_export(
    const wasm_module_info_t *info, const char *name, const char *signature,
    bool required, tarmac_error_t *err) {
  const wasm_export_t *exp = wasm_module_info_export(info, name);
  if (!exp) {
    if (!required) return TARMAC_LOAD_OK;
    snprintf(err->message, sizeof err->message,
             "no `%s` export: not a waPC guest", name);
    return TARMAC_LOAD_EXPORT;
  }
  const char *sig = exp->kind == WASM_EXTERN_FUNC
                        ? wasm_module_info_function_signature(info, exp->index)
                        : NULL;
  if (!sig || strcmp(sig, signature) != 0) {
    char want[128];
    describe_signature(signature, want, sizeof want);
    snprintf(err->message, sizeof err->message,
             "export `%s` must be a function of type %s", name, want);
    return TARMAC_LOAD_EXPORT;
  }
  return TARMAC_LOAD_OK;
}

static tarmac_load_status_t check_exports(const wasm_module_info_t *info,
                                          tarmac_error_t *err) {
  tarmac_load_status_t st =
      check_function_export(info, "__guest_call", "ii:i", true, err);
  if (st == TARMAC_LOAD_OK) st = check_function_export(info, "_start", ":", false, err);
  if (st == TARMAC_LOAD_OK) st = check_function_export(info, "_initialize", ":", false, err);
  if (st == TARMAC_LOAD_OK) st = check_function_export(info, "wapc_init", ":", false, err);
  if (st != TARMAC_LOAD_OK) return st;
  const wasm_export_t *mem = wasm_module_info_export(info, "memory");
  if (!mem || mem->kind != WASM_EXTERN_MEMORY) {
    snprintf(err->message, sizeof err->message,
             "no `memory` export: a waPC guest must export its memory");
    return TARMAC_LOAD_EXPORT;
  }
  return TARMAC_LOAD_OK;
}

/* The key of `bytes` under this engine's toolchain; `wapc` is part of it
 * because the glue differs. */
static int compute_cache_key(const tarmac_engine_t *engine,
                             const uint8_t *bytes, size_t len, bool wapc,
                             char key[CACHE_KEY_HEX + 1]) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  int rc = tarmac_buffer_appendf(&text, "%sglue:%s;", engine->toolchain.identity,
                                 wapc ? "wapc" : "plain");
  if (rc == 0) rc = tarmac_buffer_append(&text, "", 1);
  if (rc == 0) rc = tarmac_cache_key((const char *)text.data, bytes, len, key);
  tarmac_buffer_free(&text);
  return rc;
}

/* A truncated shared object can crash dlopen (it maps pages past the end of
 * the file), so before opening one, check that its headers and every loaded
 * segment lie inside the file. */
static bool artifact_is_complete(int fd, char *why, size_t why_size) {
  struct stat st;
  Elf64_Ehdr eh;
  if (fstat(fd, &st) != 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
      memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    snprintf(why, why_size, "not a 64-bit ELF shared object");
    return false;
  }
  uint64_t size = (uint64_t)st.st_size;
  if (eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > size ||
      eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > size) {
    snprintf(why, why_size, "truncated (headers past the end of the file)");
    return false;
  }
  for (uint16_t i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) !=
            (ssize_t)sizeof ph ||
        (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > size)) {
      snprintf(why, why_size, "truncated (a segment ends past the file)");
      return false;
    }
  }
  return true;
}

static bool descriptor_fits(const tarmac_module_descriptor_t *d,
                            const char *key, bool wapc) {
  return d && d->abi_version == TARMAC_MODULE_ABI_VERSION && d->cache_key &&
         strcmp(d->cache_key, key) == 0 && d->instantiate &&
         d->free_instance && d->init_module && d->exports &&
         (d->import_modules || d->import_module_count == 0) &&
         (!wapc || (d->guest_call && d->memory));
}

/* A library's descriptor whose key is not `key`. */
static bool other_key(const tarmac_module_descriptor_t *d, const char *key) {
  return d != NULL && d->cache_key != NULL && strcmp(d->cache_key, key) != 0;
}

/* dlopen()s the artifact open at *fd through /proc/self/fd/N. A library
 * loaded twice (the same artifact for two modules: a reload, two paths of
 * one content) is known to glibc by both names; once the second module
 * goes, its N is free while the name still maps to the library, and a
 * later artifact opened at N would get that library. So when the library
 * has another module's key, the artifact moves to a higher descriptor and
 * is opened again under that name (a bounded number of times). */
static void *dlopen_fd(int *fd, const char *key,
                       const tarmac_module_descriptor_t **d, char *why,
                       size_t why_size) {
  for (int attempt = 0; attempt < 64; attempt++) {
    char fd_path[64];
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", *fd);
    void *library = dlopen(fd_path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *e = dlerror();
      snprintf(why, why_size, "%s", e ? e : "cannot open");
      return NULL;
    }
    *d = dlsym(library, TARMAC_MODULE_DESCRIPTOR_SYMBOL);
    if (!other_key(*d, key)) return library;
    dlclose(library);
    int higher = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1);
    if (higher < 0) break;
    close(*fd);
    *fd = higher;
  }
  snprintf(why, why_size, "another module's library answers to its name");
  return NULL;
}

/* Opens an artifact and checks it is ours (engine/cache.h) and for this
 * key. The checked descriptor is what dlopen maps (/proc/self/fd/N), so the
 * file cannot be swapped between the check and the load. The descriptor
 * stays open while the library is loaded (*fd_out): glibc knows a loaded
 * object by the name it was opened under, and a reused descriptor number
 * must not make a later module "already loaded". errno is ENOENT exactly
 * when there is no artifact. */
static void *open_artifact(const char *path, const char *key, bool wapc,
                           const tarmac_module_descriptor_t **descriptor,
                           int *fd_out, char *why, size_t why_size) {
  int fd = tarmac_cache_open(path, why, why_size);
  if (fd < 0) return NULL;
  void *library = NULL;
  const tarmac_module_descriptor_t *d = NULL;
  if (artifact_is_complete(fd, why, why_size))
    library = dlopen_fd(&fd, key, &d, why, why_size);
  if (library && !descriptor_fits(d, key, wapc)) {
    snprintf(why, why_size, "not an artifact of this module and tarmac build");
    dlclose(library);
    library = NULL;
  }
  if (!library) {
    close(fd);
    errno = EINVAL;
    return NULL;
  }
  *descriptor = d;
  *fd_out = fd;
  return library;
}

/* Unloads what open_artifact() loaded. */
static void close_artifact(void *library, int fd) {
  dlclose(library);
  close(fd);
}

static void remove_work_dir(const char *dir) {
  static const char *const files[] = {"module.wasm", "module.c", "module.h",
                                      "glue.c", "artifact.so"};
  char path[4096];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

typedef struct {
  const uint8_t *bytes;
  size_t len;
  bool wapc;
  bool load; /* dlopen it; else only check it is there and ours */
  wasm_module_info_t info;
  char key[CACHE_KEY_HEX + 1];
  char path[4096];   /* <key>.so */
  char marker[4096]; /* <key>.failed: a recorded failure */
  void *library;
  int fd; /* open while library is loaded */
  const tarmac_module_descriptor_t *descriptor;
} artifact_t;

/* Compiles into a private work directory, then renames the artifact into
 * place: readers see the old file or the whole new one, never a part. */
static tarmac_load_status_t build_artifact(tarmac_engine_t *engine,
                                           const artifact_t *art,
                                           bool *recordable,
                                           tarmac_error_t *err) {
  char work_dir[4096], built[4096];
  *recordable = false;
  snprintf(work_dir, sizeof work_dir, "%s/build-%.16s-XXXXXX",
           engine->cache_dir, art->key);
  if (!mkdtemp(work_dir)) {
    snprintf(err->message, sizeof err->message,
             "cannot create a work directory in %s: %s", engine->cache_dir,
             strerror(errno));
    return TARMAC_LOAD_IO;
  }
  snprintf(built, sizeof built, "%s/artifact.so", work_dir);
  tarmac_logf(TARMAC_LOG_DEBUG, "compiling module %.16s into %s", art->key,
              art->path);
  tarmac_compile_job_t job = {art->bytes, art->len, &art->info, art->key,
                              art->wapc, work_dir, built};
  tarmac_load_status_t st =
      tarmac_toolchain_compile(&engine->toolchain, &job, recordable, err);
  if (st == TARMAC_LOAD_OK && rename(built, art->path) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot move the compiled module into %s: %s", art->path,
             strerror(errno));
    st = TARMAC_LOAD_IO;
  }
  remove_work_dir(work_dir);
  return st;
}

/* A failure marker holds "tarmac-load-failure <status>\n<message>". True
 * when a trusted one exists for this key (status and err filled in); an
 * untrusted one is logged and ignored (a new failure replaces it). */
static bool read_failure_marker(const artifact_t *art,
                                tarmac_load_status_t *status,
                                tarmac_error_t *err) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  char why[256];
  int code = 0, used = 0;
  bool found = false;
  if (tarmac_cache_read(art->marker, sizeof err->message + 64, &text, why,
                        sizeof why) != 0) {
    if (errno != ENOENT)
      tarmac_logf(TARMAC_LOG_WARN, "ignoring the failure record %s: %s",
                  art->marker, why);
  } else if (sscanf((const char *)text.data, "tarmac-load-failure %d\n%n",
                    &code, &used) == 1 && used > 0 &&
             code > TARMAC_LOAD_OK && code <= TARMAC_LOAD_TOOLCHAIN) {
    *status = (tarmac_load_status_t)code;
    snprintf(err->message, sizeof err->message, "%s",
             (const char *)text.data + used);
    tarmac_logf(TARMAC_LOG_INFO, "not compiling again: the failure is "
                "recorded in %s (delete it to retry)", art->marker);
    found = true;
  } else {
    tarmac_logf(TARMAC_LOG_WARN, "ignoring the malformed failure record %s",
                art->marker);
  }
  tarmac_buffer_free(&text);
  return found;
}

static void write_failure_marker(const tarmac_engine_t *engine,
                                 const artifact_t *art,
                                 tarmac_load_status_t status,
                                 const tarmac_error_t *err) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  const char *name = strrchr(art->marker, '/') + 1;
  if (tarmac_buffer_appendf(&text, "tarmac-load-failure %d\n%s", (int)status,
                            err->message) != 0 ||
      tarmac_cache_write(engine->cache_dir, name, text.data, text.len) != 0)
    tarmac_logf(TARMAC_LOG_WARN, "cannot record the failure in %s: %s",
                art->marker, strerror(errno));
  tarmac_buffer_free(&text);
}

/* Opens the artifact (art->load) or, for a compile without loading, checks
 * that it is there, ours and complete. errno is ENOENT exactly when there
 * is no artifact. */
static bool acquire_artifact(artifact_t *art, char *why, size_t why_size) {
  if (art->load) {
    art->library = open_artifact(art->path, art->key, art->wapc,
                                 &art->descriptor, &art->fd, why, why_size);
    return art->library != NULL;
  }
  int fd = tarmac_cache_open(art->path, why, why_size);
  if (fd < 0) return false;
  bool complete = artifact_is_complete(fd, why, why_size);
  close(fd);
  errno = EINVAL;
  return complete;
}

/* Under the key's lock: another process may have built the artifact or
 * recorded a failure while we waited; otherwise build and open it, and
 * record a failure that is the module's own. */
static tarmac_load_status_t build_locked(tarmac_engine_t *engine,
                                         artifact_t *art, tarmac_error_t *err) {
  char why[512];
  if (acquire_artifact(art, why, sizeof why)) return TARMAC_LOAD_OK;
  if (errno != ENOENT)
    tarmac_logf(TARMAC_LOG_WARN, "not using the cached module %s (%s); "
                "rebuilding it", art->path, why);
  tarmac_load_status_t st;
  if (read_failure_marker(art, &st, err)) return st;
  bool recordable = false;
  st = build_artifact(engine, art, &recordable, err);
  if (st == TARMAC_LOAD_OK && !acquire_artifact(art, why, sizeof why)) {
    snprintf(err->message, sizeof err->message,
             "cannot load the compiled module: %s", why);
    unlink(art->path); /* keep no artifact that cannot load */
    st = TARMAC_LOAD_TOOLCHAIN;
    /* a waPC guest's imports are the host's own, so its load failure is
     * the module's; an unchecked module's imports depend on the process */
    recordable = art->wapc;
  }
  if (st != TARMAC_LOAD_OK && recordable)
    write_failure_marker(engine, art, st, err);
  return st;
}

static tarmac_load_status_t check_module(const artifact_t *art,
                                         tarmac_error_t *err) {
  tarmac_load_status_t st = check_imports(&art->info, err);
  if (st == TARMAC_LOAD_OK) st = check_exports(&art->info, err);
  return st;
}

/* Finds the artifact in the cache or builds it (one builder per key at a
 * time across processes) and opens it; remembers a failure. */
static tarmac_load_status_t find_or_build(tarmac_engine_t *engine,
                                          artifact_t *art,
                                          tarmac_error_t *err) {
  tarmac_load_status_t st;
  if (tarmac_engine_recall_failure(engine, art->key, &st, err)) return st;
  char why[512], lock_path[4096];
  if (acquire_artifact(art, why, sizeof why)) return TARMAC_LOAD_OK;
  snprintf(lock_path, sizeof lock_path, "%s/%s.lock", engine->cache_dir,
           art->key);
  int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    snprintf(err->message, sizeof err->message, "cannot lock %s: %s",
             lock_path, strerror(errno));
    if (lock >= 0) close(lock);
    return TARMAC_LOAD_IO;
  }
  st = build_locked(engine, art, err);
  flock(lock, LOCK_UN);
  close(lock);
  if (st != TARMAC_LOAD_OK && st != TARMAC_LOAD_IO)
    tarmac_engine_remember_failure(engine, art->key, st, err);
  return st;
}

/* Reads the module (and, for a waPC guest, checks its imports and
 * exports), then finds or builds its artifact. */
static tarmac_load_status_t obtain_artifact(tarmac_engine_t *engine,
                                            artifact_t *art,
                                            tarmac_error_t *err) {
  tarmac_load_status_t st =
      wasm_module_info_parse(art->bytes, art->len, &art->info, err);
  if (st != TARMAC_LOAD_OK) return st;
  if (art->wapc) st = check_module(art, err);
  if (st == TARMAC_LOAD_OK &&
      compute_cache_key(engine, art->bytes, art->len, art->wapc, art->key) != 0) {
    snprintf(err->message, sizeof err->message, "cannot hash the module");
    st = TARMAC_LOAD_IO;
  }
  if (st == TARMAC_LOAD_OK) {
    snprintf(art->path, sizeof art->path, "%s/%s.so", engine->cache_dir,
             art->key);
    snprintf(art->marker, sizeof art->marker, "%s/%s.failed",
             engine->cache_dir, art->key);
    st = find_or_build(engine, art, err);
  }
  wasm_module_info_free(&art->info);
  return st;
}

static int read_whole_file(const char *path, uint8_t **out, size_t *out_len,
                           tarmac_error_t *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err->message, sizeof err->message, "cannot read %s: %s", path,
             strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_MODULE_BYTES) {
    snprintf(err->message, sizeof err->message,
             "cannot read %s: %s", path,
             S_ISREG(st.st_mode) ? "larger than 512 MiB" : "not a regular file");
    close(fd);
    return -1;
  }
  size_t size = (size_t)st.st_size, got = 0;
  uint8_t *bytes = malloc(size ? size : 1);
  while (bytes && got < size) {
    ssize_t n = read(fd, bytes + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (!bytes || got != size) {
    snprintf(err->message, sizeof err->message, "cannot read %s: %s", path,
             bytes ? "file changed while reading" : "out of memory");
    free(bytes);
    return -1;
  }
  *out = bytes;
  *out_len = size;
  return 0;
}

static char *name_from_path(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t len = strlen(base);
  if (len > 5 && strcmp(base + len - 5, ".wasm") == 0) len -= 5;
  return strndup(base, len);
}

static tarmac_load_status_t load_module(tarmac_engine_t *engine,
                                        const uint8_t *bytes, size_t len,
                                        const char *name, bool wapc,
                                        tarmac_module_t **out,
                                        tarmac_error_t *err) {
  artifact_t art = {.bytes = bytes, .len = len, .wapc = wapc, .load = true};
  *out = NULL;
  tarmac_load_status_t st = obtain_artifact(engine, &art, err);
  if (st != TARMAC_LOAD_OK) return st;
  tarmac_module_t *module = calloc(1, sizeof *module);
  if (module) {
    module->name = strdup(name ? name : "module");
    module->artifact_path = strdup(art.path);
  }
  if (!module || !module->name || !module->artifact_path) {
    if (module) {
      free(module->name);
      free(module->artifact_path);
      free(module);
    }
    close_artifact(art.library, art.fd);
    snprintf(err->message, sizeof err->message, "out of memory");
    return TARMAC_LOAD_IO;
  }
  if (tarmac_guest_code_register(art.descriptor, &module->code) != 0) {
    free(module->name);
    free(module->artifact_path);
    free(module);
    close_artifact(art.library, art.fd);
    snprintf(err->message, sizeof err->message,
             "cannot register the code of %s for deadlines (too many modules "
             "loaded)", name ? name : "module");
    return TARMAC_LOAD_IO;
  }
  atomic_init(&module->references, 1);
  module->engine = engine;
  module->library = art.library;
  module->artifact_fd = art.fd;
  module->descriptor = art.descriptor;
  module->descriptor->init_module();
  *out = module;
  return TARMAC_LOAD_OK;
}

tarmac_load_status_t tarmac_module_load_bytes(tarmac_engine_t *engine,
                                              const uint8_t *bytes, size_t len,
                                              const char *name,
                                              tarmac_module_t **out,
                                              tarmac_error_t *err) {
  return load_module(engine, bytes, len, name, true, out, err);
}

tarmac_load_status_t tarmac_module_load_unchecked(tarmac_engine_t *engine,
                                                  const uint8_t *bytes,
                                                  size_t len, const char *name,
                                                  tarmac_module_t **out,
                                                  tarmac_error_t *err) {
  return load_module(engine, bytes, len, name, false, out, err);
}

const tarmac_module_descriptor_t *tarmac_module_descriptor(
    const tarmac_module_t *module) {
  return module->descriptor;
}

tarmac_load_status_t tarmac_module_load(tarmac_engine_t *engine,
                                        const char *path, const char *name,
                                        tarmac_module_t **out,
                                        tarmac_error_t *err) {
  uint8_t *bytes;
  size_t len;
  *out = NULL;
  if (read_whole_file(path, &bytes, &len, err) != 0) return TARMAC_LOAD_IO;
  char *default_name = name ? NULL : name_from_path(path);
  tarmac_load_status_t st = tarmac_module_load_bytes(
      engine, bytes, len, name ? name : default_name, out, err);
  free(default_name);
  free(bytes);
  return st;
}

tarmac_load_status_t tarmac_module_compile(tarmac_engine_t *engine,
                                           const char *path,
                                           char *artifact_path, size_t size,
                                           tarmac_error_t *err) {
  uint8_t *bytes;
  size_t len;
  if (read_whole_file(path, &bytes, &len, err) != 0) return TARMAC_LOAD_IO;
  artifact_t art = {.bytes = bytes, .len = len, .wapc = true, .load = true};
  tarmac_load_status_t st = obtain_artifact(engine, &art, err);
  free(bytes);
  if (st != TARMAC_LOAD_OK) return st;
  close_artifact(art.library, art.fd);
  snprintf(artifact_path, size, "%s", art.path);
  return TARMAC_LOAD_OK;
}

tarmac_load_status_t tarmac_module_compile_unchecked(tarmac_engine_t *engine,
                                                     const uint8_t *bytes,
                                                     size_t len,
                                                     tarmac_error_t *err) {
  artifact_t art = {.bytes = bytes, .len = len};
  return obtain_artifact(engine, &art, err);
}

void tarmac_module_retain(tarmac_module_t *module) {
  atomic_fetch_add(&module->references, 1);
}

void tarmac_module_release(tarmac_module_t *module) {
  if (!module || atomic_fetch_sub(&module->references, 1) != 1) return;
  tarmac_guest_code_unregister(&module->code); /* before the code goes */
  close_artifact(module->library, module->artifact_fd);
  free(module->name);
  free(module->artifact_path);
  free(module);
}

const char *tarmac_module_name(const tarmac_module_t *module) {
  return module->name;
}

const char *tarmac_module_artifact(const tarmac_module_t *module) {
  return module->artifact_path;
}
