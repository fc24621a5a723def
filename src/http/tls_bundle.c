/* Loading TLS material from PEM files into an immutable bundle. Each file
 * is read whole, once, then parsed from memory: a file rewritten while it
 * is read cannot yield half of one version and half of another. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "http/tls.h"
#include "http/tls_bundle.h"
#include "util/fdio.h"

/* The last OpenSSL error's reason into out, and the error queue emptied
 * (a later failure must not report this one). */
static void openssl_reason(char *out, size_t size) {
  unsigned long code = ERR_peek_last_error();
  const char *reason = code ? ERR_reason_error_string(code) : NULL;
  snprintf(out, size, "%s", reason ? reason : "unknown OpenSSL error");
  ERR_clear_error();
}

/* Encrypted keys are refused rather than prompting on the terminal. */
static int no_password(char *buf, int size, int rwflag, void *data) {
  (void)buf, (void)size, (void)rwflag, (void)data;
  return -1;
}

/* The file's bytes as a read-only memory BIO over text (which must outlive
 * it). NULL with err set. */
static BIO *open_pem(const char *what, const char *path, tarmac_buffer_t *text,
                     char *err, size_t err_size) {
  if (path == NULL || path[0] == '\0') {
    snprintf(err, err_size, "TLS is enabled but no %s file is set", what);
    return NULL;
  }
  if (tarmac_read_file(path, TARMAC_TLS_MAX_FILE_BYTES, text) != 0) {
    if (errno == EFBIG)
      snprintf(err, err_size, "TLS %s file %s is larger than %zu bytes", what,
               path, TARMAC_TLS_MAX_FILE_BYTES);
    else if (errno == EINVAL)
      snprintf(err, err_size, "TLS %s file %s is not a regular file", what,
               path);
    else
      snprintf(err, err_size, "cannot read TLS %s file %s: %s", what, path,
               strerror(errno));
    return NULL;
  }
  BIO *bio = BIO_new_mem_buf(text->data ? (void *)text->data : "",
                             (int)text->len);
  if (bio == NULL)
    snprintf(err, err_size, "out of memory reading TLS %s file %s", what,
             path);
  return bio;
}

/* After a loop of PEM reads: true when it ended at the end of the text
 * (OpenSSL reports that as "no start line"), false on a broken entry. */
static bool reached_end(void) {
  unsigned long code = ERR_peek_last_error();
  if (ERR_GET_LIB(code) == ERR_LIB_PEM &&
      ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return false;
}

/* Reads the server's certificate, then the rest of the file as its chain. */
static int load_chain(tarmac_tls_bundle_t *b, const char *path, BIO *bio,
                      char *err, size_t err_size) {
  char reason[256];
  ERR_clear_error();
  b->cert = PEM_read_bio_X509_AUX(bio, NULL, no_password, NULL);
  if (b->cert == NULL) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "TLS certificate file %s holds no PEM "
             "certificate: %s", path, reason);
    return -1;
  }
  b->chain = sk_X509_new_null();
  if (b->chain == NULL) goto oom;
  X509 *cert;
  while ((cert = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
    if (sk_X509_push(b->chain, cert) == 0) {
      X509_free(cert);
      goto oom;
    }
  }
  if (!reached_end()) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "invalid certificate in TLS certificate file "
             "%s: %s", path, reason);
    return -1;
  }
  return 0;
oom:
  snprintf(err, err_size, "out of memory reading TLS certificate file %s",
           path);
  return -1;
}

static int load_key(tarmac_tls_bundle_t *b, const char *path, BIO *bio,
                    char *err, size_t err_size) {
  char reason[256];
  ERR_clear_error();
  b->key = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
  if (b->key == NULL) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "invalid TLS key file %s (an unencrypted PEM "
             "key is expected): %s", path, reason);
    return -1;
  }
  return 0;
}

/* One CA certificate into the store and the names list. */
static int add_ca(tarmac_tls_bundle_t *b, X509 *cert) {
  X509_NAME *name = X509_NAME_dup(X509_get_subject_name(cert));
  if (name == NULL) return -1;
  if (sk_X509_NAME_push(b->ca_names, name) == 0) {
    X509_NAME_free(name);
    return -1;
  }
  return X509_STORE_add_cert(b->ca_store, cert) == 1 ? 0 : -1;
}

