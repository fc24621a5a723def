/* The service file (src/service/service_file.c): the documented example
 * (docs/examples/tarmac.json) read into the model, and every invalid case
 * of docs/service-file.md refused with its message, all problems of a file
 * reported, long reports cut. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "service/service_file.h"
#include "test.h"
#include "util/buffer.h"

#define EXAMPLE TARMAC_SOURCE_DIR "/docs/examples/tarmac.json"

static void test_example(void) {
  tarmac_service_file_t *f = NULL;
  char err[8192] = "";
  int rc = tarmac_service_file_load(EXAMPLE, &f, err, sizeof err);
  if (rc != 0) fprintf(stderr, "%s\n", err);
  CHECK_EQ_INT(rc, 0);
  if (f == NULL) return;
  CHECK_EQ_INT(f->function_count, 6);
  CHECK_EQ_INT(f->route_count, 6);
  const tarmac_service_function_t *fn = f->functions;
  CHECK(strcmp(fn[0].name, "default") == 0 && strcmp(fn[0].service, "shop") == 0);
  CHECK(strcmp(fn[0].filepath, TARMAC_SOURCE_DIR
               "/docs/examples/functions/default.wasm") == 0);
  CHECK(fn[0].pool_size == 0 && fn[0].timeout_ms == 0 &&
        fn[0].memory_limit == 0 && fn[0].max_concurrency == 0 &&
        fn[0].pool_wait_ms == -1 && fn[0].reuse_instances == -1 &&
        fn[0].contract == TARMAC_CONTRACT_V04);
  CHECK(strcmp(fn[1].name, "users") == 0 && fn[1].pool_size == 8 &&
        fn[1].timeout_ms == 2000 && fn[1].memory_limit == 64u << 20 &&
        fn[1].max_concurrency == 16 && fn[1].pool_wait_ms == 500 &&
        fn[1].reuse_instances == 0);
  CHECK(strcmp(fn[2].filepath, "/opt/tarmac/legacy.wasm") == 0 &&
        fn[2].contract == TARMAC_CONTRACT_SEED);
  CHECK(fn[3].contract == TARMAC_CONTRACT_V02);
  CHECK(fn[4].timeout_ms == 60000);
  CHECK(strcmp(fn[5].name, "audit-log") == 0 &&
        strcmp(fn[5].service, "audit") == 0 &&
        fn[5].contract == TARMAC_CONTRACT_V01 && fn[5].pool_size == 2);
  const tarmac_service_route_t *r = f->routes;
  CHECK(r[0].type == TARMAC_ROUTE_HTTP && r[0].function == 1 &&
        r[0].position == 1 && strcmp(r[0].service, "shop") == 0 &&
        strcmp(r[0].path, "/users/:id") == 0 && r[0].method_count == 2 &&
        strcmp(r[0].methods[0], "GET") == 0 &&
        strcmp(r[0].methods[1], "PUT") == 0);
  CHECK(r[2].type == TARMAC_ROUTE_SCHEDULED && r[2].frequency_s == 60 &&
        r[2].function == 3 && r[2].path == NULL);
  CHECK(r[3].type == TARMAC_ROUTE_INIT && r[3].retries == 3 &&
        r[3].frequency_s == 2 && r[3].function == 4);
  CHECK(r[4].type == TARMAC_ROUTE_FUNCTION && r[4].function == 1);
  CHECK(r[5].type == TARMAC_ROUTE_HTTP && r[5].function == 5 &&
        r[5].position == 1 && strcmp(r[5].service, "audit") == 0 &&
        strcmp(r[5].methods[0], "POST") == 0);
  CHECK(strcmp(f->path, EXAMPLE) == 0);
  tarmac_service_file_free(f);
}

static tarmac_service_file_t *parse(const char *text, char *err,
                                    size_t err_size) {
  tarmac_service_file_t *f = NULL;
  err[0] = '\0';
  tarmac_service_file_parse(text, strlen(text), "dir/tarmac.json", &f, err,
                            err_size);
  return f;
}

static void test_defaults_and_paths(void) {
  char err[8192];
  tarmac_service_file_t *f = parse(
      "{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":"
      "{\"filepath\":\"f.wasm\",\"timeout\":250,\"memory_limit\":131072}},"
      "\"routes\":[{\"type\":\"init\",\"function\":\"f\"},"
      "{\"type\":\"http\",\"path\":\"/\",\"methods\":[\"GET\"],"
      "\"function\":\"f\"}]}}}", err, sizeof err);
  CHECK(f != NULL);
  if (f == NULL) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  CHECK(strcmp(f->functions[0].filepath, "dir/f.wasm") == 0);
  CHECK(f->functions[0].timeout_ms == 250 &&
        f->functions[0].memory_limit == 131072);
  CHECK(f->routes[0].frequency_s == 1 && f->routes[0].retries == 0);
  tarmac_service_file_free(f);
  /* no folder in the file's name: filepath kept as written */
  tarmac_service_file_t *g = NULL;
  const char *text = "{\"services\":{\"s\":{\"name\":\"s\",\"functions\":"
                     "{\"f\":{\"filepath\":\"f.wasm\"}}}}}";
  CHECK_EQ_INT(tarmac_service_file_parse(text, strlen(text), NULL, &g, err,
                                         sizeof err), 0);
  if (g != NULL) CHECK(strcmp(g->functions[0].filepath, "f.wasm") == 0);
  tarmac_service_file_free(g);
}

