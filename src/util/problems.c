/* problems: see problems.h. */
#include "util/problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Problem lines kept; past it, problems are only counted (far more than
 * any report shows). */
#define LINES_MAX ((size_t)256 << 10)
/* Room for "... and N more problems" with any N. */
#define TAIL_ROOM 48

void tarmac_problems_add(tarmac_problems_t *p, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1
                                                     : (size_t)n;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
  p->count++;
  if (p->lines.len >= LINES_MAX) return;
  if (tarmac_buffer_append(&p->lines, line, len) != 0 ||
      tarmac_buffer_append(&p->lines, "\n", 1) != 0)
    p->out_of_memory = true;
}

void tarmac_problems_write(const tarmac_problems_t *p, char *err,
                           size_t err_size) {
  if (err_size == 0) return;
  const char *text = (const char *)p->lines.data;
  size_t len = p->lines.len, used = 0, shown = 0;
  while (used < len) {
    const char *nl = memchr(text + used, '\n', len - used);
    size_t line = (size_t)(nl - (text + used)) + 1;
    bool last = shown + 1 == p->count;
    if (used + line + (last ? 0 : TAIL_ROOM) > err_size) break;
    used += line;
    shown++;
  }
  if (shown == p->count)
    snprintf(err, err_size, "%.*s", (int)(used ? used - 1 : 0),
             text ? text : "");
  else
    snprintf(err, err_size, "%.*s... and %zu more problem%s", (int)used,
             text ? text : "", p->count - shown,
             p->count - shown == 1 ? "" : "s");
}

void tarmac_problems_free(tarmac_problems_t *p) {
  tarmac_buffer_free(&p->lines);
  p->count = 0;
  p->out_of_memory = false;
}
