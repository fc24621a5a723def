/* callbacks/json_message: walks a ProtobufCMessageDescriptor's fields to
 * read a message from JSON (jansson) or write it as JSON. Messages built
 * here use malloc throughout, as protobuf_c_message_free_unpacked(msg,
 * NULL) expects; string fields left unset keep protobuf_c_empty_string,
 * which that function knows not to free. Proto3 fields only (no oneof,
 * no proto2 has_ flags): what proto/tarmac.proto uses. */
#include "callbacks/json_message.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/encoding.h"
#include "util/base64.h"

typedef struct {
  char *err;
  size_t err_size;
  const char *field; /* the field being read, for the error text */
  int depth;
} reader_t;

static int message_from_json(reader_t *r, const ProtobufCMessageDescriptor *d,
                             const json_t *v, ProtobufCMessage **out);

/* Records the first (innermost) problem only. */
__attribute__((format(printf, 2, 3))) static int fail(reader_t *r,
                                                      const char *fmt, ...) {
  if (r->err[0]) return -1;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (r->field)
    snprintf(r->err, r->err_size, "field \"%s\": %s", r->field, what);
  else
    snprintf(r->err, r->err_size, "%s", what);
  return -1;
}

static size_t element_size(ProtobufCType type) {
  switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
      return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(ProtobufCMessage *);
    default:
      return 4; /* 32-bit integers, float, enum */
  }
}

/* protoc-c names a map's entry message <Field>Entry with key = 1 and
 * value = 2; nothing else in the descriptor marks it. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d) {
  size_t len = strlen(d->name);
  return d->n_fields == 2 && d->fields[0].id == 1 && d->fields[1].id == 2 &&
         strcmp(d->fields[0].name, "key") == 0 &&
         strcmp(d->fields[1].name, "value") == 0 && len > 5 &&
         strcmp(d->name + len - 5, "Entry") == 0;
}

/* A message made of one repeated field (Header): its JSON form may be that
 * field's elements directly. NULL when d is not one. */
static const ProtobufCFieldDescriptor *wrapper_field(
    const ProtobufCMessageDescriptor *d) {
  return d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED
             ? &d->fields[0]
             : NULL;
}

static int integer_from_json(reader_t *r, const json_t *v, long long min,
                             long long max, long long *out) {
  if (!json_is_integer(v)) return fail(r, "expected an integer");
  long long n = json_integer_value(v);
  if (n < min || n > max) return fail(r, "integer %lld out of range", n);
  *out = n;
  return 0;
}

static int enum_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                          const json_t *v, int32_t *out) {
  if (json_is_string(v)) {
    const ProtobufCEnumValue *value =
        protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
                                                     json_string_value(v));
    if (!value) return fail(r, "unknown enum value");
    *out = value->value;
    return 0;
  }
  long long n = 0; /* set on success; -O3 cannot tell */
  if (integer_from_json(r, v, INT32_MIN, INT32_MAX, &n) != 0) return -1;
  *out = (int32_t)n;
  return 0;
}

static int string_from_json(reader_t *r, const json_t *v, char **out) {
  if (!json_is_string(v)) return fail(r, "expected a string");
  size_t len = json_string_length(v);
  const char *text = json_string_value(v);
  if (memchr(text, '\0', len)) return fail(r, "string contains NUL");
  char *copy = malloc(len + 1);
  if (!copy) return fail(r, "out of memory");
  memcpy(copy, text, len + 1);
  *out = copy;
  return 0;
}

static int bytes_from_json(reader_t *r, const json_t *v,
                           ProtobufCBinaryData *out) {
  if (!json_is_string(v)) return fail(r, "expected a base64 string");
  tarmac_buffer_t bytes = TARMAC_BUFFER_INIT;
  if (tarmac_base64_decode(json_string_value(v), json_string_length(v),
                           &bytes) != 0) {
    tarmac_buffer_free(&bytes);
    return fail(r, "not valid base64");
  }
  if (bytes.len == 0) tarmac_buffer_free(&bytes);
  out->len = bytes.len;
  out->data = bytes.data; /* the buffer's storage is malloc'd: ours now */
  return 0;
}