/* A service "s" with function "f" around one route (JSON text). */
#define ONE_ROUTE(route)                                               \
  "{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":"         \
  "{\"filepath\":\"f.wasm\"}},\"routes\":[" route "]}}}"
/* A service "s" whose function "f" has these extra keys. */
#define FUNCTION(keys)                                                 \
  "{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":"         \
  "{\"filepath\":\"f.wasm\"," keys "}}}}}"

typedef struct {
  const char *text;
  const char *message; /* a part of the one problem expected */
} invalid_t;

static const invalid_t invalid[] = {
    {"", "dir/tarmac.json: the file is empty"},
    {" \n\t", "dir/tarmac.json: the file is empty"},
    {"{\"services\":", "dir/tarmac.json: not JSON: line 1, column 12"},
    {"[1]", "the top level is not a JSON object"},
    {"{}", "dir/tarmac.json: missing \"services\""},
    {"{\"services\":[]}", "\"services\" is not an object"},
    {"{\"services\":{}}", "\"services\" is empty"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":{\"filepath\":"
     "\"a\"}}}},\"x\":1}", "top level: unknown key \"x\""},
    {"{\"services\":{\"s\":1}}", "service \"s\": not a JSON object"},
    {"{\"services\":{\"s\":{\"functions\":{\"f\":{\"filepath\":\"a\"}}}}}",
     "service \"s\": missing \"name\""},
    {"{\"services\":{\"s\":{\"name\":7,\"functions\":{\"f\":{\"filepath\":"
     "\"a\"}}}}}", "service \"s\": \"name\" is not a non-empty string"},
    {"{\"services\":{\"s\":{\"name\":\"s\"}}}",
     "service \"s\": missing \"functions\""},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{}}}}",
     "service \"s\": the service has no functions"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":[]}}}",
     "service \"s\": \"functions\" is not an object"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":{\"filepath\":"
     "\"a\"}},\"routes\":{}}}}", "service \"s\": \"routes\" is not a list"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"function\":{},\"functions\":"
     "{\"f\":{\"filepath\":\"a\"}}}}}",
     "service \"s\": unknown key \"function\" (a service has: name, "
     "functions, routes)"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":{}}}}}",
     "service \"s\", function \"f\": missing \"filepath\""},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":1}}}}",
     "service \"s\", function \"f\": not a JSON object"},
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"\":{\"filepath\":"
     "\"a\"}}}}}", "function \"\": the function name is empty"},
    {FUNCTION("\"filepath\":\"\""), "not JSON"}, /* duplicate key */
    {"{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{\"f\":{\"filepath\":"
     "\"\"}}}}}", "function \"f\": \"filepath\" is not a non-empty string"},
    {FUNCTION("\"pool\":1"), "function \"f\": unknown key \"pool\" (a "
     "function has: filepath, pool_size"},
    {FUNCTION("\"pool_size\":0"),
     "\"pool_size\" is 0: it must be from 1 to 10000"},
    {FUNCTION("\"pool_size\":10001"),
     "\"pool_size\" is 10001: it must be from 1 to 10000"},
    {FUNCTION("\"pool_size\":\"2\""), "\"pool_size\" is not a whole number"},
    {FUNCTION("\"pool_size\":2.5"), "\"pool_size\" is not a whole number"},
    {FUNCTION("\"contract\":\"v0.5\""), "\"contract\" is not one of"},
    {FUNCTION("\"timeout\":\"2 s\""), "\"timeout\" is not a duration"},
    {FUNCTION("\"timeout\":0"), "\"timeout\" is out of range: from 1 ms"},
    {FUNCTION("\"timeout\":\"2h\""), "\"timeout\" is out of range"},
    {FUNCTION("\"timeout\":-1"), "\"timeout\" is not a duration"},
    {FUNCTION("\"memory_limit\":\"lots\""), "\"memory_limit\" is not a byte "
     "size"},
    {FUNCTION("\"memory_limit\":\"4G\""), "\"memory_limit\" is out of range"},
    {FUNCTION("\"memory_limit\":100"), "\"memory_limit\" is out of range"},
    {FUNCTION("\"max_concurrency\":0"), "\"max_concurrency\" is 0"},
    {FUNCTION("\"pool_wait\":\"soon\""), "\"pool_wait\" is not a duration"},
    {FUNCTION("\"reuse_instances\":1"),
     "\"reuse_instances\" is not true or false"},
    {ONE_ROUTE("7"), "service \"s\", route 1: not a JSON object"},
    {ONE_ROUTE("{\"function\":\"f\"}"), "service \"s\", route 1: missing "
     "\"type\""},
    {ONE_ROUTE("{\"type\":1,\"function\":\"f\"}"), "\"type\" is not a string"},
    {ONE_ROUTE("{\"type\":\"cron\",\"function\":\"f\"}"),
     "service \"s\", route 1: unknown route type \"cron\""},
    {ONE_ROUTE("{\"type\":\"function\"}"),
     "route 1 (function): missing \"function\""},
    {ONE_ROUTE("{\"type\":\"function\",\"function\":[]}"),
     "route 1 (function): \"function\" is not a non-empty string"},
    {ONE_ROUTE("{\"type\":\"function\",\"function\":\"g\"}"),
     "route 1 (function): the function \"g\" is not defined in service "
     "\"s\""},
    {ONE_ROUTE("{\"type\":\"function\",\"function\":\"f\",\"path\":\"/\"}"),
     "route 1 (function): unknown key \"path\" (a function route has: type, "
     "function)"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"methods\":"
               "[\"GET\"]}"), "route 1 (http): missing \"path\""},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":1,"
               "\"methods\":[\"GET\"]}"), "\"path\" is not a string"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"x\","
               "\"methods\":[\"GET\"]}"),
     "route 1 (http x): the path \"x\" does not start with '/'"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a/:\","
               "\"methods\":[\"GET\"]}"), "a parameter without a name"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/:a/:a\","
               "\"methods\":[\"GET\"]}"), "has the parameter \":a\" twice"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\\nb\","
               "\"methods\":[\"GET\"]}"),
     "route 1 (http /a?b): the path \"/a?b\" has the byte 0x0a"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a//b\","
               "\"methods\":[\"GET\"]}"), "has an empty segment"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/health\","
               "\"methods\":[\"GET\"]}"),
     "route 1 (http /health): the path \"/health\" is a built-in endpoint"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/metrics\","
               "\"methods\":[\"GET\"]}"), "is a built-in endpoint"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/ready\","
               "\"methods\":[\"GET\"]}"), "is a built-in endpoint"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\"}"),
     "route 1 (http /a): missing \"methods\""},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\","
               "\"methods\":\"GET\"}"), "\"methods\" is not a list"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\","
               "\"methods\":[]}"), "\"methods\" is empty"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\","
               "\"methods\":[\"FETCH\"]}"), "unknown HTTP method \"FETCH\""},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\","
               "\"methods\":[1]}"), "methods[0] is not a string"},
    {ONE_ROUTE("{\"type\":\"http\",\"function\":\"f\",\"path\":\"/a\","
               "\"methods\":[\"GET\",\"get\"]}"),
     "\"methods\" lists GET twice"},
    {ONE_ROUTE("{\"type\":\"scheduled_task\",\"function\":\"f\"}"),
     "route 1 (scheduled_task): missing \"frequency\""},
    {ONE_ROUTE("{\"type\":\"scheduled_task\",\"function\":\"f\","
               "\"frequency\":0}"),
     "route 1 (scheduled_task): \"frequency\" is 0: it must be from 1"},
    {ONE_ROUTE("{\"type\":\"scheduled_task\",\"function\":\"f\","
               "\"frequency\":\"15\"}"), "\"frequency\" is not a whole number"},
    {ONE_ROUTE("{\"type\":\"scheduled_task\",\"function\":\"f\","
               "\"frequency\":1,\"retries\":1}"),
     "unknown key \"retries\" (a scheduled_task route has: type, function, "
     "frequency)"},
    {ONE_ROUTE("{\"type\":\"init\",\"function\":\"f\",\"retries\":-1}"),
     "route 1 (init): \"retries\" is -1: it must be from 0"},
    {ONE_ROUTE("{\"type\":\"init\",\"function\":\"f\",\"frequency\":0}"),
     "route 1 (init): \"frequency\" is 0"},
    {"{\"services\":{\"a\":{\"name\":\"a\",\"functions\":{\"f\":{\"filepath\":"
     "\"a\"}}},\"b\":{\"name\":\"b\",\"functions\":{\"f\":{\"filepath\":"
     "\"b\"}}}}}",
     "service \"b\", function \"f\": the function name is also used in "
     "service \"a\""},
    {"{\"services\":{\"a\":{\"name\":\"a\",\"functions\":{\"f\":{\"filepath\":"
     "\"a\"}},\"routes\":[{\"type\":\"http\",\"path\":\"/x/:id\",\"methods\":"
     "[\"GET\",\"POST\"],\"function\":\"f\"}]},\"b\":{\"name\":\"b\","
     "\"functions\":{\"g\":{\"filepath\":\"b\"}},\"routes\":[{\"type\":"
     "\"http\",\"path\":\"/x/:name\",\"methods\":[\"POST\"],\"function\":"
     "\"g\"}]}}}",
     "service \"b\", route 1 (http /x/:name): POST /x/:name is also routed "
     "by service \"a\", route 1 (/x/:id)"},
};