static int load_ca(tarmac_tls_bundle_t *b, const char *path, BIO *bio,
                   char *err, size_t err_size) {
  char reason[256];
  b->ca_store = X509_STORE_new();
  b->ca_names = sk_X509_NAME_new_null();
  if (b->ca_store == NULL || b->ca_names == NULL) goto oom;
  ERR_clear_error();
  X509 *cert;
  while ((cert = PEM_read_bio_X509_AUX(bio, NULL, no_password, NULL)) !=
         NULL) {
    int rc = add_ca(b, cert);
    X509_free(cert); /* the store holds its own reference */
    if (rc != 0) goto oom;
  }
  if (!reached_end()) {
    openssl_reason(reason, sizeof(reason));
    snprintf(err, err_size, "invalid certificate in TLS CA file %s: %s",
             path, reason);
    return -1;
  }
  if (sk_X509_NAME_num(b->ca_names) == 0) {
    snprintf(err, err_size, "TLS CA file %s holds no PEM certificate", path);
    return -1;
  }
  return 0;
oom:
  snprintf(err, err_size, "out of memory reading TLS CA file %s", path);
  return -1;
}

typedef int (*pem_loader_fn)(tarmac_tls_bundle_t *b, const char *path,
                             BIO *bio, char *err, size_t err_size);

/* Reads one file (text is scratch space) and hands it to load. */
static int load_file(tarmac_tls_bundle_t *b, const char *what,
                     const char *path, pem_loader_fn load,
                     tarmac_buffer_t *text, char *err, size_t err_size) {
  BIO *bio = open_pem(what, path, text, err, err_size);
  if (bio == NULL) return -1;
  int rc = load(b, path, bio, err, err_size);
  BIO_free(bio);
  return rc;
}

static int load_all(tarmac_tls_bundle_t *b, const char *cert_file,
                    const char *key_file, const char *ca_file, char *err,
                    size_t err_size) {
  tarmac_buffer_t text = TARMAC_BUFFER_INIT;
  int rc = load_file(b, "certificate", cert_file, load_chain, &text, err,
                     err_size);
  if (rc == 0)
    rc = load_file(b, "key", key_file, load_key, &text, err, err_size);
  if (rc == 0 && X509_check_private_key(b->cert, b->key) != 1) {
    ERR_clear_error();
    /* also what a certificate replaced before its key looks like */
    snprintf(err, err_size, "TLS key %s does not match certificate %s",
             key_file, cert_file);
    rc = -1;
  }
  if (rc == 0 && ca_file != NULL && ca_file[0] != '\0')
    rc = load_file(b, "CA", ca_file, load_ca, &text, err, err_size);
  /* the key's PEM text is not left behind in freed memory */
  if (text.data != NULL) OPENSSL_cleanse(text.data, text.cap);
  tarmac_buffer_free(&text);
  return rc;
}

tarmac_tls_bundle_t *tarmac_tls_bundle_load(const char *cert_file,
                                            const char *key_file,
                                            const char *ca_file, char *err,
                                            size_t err_size) {
  tarmac_tls_bundle_t *b = calloc(1, sizeof(*b));
  if (b == NULL) {
    snprintf(err, err_size, "out of memory loading TLS files");
    return NULL;
  }
  atomic_init(&b->refs, 1);
  if (load_all(b, cert_file, key_file, ca_file, err, err_size) != 0) {
    tarmac_tls_bundle_unref(b);
    return NULL;
  }
  return b;
}

tarmac_tls_bundle_t *tarmac_tls_bundle_ref(tarmac_tls_bundle_t *bundle) {
  atomic_fetch_add_explicit(&bundle->refs, 1, memory_order_relaxed);
  return bundle;
}

void tarmac_tls_bundle_unref(tarmac_tls_bundle_t *bundle) {
  if (bundle == NULL ||
      atomic_fetch_sub_explicit(&bundle->refs, 1, memory_order_acq_rel) != 1)
    return;
  X509_free(bundle->cert);
  sk_X509_pop_free(bundle->chain, X509_free);
  EVP_PKEY_free(bundle->key);
  X509_STORE_free(bundle->ca_store);
  sk_X509_NAME_pop_free(bundle->ca_names, X509_NAME_free);
  free(bundle);
}

int tarmac_tls_bundle_install(const tarmac_tls_bundle_t *bundle, SSL *ssl) {
  /* override: replaces whatever the context gave the SSL object */
  if (SSL_use_cert_and_key(ssl, bundle->cert, bundle->key, bundle->chain,
                           1) != 1)
    return -1;
  if (bundle->ca_store == NULL) return 0;
  STACK_OF(X509_NAME) *names = SSL_dup_CA_list(bundle->ca_names);
  if (names == NULL) return -1;
  SSL_set_client_CA_list(ssl, names); /* takes names */
  return SSL_set1_verify_cert_store(ssl, bundle->ca_store) == 1 ? 0 : -1;
}
