#include "wapc/wapc_host.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine/host_imports.h"
#include "engine/instance_state.h"
#include "log/log.h"
#include "runtime/runtime.h"

typedef struct tarmac_instance instance_t;

const tarmac_host_import_t tarmac_wapc_imports[] = {
    {"wapc", "__guest_request", "ii:"},
    {"wapc", "__guest_response", "ii:"},
    {"wapc", "__guest_error", "ii:"},
    {"wapc", "__host_call", "iiiiiiii:i"},
    {"wapc", "__host_response_len", ":i"},
    {"wapc", "__host_response", "i:"},
    {"wapc", "__host_error_len", ":i"},
    {"wapc", "__host_error", "i:"},
    {"wapc", "__console_log", "ii:"},
    {NULL, NULL, NULL},
};

/* Every import starts here: enough stack for host code, the real instance
 * (see tarmac_import_enter), and the state the import needs (an invocation
 * in progress unless `anytime`). */
static instance_t *enter_import(instance_t *passed, const char *name,
                                bool anytime) {
  instance_t *inst = tarmac_import_enter(passed);
  if (!anytime && inst->phase != TARMAC_PHASE_INVOKING) {
    char detail[128];
    snprintf(detail, sizeof detail, "wapc.%s called outside an invocation",
             name);
    tarmac_rt_trap_detail_set(TARMAC_TRAP_HOST_FAULT, detail);
  }
  return inst;
}

static const uint8_t *guest_bytes(instance_t *inst, uint32_t ptr, uint32_t len,
                                  const char *what) {
  return tarmac_rt_guest_range(inst->memory, ptr, len, what);
}

/* Copies host bytes into guest memory at ptr (checked). */
static void copy_to_guest(instance_t *inst, uint32_t ptr, const void *data,
                          size_t len, const char *what) {
  if (len > UINT32_MAX) tarmac_rt_trap_detail_set(WASM_RT_TRAP_OOB, what);
  uint8_t *dest = tarmac_rt_guest_range(inst->memory, ptr, (uint32_t)len, what);
  if (len) memcpy(dest, data, len);
}

static void keep_guest_bytes(instance_t *inst, tarmac_buffer_t *into,
                             uint32_t ptr, uint32_t len, const char *what) {
  const uint8_t *src = guest_bytes(inst, ptr, len, what);
  if (tarmac_buffer_set(into, src, len) != 0)
    tarmac_rt_trap_detail_set(TARMAC_TRAP_RESOURCE,
                              "out of memory keeping guest bytes");
}

static uint32_t buffer_length(const tarmac_buffer_t *buf) {
  return buf->len > UINT32_MAX ? UINT32_MAX : (uint32_t)buf->len;
}

void Z_wapcZ___guest_request(instance_t *inst, uint32_t op_ptr,
                             uint32_t payload_ptr) {
  inst = enter_import(inst, "__guest_request", false);
  copy_to_guest(inst, op_ptr, inst->op, inst->op_len,
                "__guest_request operation");
  copy_to_guest(inst, payload_ptr, inst->payload, inst->payload_len,
                "__guest_request payload");
}

void Z_wapcZ___guest_response(instance_t *inst, uint32_t ptr, uint32_t len) {
  inst = enter_import(inst, "__guest_response", false);
  keep_guest_bytes(inst, &inst->response, ptr, len, "__guest_response");
}

void Z_wapcZ___guest_error(instance_t *inst, uint32_t ptr, uint32_t len) {
  inst = enter_import(inst, "__guest_error", false);
  keep_guest_bytes(inst, &inst->error, ptr, len, "__guest_error");
  inst->error_set = true;
}

uint32_t Z_wapcZ___host_call(instance_t *inst, uint32_t binding_ptr,
                             uint32_t binding_len, uint32_t namespace_ptr,
                             uint32_t namespace_len, uint32_t operation_ptr,
                             uint32_t operation_len, uint32_t payload_ptr,
                             uint32_t payload_len) {
  inst = enter_import(inst, "__host_call", true);
  tarmac_host_call_t call = {
      .binding = (const char *)guest_bytes(inst, binding_ptr, binding_len,
                                           "__host_call binding"),
      .binding_len = binding_len,
      .namespace_ = (const char *)guest_bytes(inst, namespace_ptr,
                                              namespace_len,
                                              "__host_call namespace"),
      .namespace_len = namespace_len,
      .operation = (const char *)guest_bytes(inst, operation_ptr,
                                             operation_len,
                                             "__host_call operation"),
      .operation_len = operation_len,
      .payload = guest_bytes(inst, payload_ptr, payload_len,
                             "__host_call payload"),
      .payload_len = payload_len,
      .caller = inst,
      .function_name = inst->name,
  };
  tarmac_buffer_clear(&inst->host_response);
  tarmac_buffer_clear(&inst->host_error);
  int rc = tarmac_callbacks_dispatch(inst->callbacks, &call,
                                     &inst->host_response, &inst->host_error);
  if (rc != 0) tarmac_buffer_clear(&inst->host_response);
  else tarmac_buffer_clear(&inst->host_error);
  return rc == 0 ? 1 : 0;
}

/* The last host call's reply or error. Selected after tarmac_import_enter:
 * the pointer an import receives is not always the instance. */
typedef enum { HOST_RESPONSE, HOST_ERROR } host_buffer_t;

static const tarmac_buffer_t *host_buffer(const instance_t *inst,
                                          host_buffer_t which) {
  return which == HOST_ERROR ? &inst->host_error : &inst->host_response;
}

/* __host_response_len / __host_error_len */
static uint32_t host_buffer_length(instance_t *passed, const char *name,
                                   host_buffer_t which) {
  instance_t *inst = enter_import(passed, name, true);
  return buffer_length(host_buffer(inst, which));
}

/* __host_response / __host_error: the whole buffer to ptr */
static void host_buffer_to_guest(instance_t *passed, const char *name,
                                 uint32_t ptr, host_buffer_t which) {
  instance_t *inst = enter_import(passed, name, true);
  const tarmac_buffer_t *buf = host_buffer(inst, which);
  copy_to_guest(inst, ptr, buf->data, buf->len, name);
}

uint32_t Z_wapcZ___host_response_len(instance_t *inst) {
  return host_buffer_length(inst, "__host_response_len", HOST_RESPONSE);
}

void Z_wapcZ___host_response(instance_t *inst, uint32_t ptr) {
  host_buffer_to_guest(inst, "__host_response", ptr, HOST_RESPONSE);
}

uint32_t Z_wapcZ___host_error_len(instance_t *inst) {
  return host_buffer_length(inst, "__host_error_len", HOST_ERROR);
}

void Z_wapcZ___host_error(instance_t *inst, uint32_t ptr) {
  host_buffer_to_guest(inst, "__host_error", ptr, HOST_ERROR);
}

void Z_wapcZ___console_log(instance_t *inst, uint32_t ptr, uint32_t len) {
  inst = enter_import(inst, "__console_log", true);
  const uint8_t *msg = guest_bytes(inst, ptr, len, "__console_log");
  tarmac_log_fields(TARMAC_LOG_INFO, (const char *)msg, len, "function",
                    inst->name, NULL);
}
