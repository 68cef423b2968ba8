#ifndef SWIFT_SPDY_COPENSSL_SHIM_H
#define SWIFT_SPDY_COPENSSL_SHIM_H

/* The system OpenSSL (Debian libssl-dev), for the TLS backend that offers NPN
   next to ALPN. swift-nio-ssl's BoringSSL has prefixed symbols (CNIOBoringSSL_*),
   so both link into one binary. */

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

/* Macros in the OpenSSL headers; Swift cannot call C macros, so these inline
   wrappers expose them as functions. */

static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int copenssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline int copenssl_set_max_proto_version(SSL *ssl, int version) {
    return (int)SSL_set_max_proto_version(ssl, version);
}

static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long copenssl_ctx_add_extra_chain_cert(SSL_CTX *ctx, X509 *certificate) {
    return SSL_CTX_add_extra_chain_cert(ctx, certificate);
}

static inline int copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int copenssl_set_ex_data_pointer(SSL *ssl, void *pointer) {
    return SSL_set_ex_data(ssl, 0, pointer);
}

static inline void *copenssl_get_ex_data_pointer(const SSL *ssl) {
    return SSL_get_ex_data(ssl, 0);
}

/* Constants Swift imports awkwardly (macros of casts, or absent). */
static const int copenssl_tls1_version = TLS1_VERSION;
static const int copenssl_tls1_1_version = TLS1_1_VERSION;
static const int copenssl_tls1_2_version = TLS1_2_VERSION;
static const int copenssl_tls1_3_version = TLS1_3_VERSION;
static const int copenssl_tlsext_err_ok = SSL_TLSEXT_ERR_OK;
static const int copenssl_tlsext_err_noack = SSL_TLSEXT_ERR_NOACK;
static const int copenssl_tlsext_err_alert_fatal = SSL_TLSEXT_ERR_ALERT_FATAL;
static const int copenssl_client_hello_success = SSL_CLIENT_HELLO_SUCCESS;
static const long copenssl_mode_release_buffers = SSL_MODE_RELEASE_BUFFERS;

#endif
