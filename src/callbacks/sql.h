/* callbacks/sql: the tarmac/sql/query and tarmac/sql/exec host calls over
 * a SQL database (sql/sql.h; docs/callbacks.md "SQL"). The database and
 * its pool belong to the caller, who frees it after the registry. */
#ifndef TARMAC_CALLBACKS_SQL_H
#define TARMAC_CALLBACKS_SQL_H

#include "callbacks/registry.h"
#include "sql/sql.h"

/* Registers tarmac/sql/query (SQLQuery{query} -> SQLQueryResponse{status,
 * columns, data: the JSON array of row objects}) and tarmac/sql/exec
 * (SQLExec{query} -> SQLExecResponse{status, last_insert_id,
 * rows_affected}), payloads in protobuf or JSON (callbacks/encoding.h).
 * Statuses: sql/sql.h. sql must outlive the registry. 0 or -1. */
int tarmac_callbacks_add_sql(tarmac_callbacks_t *registry, tarmac_sql_t *sql);

#endif
