#!/usr/bin/env python3
"""Regenerates the seed corpus in fuzz/corpus/ from the repo's vectors and example configs.

Run from anywhere: python3 fuzz/make_corpus.py. Binary seeds are written as hex text (.hex), one
input per file; text seeds (TOML, JSON lines) as they are. The keys in the hand-written seeds are
test patterns, never real keys.
"""
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(data if isinstance(data, str) else data.hex() + "\n")


def secy_frames():
    for f in ["secy-annex-c.json", "secy-dpdk-edge.json"]:
        doc = json.loads((ROOT / "dataplane" / "vectors" / f).read_text())
        for v in doc["vectors"]:
            frame = bytes.fromhex(v["protected_frame"])
            name = v["id"].replace(".", "_")
            write("validate", f"{name}.hex", frame)
            if frame[12:14] == b"\x88\xe5":
                write("sectag", f"{name}.hex", frame[12:28])


def mkpdus():
    doc = json.loads((ROOT / "control" / "vectors" / "mkpdu.json").read_text())
    for v in doc["vectors"]:
        write("mkpdu", f"{v['id']}.hex", bytes.fromhex(v["frame"]))


def configs():
    for p in sorted((ROOT / "deploy" / "examples").glob("*.toml")):
        write("config", p.name, p.read_text())


SAK = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
SALT = "0c0d0e0f1011121314151617"


def static_keys():
    write("static_keys", "xpn.toml",
          f'[[tx]]\nan = 0\nsak = "{SAK}"\nssci = 1\nsalt = "{SALT}"\n'
          f'[[rx]]\nsci = "52540000000b0001"\nan = 0\nsak = "{SAK}"\nssci = 2\nsalt = "{SALT}"\n')
    write("static_keys", "gcm128.toml",
          f'[[tx]]\nan = 1\nsak = "{SAK[:32]}"\npn = 1000\n'
          f'[[rx]]\nsci = "52540000000a0001"\nan = 1\nsak = "{SAK[:32]}"\npn = 1\n')


def ctl_proto():
    secy = '{"connection":"dxcon-fgabc123","member":0}'
    msgs = {
        "hello": '{"id":1,"req":{"op":"hello","version":1}}',
        "subscribe": '{"id":2,"req":{"op":"subscribe"}}',
        "install_tx_sa": f'{{"id":3,"req":{{"op":"install_tx_sa","secy":{secy},"an":1,"next_pn":1,"ssci":1,'
                         f'"salt":"{SALT}","sak":"{SAK}"}}}}',
        "install_rx_sa": f'{{"id":4,"req":{{"op":"install_rx_sa","secy":{secy},"peer_sci":"52540000000b0001",'
                         f'"an":1,"lowest_pn":1,"ssci":2,"salt":"{SALT}","sak":"{SAK}"}}}}',
        "enable_tx_sa": f'{{"id":5,"req":{{"op":"enable_tx_sa","secy":{secy},"an":1}}}}',
        "delete_rx_sa": f'{{"id":6,"req":{{"op":"delete_rx_sa","secy":{secy},"peer_sci":"52540000000b0001","an":0}}}}',
        "set_mode": f'{{"id":7,"req":{{"op":"set_mode","secy":{secy},"mode":"must_encrypt"}}}}',
        "send_eapol": f'{{"id":8,"req":{{"op":"send_eapol","secy":{secy},"frame":"0180c200000302000000000a888e03050000"}}}}',
        "status": '{"id":9,"req":{"op":"status"}}',
        "reply_ok": '{"reply":{"id":3,"body":{"result":"ok"}}}',
        "reply_error": '{"reply":{"id":3,"body":{"result":"error","message":"an: expected 0..3, got 7"}}}',
        "event_eapol": f'{{"event":{{"kind":"eapol","secy":{secy},"frame":"0180c2000003"}}}}',
        "event_pn": f'{{"event":{{"kind":"pn_threshold","secy":{secy},"an":1,"next_pn":4611686018427387904}}}}',
    }
    for name, m in msgs.items():
        write("ctl_proto", f"{name}.json", m + "\n")


def operator_proto():
    cak = "ab" * 32
    msgs = {
        "associate": f'{{"verb":"associate-mac-sec-key","connection_id":"dxcon-fgabc123","ckn":"{"cd" * 32}","cak":"{cak}"}}',
        "disassociate": f'{{"verb":"disassociate-mac-sec-key","connection_id":"dxcon-fgabc123","ckn":"{"cd" * 32}"}}',
        "schedule": f'{{"verb":"schedule-key-deletion","connection_id":"dxcon-fgabc123","ckn":"{"cd" * 32}","days":7}}',
        "update": '{"verb":"update-connection","connection_id":"dxcon-fgabc123","encryption_mode":"must_encrypt"}',
        "describe": '{"verb":"describe-connections","connection_id":null}',
        "rekey": '{"verb":"rekey","connection_id":"dxcon-fgabc123"}',
        "status": '{"verb":"status"}',
        "reply": '{"ok":false,"error":"ckn: expected 2 to 64 hex digits, got 65","warnings":["w"],"result":null}',
    }
    for name, m in msgs.items():
        write("operator_proto", f"{name}.json", m + "\n")


if __name__ == "__main__":
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    secy_frames()
    mkpdus()
    configs()
    static_keys()
    ctl_proto()
    operator_proto()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