static int number_from_json(reader_t *r, const json_t *v, double *out) {
  if (!json_is_number(v)) return fail(r, "expected a number");
  *out = json_number_value(v);
  return 0;
}

/* Reads one value of field f's type into dst (an element or the field). */
static int value_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                           const json_t *v, void *dst) {
  long long n = 0; /* set on success; -O3 cannot tell */
  double d = 0;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      if (integer_from_json(r, v, INT32_MIN, INT32_MAX, &n) != 0) return -1;
      *(int32_t *)dst = (int32_t)n;
      return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      if (integer_from_json(r, v, 0, UINT32_MAX, &n) != 0) return -1;
      *(uint32_t *)dst = (uint32_t)n;
      return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      if (integer_from_json(r, v, INT64_MIN, INT64_MAX, &n) != 0) return -1;
      *(int64_t *)dst = n;
      return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      if (integer_from_json(r, v, 0, INT64_MAX, &n) != 0) return -1;
      *(uint64_t *)dst = (uint64_t)n;
      return 0;
    case PROTOBUF_C_TYPE_BOOL:
      if (!json_is_boolean(v)) return fail(r, "expected true or false");
      *(protobuf_c_boolean *)dst = json_is_true(v);
      return 0;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
      if (number_from_json(r, v, &d) != 0) return -1;
      if (f->type == PROTOBUF_C_TYPE_FLOAT)
        *(float *)dst = (float)d;
      else
        *(double *)dst = d;
      return 0;
    case PROTOBUF_C_TYPE_ENUM:
      return enum_from_json(r, f, v, dst);
    case PROTOBUF_C_TYPE_STRING:
      return string_from_json(r, v, dst);
    case PROTOBUF_C_TYPE_BYTES:
      return bytes_from_json(r, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE:
      return message_from_json(r, f->descriptor, v, dst);
  }
  return fail(r, "unsupported field type");
}

static void *field_at(ProtobufCMessage *msg, unsigned offset) {
  return (char *)msg + offset;
}

/* Allocates a repeated field's array of n zeroed elements. */
static int alloc_elements(reader_t *r, const ProtobufCFieldDescriptor *f,
                          size_t n, ProtobufCMessage *msg) {
  if (n > TARMAC_ENCODING_COUNT_MAX)
    return fail(r, "more than %d elements", TARMAC_ENCODING_COUNT_MAX);
  void *elements = n ? calloc(n, element_size(f->type)) : NULL;
  if (n && !elements) return fail(r, "out of memory");
  *(void **)field_at(msg, f->offset) = elements;
  return 0;
}

/* The count grows with each element read, so a failure part way frees
 * exactly what was read (protobuf_c_message_free_unpacked). */
static int array_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                           const json_t *v, ProtobufCMessage *msg) {
  if (!json_is_array(v)) return fail(r, "expected an array");
  size_t n = json_array_size(v);
  if (alloc_elements(r, f, n, msg) != 0) return -1;
  size_t *count = field_at(msg, f->quantifier_offset);
  char *elements = *(char **)field_at(msg, f->offset);
  for (size_t i = 0; i < n; i++) {
    if (value_from_json(r, f, json_array_get(v, i),
                        elements + i * element_size(f->type)) != 0)
      return -1;
    *count = i + 1;
  }
  return 0;
}

static ProtobufCMessage *new_message(reader_t *r,
                                     const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *msg = malloc(d->sizeof_message);
  if (!msg) {
    fail(r, "out of memory");
    return NULL;
  }
  d->message_init(msg);
  return msg;
}

/* A map value: the message itself, or (wrapper messages) a string or an
 * array of its one repeated field. */
static int map_value_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                               const json_t *v, void *dst) {
  const ProtobufCFieldDescriptor *inner =
      f->type == PROTOBUF_C_TYPE_MESSAGE ? wrapper_field(f->descriptor) : NULL;
  if (!inner || json_is_object(v)) return value_from_json(r, f, v, dst);
  ProtobufCMessage *wrapper = new_message(r, f->descriptor);
  if (!wrapper) return -1;
  json_t *one = json_is_array(v) ? json_incref((json_t *)v)
                                 : json_pack("[O]", (json_t *)v);
  int rc =
      one ? array_from_json(r, inner, one, wrapper) : fail(r, "out of memory");
  json_decref(one);
  if (rc != 0) {
    protobuf_c_message_free_unpacked(wrapper, NULL);
    return -1;
  }
  *(ProtobufCMessage **)dst = wrapper;
  return 0;
}

