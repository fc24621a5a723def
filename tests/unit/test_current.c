/* The current generation and its references (server/current): a request
 * keeps the generation it took after a switch, the publisher's wait ends
 * only once every such request has ended, and under threads taking and
 * dropping references while generations are published and freed, no
 * thread ever holds a freed one. Waits are bounded; no sleeps. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "server/current.h"
#include "test.h"

#define READERS 4
#define GENERATIONS 300

typedef struct {
  atomic_bool alive; /* cleared when the publisher "frees" it */
  int number;
} payload_t;

static void test_single_thread(void) {
  payload_t one = {.number = 1}, two = {.number = 2};
  atomic_init(&one.alive, true);
  atomic_init(&two.alive, true);
  tarmac_current_t *c = tarmac_current_new(&one);
  CHECK(c != NULL);
  tarmac_current_slot_t *held;
  payload_t *p = tarmac_current_acquire(c, &held);
  CHECK(p == &one);
  tarmac_current_slot_t *old = tarmac_current_publish(c, &two);
  CHECK(old != NULL);
  CHECK(tarmac_current_slot_payload(old) == &one);
  CHECK_EQ_INT(tarmac_current_slot_refs(old), 1);
  CHECK(!tarmac_current_wait_idle(old, 0)); /* the request still holds it */
  tarmac_current_slot_t *fresh;
  CHECK(tarmac_current_acquire(c, &fresh) == &two);
  CHECK(fresh != old);
  tarmac_current_release(fresh);
  tarmac_current_release(held);
  CHECK(tarmac_current_wait_idle(old, 1000));
  /* recycled: the next publish reuses it, with its new payload */
  tarmac_current_recycle(c, old);
  payload_t three = {.number = 3};
  atomic_init(&three.alive, true);
  CHECK(tarmac_current_publish(c, &three) == fresh);
  tarmac_current_slot_t *again;
  CHECK(tarmac_current_acquire(c, &again) == &three);
  CHECK(again == old);
  tarmac_current_release(again);
  CHECK_EQ_INT((long)tarmac_current_slot_count(c), 2);
  tarmac_current_free(c);
}

typedef struct {
  tarmac_current_t *current;
  atomic_bool stop;
  atomic_long taken, dead_seen;
} shared_t;

static void *reader(void *arg) {
  shared_t *s = arg;
  while (!atomic_load(&s->stop)) {
    tarmac_current_slot_t *slot;
    payload_t *p = tarmac_current_acquire(s->current, &slot);
    if (!atomic_load(&p->alive)) atomic_fetch_add(&s->dead_seen, 1);
    atomic_fetch_add(&s->taken, 1);
    if (!atomic_load(&p->alive)) atomic_fetch_add(&s->dead_seen, 1);
    tarmac_current_release(slot);
  }
  return NULL;
}

/* The publisher frees (marks dead) each replaced payload once its wait
 * says it is idle: a reader that still saw it would count dead_seen. */
static void test_threads(void) {
  static payload_t payloads[GENERATIONS];
  for (int i = 0; i < GENERATIONS; i++) {
    payloads[i].number = i;
    atomic_init(&payloads[i].alive, true);
  }
  shared_t s = {.current = tarmac_current_new(&payloads[0])};
  CHECK(s.current != NULL);
  pthread_t threads[READERS];
  for (int i = 0; i < READERS; i++)
    CHECK(pthread_create(&threads[i], NULL, reader, &s) == 0);
  int idle = 0;
  for (int i = 1; i < GENERATIONS; i++) {
    /* Readers between every two publishes: on a loaded machine the
     * publisher could otherwise finish before a reader ever ran. */
    long seen = atomic_load(&s.taken);
    while (atomic_load(&s.taken) == seen) sched_yield();
    tarmac_current_slot_t *old = tarmac_current_publish(s.current,
                                                        &payloads[i]);
    CHECK(old != NULL);
    if (old == NULL) break;
    if (tarmac_current_wait_idle(old, 20000)) idle++;
    atomic_store(&((payload_t *)tarmac_current_slot_payload(old))->alive,
                 false);
    tarmac_current_recycle(s.current, old);
  }
  atomic_store(&s.stop, true);
  for (int i = 0; i < READERS; i++) pthread_join(threads[i], NULL);
  CHECK_EQ_INT(idle, GENERATIONS - 1);
  CHECK_EQ_INT(atomic_load(&s.dead_seen), 0);
  CHECK(atomic_load(&s.taken) > 0);
  /* every replaced slot was recycled: two slots, however many reloads */
  CHECK_EQ_INT((long)tarmac_current_slot_count(s.current), 2);
  tarmac_current_free(s.current);
}

int main(void) {
  test_single_thread();
  test_threads();
  TEST_EXIT();
}
