"""TRex stateless profile for the MACsec appliance: bidirectional UDP streams of a fixed size
(64 or 1518 octets on the wire, FCS included) or IMIX (7x64 : 4x594 : 1x1518), plus optional
latency streams.

  start -f macsec_bidir.py -t size=64 -m 100%
  start -f macsec_bidir.py -t size=imix,latency=1 -m 10gbps
The appliance adds 32 octets per frame on the wire (SecTAG with SCI + ICV); keep the sizes at
least 32 below the wire MTU.
"""
from trex_stl_lib.api import (STLProfile, STLStream, STLPktBuilder, STLTXCont, STLFlowLatencyStats,
                              STLVM, Ether, IP, UDP)

IMIX = [(64, 7), (594, 4), (1518, 1)]


def frame(size, src, dst):
    base = Ether() / IP(src=src, dst=dst) / UDP(sport=1025, dport=12)
    pad = max(0, size - 4 - len(base))  # the NIC adds the 4-octet FCS
    vm = STLVM()
    # Vary the source port so the flows spread (one flow stays in order on one LAG member).
    vm.var(name="sport", min_value=1025, max_value=65000, size=2, op="inc")
    vm.write(fv_name="sport", pkt_offset="UDP.sport")
    vm.fix_chksum()
    return STLPktBuilder(pkt=base / ("x" * pad), vm=vm)


class MacsecBidir:
    def streams(self, direction, size, latency):
        src, dst = ("16.0.0.1", "48.0.0.1") if direction == 0 else ("48.0.0.1", "16.0.0.1")
        mix = IMIX if size == "imix" else [(int(size), 1)]
        out = [STLStream(packet=frame(s, src, dst), mode=STLTXCont(pps=w)) for s, w in mix]
        if latency:
            out.append(STLStream(packet=frame(128, src, dst), mode=STLTXCont(pps=1000),
                                 flow_stats=STLFlowLatencyStats(pg_id=direction + 10)))
        return out

    def get_streams(self, direction=0, size="64", latency=0, **kwargs):
        return self.streams(direction, size, int(latency))


def register():
    return MacsecBidir()
