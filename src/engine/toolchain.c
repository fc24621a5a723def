#include "engine/toolchain.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/cache.h"
#include "engine/glue.h"
#include "engine/module_abi.h"
#include "log/log.h"
#include "util/buffer.h"
#include "util/fdio.h"

extern char **environ;

#define TOOL_OUTPUT_LIMIT (16u * 1024u)

/* Flags the generated code needs: no tail calls (so runaway recursion
 * exhausts the stack instead of looping), IEEE-exact float semantics, page
 * probing of large frames (so stack overflows hit the guard page), and only
 * the descriptor exported. */
static const char *const k_compile_flags[] = {
    "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
    "-fno-optimize-sibling-calls", "-frounding-math", "-fsignaling-nans",
    "-fno-strict-aliasing", "-fstack-clash-protection", "-w", NULL};

/* Libraries the generated code calls into, after the sources: wasm2c's
 * float code calls libm (sqrt, sqrtf, nearbyint, ...), and the host process
 * need not have it loaded, so the module names it itself. */
static const char *const k_link_libraries[] = {"-lm", NULL};

static char **split_command(const char *command) {
  size_t words = 0;
  for (const char *p = command; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    words++;
    while (*p && *p != ' ' && *p != '\t') p++;
  }
  char **argv = calloc(words + 1, sizeof *argv);
  if (!argv) return NULL;
  size_t n = 0;
  for (const char *p = command; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    argv[n] = strndup(start, (size_t)(p - start));
    if (!argv[n]) {
      for (size_t i = 0; i < n; i++) free(argv[i]);
      free(argv);
      return NULL;
    }
    n++;
  }
  return argv;
}

/* Finds `program` as posix_spawnp would (a name with a slash as is,
 * otherwise the first executable regular file in $PATH) and stats it.
 * Returns the path (caller frees), or NULL when there is none (errno
 * ENOENT) or memory ran out. */
static char *resolve_program(const char *program, struct stat *st) {
  if (strchr(program, '/'))
    return stat(program, st) == 0 ? strdup(program) : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char candidate[4096];
  for (const char *dir = path; *dir;) {
    const char *colon = strchr(dir, ':');
    size_t dir_len = colon ? (size_t)(colon - dir) : strlen(dir);
    if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dir_len, dir,
                 program) < (int)sizeof candidate &&
        stat(candidate, st) == 0 && S_ISREG(st->st_mode) &&
        access(candidate, X_OK) == 0)
      return strdup(candidate);
    if (!colon) break;
    dir = colon + 1;
  }
  errno = ENOENT;
  return NULL;
}

