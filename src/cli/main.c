/* cli: the `tarmac` command — serve (the default), call a function once,
 * compile ahead of time, print the version. Exit codes of `call`: 0 success, 1 the guest reported
 * an error, 2 the guest trapped, 3 the module could not be loaded, 4 the
 * guest ran past its deadline (--timeout), 64 usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "callbacks/registry.h"
#include "engine/engine.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "server/config.h"
#include "server/host_callbacks.h"
#include "server/serve.h"
#include "util/buffer.h"
#include "util/fdio.h"
#include "version.h"

enum {
  EXIT_GUEST_ERROR = 1,
  EXIT_TRAP = 2,
  EXIT_LOAD = 3,
  EXIT_TIMEOUT = 4,
  EXIT_USAGE = 64,
};

static const char usage_text[] =
    "usage: tarmac [serve]\n"
    "       tarmac call [--timeout DURATION] MODULE.wasm OPERATION "
    "[PAYLOAD | -]\n"
    "       tarmac compile MODULE.wasm\n"
    "       tarmac version\n"
    "       tarmac --help\n"
    "\n"
    "  serve    (the default) serve the function over HTTP(S), configured\n"
    "           by APP_* environment variables; see docs/configuration.md.\n"
    "  call     load MODULE, run its start-up exports, invoke OPERATION with\n"
    "           PAYLOAD (the argument, standard input for '-', or empty) and\n"
    "           write the guest's response to standard output.\n"
    "           --timeout: the deadline of start-up and of the call, e.g.\n"
    "           250ms, 30s, 2m (a bare number is milliseconds; default\n"
    "           APP_WASM_TIMEOUT, else 30s; 1ms to 1h).\n"
    "           Exit status: 0 success, 1 guest error, 2 guest trapped,\n"
    "           3 module could not be loaded, 4 deadline exceeded,\n"
    "           64 usage error.\n"
    "  compile  compile MODULE into the cache and print the artifact's path.\n"
    "\n"
    "Environment: TARMAC_CACHE_DIR (compiled modules; default\n"
    "$XDG_CACHE_HOME/tarmac or ~/.cache/tarmac; it must be yours and\n"
    "writable by no one else), CC (C compiler, default cc), TARMAC_WASM2C\n"
    "(default wasm2c; must be wabt's 1.0.32), APP_WASM_MEMORY_LIMIT (per-instance\n"
    "memory ceiling, default 256MiB), APP_DEBUG / APP_TRACE (log detail),\n"
    "APP_DISABLE_LOGGING. `call` and `compile` log to standard error.\n";

static bool env_true(const char *name) {
  const char *v = getenv(name);
  return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
               strcasecmp(v, "yes") == 0);
}

static void configure_cli_logging(void) {
  tarmac_log_config_t config = {.fd = 2, .min_level = TARMAC_LOG_INFO,
                                .text = true};
  if (env_true("APP_DEBUG")) config.min_level = TARMAC_LOG_DEBUG;
  if (env_true("APP_TRACE")) config.min_level = TARMAC_LOG_TRACE;
  if (env_true("APP_DISABLE_LOGGING")) config.min_level = TARMAC_LOG_OFF;
  tarmac_log_configure(&config);
}

static int usage_error(const char *problem) {
  if (problem) fprintf(stderr, "tarmac: %s\n", problem);
  fputs(usage_text, stderr);
  return EXIT_USAGE;
}

/* Engine from the environment; a timeout of 0 takes APP_WASM_TIMEOUT's.
 * NULL (message printed) on failure. */
static tarmac_engine_t *engine_from_env(const tarmac_callbacks_t *callbacks,
                                        unsigned timeout_ms) {
  tarmac_engine_config_t config = {.callbacks = callbacks,
                                   .timeout_ms = timeout_ms};
  const char *limit = getenv("APP_WASM_MEMORY_LIMIT");
  const char *timeout = getenv("APP_WASM_TIMEOUT");
  tarmac_error_t err;
  if ((limit && *limit &&
       tarmac_server_config_memory_limit(limit, &config.memory_limit,
                                         err.message,
                                         sizeof err.message) != 0) ||
      (!timeout_ms && timeout && *timeout &&
       tarmac_server_config_timeout(timeout, &config.timeout_ms, err.message,
                                    sizeof err.message) != 0)) {
    fprintf(stderr, "tarmac: %s\n", err.message);
    return NULL;
  }
  tarmac_engine_t *engine = tarmac_engine_new(&config, &err);
  if (!engine) fprintf(stderr, "tarmac: %s\n", err.message);
  return engine;
}

/* The callbacks the server would offer (but function calls: there is no
 * service), from the same APP_* settings. NULL (message printed) when a
 * setting is bad or a backend cannot be set up. */
static tarmac_host_callbacks_t *host_callbacks_from_env(void) {
  tarmac_server_config_t config;
  char err[1024];
  tarmac_host_callbacks_t *host = NULL;
  if (tarmac_server_config_load(&config, err, sizeof err) == 0)
    host = tarmac_host_callbacks_new(&config, NULL, err, sizeof err);
  if (host == NULL) fprintf(stderr, "tarmac: %s\n", err);
  return host;
}

static int read_stdin(tarmac_buffer_t *into) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(0, chunk, sizeof chunk);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (tarmac_buffer_append(into, chunk, (size_t)n) != 0) return -1;
  }
}

