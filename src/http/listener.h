/* http/listener: turns "host:port" into listening sockets. Every event loop
 * gets its own socket bound with SO_REUSEPORT, so the kernel spreads new
 * connections over the loops without a shared accept lock. */
#ifndef TARMAC_HTTP_LISTENER_H
#define TARMAC_HTTP_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct {
  struct sockaddr_storage addr;
  socklen_t addr_len;
} tarmac_listen_addr_t;

/* Parses "host:port", "[v6]:port" or ":port" (all interfaces). Host names
 * are resolved. 0, or -1 with err set. */
int tarmac_listen_addr_parse(const char *text, tarmac_listen_addr_t *out,
                             char *err, size_t err_size);

/* Checks that nobody holds the address (a plain bind, no SO_REUSEPORT, so
 * that another server sharing the port by SO_REUSEPORT is also noticed).
 * Fills in the port when it was 0, so later sockets share one port. */
int tarmac_listen_probe(tarmac_listen_addr_t *addr, char *err, size_t err_size);

/* A non-blocking listening socket with SO_REUSEPORT. fd or -1 with err. */
int tarmac_listen_open(const tarmac_listen_addr_t *addr, char *err,
                       size_t err_size);

int tarmac_listen_addr_port(const tarmac_listen_addr_t *addr);

#endif
