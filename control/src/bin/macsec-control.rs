fn main() { macsec_control::daemon::main() }
