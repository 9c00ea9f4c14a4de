/* One-line C wrappers for DPDK's static inline functions and macros, which bindgen cannot
 * see. Each does exactly what the wrapped call does; nothing more. */
#ifndef MACSEC_SHIM_H
#define MACSEC_SHIM_H
#include <stdint.h>
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

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
#endif
