/* engine/guest_code: tells the runtime where a loaded module's code lies,
 * so a deadline can stop it at any instruction (runtime/deadline.h). The
 * ranges are the executable PT_LOAD segments of the shared object: wasm2c's
 * output and our glue, which hold no lock and never run inside malloc
 * (they only call out to the runtime, the imports and libc). Owns nothing
 * but the registrations it returns. */
#ifndef TARMAC_ENGINE_GUEST_CODE_H
#define TARMAC_ENGINE_GUEST_CODE_H

#define TARMAC_GUEST_CODE_MAX_RANGES 4

typedef struct {
  int ids[TARMAC_GUEST_CODE_MAX_RANGES]; /* runtime registrations, -1 = none */
  int count;
} tarmac_guest_code_t;

/* Registers the executable segments of the loaded object that contains
 * `symbol`. 0, or -1 (nothing left registered) when the object is not
 * found, has more segments than fit, or the runtime's registry is full. */
int tarmac_guest_code_register(const void *symbol, tarmac_guest_code_t *out);
/* Removes them; call before the object is unloaded. */
void tarmac_guest_code_unregister(tarmac_guest_code_t *code);

#endif
