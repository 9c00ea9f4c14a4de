"""1518-octet frames in both directions (the Gbps case)."""
from macsec_bidir import MacsecBidir


class P(MacsecBidir):
    def get_streams(self, direction=0, **kwargs):
        return self.streams(direction, "1518", int(kwargs.get("latency", 0)))


def register():
    return P()
