/* wapc/wapc_host: the host side of the waPC protocol — the nine functions a
 * guest imports from module "wapc" (__guest_request, __guest_response,
 * __guest_error, __host_call, __host_response_len, __host_response,
 * __host_error_len, __host_error, __console_log). They are called by
 * generated code with the instance's host state (engine/instance_state.h)
 * and are defined with wasm2c's mangled names; the table of their
 * signatures, tarmac_wapc_imports[], is declared in engine/host_imports.h.
 *
 * Every guest pointer is checked against the guest's memory; a bad one traps
 * the invocation as out-of-bounds. Host calls are routed through the
 * engine's callback registry; their reply or error belongs to the current
 * invocation and is replaced by the next host call. */
#ifndef TARMAC_WAPC_WAPC_HOST_H
#define TARMAC_WAPC_WAPC_HOST_H

#endif
