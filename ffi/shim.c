#include <rte_config.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_cryptodev.h>
#include <rte_crypto.h>
#include "shim.h"

uint16_t shim_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_rx_burst(port, queue, pkts, n); }
uint16_t shim_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n) { return rte_eth_tx_burst(port, queue, pkts, n); }
struct rte_mbuf *shim_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }
void shim_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
void shim_pktmbuf_free_bulk(struct rte_mbuf **m, unsigned int n) { rte_pktmbuf_free_bulk(m, n); }
char *shim_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }
char *shim_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
char *shim_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int shim_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
uint16_t shim_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t shim_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
int shim_errno(void) { return rte_errno; }
unsigned int shim_lcore_id(void) { return rte_lcore_id(); }
uint64_t shim_rdtsc(void) { return rte_rdtsc(); }
unsigned int shim_ring_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n) { return rte_ring_enqueue_burst(r, objs, n, NULL); }
unsigned int shim_ring_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n) { return rte_ring_dequeue_burst(r, objs, n, NULL); }
unsigned int shim_ring_count(const struct rte_ring *r) { return rte_ring_count(r); }

uint16_t shim_cryptodev_enqueue_burst(uint8_t dev, uint16_t qp, struct rte_crypto_op **ops, uint16_t n) { return rte_cryptodev_enqueue_burst(dev, qp, ops, n); }
uint16_t shim_cryptodev_dequeue_burst(uint8_t dev, uint16_t qp, struct rte_crypto_op **ops, uint16_t n) { return rte_cryptodev_dequeue_burst(dev, qp, ops, n); }
int shim_crypto_op_bulk_alloc(struct rte_mempool *mp, struct rte_crypto_op **ops, uint16_t n) { return rte_crypto_op_bulk_alloc(mp, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, n); }
void shim_crypto_op_free(struct rte_crypto_op *op) { rte_crypto_op_free(op); }
uint8_t shim_crypto_op_status(const struct rte_crypto_op *op) { return op->status; }
void shim_crypto_op_reset_status(struct rte_crypto_op *op) { op->status = RTE_CRYPTO_OP_STATUS_NOT_PROCESSED; }
uint16_t shim_crypto_op_iv_offset(void) { return sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op); }
uint8_t *shim_crypto_op_iv(struct rte_crypto_op *op) { return rte_crypto_op_ctod_offset(op, uint8_t *, shim_crypto_op_iv_offset()); }

void *shim_crypto_aead_gcm_session(uint8_t dev, struct rte_mempool *sess_mp, int encrypt, const uint8_t *key,
                                   uint16_t key_len, uint16_t aad_len)
{
	struct rte_crypto_sym_xform x = {
		.next = NULL,
		.type = RTE_CRYPTO_SYM_XFORM_AEAD,
		.aead = {
			.op = encrypt ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT,
			.algo = RTE_CRYPTO_AEAD_AES_GCM,
			.key = { .data = key, .length = key_len },
			.iv = { .offset = shim_crypto_op_iv_offset(), .length = 12 },
			.digest_length = 16,
			.aad_length = aad_len,
		},
	};
	return rte_cryptodev_sym_session_create(dev, &x, sess_mp);
}

int shim_crypto_op_set_aead(struct rte_crypto_op *op, void *sess, struct rte_mbuf *m, uint32_t len, uint8_t *digest,
                            uint8_t *aad)
{
	int rc = rte_crypto_op_attach_sym_session(op, sess);
	op->sym->m_src = m;
	op->sym->aead.data.offset = 0;
	op->sym->aead.data.length = len;
	op->sym->aead.digest.data = digest;
	op->sym->aead.digest.phys_addr = rte_mem_virt2iova(digest);
	op->sym->aead.aad.data = aad;
	op->sym->aead.aad.phys_addr = rte_mem_virt2iova(aad);
	return rc;
}
