/* Test-only entry point: runs the server exactly as `tarmac serve` does,
 * for the end-to-end tests (they use it when TARMAC_BIN has no serve). */
#include "server/serve.h"

int main(int argc, char **argv) { return tarmac_serve_main(argc, argv); }
