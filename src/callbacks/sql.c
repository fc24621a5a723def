/* callbacks/sql: decode, run on the pool, reply in the request's
 * encoding. All the database work is in sql/. */
#include "callbacks/sql.h"

#include <stdlib.h>

#include "callbacks/encoding.h"

static void copy_status(const tarmac_sql_status_t *from,
                        tarmac_callback_status_t *to) {
  tarmac_callback_status_set(to, from->code, "%s", from->message);
}

static int query_call(void *data, const tarmac_host_call_t *call,
                      tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__SQLQuery *msg = (Tarmac__SQLQuery *)tarmac_encoding_decode(
      &tarmac__sqlquery__descriptor, call->payload, call->payload_len,
      &status);
  tarmac_sql_result_t result = {0};
  if (msg) {
    tarmac_sql_status_t sql_status;
    tarmac_sql_query(data, msg->query.data, msg->query.len, &result,
                     &sql_status);
    copy_status(&sql_status, &status);
  }
  Tarmac__SQLQueryResponse reply = TARMAC__SQLQUERY_RESPONSE__INIT;
  Tarmac__Status reply_status;
  tarmac_encoding_status(&status, &reply_status);
  reply.status = &reply_status;
  if (status.code == 200) {
    reply.n_columns = result.column_count;
    reply.columns = result.columns;
    reply.data.data = result.data.data;
    reply.data.len = result.data.len;
  }
  int rc = tarmac_encoding_reply(&reply.base, &status, response, error);
  tarmac_sql_result_free(&result);
  tarmac_encoding_free(msg ? &msg->base : NULL);
  return rc;
}

static int exec_call(void *data, const tarmac_host_call_t *call,
                     tarmac_buffer_t *response, tarmac_buffer_t *error) {
  tarmac_callback_status_t status;
  Tarmac__SQLExec *msg = (Tarmac__SQLExec *)tarmac_encoding_decode(
      &tarmac__sqlexec__descriptor, call->payload, call->payload_len, &status);
  tarmac_sql_exec_result_t result = {0};
  if (msg) {
    tarmac_sql_status_t sql_status;
    tarmac_sql_exec(data, msg->query.data, msg->query.len, &result,
                    &sql_status);
    copy_status(&sql_status, &status);
  }
  Tarmac__SQLExecResponse reply = TARMAC__SQLEXEC_RESPONSE__INIT;
  Tarmac__Status reply_status;
  tarmac_encoding_status(&status, &reply_status);
  reply.status = &reply_status;
  reply.last_insert_id = result.last_insert_id;
  reply.rows_affected = result.rows_affected;
  int rc = tarmac_encoding_reply(&reply.base, &status, response, error);
  tarmac_encoding_free(msg ? &msg->base : NULL);
  return rc;
}

int tarmac_callbacks_add_sql(tarmac_callbacks_t *registry, tarmac_sql_t *sql) {
  if (!registry || !sql) return -1;
  if (tarmac_callbacks_add(registry, "tarmac", "sql", "query", query_call,
                           sql) != 0)
    return -1;
  return tarmac_callbacks_add(registry, "tarmac", "sql", "exec", exec_call,
                              sql);
}