/* "path:size:mtime:inode;" of a resolved program, or "missing:name;". */
static int describe_program(tarmac_buffer_t *out, const char *program) {
  struct stat st;
  char *path = resolve_program(program, &st);
  int rc = path ? tarmac_buffer_appendf(
                      out, "%s:%lld:%lld.%09ld:%llu;", path,
                      (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                      st.st_mtim.tv_nsec, (unsigned long long)st.st_ino)
                : tarmac_buffer_appendf(out, "missing:%s;", program);
  free(path);
  return rc;
}

/* Runs argv with stdout discarded and stderr captured (bounded) into
 * `output`. Returns the exit status, or -1 with errno when it cannot run. */
static int run_tool(char *const argv[], int capture_fd,
                    tarmac_buffer_t *output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(
                   &actions, capture_fd == 1 ? 2 : 1, "/dev/null", O_WRONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, pipe_fds[1],
                                                     capture_fd);
  pid_t pid = -1;
  if (rc == 0) rc = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    errno = rc;
    return -1;
  }
  char chunk[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], chunk, sizeof chunk)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (output->len < TOOL_OUTPUT_LIMIT)
      tarmac_buffer_append(output, chunk, (size_t)n); /* best effort */
  }
  close(pipe_fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The version in the cache's note for this wasm2c binary: true with the
 * version in `out` when the note exists, is trusted and was made for this
 * very binary (its identity line matches). */
static bool read_version_note(const char *path, const char *identity,
                              tarmac_buffer_t *out) {
  char why[256];
  size_t id_len = strlen(identity);
  if (tarmac_cache_read(path, 4096, out, why, sizeof why) != 0) {
    if (errno != ENOENT)
      tarmac_logf(TARMAC_LOG_WARN, "ignoring %s: %s", path, why);
    return false;
  }
  if (out->len <= id_len || memcmp(out->data, identity, id_len) != 0 ||
      out->data[id_len] != '\n')
    return false;
  memmove(out->data, out->data + id_len + 1, out->len - id_len); /* + NUL */
  out->len -= id_len + 1;
  while (out->len > 0 && out->data[out->len - 1] == '\n')
    out->data[--out->len] = '\0';
  return out->len > 0;
}

/* Runs `wasm2c --version`; 0 with the answer (one line, NUL-terminated)
 * in `out`, or -1 with err set. */
static int ask_version(const char *wasm2c, tarmac_buffer_t *out,
                       tarmac_error_t *err) {
  char *argv[] = {(char *)wasm2c, "--version", NULL};
  tarmac_buffer_clear(out);
  int status = run_tool(argv, 1, out);
  while (out->len > 0 && (out->data[out->len - 1] == '\n' ||
                          out->data[out->len - 1] == ' '))
    out->len--;
  if (status != 0 || out->len == 0 || out->len > 200 ||
      memchr(out->data, '\n', out->len) ||
      tarmac_buffer_append(out, "", 1) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot ask %s for its version (`%s --version` %s)", wasm2c,
             wasm2c, status < 0 ? strerror(errno) : "gave no version line");
    return -1;
  }
  out->len--;
  return 0;
}

/* The version wasm2c reports, from the cache's note when the note was made
 * for this very binary (identity = path, size, mtime, inode), else by
 * running `wasm2c --version` and noting the answer, so a cached call runs
 * nothing. 0 with the version in `out`, or -1 with err set. */
static int wasm2c_version(const char *wasm2c, const char *identity,
                          const char *cache_dir, tarmac_buffer_t *out,
                          tarmac_error_t *err) {
  char hash[TARMAC_CACHE_KEY_HEX + 1], name[64], path[4096];
  if (tarmac_cache_key(identity, "", 0, hash) != 0) {
    snprintf(err->message, sizeof err->message, "cannot hash");
    return -1;
  }
  snprintf(name, sizeof name, "wasm2c-%.16s.version", hash);
  snprintf(path, sizeof path, "%s/%s", cache_dir, name);
  if (read_version_note(path, identity, out)) return 0;
  if (ask_version(wasm2c, out, err) != 0) return -1;
  tarmac_buffer_t note = TARMAC_BUFFER_INIT;
  if (tarmac_buffer_appendf(&note, "%s\n%s\n", identity,
                            (const char *)out->data) != 0 ||
      tarmac_cache_write(cache_dir, name, note.data, note.len) != 0)
    tarmac_logf(TARMAC_LOG_WARN, "cannot note the wasm2c version in %s: %s",
                path, strerror(errno));
  tarmac_buffer_free(&note);
  return 0;
}

/* Finds wasm2c and checks it is the version the runtime is built for. */
static int check_wasm2c(tarmac_toolchain_t *tc, const char *cache_dir,
                        tarmac_buffer_t *identity, tarmac_error_t *err) {
  struct stat st;
  char *path = resolve_program(tc->wasm2c, &st);
  if (!path) {
    snprintf(err->message, sizeof err->message,
             "wasm2c not found (\"%s\"): install wabt %s or set "
             "TARMAC_WASM2C to its wasm2c", tc->wasm2c,
             TARMAC_WASM2C_REQUIRED_VERSION);
    return -1;
  }
  free(tc->wasm2c);
  tc->wasm2c = path;
  tarmac_buffer_t id = TARMAC_BUFFER_INIT, version = TARMAC_BUFFER_INIT;
  int rc = describe_program(&id, path) == 0 &&
                   tarmac_buffer_append(&id, "", 1) == 0
               ? wasm2c_version(path, (const char *)id.data, cache_dir,
                                &version, err)
               : -1;
  if (rc == 0 && strcmp((const char *)version.data,
                        TARMAC_WASM2C_REQUIRED_VERSION) != 0) {
    snprintf(err->message, sizeof err->message,
             "%s is wasm2c version %s, but tarmac requires wasm2c %s "
             "(the runtime depends on its output); set TARMAC_WASM2C to a "
             "wasm2c %s", path, (const char *)version.data,
             TARMAC_WASM2C_REQUIRED_VERSION, TARMAC_WASM2C_REQUIRED_VERSION);
    rc = -1;
  }
  if (rc == 0 && tarmac_buffer_appendf(identity, "%swasm2c-version:%s;",
                                       (const char *)id.data,
                                       (const char *)version.data) != 0) {
    snprintf(err->message, sizeof err->message, "out of memory");
    rc = -1;
  }
  tarmac_buffer_free(&id);
  tarmac_buffer_free(&version);
  return rc;
}

