/* broker/net/tls.c: TLS server context. Handshakes run inside libevent's bufferevent_openssl, so they
 * never block the loop. */
#include "broker/net/tls.h"

#include <limits.h> /* openssl/err.h uses INT_MAX without including it */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "broker/core/config.h"

static void tls_error(char *err, size_t errlen, const char *what, const char *file)
{
	char ossl[160] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, ossl, sizeof ossl);
	snprintf(err, errlen, "TLS: %s%s%s%s%s", what, file ? " " : "", file ? file : "",
		 *ossl ? ": " : "", ossl);
}

static int tls_ctx_load(SSL_CTX *ctx, const char *cert, const char *key, const char *ca,
			char *err, size_t errlen)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_error(err, errlen, "cannot load certificate", cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(err, errlen, "cannot load private key", key);
		return -1;
	}
	if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		tls_error(err, errlen, "cannot load CA certificates", ca);
		return -1;
	}
	return 0;
}

struct ssl_ctx_st *tls_ctx_new_from_files(const char *cert, const char *key, const char *ca,
					  char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		tls_error(err, errlen, "cannot create a context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (!cert || !key) {
		snprintf(err, errlen, "TLS: a certificate and a key file are required");
		goto fail;
	}
	if (tls_ctx_load(ctx, cert, key, ca, err, errlen) != 0)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct ssl_ctx_st *tls_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		tls_error(err, errlen, "cannot create a context", NULL);
		return NULL;
	}
	int min = TLS1_2_VERSION, max = 0;
	if (cfg->ssl_versions) {
		static const int vers[] = { TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
					    TLS1_3_VERSION };
		min = max = 0;
		for (int i = 0; i < 4; i++)
			if (cfg->ssl_versions & (1u << i)) {
				if (!min)
					min = vers[i];
				max = vers[i];
			}
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	if (max)
		SSL_CTX_set_max_proto_version(ctx, max);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (!cfg->ssl_certfile || !cfg->ssl_keyfile) {
		snprintf(err, errlen, "TLS: ssl_options.certfile and ssl_options.keyfile are required "
			 "for listeners.ssl.default");
		goto fail;
	}
	if (tls_ctx_load(ctx, cfg->ssl_certfile, cfg->ssl_keyfile, cfg->ssl_cacertfile, err,
			 errlen) != 0)
		goto fail;
	if (cfg->ssl_verify && strcmp(cfg->ssl_verify, "verify_peer") == 0) {
		int mode = SSL_VERIFY_PEER;
		if (cfg->ssl_fail_if_no_peer_cert)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

size_t tls_peer_cn(void *ssl, char *out, size_t cap)
{
	out[0] = '\0';
	if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (!cert)
		return 0;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out,
					  (int)cap);
	X509_free(cert);
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}