static int exit_code_for(const tarmac_call_result_t *result) {
  switch (result->status) {
    case TARMAC_CALL_OK: return 0;
    case TARMAC_CALL_GUEST_ERROR: return EXIT_GUEST_ERROR;
    default:
      return result->trap == TARMAC_TRAP_DEADLINE ? EXIT_TIMEOUT : EXIT_TRAP;
  }
}

/* Start-up failed: past the deadline, or another trap. */
static int startup_failed(const tarmac_error_t *err) {
  fprintf(stderr, "tarmac: %s\n", err->message);
  return err->trap == TARMAC_TRAP_DEADLINE ? EXIT_TIMEOUT : EXIT_TRAP;
}

static int invoke_once(tarmac_module_t *module, const char *op,
                       const tarmac_buffer_t *payload) {
  tarmac_error_t err;
  tarmac_instance_t *inst = tarmac_instance_new(module, &err);
  if (!inst) return startup_failed(&err);
  tarmac_call_result_t result;
  tarmac_call_status_t status = tarmac_instance_invoke(
      inst, op, strlen(op), payload->data, payload->len, &result);
  int code = exit_code_for(&result);
  if (status == TARMAC_CALL_OK) {
    if (tarmac_write_all(1, result.data, result.len) != 0) {
      fprintf(stderr, "tarmac: cannot write the response: %s\n",
              strerror(errno));
      code = EXIT_GUEST_ERROR;
    }
  } else {
    fprintf(stderr, "tarmac: %s: %.*s\n",
            code == EXIT_TIMEOUT ? "guest timed out"
            : status == TARMAC_CALL_TRAP ? "guest trapped" : "guest error",
            (int)(result.len > 65536 ? 65536 : result.len),
            (const char *)result.data);
  }
  tarmac_instance_free(inst);
  return code;
}

/* `--timeout DURATION` before the module, when given: 0 and *timeout_ms
 * set (0 when absent), argv/argc moved past it; or the usage exit code. */
static int take_timeout(int *argc, char ***argv, unsigned *timeout_ms) {
  *timeout_ms = 0;
  if (*argc < 3 || strcmp((*argv)[2], "--timeout") != 0) return 0;
  if (*argc < 4) return usage_error("--timeout takes a duration");
  char err[256];
  if (tarmac_server_config_timeout((*argv)[3], timeout_ms, err,
                                   sizeof err) != 0) {
    fprintf(stderr, "tarmac: --timeout %s: %s\n", (*argv)[3], err);
    return EXIT_USAGE;
  }
  /* drop the option: the rest reads as without it */
  (*argv)[3] = (*argv)[1];
  *argv += 2;
  *argc -= 2;
  return 0;
}

static int command_call(int argc, char **argv) {
  unsigned timeout_ms;
  int usage = take_timeout(&argc, &argv, &timeout_ms);
  if (usage != 0) return usage;
  if (argc < 4 || argc > 5)
    return usage_error("call takes [--timeout DURATION] MODULE.wasm "
                       "OPERATION [PAYLOAD | -]");
  tarmac_buffer_t payload = TARMAC_BUFFER_INIT;
  if (argc == 5) {
    int rc = strcmp(argv[4], "-") == 0
                 ? read_stdin(&payload)
                 : tarmac_buffer_append_str(&payload, argv[4]);
    if (rc != 0) {
      fprintf(stderr, "tarmac: cannot read the payload: %s\n", strerror(errno));
      tarmac_buffer_free(&payload);
      return EXIT_USAGE;
    }
  }
  int code = EXIT_LOAD;
  tarmac_host_callbacks_t *host = host_callbacks_from_env();
  tarmac_engine_t *engine = NULL;
  if (!host) goto done;
  engine = engine_from_env(tarmac_host_callbacks_registry(host), timeout_ms);
  if (!engine) goto done;
  tarmac_module_t *module;
  tarmac_error_t err;
  if (tarmac_module_load(engine, argv[2], NULL, &module, &err) !=
      TARMAC_LOAD_OK) {
    fprintf(stderr, "tarmac: cannot load %s: %s\n", argv[2], err.message);
    goto done;
  }
  code = invoke_once(module, argv[3], &payload);
  tarmac_module_release(module);
done:
  tarmac_engine_free(engine);
  tarmac_host_callbacks_free(host);
  tarmac_buffer_free(&payload);
  return code;
}

static int command_compile(int argc, char **argv) {
  if (argc != 3) return usage_error("compile takes MODULE.wasm");
  tarmac_engine_t *engine = engine_from_env(NULL, 0);
  if (!engine) return EXIT_LOAD;
  char artifact[4096];
  tarmac_error_t err;
  int code = 0;
  if (tarmac_module_compile(engine, argv[2], artifact, sizeof artifact, &err) !=
      TARMAC_LOAD_OK) {
    fprintf(stderr, "tarmac: cannot compile %s: %s\n", argv[2], err.message);
    code = EXIT_LOAD;
  } else {
    printf("%s\n", artifact);
  }
  tarmac_engine_free(engine);
  return code;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "serve") == 0)
    return tarmac_serve_main(argc, argv);
  configure_cli_logging();
  const char *command = argv[1];
  if (strcmp(command, "call") == 0) return command_call(argc, argv);
  if (strcmp(command, "compile") == 0) return command_compile(argc, argv);
  if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
    printf("tarmac %s\n", TARMAC_VERSION);
    return 0;
  }
  if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
      strcmp(command, "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  char problem[256];
  snprintf(problem, sizeof problem, "unknown command \"%.64s\"", command);
  return usage_error(problem);
}