int tarmac_toolchain_init(tarmac_toolchain_t *tc, const char *cc,
                          const char *wasm2c, const char *cache_dir,
                          tarmac_error_t *err) {
  memset(tc, 0, sizeof *tc);
  tc->cc_argv = split_command(cc && *cc ? cc : "cc");
  tc->wasm2c = strdup(wasm2c && *wasm2c ? wasm2c : "wasm2c");
  tarmac_buffer_t id = TARMAC_BUFFER_INIT;
  int rc = tc->cc_argv && tc->wasm2c && tc->cc_argv[0]
               ? tarmac_buffer_appendf(&id, "abi:%u;", TARMAC_MODULE_ABI_VERSION)
               : -1;
  for (char **arg = tc->cc_argv; rc == 0 && *arg; arg++)
    rc = arg == tc->cc_argv ? describe_program(&id, *arg)
                            : tarmac_buffer_appendf(&id, "%s;", *arg);
  for (const char *const *f = k_compile_flags; *f && rc == 0; f++)
    rc = tarmac_buffer_appendf(&id, "%s;", *f);
  for (const char *const *f = k_link_libraries; *f && rc == 0; f++)
    rc = tarmac_buffer_appendf(&id, "%s;", *f);
  if (rc != 0) {
    snprintf(err->message, sizeof err->message,
             tc->cc_argv && !tc->cc_argv[0] ? "CC names no program"
                                            : "out of memory");
  } else if (check_wasm2c(tc, cache_dir, &id, err) == 0 &&
             tarmac_buffer_append(&id, "", 1) == 0) {
    tc->identity = (char *)id.data;
    return 0;
  }
  tarmac_buffer_free(&id);
  tarmac_toolchain_free(tc);
  return -1;
}

void tarmac_toolchain_free(tarmac_toolchain_t *tc) {
  if (tc->cc_argv)
    for (char **arg = tc->cc_argv; *arg; arg++) free(*arg);
  free(tc->cc_argv);
  free(tc->wasm2c);
  free(tc->identity);
  memset(tc, 0, sizeof *tc);
}

/* Explains a tool that did not succeed: one that could not be started
 * (status < 0, errno set) is a missing toolchain; one that ran and failed
 * gets its first lines of stderr quoted, classed as `kind`. `recordable`
 * says whether the failure is the module's own under this toolchain (the
 * tool ran and refused it), not an accident of the moment. */
static tarmac_load_status_t tool_failure(const char *what, const char *program,
                                         const char *missing_hint, int status,
                                         const tarmac_buffer_t *output,
                                         tarmac_load_status_t kind,
                                         bool *recordable, tarmac_error_t *err) {
  *recordable = false;
  if (status < 0) {
    snprintf(err->message, sizeof err->message, "%s: cannot run \"%s\": %s",
             missing_hint, program, strerror(errno));
    return TARMAC_LOAD_TOOLCHAIN;
  }
  int shown = (int)(output->len > 600 ? 600 : output->len);
  while (shown > 0 && output->data[shown - 1] == '\n') shown--;
  const char *text = output->data ? (const char *)output->data : "";
  if (status >= 128) {
    /* Debian's wasm2c 1.0.32 aborts (SIGABRT) on any v128 instruction;
     * other signals (the OOM killer, a timeout) say nothing of the module */
    bool simd = status - 128 == SIGABRT && kind == TARMAC_LOAD_INVALID;
    *recordable = simd;
    snprintf(err->message, sizeof err->message,
             "%s: %s was killed by signal %d%s%.*s", what, program,
             status - 128,
             simd ? " (wasm2c 1.0.32 aborts on SIMD/v128 code, which cannot "
                    "be run yet) " : " ",
             shown, text);
    return kind;
  }
  *recordable = true;
  snprintf(err->message, sizeof err->message, "%s (%s exited with %d): %.*s",
           what, program, status, shown, text);
  return kind;
}

