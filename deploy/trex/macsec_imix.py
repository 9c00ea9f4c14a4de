"""IMIX 7x64 : 4x594 : 1x1518 in both directions."""
from macsec_bidir import MacsecBidir


class P(MacsecBidir):
    def get_streams(self, direction=0, **kwargs):
        return self.streams(direction, "imix", int(kwargs.get("latency", 0)))


def register():
    return P()
