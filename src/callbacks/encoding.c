/* callbacks/encoding: protobuf first, JSON second, replies in the
 * request's encoding (encoding.h). The JSON mapping is json_message.c's. */
#include "callbacks/encoding.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "callbacks/json_message.h"

void tarmac_callback_status_set(tarmac_callback_status_t *status, int32_t code,
                                const char *fmt, ...) {
  status->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(status->text, sizeof status->text, fmt, ap);
  va_end(ap);
  /* Texts can quote guest bytes (jansson's "near '...'"): keep them
   * printable ASCII so that every reply, JSON included, can carry them. */
  for (char *p = status->text; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
}

static ProtobufCMessage *decode_json(const ProtobufCMessageDescriptor *desc,
                                     const uint8_t *payload, size_t len,
                                     char *err, size_t err_size) {
  json_error_t json_error;
  json_t *json =
      json_loadb((const char *)payload, len,
                 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &json_error);
  if (!json) {
    snprintf(err, err_size, "invalid JSON at byte %d: %s", json_error.position,
             json_error.text);
    return NULL;
  }
  ProtobufCMessage *msg = tarmac_json_to_message(desc, json, err, err_size);
  json_decref(json);
  return msg;
}

/* protobuf-c keeps unknown fields numbered 0, which no encoder writes and
 * which it refuses to read back once packed: such a payload is not
 * protobuf. Walks nested messages too (depth bounded by the schema). */
static bool field_numbers_valid(const ProtobufCMessage *msg) {
  for (unsigned i = 0; i < msg->n_unknown_fields; i++)
    if (msg->unknown_fields[i].tag == 0) return false;
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    const char *at = (const char *)msg + f->offset;
    size_t n = f->label == PROTOBUF_C_LABEL_REPEATED
                   ? *(const size_t *)((const char *)msg + f->quantifier_offset)
                   : 1;
    ProtobufCMessage *const *sub = f->label == PROTOBUF_C_LABEL_REPEATED
                                       ? *(ProtobufCMessage *const *const *)at
                                       : (ProtobufCMessage *const *)at;
    for (size_t j = 0; j < n; j++)
      if (sub[j] && !field_numbers_valid(sub[j])) return false;
  }
  return true;
}

ProtobufCMessage *tarmac_encoding_decode(const ProtobufCMessageDescriptor *desc,
                                         const uint8_t *payload, size_t len,
                                         tarmac_callback_status_t *status) {
  bool looks_json = len > 0 && payload[0] == '{';
  status->encoding = TARMAC_ENCODING_PROTOBUF;
  tarmac_callback_status_set(status, 200, "OK");
  if (len > TARMAC_ENCODING_PAYLOAD_MAX) {
    status->encoding =
        looks_json ? TARMAC_ENCODING_JSON : TARMAC_ENCODING_PROTOBUF;
    tarmac_callback_status_set(status, 400, "payload of %zu bytes exceeds %u",
                               len, TARMAC_ENCODING_PAYLOAD_MAX);
    return NULL;
  }
  ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, payload);
  if (msg && field_numbers_valid(msg)) return msg;
  tarmac_encoding_free(msg);
  char err[TARMAC_STATUS_TEXT_MAX - 128];
  msg = decode_json(desc, payload, len, err, sizeof err);
  if (msg || looks_json) status->encoding = TARMAC_ENCODING_JSON;
  if (!msg)
    tarmac_callback_status_set(status, 400,
                               "payload is neither a %s message nor its JSON "
                               "form: %s",
                               desc->name, err);
  return msg;
}

void tarmac_encoding_free(ProtobufCMessage *msg) {
  if (msg) protobuf_c_message_free_unpacked(msg, NULL);
}

static int encode_protobuf(const ProtobufCMessage *msg, tarmac_buffer_t *out) {
  size_t size = protobuf_c_message_get_packed_size(msg);
  if (size == 0) return 0; /* an all-default message is no bytes */
  if (tarmac_buffer_reserve(out, size) != 0) return -1;
  out->len += protobuf_c_message_pack(msg, out->data + out->len);
  return 0;
}

static int encode_json(const ProtobufCMessage *msg, tarmac_buffer_t *out) {
  json_t *json = tarmac_message_to_json(msg);
  if (!json) return -1;
  size_t size = json_dumpb(json, NULL, 0, JSON_COMPACT);
  int rc = size == 0 ? -1 : tarmac_buffer_reserve(out, size);
  if (rc == 0)
    out->len +=
        json_dumpb(json, (char *)out->data + out->len, size, JSON_COMPACT);
  json_decref(json);
  return rc;
}

int tarmac_encoding_encode(const ProtobufCMessage *msg,
                           tarmac_encoding_t encoding, tarmac_buffer_t *out) {
  return encoding == TARMAC_ENCODING_JSON ? encode_json(msg, out)
                                          : encode_protobuf(msg, out);
}

void tarmac_encoding_status(const tarmac_callback_status_t *status,
                            Tarmac__Status *out) {
  tarmac__status__init(out);
  out->code = status->code;
  out->status = (char *)status->text;
}

int tarmac_encoding_reply(const ProtobufCMessage *reply,
                          const tarmac_callback_status_t *status,
                          tarmac_buffer_t *response, tarmac_buffer_t *error) {
  if (tarmac_encoding_encode(reply, status->encoding, response) != 0) {
    tarmac_buffer_clear(response);
    tarmac_buffer_append_str(error, "cannot encode the callback's reply");
    return -1;
  }
  if (status->code == 200) return 0;
  tarmac_buffer_append_str(error, status->text);
  return -1;
}
