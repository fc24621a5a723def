/* The response a handler builds: status, packed headers, body. */
#include <string.h>

#include "http/http.h"

void tarmac_http_response_init(tarmac_http_response_t *res) {
  memset(res, 0, sizeof(*res));
}

void tarmac_http_response_free(tarmac_http_response_t *res) {
  tarmac_buffer_free(&res->headers);
  tarmac_buffer_free(&res->body);
  res->header_count = 0;
  res->status = 0;
}

void tarmac_http_response_reset(tarmac_http_response_t *res) {
  tarmac_buffer_clear(&res->headers);
  tarmac_buffer_clear(&res->body);
  res->header_count = 0;
  res->status = 0;
}

/* RFC 9110 token characters. */
static bool is_token_char(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_valid_name(const char *name, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++)
    if (!is_token_char((unsigned char)name[i])) return false;
  return true;
}

static bool is_valid_value(const char *value, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') return false;
  return true;
}

/* Each header is packed as its two lengths, then name and value. */
typedef struct {
  size_t name_len;
  size_t value_len;
} packed_lengths_t;

int tarmac_http_response_add_header(tarmac_http_response_t *res,
                                    const char *name, size_t name_len,
                                    const char *value, size_t value_len) {
  if (!is_valid_name(name, name_len) || !is_valid_value(value, value_len))
    return -1;
  packed_lengths_t lengths = {name_len, value_len};
  size_t size = sizeof(lengths) + name_len + value_len;
  if (tarmac_buffer_reserve(&res->headers, size) != 0) return -1;
  uint8_t *at = res->headers.data + res->headers.len;
  memcpy(at, &lengths, sizeof(lengths));
  memcpy(at + sizeof(lengths), name, name_len);
  if (value_len) memcpy(at + sizeof(lengths) + name_len, value, value_len);
  res->headers.len += size;
  res->header_count++;
  return 0;
}

int tarmac_http_response_set_text(tarmac_http_response_t *res, int status,
                                  const char *text) {
  tarmac_http_response_reset(res);
  res->status = status;
  static const char name[] = "Content-Type";
  static const char content_type[] = "text/plain; charset=utf-8";
  if (tarmac_http_response_add_header(res, name, sizeof(name) - 1,
                                      content_type,
                                      sizeof(content_type) - 1) != 0)
    return -1;
  return tarmac_buffer_append_str(&res->body, text);
}

bool tarmac_http_response_next_header(const tarmac_http_response_t *res,
                                      size_t *cursor, const char **name,
                                      size_t *name_len, const char **value,
                                      size_t *value_len) {
  if (*cursor >= res->headers.len) return false;
  const char *at = (const char *)res->headers.data + *cursor;
  packed_lengths_t lengths;
  memcpy(&lengths, at, sizeof(lengths));
  *name = at + sizeof(lengths);
  *name_len = lengths.name_len;
  *value = *name + lengths.name_len;
  *value_len = lengths.value_len;
  *cursor += sizeof(lengths) + lengths.name_len + lengths.value_len;
  return true;
}
