//! Thin safe DPDK wrapper (placeholder, being written).
