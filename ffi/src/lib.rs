//! bindgen bindings to the system libdpdk (placeholder, being written).