static int map_entry_from_json(reader_t *r, const ProtobufCMessageDescriptor *d,
                               const char *key, const json_t *v,
                               ProtobufCMessage **out) {
  ProtobufCMessage *entry = new_message(r, d);
  if (!entry) return -1;
  json_t *key_json = json_string(key);
  int rc = key_json ? value_from_json(r, &d->fields[0], key_json,
                                      field_at(entry, d->fields[0].offset))
                    : fail(r, "out of memory");
  json_decref(key_json);
  if (rc == 0)
    rc = map_value_from_json(r, &d->fields[1], v,
                             field_at(entry, d->fields[1].offset));
  if (rc != 0) {
    protobuf_c_message_free_unpacked(entry, NULL);
    return -1;
  }
  *out = entry;
  return 0;
}

static int map_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                         const json_t *v, ProtobufCMessage *msg) {
  if (!json_is_object(v)) return fail(r, "expected an object");
  if (alloc_elements(r, f, json_object_size(v), msg) != 0) return -1;
  size_t *count = field_at(msg, f->quantifier_offset);
  ProtobufCMessage **entries = *(ProtobufCMessage ***)field_at(msg, f->offset);
  const char *key;
  const json_t *value;
  json_object_foreach((json_t *)v, key, value) {
    if (map_entry_from_json(r, f->descriptor, key, value, &entries[*count]) !=
        0)
      return -1;
    (*count)++;
  }
  return 0;
}

static int field_from_json(reader_t *r, const ProtobufCFieldDescriptor *f,
                           const json_t *v, ProtobufCMessage *msg) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED)
    return value_from_json(r, f, v, field_at(msg, f->offset));
  if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
    return map_from_json(r, f, v, msg);
  return array_from_json(r, f, v, msg);
}

static int message_from_json(reader_t *r, const ProtobufCMessageDescriptor *d,
                             const json_t *v, ProtobufCMessage **out) {
  if (!json_is_object(v)) return fail(r, "expected an object");
  if (r->depth >= TARMAC_ENCODING_DEPTH_MAX)
    return fail(r, "nested more than %d deep", TARMAC_ENCODING_DEPTH_MAX);
  ProtobufCMessage *msg = new_message(r, d);
  if (!msg) return -1;
  const char *outer = r->field;
  r->depth++;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const json_t *fv = json_object_get(v, f->name);
    if (!fv || json_is_null(fv)) continue; /* absent: the default */
    r->field = f->name;
    if (field_from_json(r, f, fv, msg) != 0) {
      protobuf_c_message_free_unpacked(msg, NULL);
      return -1;
    }
  }
  r->depth--;
  r->field = outer;
  *out = msg;
  return 0;
}

ProtobufCMessage *tarmac_json_to_message(const ProtobufCMessageDescriptor *desc,
                                         const json_t *json, char *err,
                                         size_t err_size) {
  err[0] = '\0';
  reader_t r = {err, err_size, NULL, 0};
  ProtobufCMessage *msg = NULL;
  if (!json_is_object(json)) {
    fail(&r, "expected a JSON object");
    return NULL;
  }
  return message_from_json(&r, desc, json, &msg) == 0 ? msg : NULL;
}

static json_t *bytes_to_json(const ProtobufCBinaryData *bytes) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  if (tarmac_base64_encode(bytes->data, bytes->len, &text) != 0) {
    tarmac_buffer_free(&text);
    return NULL;
  }
  json_t *v = json_stringn(text.len ? (const char *)text.data : "", text.len);
  tarmac_buffer_free(&text);
  return v;
}

static json_t *uint64_to_json(uint64_t n) {
  return n <= INT64_MAX ? json_integer((json_int_t)n) : json_real((double)n);
}

/* One value of field f's type read from src; NULL for an unset message
 * (and when out of memory or a string is not UTF-8). */
