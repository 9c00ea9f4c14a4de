"""64-octet frames in both directions (the PN-exhaustion and per-packet-cost case)."""
from macsec_bidir import MacsecBidir


class P(MacsecBidir):
    def get_streams(self, direction=0, **kwargs):
        return self.streams(direction, "64", int(kwargs.get("latency", 0)))


def register():
    return P()
