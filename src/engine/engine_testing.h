/* engine/engine_testing: engine entry points for test harnesses, not for
 * the server. The WebAssembly spec-test runner (tests/conformance) loads
 * modules that are not waPC guests through these, so it exercises exactly
 * the compile flags, link line, cache checks and dlopen path that
 * tarmac_module_load() uses. */
#ifndef TARMAC_ENGINE_ENGINE_TESTING_H
#define TARMAC_ENGINE_ENGINE_TESTING_H

#include "engine/engine.h"
#include "engine/module_abi.h"

/* tarmac_module_load_bytes() without the waPC checks: any import is
 * accepted (the process must define its wasm2c symbol, or dlopen fails) and
 * no export is required. The descriptor's waPC fields are NULL, so such a
 * module cannot be given to tarmac_instance_new(); the caller instantiates
 * it through the descriptor. */
tarmac_load_status_t tarmac_module_load_unchecked(tarmac_engine_t *engine,
                                                  const uint8_t *bytes,
                                                  size_t len, const char *name,
                                                  tarmac_module_t **out,
                                                  tarmac_error_t *err);

/* Compiles into the cache what tarmac_module_load_unchecked() loads,
 * without loading it (its imports need not be resolvable yet). */
tarmac_load_status_t tarmac_module_compile_unchecked(tarmac_engine_t *engine,
                                                     const uint8_t *bytes,
                                                     size_t len,
                                                     tarmac_error_t *err);

/* The loaded module's descriptor; valid while the module is. */
const tarmac_module_descriptor_t *tarmac_module_descriptor(
    const tarmac_module_t *module);

#endif
