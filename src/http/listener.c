/* Listening sockets for the event loops. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/listener.h"

/* Splits text into host and port strings (host may be empty). */
static int split_host_port(const char *text, char *host, size_t host_size,
                           const char **port, char *err, size_t err_size) {
  const char *colon;
  const char *host_start = text;
  size_t host_len;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':') goto bad;
    host_start = text + 1;
    host_len = (size_t)(close - host_start);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL) goto bad;
    host_len = (size_t)(colon - text);
  }
  if (host_len >= host_size || colon[1] == '\0') goto bad;
  memcpy(host, host_start, host_len);
  host[host_len] = '\0';
  *port = colon + 1;
  return 0;
bad:
  snprintf(err, err_size,
           "listen address \"%s\" is not host:port, [ipv6]:port or :port",
           text);
  return -1;
}

int tarmac_listen_addr_parse(const char *text, tarmac_listen_addr_t *out,
                             char *err, size_t err_size) {
  char host[256];
  const char *port;
  if (split_host_port(text, host, sizeof(host), &port, err, err_size) != 0)
    return -1;
  char *end;
  long port_num = strtol(port, &end, 10);
  if (*end != '\0' || port_num < 0 || port_num > 65535) {
    snprintf(err, err_size, "listen address \"%s\" has an invalid port",
             text);
    return -1;
  }
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
  if (rc != 0) {
    snprintf(err, err_size, "listen address \"%s\": %s", text,
             gai_strerror(rc));
    return -1;
  }
  memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
  out->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

int tarmac_listen_addr_port(const tarmac_listen_addr_t *addr) {
  if (addr->addr.ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)&addr->addr)->sin6_port);
  return ntohs(((const struct sockaddr_in *)&addr->addr)->sin_port);
}

static void describe(const tarmac_listen_addr_t *addr, char *out, size_t size) {
  char host[INET6_ADDRSTRLEN + 2] = "?";
  char port[16] = "?";
  getnameinfo((const struct sockaddr *)&addr->addr, addr->addr_len, host,
              sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(out, size, addr->addr.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
           host, port);
}

/* "cannot listen on <addr>: <errno text>"; closes fd; returns -1. */
static int fail_closing(int fd, const tarmac_listen_addr_t *addr, char *err,
                        size_t err_size) {
  char where[INET6_ADDRSTRLEN + 16];
  int e = errno;
  describe(addr, where, sizeof(where));
  snprintf(err, err_size, "cannot listen on %s: %s", where, strerror(e));
  close(fd);
  return -1;
}

static int bind_socket(const tarmac_listen_addr_t *addr, int reuseport,
                       char *err, size_t err_size) {
  int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, err_size, "cannot create a socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (reuseport &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      bind(fd, (const struct sockaddr *)&addr->addr, addr->addr_len) != 0)
    return fail_closing(fd, addr, err, err_size);
  return fd;
}

int tarmac_listen_probe(tarmac_listen_addr_t *addr, char *err,
                        size_t err_size) {
  int fd = bind_socket(addr, 0, err, err_size);
  if (fd < 0) return -1;
  if (listen(fd, 1) != 0) return fail_closing(fd, addr, err, err_size);
  socklen_t len = sizeof(addr->addr);
  int rc = getsockname(fd, (struct sockaddr *)&addr->addr, &len);
  close(fd);
  if (rc != 0) {
    snprintf(err, err_size, "getsockname: %s", strerror(errno));
    return -1;
  }
  addr->addr_len = len;
  return 0;
}

int tarmac_listen_open(const tarmac_listen_addr_t *addr, char *err,
                       size_t err_size) {
  int fd = bind_socket(addr, 1, err, err_size);
  if (fd < 0) return -1;
  int one = 1;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
      listen(fd, SOMAXCONN) != 0)
    return fail_closing(fd, addr, err, err_size);
  return fd;
}
