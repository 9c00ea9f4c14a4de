//! MKA (placeholder, being written).
