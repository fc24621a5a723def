/* util/fdio: tarmac_read_file reads a whole regular file within its bound
 * and refuses larger files, directories and missing paths with errno. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "util/fdio.h"

int main(void) {
  char dir[] = "/tmp/tarmac-fdio-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char path[256];
  snprintf(path, sizeof(path), "%s/file", dir);
  static char big[100000];
  for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)('a' + i % 26);
  CHECK(tarmac_write_file(path, big, sizeof(big)) == 0);
  tarmac_buffer_t out = TARMAC_BUFFER_INIT;
  CHECK(tarmac_read_file(path, sizeof(big), &out) == 0);
  CHECK(out.len == sizeof(big) && memcmp(out.data, big, sizeof(big)) == 0);
  /* read again: replaced, not appended */
  CHECK(tarmac_read_file(path, sizeof(big), &out) == 0);
  CHECK_EQ_INT(out.len, sizeof(big));
  errno = 0;
  CHECK(tarmac_read_file(path, sizeof(big) - 1, &out) == -1);
  CHECK_EQ_INT(errno, EFBIG);
  CHECK_EQ_INT(out.len, 0);
  CHECK(tarmac_write_file(path, "", 0) == 0);
  CHECK(tarmac_read_file(path, 10, &out) == 0);
  CHECK_EQ_INT(out.len, 0);
  errno = 0;
  CHECK(tarmac_read_file(dir, 10, &out) == -1);
  CHECK_EQ_INT(errno, EINVAL);
  CHECK(unlink(path) == 0);
  errno = 0;
  CHECK(tarmac_read_file(path, 10, &out) == -1);
  CHECK_EQ_INT(errno, ENOENT);
  tarmac_buffer_free(&out);
  CHECK(rmdir(dir) == 0);
  TEST_EXIT();
}