static void test_invalid(void) {
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    char err[8192];
    tarmac_service_file_t *f = parse(invalid[i].text, err, sizeof err);
    bool ok = f == NULL && strstr(err, invalid[i].message) != NULL &&
              strncmp(err, "dir/tarmac.json: ", 17) == 0 &&
              strchr(err, '\n') == NULL;
    if (!ok)
      fprintf(stderr, "case %zu: %s\n  got:  \"%s\"\n  want: \"%s\"\n", i,
              invalid[i].text, err, invalid[i].message);
    CHECK(ok);
    tarmac_service_file_free(f);
  }
}

/* Every problem of a file is reported, each on its own line. */
static void test_every_problem(void) {
  char err[8192];
  tarmac_service_file_t *f = parse(
      "{\"services\":{\"s\":{\"functions\":{\"f\":{\"pool_size\":0}},"
      "\"routes\":[{\"type\":\"http\",\"path\":\"/health\",\"methods\":[],"
      "\"function\":\"g\"},{\"type\":\"cron\"}]}},\"extra\":true}",
      err, sizeof err);
  CHECK(f == NULL);
  static const char *const lines[] = {
      "dir/tarmac.json: top level: unknown key \"extra\"",
      "dir/tarmac.json: service \"s\": missing \"name\"",
      "dir/tarmac.json: service \"s\", function \"f\": missing \"filepath\"",
      "dir/tarmac.json: service \"s\", function \"f\": \"pool_size\" is 0",
      "dir/tarmac.json: service \"s\", route 1 (http /health): the function "
      "\"g\" is not defined",
      "dir/tarmac.json: service \"s\", route 1 (http /health): the path "
      "\"/health\" is a built-in",
      "dir/tarmac.json: service \"s\", route 1 (http /health): \"methods\" "
      "is empty",
      "dir/tarmac.json: service \"s\", route 2: unknown route type \"cron\"",
      "dir/tarmac.json: service \"s\", route 2: missing \"function\""};
  size_t count = 1;
  for (const char *p = err; (p = strchr(p, '\n')) != NULL; p++) count++;
  CHECK_EQ_INT(count, sizeof lines / sizeof lines[0]);
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    if (strstr(err, lines[i]) == NULL)
      fprintf(stderr, "missing line \"%s\" in:\n%s\n", lines[i], err);
    CHECK(strstr(err, lines[i]) != NULL);
  }
}

