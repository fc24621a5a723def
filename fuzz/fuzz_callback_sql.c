/* Fuzz target: the tarmac/sql callbacks (callbacks/sql.c, src/sql) against
 * an in-memory SQLite database, through the registry like a guest's host
 * call. The first byte picks the operation (query or exec) and whether
 * the rest is sent as is (then decoded as protobuf or JSON, like any
 * payload) or wrapped as SQLQuery{query = rest} (so most inputs reach the
 * database as SQL: use -dict=fuzz/sql.dict). Properties: no crash or leak;
 * the reply always decodes as the operation's response message in the
 * request's encoding; a failed call has error text; a successful query's
 * data is JSON that jansson parses to an array of objects with exactly the
 * reply's columns as keys; the result stays within the size bound. The
 * database persists across inputs (tables made by one input are seen by
 * the next), like a long-running server's. */
#include <jansson.h>

#include "callbacks/sql.h"
#include "fuzz_callback.h"
#include "runtime/deadline.h"

#define MAX_RESULT 65536

/* No guest runs here: a wait's end is its own. */
uint64_t tarmac_rt_deadline_bound(uint64_t until_ns) { return until_ns; }

static tarmac_callbacks_t *registry;
static tarmac_sql_t *sql;

static void set_up(void) {
  char err[256];
  tarmac_sql_config_t c = {.type = TARMAC_SQL_SQLITE, .dsn = ":memory:",
                           .pool_size = 1, .connect_timeout_ms = 1000,
                           .query_timeout_ms = 200,
                           .max_result_bytes = MAX_RESULT};
  sql = tarmac_sql_open(&c, err, sizeof err);
  registry = tarmac_callbacks_new();
  FUZZ_REQUIRE(sql && registry && tarmac_callbacks_add_sql(registry, sql) == 0,
               "set-up failed: %s", err);
}

static void check_rows(const Tarmac__SQLQueryResponse *r) {
  FUZZ_REQUIRE(r->data.len <= MAX_RESULT, "result past the bound");
  json_error_t e;
  json_t *rows = json_loadb((const char *)r->data.data, r->data.len, 0, &e);
  FUZZ_REQUIRE(rows && json_is_array(rows), "data is not a JSON array: %s",
               e.text);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    FUZZ_REQUIRE(json_is_object(row), "row %zu is not an object", i);
    for (size_t c = 0; c < r->n_columns; c++)
      FUZZ_REQUIRE(json_object_get(row, r->columns[c]) != NULL,
                   "row %zu lacks column %s", i, r->columns[c]);
  }
  json_decref(rows);
}

static void check_reply(bool query, const tarmac_buffer_t *response, int rc,
                        const tarmac_buffer_t *error) {
  const ProtobufCMessageDescriptor *desc =
      query ? &tarmac__sqlquery_response__descriptor
            : &tarmac__sqlexec_response__descriptor;
  tarmac_callback_status_t status;
  ProtobufCMessage *msg =
      tarmac_encoding_decode(desc, response->data, response->len, &status);
  if (rc != 0 && response->len == 0) { /* the reply could not be encoded */
    FUZZ_REQUIRE(error->len > 0, "failure without text");
    return;
  }
  FUZZ_REQUIRE(msg != NULL, "reply does not decode: %s", status.text);
  FUZZ_REQUIRE(rc == 0 || error->len > 0, "failure without text");
  if (query && rc == 0) check_rows((Tarmac__SQLQueryResponse *)msg);
  tarmac_encoding_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!registry) set_up();
  if (size == 0) return 0;
  bool query = data[0] & 1, wrap = data[0] & 2;
  tarmac_buffer_t payload = TARMAC_BUFFER_INIT, response = TARMAC_BUFFER_INIT,
                  error = TARMAC_BUFFER_INIT;
  if (wrap) {
    Tarmac__SQLQuery q = TARMAC__SQLQUERY__INIT;
    q.query.data = (uint8_t *)data + 1;
    q.query.len = size - 1;
    FUZZ_REQUIRE(tarmac_encoding_encode(&q.base, TARMAC_ENCODING_PROTOBUF,
                                        &payload) == 0, "encode failed");
  } else {
    FUZZ_REQUIRE(tarmac_buffer_append(&payload, data + 1, size - 1) == 0,
                 "out of memory");
  }
  const char *op = query ? "query" : "exec";
  tarmac_host_call_t call = {.binding = "tarmac", .binding_len = 6,
                             .namespace_ = "sql", .namespace_len = 3,
                             .operation = op, .operation_len = strlen(op),
                             .payload = payload.data,
                             .payload_len = payload.len};
  int rc = tarmac_callbacks_dispatch(registry, &call, &response, &error);
  check_reply(query, &response, rc, &error);
  tarmac_buffer_free(&payload);
  tarmac_buffer_free(&response);
  tarmac_buffer_free(&error);
  return 0;
}