static json_t *value_to_json(const ProtobufCFieldDescriptor *f,
                             const void *src) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
      return json_integer(*(const int32_t *)src);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      return json_integer(*(const uint32_t *)src);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      return json_integer(*(const int64_t *)src);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      return uint64_to_json(*(const uint64_t *)src);
    case PROTOBUF_C_TYPE_BOOL:
      return json_boolean(*(const protobuf_c_boolean *)src);
    case PROTOBUF_C_TYPE_FLOAT:
      return json_real(*(const float *)src);
    case PROTOBUF_C_TYPE_DOUBLE:
      return json_real(*(const double *)src);
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)src;
      return json_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
      return bytes_to_json(src);
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *m = *(ProtobufCMessage *const *)src;
      return m ? tarmac_message_to_json(m) : NULL;
    }
  }
  return NULL;
}

static const void *field_of(const ProtobufCMessage *msg, unsigned offset) {
  return (const char *)msg + offset;
}

/* Appends n elements of field f (starting at elements) to array. */
static json_t *array_to_json(const ProtobufCFieldDescriptor *f,
                             const char *elements, size_t n) {
  json_t *array = json_array();
  for (size_t i = 0; array && i < n; i++) {
    json_t *v = value_to_json(f, elements + i * element_size(f->type));
    if (!v || json_array_append_new(array, v) != 0) {
      json_decref(array);
      return NULL;
    }
  }
  return array;
}

/* A wrapper (Header) with one element is written as that element. */
static json_t *map_value_to_json(const ProtobufCFieldDescriptor *f,
                                 const void *src) {
  const ProtobufCMessage *m = *(ProtobufCMessage *const *)src;
  const ProtobufCFieldDescriptor *inner =
      f->type == PROTOBUF_C_TYPE_MESSAGE ? wrapper_field(f->descriptor) : NULL;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE && !m)
    return inner ? json_array() : json_object(); /* an unset value */
  if (!inner) return value_to_json(f, src);
  size_t n = *(const size_t *)field_of(m, inner->quantifier_offset);
  const char *elements = *(char *const *)field_of(m, inner->offset);
  if (n == 1) return value_to_json(inner, elements);
  return array_to_json(inner, elements, n);
}

static json_t *map_to_json(const ProtobufCFieldDescriptor *f,
                           ProtobufCMessage *const *entries, size_t n) {
  const ProtobufCMessageDescriptor *d = f->descriptor;
  if (d->fields[0].type != PROTOBUF_C_TYPE_STRING) return NULL;
  json_t *object = json_object();
  for (size_t i = 0; object && i < n; i++) {
    const char *key = *(char *const *)field_of(entries[i], d->fields[0].offset);
    json_t *v = map_value_to_json(&d->fields[1],
                                  field_of(entries[i], d->fields[1].offset));
    /* json_object_set_new takes v even when it fails */
    if (!v || json_object_set_new(object, key ? key : "", v) != 0) {
      json_decref(object);
      return NULL;
    }
  }
  return object;
}

static json_t *field_to_json(const ProtobufCMessage *msg,
                             const ProtobufCFieldDescriptor *f) {
  const void *src = field_of(msg, f->offset);
  if (f->label != PROTOBUF_C_LABEL_REPEATED) return value_to_json(f, src);
  size_t n = *(const size_t *)field_of(msg, f->quantifier_offset);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
    return map_to_json(f, *(ProtobufCMessage *const *const *)src, n);
  return array_to_json(f, *(const char *const *)src, n);
}

json_t *tarmac_message_to_json(const ProtobufCMessage *msg) {
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  json_t *object = json_object();
  for (unsigned i = 0; object && i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label != PROTOBUF_C_LABEL_REPEATED &&
        f->type == PROTOBUF_C_TYPE_MESSAGE &&
        !*(ProtobufCMessage *const *)field_of(msg, f->offset))
      continue; /* an unset message is left out */
    json_t *v = field_to_json(msg, f);
    if (!v || json_object_set_new(object, f->name, v) != 0) {
      json_decref(object);
      return NULL;
    }
  }
  return object;
}
