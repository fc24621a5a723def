/* setup: the init function of the state example (tarmac.json next to
 * this file): creates the SQL table `visits` writes to, before the server
 * takes requests. The statement is valid on MySQL/MariaDB and PostgreSQL. */
#include <stdlib.h>
#include <string.h>

#include "tarmac.h"

static int setup(const uint8_t *payload, size_t len) {
  static const char ddl[] =
      "CREATE TABLE IF NOT EXISTS visit_log (name VARCHAR(64) NOT NULL)";
  char *error = NULL;
  if (tarmac_sql_exec(ddl, sizeof ddl - 1, NULL, NULL, &error) != TARMAC_OK) {
    int rc = tarmac_fail("creating visit_log: %s", error ? error : "?");
    free(error);
    return rc;
  }
  return tarmac_respond_str("ok");
}

TARMAC_INIT(register_operations) { tarmac_register("handler", setup); }
