#!/usr/bin/env python3
"""A minimal client of the dataplane control socket (docs/control-socket.md) for tests.

  ctl.py SOCKET request '{"op": "status"}'     one request, prints the reply body as JSON
  ctl.py SOCKET rekey-loop A_SOCK B_SOCK ...   (see rekey_loop)
"""
import json
import os
import socket
import sys
import time


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(5)
        self.s.connect(path)
        self.id = 0

    def req(self, body):
        self.id += 1
        self.s.send(json.dumps({"id": self.id, "req": body}).encode())
        while True:
            msg = json.loads(self.s.recv(65536))
            if "reply" in msg and msg["reply"]["id"] == self.id:
                return msg["reply"]["body"]

    def ok(self, body):
        r = self.req(body)
        if r.get("result") != "ok":
            raise SystemExit("request %s refused: %s" % (body.get("op"), r))
        return r


def rekey_loop(a_sock, b_sock, conn_a, conn_b, sci_a, sci_b, suite_bits, xpn, seconds, hz):
    """Rekeys both directions `hz` times a second: install the Rx SA on the receiver first, then
    the Tx SA on the sender, then switch the sender's encoding AN (make before break)."""
    a, b = Ctl(a_sock), Ctl(b_sock)
    salt = "0c0d0e0f1011121314151617"
    an, n = 0, 0
    end = time.time() + seconds
    while time.time() < end:
        an = (an + 1) % 4
        for (tx, tx_conn, tx_sci, rx, rx_conn, ssci) in ((a, conn_a, sci_a, b, conn_b, 1), (b, conn_b, sci_b, a, conn_a, 2)):
            sak = os.urandom(suite_bits // 8).hex()
            extra = {"ssci": ssci, "salt": salt} if xpn else {}
            rx.ok(dict(op="install_rx_sa", secy={"connection": rx_conn}, peer_sci=tx_sci, an=an, lowest_pn=1, sak=sak, **extra))
            tx.ok(dict(op="install_tx_sa", secy={"connection": tx_conn}, an=an, next_pn=1, sak=sak, **extra))
            tx.ok(dict(op="enable_tx_sa", secy={"connection": tx_conn}, an=an))
        n += 1
        time.sleep(1.0 / hz)
    print(n)


if __name__ == "__main__":
    if sys.argv[2] == "request":
        print(json.dumps(Ctl(sys.argv[1]).req(json.loads(sys.argv[3]))))
    elif sys.argv[2] == "rekey-loop":
        a_sock, b_sock, conn_a, conn_b, sci_a, sci_b, bits, xpn, secs, hz = sys.argv[3:13]
        rekey_loop(a_sock, b_sock, conn_a, conn_b, sci_a, sci_b, int(bits), xpn == "xpn", float(secs), float(hz))
    else:
        raise SystemExit(__doc__)
