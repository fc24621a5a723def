/* wasi: the host side of WASI for guests — the import modules
 * wasi_snapshot_preview1 and wasi_unstable (snapshot 0) and the
 * AssemblyScript import env.abort. There is no filesystem and no socket:
 * stdout and stderr go to the log line by line (tagged with the module),
 * stdin is empty, clocks, random, args, environment, sleep (poll_oneoff) and
 * proc_exit are real; everything else answers with a WASI errno.
 * See docs/wasi.md for every function's behaviour.
 *
 * The signature tables tarmac_wasi_imports[] and tarmac_env_imports[]
 * (engine/host_imports.h) are defined here too. */
#ifndef TARMAC_WASI_WASI_H
#define TARMAC_WASI_WASI_H

struct tarmac_instance;

/* Logs the instance's pending partial stdout/stderr lines (output without a
 * final newline) as lines of their own and frees the line buffers' storage.
 * The engine calls it after every invocation and before freeing the
 * instance; nothing of the line buffers needs freeing after it. */
void tarmac_wasi_flush(struct tarmac_instance *instance);

#endif
