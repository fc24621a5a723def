#include "engine/toolchain.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/module_abi.h"
#include "util/buffer.h"

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

/* "path:size:mtime" of the program as PATH resolves it, or "missing:name". */
static int describe_program(tarmac_buffer_t *out, const char *program) {
  struct stat st;
  if (strchr(program, '/')) {
    if (stat(program, &st) == 0)
      return tarmac_buffer_appendf(out, "%s:%lld:%lld;", program,
                                   (long long)st.st_size,
                                   (long long)st.st_mtim.tv_sec);
    return tarmac_buffer_appendf(out, "missing:%s;", program);
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char candidate[4096];
  for (const char *dir = path; *dir;) {
    const char *colon = strchr(dir, ':');
    size_t dir_len = colon ? (size_t)(colon - dir) : strlen(dir);
    if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dir_len, dir,
                 program) < (int)sizeof candidate &&
        stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate, X_OK) == 0)
      return tarmac_buffer_appendf(out, "%s:%lld:%lld;", candidate,
                                   (long long)st.st_size,
                                   (long long)st.st_mtim.tv_sec);
    if (!colon) break;
    dir = colon + 1;
  }
  return tarmac_buffer_appendf(out, "missing:%s;", program);
}

int tarmac_toolchain_init(tarmac_toolchain_t *tc, const char *cc,
                          const char *wasm2c) {
  memset(tc, 0, sizeof *tc);
  tc->cc_argv = split_command(cc && *cc ? cc : "cc");
  tc->wasm2c = strdup(wasm2c && *wasm2c ? wasm2c : "wasm2c");
  if (!tc->cc_argv || !tc->wasm2c) goto fail;
  tarmac_buffer_t id = TARMAC_BUFFER_INIT;
  int rc = tarmac_buffer_appendf(&id, "abi:%u;", TARMAC_MODULE_ABI_VERSION);
  for (char **arg = tc->cc_argv; *arg && rc == 0; arg++)
    rc = arg == tc->cc_argv ? describe_program(&id, *arg)
                            : tarmac_buffer_appendf(&id, "%s;", *arg);
  if (rc == 0) rc = describe_program(&id, tc->wasm2c);
  for (const char *const *f = k_compile_flags; *f && rc == 0; f++)
    rc = tarmac_buffer_appendf(&id, "%s;", *f);
  if (rc == 0) rc = tarmac_buffer_append(&id, "", 1);
  if (rc != 0) {
    tarmac_buffer_free(&id);
    goto fail;
  }
  tc->identity = (char *)id.data;
  return 0;
fail:
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

/* Runs argv with stdout discarded and stderr captured (bounded) into
 * `output`. Returns the exit status, or -1 with errno when it cannot run. */
static int run_tool(char *const argv[], tarmac_buffer_t *output) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null",
                                                     O_WRONLY, 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
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

static int write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return close(fd);
}

static bool exports_function(const wasm_module_info_t *info, const char *name) {
  const wasm_export_t *exp = wasm_module_info_export(info, name);
  return exp && exp->kind == WASM_EXTERN_FUNC;
}

static uint32_t distinct_import_modules(const wasm_module_info_t *info) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < info->import_count; i++) {
    bool seen = false;
    for (uint32_t j = 0; j < i && !seen; j++)
      seen = strcmp(info->imports[i].module, info->imports[j].module) == 0;
    if (!seen) count++;
  }
  return count;
}

/* The glue: adapts wasm2c's names ("-n m") to the descriptor. Every imported
 * module's instance pointer is the host's struct tarmac_instance. */
static int write_glue(const char *path, const wasm_module_info_t *info,
                      const char *cache_key) {
  static const char *const optional[] = {"_start", "_initialize", "wapc_init"};
  tarmac_buffer_t src = TARMAC_BUFFER_INIT;
  int rc = tarmac_buffer_appendf(&src, "#include \"module.h\"\n%s",
                                 TARMAC_MODULE_DESCRIPTOR_SOURCE);
  if (rc == 0) rc = tarmac_buffer_append_str(
      &src, "static void glue_instantiate(void *g, void *h) {\n"
            "  (void)h;\n  Z_m_instantiate(g");
  for (uint32_t i = distinct_import_modules(info); i > 0 && rc == 0; i--)
    rc = tarmac_buffer_append_str(&src, ", h");
  if (rc == 0) rc = tarmac_buffer_append_str(
      &src, ");\n}\n"
            "static void glue_free(void *g) { Z_m_free(g); }\n"
            "static wasm_rt_memory_t *glue_memory(void *g) {"
            " return Z_mZ_memory(g); }\n"
            "static uint32_t glue_call(void *g, uint32_t a, uint32_t b) {"
            " return Z_mZ___guest_call(g, a, b); }\n");
  for (int i = 0; i < 3 && rc == 0; i++)
    if (exports_function(info, optional[i]))
      rc = tarmac_buffer_appendf(
          &src, "static void glue%s(void *g) { Z_mZ_%s(g); }\n", optional[i],
          optional[i]);
  if (rc == 0) rc = tarmac_buffer_appendf(
      &src,
      "__attribute__((visibility(\"default\")))\n"
      "const tarmac_module_descriptor_t tarmac_module_descriptor = {\n"
      "  .abi_version = %uu, .cache_key = \"%s\",\n"
      "  .instance_size = sizeof(Z_m_instance_t),\n"
      "  .init_module = Z_m_init_module, .instantiate = glue_instantiate,\n"
      "  .free_instance = glue_free, .memory = glue_memory,\n"
      "  .guest_call = glue_call,\n",
      TARMAC_MODULE_ABI_VERSION, cache_key);
  static const char *const fields[] = {"start", "initialize", "wapc_init"};
  for (int i = 0; i < 3 && rc == 0; i++)
    if (exports_function(info, optional[i]))
      rc = tarmac_buffer_appendf(&src, "  .%s = glue%s,\n", fields[i],
                                 optional[i]);
  if (rc == 0) rc = tarmac_buffer_append_str(&src, "};\n");
  if (rc == 0) rc = write_file(path, src.data, src.len);
  tarmac_buffer_free(&src);
  return rc;
}

