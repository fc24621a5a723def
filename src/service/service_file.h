/* service/service_file: reads a Tarmac service file (tarmac.json,
 * guest-contracts.md section 3; the format and every message are in
 * docs/service-file.md) into a plain model, validating it strictly: every
 * problem found is reported, one per line, naming the file, the service,
 * the function or route, and what is wrong. Module files are not opened
 * here (the server loads them and reports those that fail).
 *
 * Ownership: the model (tarmac_service_file_t) and every string and array
 * in it belong to the model; tarmac_service_file_free releases all of it.
 * The model is plain data: read it from any thread once loaded. */
#ifndef TARMAC_SERVICE_SERVICE_FILE_H
#define TARMAC_SERVICE_SERVICE_FILE_H

#include <stddef.h>
#include <stdint.h>

/* The HTTP contract a function speaks (docs/service-file.md, "Contracts");
 * V02 covers v0.2 and v0.3. */
typedef enum {
  TARMAC_CONTRACT_SEED,
  TARMAC_CONTRACT_V01,
  TARMAC_CONTRACT_V02,
  TARMAC_CONTRACT_V04
} tarmac_contract_t;

/* Limits a service file may set, and the largest values accepted. */
#define TARMAC_SERVICE_MAX_POOL_SIZE 10000u
#define TARMAC_SERVICE_MAX_CONCURRENCY 100000u
#define TARMAC_SERVICE_MAX_FILE_BYTES (16u << 20) /* _load refuses more */

typedef struct {
  char *name;     /* the function's key in "functions"; unique in the file */
  char *service;  /* the key of the service it belongs to */
  char *filepath; /* relative paths resolved against the file's folder */
  unsigned pool_size;         /* "pool_size", 1..10000; 0 = not set */
  tarmac_contract_t contract; /* "contract"; default V04 */
  unsigned timeout_ms;        /* "timeout", 1 ms..1 h; 0 = not set */
  uint64_t memory_limit;      /* "memory_limit", 64 KiB..65535 pages;
                                 0 = not set */
  unsigned max_concurrency;   /* "max_concurrency", 1..100000; 0 = not set */
  int pool_wait_ms;           /* "pool_wait", 0..1 h; -1 = not set */
  int reuse_instances;        /* "reuse_instances" 0/1; -1 = not set */
} tarmac_service_function_t;

typedef enum {
  TARMAC_ROUTE_HTTP,
  TARMAC_ROUTE_SCHEDULED,
  TARMAC_ROUTE_INIT,
  TARMAC_ROUTE_FUNCTION
} tarmac_route_type_t;

typedef struct {
  tarmac_route_type_t type;
  size_t function;     /* index into functions[] */
  const char *service; /* the service key (the function's service string) */
  size_t position;     /* 1-based position in the service's "routes" */
  char *path;          /* http: a valid service/route_pattern.h pattern;
                          NULL otherwise */
  char **methods;      /* http: known methods, upper case, no duplicates */
  size_t method_count;
  unsigned frequency_s; /* scheduled_task: the period (>= 1, required);
                           init: the retry delay (default 1) */
  unsigned retries;     /* init: default 0 */
} tarmac_service_route_t;

typedef struct {
  tarmac_service_function_t *functions; /* services and functions in file
                                           order */
  size_t function_count;
  tarmac_service_route_t *routes; /* file order */
  size_t route_count;
  char *path; /* the file as named to _load or _parse */
} tarmac_service_file_t;

/* Reads and parses the file at path (at most
 * TARMAC_SERVICE_MAX_FILE_BYTES). 0 and *out (free it with
 * tarmac_service_file_free), or -1 with every problem in err, one per line
 * (cut with "... and N more problems" when they do not fit: give it 8 KiB).
 */
int tarmac_service_file_load(const char *path, tarmac_service_file_t **out,
                             char *err, size_t err_size);

/* The same from text already read; file_path names the file in messages
 * and is the base of relative filepaths (NULL: "tarmac.json" in the
 * current folder). */
int tarmac_service_file_parse(const char *text, size_t len,
                              const char *file_path,
                              tarmac_service_file_t **out, char *err,
                              size_t err_size);

void tarmac_service_file_free(tarmac_service_file_t *file);

/* "seed", "v0.1", "v0.2", "v0.3", "v0.4" -> *out; 0, or -1 for any other
 * text. */
int tarmac_contract_parse(const char *text, tarmac_contract_t *out);
/* "seed", "v0.1", "v0.2" (covering v0.3), "v0.4". */
const char *tarmac_contract_name(tarmac_contract_t contract);

#endif
