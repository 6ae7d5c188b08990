#!/usr/bin/env python3
"""Independent verifier of a kyc-receiver audit trail, written from docs/audit-format.md with the Python standard
library only (Ed25519 verification is the reference algorithm of RFC 8032, section 6).

    verify_audit.py EXPORT.jsonl [--mac-key ID=BASE64 ...] [--heads HEADS.jsonl --public-key KEY.pem]

EXPORT comes from `kyc-receiver audit export` or `GET /v1/audit/export`. With --mac-key (each line of
`kyc-receiver audit mac-key`, repeatable), keyed event hashes (version 2) are recomputed; without one only their
links are checked. With --heads,
every signed head must verify with the public key (`kyc-receiver audit public-key`) and be contained in the
chain. Prints "ok ..." and exits 0, or prints the first problem and exits 1.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys

GENESIS = "0" * 64

# --- Ed25519 verification (RFC 8032, section 6) ---------------------------------------------------------------

P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
Q = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _inv(x):
    return pow(x, P - 2, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    d = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f, g * h, f * g, e * h)


def _mul(s, pt):
    acc = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * _inv(5) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, G), _add(r, _mul(h, a)))


def public_key_from_pem(text):
    """The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo PEM."""
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    der = base64.b64decode(body)
    prefix = bytes.fromhex("302a300506032b6570032100")
    if len(der) != 44 or not der.startswith(prefix):
        raise ValueError("not an Ed25519 public key (SubjectPublicKeyInfo PEM)")
    return der[12:]


# --- The chain --------------------------------------------------------------------------------------------------


def canonical(values):
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(e, mac_keys):
    fields = [e["seq"], e["occurred_at"], e["kind"], e["actor"], e["reference"], e["requester_id"],
              e["details"], e["prev_hash"]]
    if e["hash_version"] == 1:
        return hashlib.sha256(canonical(fields)).hexdigest()
    if e["hash_version"] == 2:
        if not mac_keys:
            return None
        key = mac_keys.get(e["hash_key"])
        if key is None:
            raise Problem(f"content_changed: event {e['seq']} claims audit key {e['hash_key']}, not among the keys given")
        return hmac.new(key, canonical([2, e["hash_key"]] + fields), hashlib.sha256).hexdigest()
    raise ValueError(f"event {e['seq']}: unknown hash_version {e['hash_version']}")


class Problem(Exception):
    pass


def check_chain(lines, mac_keys):
    events, head, checkpoint = [], None, None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = json.loads(line)
        kind = item.get("type")
        if kind == "checkpoint":
            checkpoint = item
        elif kind == "event":
            events.append(item)
        elif kind == "head":
            head = item
        else:
            raise Problem(f"line {n}: unknown line type {kind!r}")
    if head is None:
        raise Problem("truncated: the export has no head line")
    expected_seq, prev = (checkpoint["seq"] + 1, checkpoint["hash"]) if checkpoint else (1, GENESIS)
    keyed_seen, unchecked = False, 0
    for e in events:
        if e["seq"] != expected_seq:
            raise Problem(f"missing: event {expected_seq} is missing (next present is {e['seq']})")
        if e["prev_hash"] != prev:
            raise Problem(f"order_changed: event {e['seq']} does not follow event {e['seq'] - 1}")
        if e["hash_version"] == 1 and keyed_seen:
            raise Problem(f"content_changed: event {e['seq']} carries a plain hash after keyed events")
        keyed_seen |= e["hash_version"] == 2
        computed = event_hash(e, mac_keys)
        if computed is None:
            unchecked += 1
        elif computed != e["hash"]:
            raise Problem(f"content_changed: event {e['seq']} does not match its hash")
        expected_seq, prev = e["seq"] + 1, e["hash"]
    if head["seq"] != expected_seq - 1 or head["hash"] != prev:
        raise Problem(f"truncated: the chain ends at event {expected_seq - 1} but the head records event {head['seq']}")
    return {e["seq"]: e["hash"] for e in events}, checkpoint, head, unchecked


def check_heads(text, public, by_seq, checkpoint, head):
    checked = 0
    heads = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        h = json.loads(line)
        signed = f"kyc-receiver-audit-head/v1\n{h['seq']}\n{h['hash']}\n{h['time']}\n{h['instance']}".encode("utf-8")
        if not ed25519_verify(public, signed, base64.b64decode(h["signature"])):
            raise Problem(f"heads line {n}: the signature does not verify")
        heads.append(h)
    for h in sorted(heads, key=lambda h: h["seq"]):
        if h["seq"] > head["seq"]:
            raise Problem(f"truncated: a head signed at {h['time']} records event {h['seq']} but the chain ends at "
                          f"event {head['seq']} (events removed, or an older copy restored)")
        if checkpoint and h["seq"] < checkpoint["seq"]:
            continue
        recorded = checkpoint["hash"] if checkpoint and h["seq"] == checkpoint["seq"] else by_seq.get(h["seq"])
        checked += 1
        if recorded != h["hash"]:
            raise Problem(f"head_contradicted: event {h['seq']} is not the one the head signed at {h['time']} records")
    return checked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--mac-key", action="append", default=[],
                        help="ID=BASE64 (a line of `kyc-receiver audit mac-key`); repeatable")
    parser.add_argument("--heads")
    parser.add_argument("--public-key")
    args = parser.parse_args()
    mac_keys = {}
    for given in args.mac_key:
        key_id, sep, b64 = given.partition("=")
        if not sep:
            print("FAILED --mac-key takes ID=BASE64")
            return 1
        mac_keys[key_id] = base64.b64decode(b64)
    with open(args.export, encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        by_seq, checkpoint, head, unchecked = check_chain(lines, mac_keys)
        heads_checked = 0
        if args.heads:
            if not args.public_key:
                raise Problem("--heads needs --public-key")
            with open(args.public_key, encoding="utf-8") as f:
                public = public_key_from_pem(f.read())
            with open(args.heads, encoding="utf-8") as f:
                heads_checked = check_heads(f.read(), public, by_seq, checkpoint, head)
    except Problem as p:
        print(f"FAILED {p}")
        return 1
    note = f", {unchecked} keyed hash(es) not recomputed (no --mac-key)" if unchecked else ""
    print(f"ok: {len(by_seq)} event(s) up to event {head['seq']}, {heads_checked} signed head(s) contained{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