/* Explains a tool that did not succeed: one that could not be started
 * (status < 0, errno set) is a missing toolchain; one that ran and failed
 * gets its first lines of stderr quoted, classed as `kind`. */
static tarmac_load_status_t tool_failure(const char *what, const char *program,
                                         const char *missing_hint, int status,
                                         const tarmac_buffer_t *output,
                                         tarmac_load_status_t kind,
                                         tarmac_error_t *err) {
  if (status < 0) {
    snprintf(err->message, sizeof err->message, "%s: cannot run \"%s\": %s",
             missing_hint, program, strerror(errno));
    return TARMAC_LOAD_TOOLCHAIN;
  }
  int shown = (int)(output->len > 600 ? 600 : output->len);
  while (shown > 0 && output->data[shown - 1] == '\n') shown--;
  if (status >= 128) {
    /* Debian's wasm2c 1.0.32 aborts (SIGABRT) on any v128 instruction */
    snprintf(err->message, sizeof err->message,
             "%s: %s was killed by signal %d%s%.*s", what, program,
             status - 128,
             status - 128 == 6 ? " (wasm2c 1.0.32 aborts on SIMD/v128 code, "
                                 "which cannot be run yet) "
                               : " ",
             shown, output->data ? (const char *)output->data : "");
    return kind;
  }
  snprintf(err->message, sizeof err->message, "%s (%s exited with %d): %.*s",
           what, program, status, shown,
           output->data ? (const char *)output->data : "");
  return kind;
}

tarmac_load_status_t tarmac_toolchain_compile(const tarmac_toolchain_t *tc,
                                              const uint8_t *bytes, size_t len,
                                              const wasm_module_info_t *info,
                                              const char *cache_key,
                                              const char *work_dir,
                                              const char *output_path,
                                              tarmac_error_t *err) {
  char wasm_path[4096], c_path[4096], glue_path[4096];
  snprintf(wasm_path, sizeof wasm_path, "%s/module.wasm", work_dir);
  snprintf(c_path, sizeof c_path, "%s/module.c", work_dir);
  snprintf(glue_path, sizeof glue_path, "%s/glue.c", work_dir);
  if (write_file(wasm_path, bytes, len) != 0 ||
      write_glue(glue_path, info, cache_key) != 0) {
    snprintf(err->message, sizeof err->message,
             "cannot write to the cache work directory %s: %s", work_dir,
             strerror(errno));
    return TARMAC_LOAD_IO;
  }
  tarmac_buffer_t output = TARMAC_BUFFER_INIT;
  char *translate[] = {tc->wasm2c, wasm_path, "-n", "m", "-o", c_path, NULL};
  int status = run_tool(translate, &output);
  if (status != 0) {
    tarmac_load_status_t kind =
        tool_failure("invalid module", tc->wasm2c,
                     "wasm2c is missing (install wabt or set TARMAC_WASM2C)",
                     status, &output, TARMAC_LOAD_INVALID, err);
    tarmac_buffer_free(&output);
    return kind;
  }
  size_t cc_words = 0, flag_words = 0;
  while (tc->cc_argv[cc_words]) cc_words++;
  while (k_compile_flags[flag_words]) flag_words++;
  char **argv = calloc(cc_words + flag_words + 8, sizeof *argv);
  if (!argv) {
    tarmac_buffer_free(&output);
    snprintf(err->message, sizeof err->message, "out of memory");
    return TARMAC_LOAD_IO;
  }
  size_t n = 0;
  for (size_t i = 0; i < cc_words; i++) argv[n++] = tc->cc_argv[i];
  for (size_t i = 0; i < flag_words; i++) argv[n++] = (char *)k_compile_flags[i];
  argv[n++] = "-I";
  argv[n++] = (char *)work_dir;
  argv[n++] = "-o";
  argv[n++] = (char *)output_path;
  argv[n++] = c_path;
  argv[n++] = glue_path;
  argv[n] = NULL;
  tarmac_buffer_clear(&output);
  status = run_tool(argv, &output);
  free(argv);
  tarmac_load_status_t result = TARMAC_LOAD_OK;
  if (status != 0)
    result = tool_failure("C compilation failed", tc->cc_argv[0],
                          "no C compiler (set CC to a C compiler)", status,
                          &output, TARMAC_LOAD_TOOLCHAIN, err);
  tarmac_buffer_free(&output);
  return result;
}
