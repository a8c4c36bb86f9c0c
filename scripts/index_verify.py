#!/usr/bin/env python3
"""Independent verifier of Accord index answers, written from docs/INDEX.md alone (Python 3 stdlib only).

Usage: index_verify.py ANSWERS.json

ANSWERS.json:
    {
      "map_checkpoint": "<the map checkpoint's body: five lines, each ending in \\n>",
      "log_checkpoint": "<optional: the log checkpoint's body (origin, size, root lines)>",
      "answers": [
        {"key": "party:DA", "list": [0, 4, 9], "proof": "<hex of the proof bytes>"},
        {"key": "plan:NOPE", "list": null, "proof": "<hex>"}
      ]
    }

A list claims presence with exactly that list; null claims absence. The map root is taken from the map
checkpoint body (docs/INDEX.md section 7); when a log checkpoint body is given, the map checkpoint must
name the same origin, size and root. Signatures are not checked here (the standard library has no
Ed25519): verify the notes' signatures with the log's tools first.

Exit status 0 when every answer verifies, 1 with a message naming the first that does not.
"""
import base64
import binascii
import hashlib
import json
import sys

PLACEHOLDER = bytes(32)
VERSION_LINE = "accord-index/v1"


class Refused(Exception):
    pass


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def leaf_hash(k, v):
    return sha256(b"\x00", k, v)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def value_hash(indices):
    c = bytes(32)
    for x in indices:
        c = sha256(c, x.to_bytes(8, "big"))
    return c


def bit(key, i):
    return (key[i // 8] >> (7 - i % 8)) & 1


def prefix_equal(a, b, n):
    return all(bit(a, i) == bit(b, i) for i in range(n))


def decode_proof(data):
    """Section 5: tag, u16be count, bitmap, non-placeholder siblings, other leaf for tag 2."""
    if len(data) < 3:
        raise Refused("proof shorter than its header")
    tag = data[0]
    if tag not in (0, 1, 2):
        raise Refused("unknown terminal tag %d" % tag)
    n = int.from_bytes(data[1:3], "big")
    if n > 256:
        raise Refused("more than 256 siblings")
    pos = 3
    nbitmap = (n + 7) // 8
    bitmap = data[pos:pos + nbitmap]
    if len(bitmap) != nbitmap:
        raise Refused("bitmap cut short")
    pos += nbitmap
    for i in range(n, nbitmap * 8):
        if (bitmap[i // 8] >> (7 - i % 8)) & 1:
            raise Refused("bitmap bit past the sibling count is set")
    siblings = []
    for i in range(n):
        if (bitmap[i // 8] >> (7 - i % 8)) & 1:
            h = data[pos:pos + 32]
            if len(h) != 32:
                raise Refused("sibling cut short")
            if h == PLACEHOLDER:
                raise Refused("a listed sibling is the placeholder")
            siblings.append(h)
            pos += 32
        else:
            siblings.append(PLACEHOLDER)
    other = None
    if tag == 2:
        k, v = data[pos:pos + 32], data[pos + 32:pos + 64]
        if len(k) != 32 or len(v) != 32:
            raise Refused("other leaf cut short")
        other = (k, v)
        pos += 64
    if pos != len(data):
        raise Refused("bytes after the proof")
    return tag, siblings, other


def verify(root, key, claimed, proof):
    """Section 6. `claimed` is a list of indices (presence) or None (absence)."""
    k = sha256(key.encode("utf-8"))
    tag, siblings, other = decode_proof(proof)
    n = len(siblings)
    if claimed is not None:
        if tag != 1:
            raise Refused("a list is claimed but the proof ends at %s" % ("an empty subtree" if tag == 0 else "another leaf"))
        if not claimed or any(not isinstance(x, int) or x < 0 or x >= 2**64 for x in claimed):
            raise Refused("the list must be non-empty u64 indices")
        if any(a >= b for a, b in zip(claimed, claimed[1:])):
            raise Refused("the list must strictly increase")
        h = leaf_hash(k, value_hash(claimed))
    elif tag == 0:
        h = PLACEHOLDER
    elif tag == 2:
        ok, ov = other
        if ok == k:
            raise Refused("the other leaf is the key's own")
        if not prefix_equal(ok, k, n):
            raise Refused("the other leaf is not on the key's path")
        h = leaf_hash(ok, ov)
    else:
        raise Refused("absence is claimed but the proof ends at the key's leaf")
    for i in range(n - 1, -1, -1):
        h = node_hash(siblings[i], h) if bit(k, i) else node_hash(h, siblings[i])
    if h != root:
        raise Refused("the proof does not lead to the map root")


def b64_32(line, what):
    try:
        raw = base64.b64decode(line, validate=True)
    except binascii.Error:
        raise Refused("%s is not base64" % what)
    if len(raw) != 32 or base64.b64encode(raw).decode() != line:
        raise Refused("%s is not canonical base64 of 32 bytes" % what)
    return raw


def parse_map_checkpoint(body):
    """Section 7: five lines, each ending in a newline."""
    if not body.endswith("\n"):
        raise Refused("map checkpoint body does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) != 5:
        raise Refused("a map checkpoint has 5 lines, got %d" % len(lines))
    origin, version, size, log_root, map_root = lines
    if not origin.endswith("/index") or origin == "/index":
        raise Refused("line 1 is not <log origin>/index")
    if version != VERSION_LINE:
        raise Refused("unknown index version %r" % version)
    if not size.isdigit() or not size.isascii() or (size != "0" and size.startswith("0")):
        raise Refused("line 3 is not a decimal size")
    return {
        "log_origin": origin[: -len("/index")],
        "log_size": int(size),
        "log_root": b64_32(log_root, "line 4 (log root)"),
        "map_root": b64_32(map_root, "line 5 (map root)"),
    }


def check_log_checkpoint(m, body):
    lines = body.split("\n")
    if len(lines) < 4:
        raise Refused("log checkpoint has fewer than 3 lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if origin != m["log_origin"] or size != str(m["log_size"]) or b64_32(root, "log root") != m["log_root"]:
        raise Refused("the map checkpoint was not built at this log checkpoint")


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    try:
        m = parse_map_checkpoint(doc["map_checkpoint"])
        if doc.get("log_checkpoint") is not None:
            check_log_checkpoint(m, doc["log_checkpoint"])
        for i, a in enumerate(doc["answers"]):
            try:
                proof = bytes.fromhex(a["proof"])
            except ValueError:
                raise Refused("answers[%d]: proof is not hex" % i)
            try:
                verify(m["map_root"], a["key"], a["list"], proof)
            except Refused as e:
                raise Refused("answers[%d] (%s): %s" % (i, a["key"], e))
    except Refused as e:
        print("REFUSED: %s" % e, file=sys.stderr)
        return 1
    print("ok: %d answers verify under map root %s at log size %d"
          % (len(doc["answers"]), m["map_root"].hex(), m["log_size"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
