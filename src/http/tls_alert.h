/* http/tls_alert: makes a refused handshake's fatal alert reach the client.
 * h2o 2.2.5 buffers what OpenSSL writes and, when a handshake fails,
 * closes the socket without sending that buffer, so a client refused for
 * its certificate would see a bare reset instead of "certificate
 * required" or "unknown CA". A tap BIO in front of h2o's (installed when
 * the handshake picks its certificate) remembers the bytes of the last
 * flushed write; when OpenSSL reports a fatal alert written during the
 * handshake, those bytes (the alert record) are sent on the socket
 * directly, best effort. The tap's BIO_METHOD is owned by the caller
 * (one per TLS context, freed after every SSL object using it). */
#ifndef TARMAC_HTTP_TLS_ALERT_H
#define TARMAC_HTTP_TLS_ALERT_H

#include <openssl/ssl.h>

/* The tap's method; NULL when out of memory. Free with BIO_meth_free. */
BIO_METHOD *tarmac_tls_alert_method_new(void);

/* Puts a tap in front of the SSL object's write BIO (once per handshake;
 * later calls do nothing). 0, or -1 when out of memory (the handshake
 * goes on without it). */
int tarmac_tls_alert_tap(SSL *ssl, BIO_METHOD *method);

/* The context's info callback (SSL_CTX_set_info_callback): sends the
 * alert record of a fatal alert written during a handshake. */
void tarmac_tls_alert_on_info(const SSL *ssl, int where, int ret);

#endif