/* A report that does not fit is cut at a line, with the rest counted. */
static void test_cut(void) {
  char text[8192] = "{\"services\":{\"s\":{\"name\":\"s\",\"functions\":{";
  for (int i = 0; i < 40; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text),
             "%s\"f%d\":{\"pool_size\":0,\"filepath\":\"x\"}", i ? "," : "", i);
  strcat(text, "}}}}");
  char err[300];
  tarmac_service_file_t *f = parse(text, err, sizeof err);
  CHECK(f == NULL);
  CHECK(strlen(err) < sizeof err);
  const char *tail = strstr(err, "... and ");
  CHECK(tail != NULL && strstr(tail, " more problem") != NULL);
  unsigned shown = 0, more = 0;
  for (const char *p = err; (p = strstr(p, "\"pool_size\" is 0")); p++) shown++;
  if (tail) sscanf(tail, "... and %u more", &more);
  CHECK(shown >= 1 && shown + more == 40);
  /* a complete line before the tail */
  CHECK(tail != NULL && tail > err && tail[-1] == '\n');
}

/* Past the lines kept, problems are still counted. */
static void test_many_problems(void) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  CHECK_EQ_INT(tarmac_buffer_append_str(&text, "{\"services\":{\"s\":{"
                                        "\"name\":\"s\",\"functions\":{"), 0);
  for (int i = 0; i < 20000; i++)
    CHECK(tarmac_buffer_appendf(&text, "%s\"f%d\":{}", i ? "," : "", i) == 0);
  CHECK_EQ_INT(tarmac_buffer_append_str(&text, "}}}}"), 0);
  tarmac_service_file_t *f = NULL;
  char err[8192];
  CHECK_EQ_INT(tarmac_service_file_parse((const char *)text.data, text.len,
                                         "t.json", &f, err, sizeof err), -1);
  unsigned shown = 0, more = 0;
  for (const char *p = err; (p = strstr(p, "missing \"filepath\"")); p++)
    shown++;
  const char *tail = strstr(err, "... and ");
  if (tail) sscanf(tail, "... and %u more", &more);
  CHECK(shown > 10 && shown + more == 20000);
  tarmac_buffer_free(&text);
}

static void test_load_errors(void) {
  tarmac_service_file_t *f = NULL;
  char err[512];
  CHECK_EQ_INT(tarmac_service_file_load("/nonexistent/tarmac.json", &f, err,
                                        sizeof err), -1);
  CHECK(f == NULL && strstr(err, "/nonexistent/tarmac.json: cannot open") ==
                         err);
}

static void test_contract_names(void) {
  tarmac_contract_t c;
  CHECK(tarmac_contract_parse("v0.3", &c) == 0 && c == TARMAC_CONTRACT_V02);
  CHECK(tarmac_contract_parse("seed", &c) == 0 && c == TARMAC_CONTRACT_SEED);
  CHECK(tarmac_contract_parse("V0.4", &c) == -1);
  CHECK(strcmp(tarmac_contract_name(TARMAC_CONTRACT_V01), "v0.1") == 0);
  CHECK(strcmp(tarmac_contract_name(TARMAC_CONTRACT_V04), "v0.4") == 0);
}

int main(void) {
  test_example();
  test_defaults_and_paths();
  test_invalid();
  test_every_problem();
  test_cut();
  test_many_problems();
  test_load_errors();
  test_contract_names();
  TEST_EXIT();
}
