/* broker/net/tls.h: the OpenSSL server context built from ssl_options.* (certfile, keyfile,
 * cacertfile, verify, fail_if_no_peer_cert, versions), TLS 1.2+ unless versions says otherwise. */
#ifndef BROKER_TLS_H
#define BROKER_TLS_H

#include <stddef.h>

struct config;
struct ssl_ctx_st;

/* NULL with a one-line message in err. */
struct ssl_ctx_st *tls_ctx_new(const struct config *cfg, char *err, size_t errlen);
/* A server context from PEM paths alone (ca may be NULL), TLS 1.2+, no client verification:
 * for listeners such as management.ssl.* that have their own certificate. */
struct ssl_ctx_st *tls_ctx_new_from_files(const char *cert, const char *key, const char *ca,
					  char *err, size_t errlen);
void tls_ctx_free(struct ssl_ctx_st *ctx);
/* The client certificate's subject CN, if the peer presented a verified certificate.
 * Returns the length written (0 when none). ssl is an SSL *. */
size_t tls_peer_cn(void *ssl, char *out, size_t cap);

#endif
