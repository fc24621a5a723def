/* server/calls: function-to-function calls. A guest's
 * host_call("tarmac", "function", "<name>", payload) runs the function
 * <name> — one with a `function` route — on the caller's thread, inside
 * the caller's invocation, with operation `handler` and the payload as it
 * is, and answers with the callee's response. A callee error fails the
 * host call with the callee's message; a trap or deadline with its
 * description. The callee's deadline never outlives the caller's (nested
 * deadlines keep the earlier one, runtime/deadline.h), its pool wait ends
 * at the caller's deadline, and a chain deeper than the depth limit fails
 * without running anything: a cycle (A calls B calls A) with small pools
 * ends in a clear error, never in exhausted threads, stacks or instances.
 *
 * Each generation (server/generation.h) has its own table; the callback,
 * registered once for the process, finds the caller's table through the
 * function running on its thread (tarmac_function_running), so a caller
 * reaches the callees of its own generation even while a reload switches
 * to another.
 *
 * Owns: nothing but its lookup table (the functions are the generation's).
 * Read-only once built; any thread. */
#ifndef TARMAC_SERVER_CALLS_H
#define TARMAC_SERVER_CALLS_H

#include "callbacks/registry.h"
#include "server/function.h"

typedef struct tarmac_calls tarmac_calls_t;

/* `functions` (count of them) must outlive the table; only those marked
 * callable can be called. depth_limit >= 1: how many calls may be nested
 * below an invocation (APP_WASM_CALL_DEPTH_LIMIT). NULL when out of
 * memory. */
tarmac_calls_t *tarmac_calls_new(tarmac_function_t *const *functions,
                                 size_t count, unsigned depth_limit);
void tarmac_calls_free(tarmac_calls_t *calls);

/* Registers tarmac/function/<any> on the registry, once for every
 * generation to come. 0 or -1. */
int tarmac_calls_register(tarmac_callbacks_t *registry);

#endif