/* cc, the flags, -I work_dir, -o output, the glue (which includes wasm2c's
 * module.c), the libraries. The array borrows every string; the caller
 * frees only the array. */
static char **compile_command(const tarmac_toolchain_t *tc,
                              const char *work_dir, const char *output_path,
                              char *glue_path) {
  size_t cc_words = 0, flag_words = 0, lib_words = 0;
  while (tc->cc_argv[cc_words]) cc_words++;
  while (k_compile_flags[flag_words]) flag_words++;
  while (k_link_libraries[lib_words]) lib_words++;
  char **argv = calloc(cc_words + flag_words + lib_words + 6, sizeof *argv);
  if (!argv) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < cc_words; i++) argv[n++] = tc->cc_argv[i];
  for (size_t i = 0; i < flag_words; i++) argv[n++] = (char *)k_compile_flags[i];
  argv[n++] = "-I";
  argv[n++] = (char *)work_dir;
  argv[n++] = "-o";
  argv[n++] = (char *)output_path;
  argv[n++] = glue_path;
  for (size_t i = 0; i < lib_words; i++)
    argv[n++] = (char *)k_link_libraries[i];
  argv[n] = NULL;
  return argv;
}

tarmac_load_status_t tarmac_toolchain_compile(const tarmac_toolchain_t *tc,
                                              const tarmac_compile_job_t *job,
                                              bool *recordable,
                                              tarmac_error_t *err) {
  char wasm_path[4096], c_path[4096], glue_path[4096];
  snprintf(wasm_path, sizeof wasm_path, "%s/module.wasm", job->work_dir);
  snprintf(c_path, sizeof c_path, "%s/module.c", job->work_dir);
  snprintf(glue_path, sizeof glue_path, "%s/glue.c", job->work_dir);
  *recordable = false;
  if (tarmac_write_file(wasm_path, job->bytes, job->len) != 0 ||
      tarmac_glue_write(glue_path, job->info, job->cache_key, job->wapc) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot write to the cache work directory %s: %s", job->work_dir,
             strerror(errno));
    return TARMAC_LOAD_IO;
  }
  tarmac_buffer_t output = TARMAC_BUFFER_INIT;
  char *translate[] = {tc->wasm2c, wasm_path, "-n", "m", "-o", c_path, NULL};
  int status = run_tool(translate, 2, &output);
  tarmac_load_status_t result = TARMAC_LOAD_OK;
  if (status != 0) {
    result = tool_failure("invalid module", tc->wasm2c,
                          "wasm2c is missing (install wabt or set "
                          "TARMAC_WASM2C)", status, &output,
                          TARMAC_LOAD_INVALID, recordable, err);
    tarmac_buffer_free(&output);
    return result;
  }
  char **argv = compile_command(tc, job->work_dir, job->output_path,
                                glue_path);
  if (!argv) {
    tarmac_buffer_free(&output);
    snprintf(err->message, sizeof err->message, "out of memory");
    return TARMAC_LOAD_IO;
  }
  tarmac_buffer_clear(&output);
  status = run_tool(argv, 2, &output);
  free(argv);
  if (status != 0)
    result = tool_failure("C compilation failed", tc->cc_argv[0],
                          "no C compiler (set CC to a C compiler)", status,
                          &output, TARMAC_LOAD_TOOLCHAIN, recordable, err);
  tarmac_buffer_free(&output);
  return result;
}
