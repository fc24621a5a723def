/* callbacks/json_message: the descriptor-driven mapper between protobuf-c
 * messages and their JSON form (the rules are in callbacks/encoding.h).
 * Used by encoding.c only. */
#ifndef TARMAC_CALLBACKS_JSON_MESSAGE_H
#define TARMAC_CALLBACKS_JSON_MESSAGE_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Builds a `desc` message (malloc'd parts: free with
 * protobuf_c_message_free_unpacked(msg, NULL)) from a JSON value. NULL
 * with the problem in err (`field "x": expected a string`). */
ProtobufCMessage *tarmac_json_to_message(const ProtobufCMessageDescriptor *desc,
                                         const json_t *json, char *err,
                                         size_t err_size);

/* The JSON form of msg (new reference), or NULL (out of memory, or a
 * string that is not UTF-8). */
json_t *tarmac_message_to_json(const ProtobufCMessage *msg);

#endif
