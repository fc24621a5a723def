/* server/serve: `tarmac serve` (and `tarmac` with no command): configure
 * from the environment, load the function, serve it over HTTP(S) until
 * SIGTERM or SIGINT, then shut down gracefully and return 0. Start-up
 * failures print one line on stderr and return non-zero. */
#ifndef TARMAC_SERVER_SERVE_H
#define TARMAC_SERVER_SERVE_H

int tarmac_serve_main(int argc, char **argv);

#endif
