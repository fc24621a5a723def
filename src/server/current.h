/* server/current: the generation now serving, behind an atomic pointer,
 * with a reference count per generation so the reload thread knows when
 * the last request of a replaced one has ended.
 *
 * The request path costs two atomic read-modify-writes (one to take, one
 * to drop) and two loads, and takes no lock. Each published payload gets
 * a slot {count, payload}; a slot's memory lives until tarmac_current_free,
 * so a request that read the old slot's address just before a switch may
 * still touch its count safely: after counting itself in, it checks the
 * slot is still the current one and, if not, drops out and tries again. A
 * slot whose count is zero after it stopped being current is therefore
 * not used again until it is published again, and its payload may go.
 * Slots whose payload went are recycled by later publishes: memory stays
 * bounded by the generations alive at once, however many reloads (a
 * request that counted itself into a recycled slot either sees it
 * current again, and takes its new payload, or drops out).
 *
 * Owns: the slots. Not owned: the payloads (the caller frees a payload
 * once tarmac_current_wait_idle says its slot is idle).
 * Thread-safety: acquire/release from any thread; publish and wait from
 * one thread at a time (the reload thread). */
#ifndef TARMAC_SERVER_CURRENT_H
#define TARMAC_SERVER_CURRENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tarmac_current tarmac_current_t;
typedef struct tarmac_current_slot tarmac_current_slot_t;

/* `first` becomes the current payload. NULL when out of memory. */
tarmac_current_t *tarmac_current_new(void *first);
/* Frees every slot (not the payloads). No request may hold one. */
void tarmac_current_free(tarmac_current_t *current);

/* Takes a reference to the current payload: returns it, and its slot in
 * *slot for tarmac_current_release. Lock-free; any thread. */
void *tarmac_current_acquire(tarmac_current_t *current,
                             tarmac_current_slot_t **slot);
void tarmac_current_release(tarmac_current_slot_t *slot);

/* Makes `next` the current payload; returns the slot of the previous one
 * (its payload: tarmac_current_slot_payload), or NULL when out of memory
 * (nothing changed). */
tarmac_current_slot_t *tarmac_current_publish(tarmac_current_t *current,
                                              void *next);
void *tarmac_current_slot_payload(const tarmac_current_slot_t *slot);
/* The slot's payload is gone (after tarmac_current_wait_idle): a later
 * publish may reuse the slot. The slot must not be used by the caller
 * again. Reload thread only. */
void tarmac_current_recycle(tarmac_current_t *current,
                            tarmac_current_slot_t *slot);
/* Slots allocated so far (recycled ones included): for tests. */
size_t tarmac_current_slot_count(const tarmac_current_t *current);
/* References held on a slot right now (a request in its retry counts
 * briefly too). */
long tarmac_current_slot_refs(const tarmac_current_slot_t *slot);
/* Waits up to timeout_ms until no request holds a slot that is no longer
 * current: true then (its payload may be freed), false at the timeout. */
bool tarmac_current_wait_idle(const tarmac_current_slot_t *slot,
                              unsigned timeout_ms);

#endif
