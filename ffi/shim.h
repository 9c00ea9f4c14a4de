/* One-line C wrappers for DPDK's static inline functions and macros, which bindgen cannot
 * see. Each does exactly what the wrapped call does; nothing more. */
#ifndef MACSEC_SHIM_H
#define MACSEC_SHIM_H
#include <stdint.h>
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_crypto_op;

/* rte_eth_rx_burst / rte_eth_tx_burst */
uint16_t shim_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t shim_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
/* rte_pktmbuf_alloc / rte_pktmbuf_free / rte_pktmbuf_free_bulk */
struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp);
void shim_pktmbuf_free(struct rte_mbuf *m);
void shim_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n);
/* rte_pktmbuf_prepend / append / adj / trim: NULL or -1 when there is no room */
char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
/* rte_pktmbuf_headroom / tailroom */
uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m);
/* rte_errno (a per-lcore variable behind a macro) */
int shim_errno(void);
/* rte_lcore_id, rte_rdtsc */
unsigned int shim_lcore_id(void);
uint64_t shim_rdtsc(void);
/* rte_ring_enqueue_burst / rte_ring_dequeue_burst / rte_ring_count */
unsigned int shim_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n);
unsigned int shim_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n);
unsigned int shim_ring_count(const struct rte_ring *r);
/* Cryptodev (the AEAD path macsec-bench drives on the ipsec-mb PMD). */
/* rte_cryptodev_enqueue_burst / rte_cryptodev_dequeue_burst */
uint16_t shim_cryptodev_enqueue_burst(uint8_t dev, uint16_t qp, struct rte_crypto_op **ops, uint16_t n);
uint16_t shim_cryptodev_dequeue_burst(uint8_t dev, uint16_t qp, struct rte_crypto_op **ops, uint16_t n);
/* rte_crypto_op_bulk_alloc(mp, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, n): n on success, 0 otherwise */
int shim_crypto_op_bulk_alloc(struct rte_mempool *mp, struct rte_crypto_op **ops, uint16_t n);
/* op->status, and resetting it to RTE_CRYPTO_OP_STATUS_NOT_PROCESSED before a re-enqueue */
/* rte_crypto_op_free */
void shim_crypto_op_free(struct rte_crypto_op *op);
uint8_t shim_crypto_op_status(const struct rte_crypto_op *op);
void shim_crypto_op_reset_status(struct rte_crypto_op *op);
/* Offset of the IV in an op: right after rte_crypto_op and rte_crypto_sym_op (the op's private
 * area, sized by rte_crypto_op_pool_create's priv_size). */
uint16_t shim_crypto_op_iv_offset(void);
/* rte_crypto_op_ctod_offset(op, uint8_t *, shim_crypto_op_iv_offset()) */
uint8_t *shim_crypto_op_iv(struct rte_crypto_op *op);
/* An AEAD AES-GCM session (IV at shim_crypto_op_iv_offset(), 12 octets): fills one
 * rte_crypto_sym_xform and calls rte_cryptodev_sym_session_create. NULL on failure. */
void *shim_crypto_aead_gcm_session(uint8_t dev, struct rte_mempool *sess_mp, int encrypt, const uint8_t *key,
                                   uint16_t key_len, uint16_t aad_len);
/* Points an op at a whole-mbuf AEAD job: rte_crypto_op_attach_sym_session, m_src, aead.data
 * = [0, len), aead.digest and aead.aad with their IOVAs (rte_mem_virt2iova). */
int shim_crypto_op_set_aead(struct rte_crypto_op *op, void *sess, struct rte_mbuf *m, uint32_t len, uint8_t *digest,
                            uint8_t *aad);
#endif
