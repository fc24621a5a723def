/* The signature table of the WASI imports (both modules) and the two
 * snapshots' layouts. */
#include <stddef.h>

#include "engine/host_imports.h"
#include "wasi/wasi_host.h"

const wasi_layout_t wasi_layout_preview1 = {
    .module = "wasi_snapshot_preview1",
    .filestat_size = 64,
    .filestat_nlink_at = 24,
    .subscription_size = 48,
    .subscription_clock_at = 16,
};

/* Snapshot 0: filestat.nlink is a u32 (so the record is 8 bytes shorter),
 * and subscription_clock starts with a u64 `identifier`. */
const wasi_layout_t wasi_layout_unstable = {
    .module = "wasi_unstable",
    .filestat_size = 56,
    .filestat_nlink_at = 20,
    .subscription_size = 56,
    .subscription_clock_at = 24,
};

/* The signature strings of engine/host_imports.h for the tokens of
 * wasi_host.h. */
#define WASI_SIG__i ":i"
#define WASI_SIG_i_ "i:"
#define WASI_SIG_i_i "i:i"
#define WASI_SIG_ii_i "ii:i"
#define WASI_SIG_iI_i "iI:i"
#define WASI_SIG_iii_i "iii:i"
#define WASI_SIG_iIi_i "iIi:i"
#define WASI_SIG_iII_i "iII:i"
#define WASI_SIG_iiii_i "iiii:i"
#define WASI_SIG_iIii_i "iIii:i"
#define WASI_SIG_iIIi_i "iIIi:i"
#define WASI_SIG_iiiii_i "iiiii:i"
#define WASI_SIG_iiiIi_i "iiiIi:i"
#define WASI_SIG_iiiiii_i "iiiiii:i"
#define WASI_SIG_iiiiIIi_i "iiiiIIi:i"
#define WASI_SIG_iiiiiii_i "iiiiiii:i"
#define WASI_SIG_iiiiiIIii_i "iiiiiIIii:i"

#define ENTRY(module, field, sig) {module, #field, WASI_SIG_##sig},
#define PREVIEW1_ENTRY(field, sig, kind) \
  ENTRY("wasi_snapshot_preview1", field, sig)
#define UNSTABLE_ENTRY_SHARED(field, sig) ENTRY("wasi_unstable", field, sig)
#define UNSTABLE_ENTRY_SPLIT UNSTABLE_ENTRY_SHARED
#define UNSTABLE_ENTRY_PREVIEW1(field, sig)
#define UNSTABLE_ENTRY(field, sig, kind) UNSTABLE_ENTRY_##kind(field, sig)

const tarmac_host_import_t tarmac_wasi_imports[] = {
    WASI_IMPORTS(PREVIEW1_ENTRY)  /* every function */
    WASI_IMPORTS(UNSTABLE_ENTRY)  /* all but those added in preview1 */
    {NULL, NULL, NULL},
};
