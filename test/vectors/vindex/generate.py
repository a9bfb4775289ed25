#!/usr/bin/env python3
"""Vectors for docs/design/verifiable-index.md, computed from that text alone (not from packages/vindex).

Run: python3 generate.py > map.json
"""
import hashlib, json, struct

EMPTY = bytes(32)
H = lambda b: hashlib.sha256(b).digest()
u64 = lambda n: struct.pack('>Q', n)
u16 = lambda n: struct.pack('>H', n)

def key_of(s): return H(s.encode('utf-8'))
def bit(k, j): return (k[j >> 3] >> (7 - (j & 7))) & 1
def value_hash(idxs):
    assert idxs == sorted(set(idxs)) and idxs
    return H(u64(len(idxs)) + b''.join(u64(i) for i in idxs))
def leaf(k, vh): return H(b'\x00' + k + vh)
def inner(l, r): return H(b'\x01' + l + r)

def T(items, d):
    """items: list of (k, vh) all sharing the same d-bit prefix."""
    if not items: return EMPTY
    if len(items) == 1: return leaf(*items[0])
    return inner(T([x for x in items if bit(x[0], d) == 0], d + 1), T([x for x in items if bit(x[0], d) == 1], d + 1))

def prove(items, k):
    siblings = []
    d = 0
    cur = items
    while len(cur) > 1:
        b = bit(k, d)
        siblings.append(T([x for x in cur if bit(x[0], d) != b], d + 1))
        cur = [x for x in cur if bit(x[0], d) == b]
        d += 1
    if not cur: kind, extra = 1, b''
    elif cur[0][0] == k: kind, extra = 0, b''
    else: kind, extra = 2, cur[0][0] + cur[0][1]
    bitmap = bytearray((d + 7) // 8)
    body = b''
    for j, s in enumerate(siblings):
        if s != EMPTY:
            bitmap[j >> 3] |= 0x80 >> (j & 7)
            body += s
    return bytes([kind]) + u16(d) + bytes(bitmap) + body + extra

def mapfn(entry):
    keys = []
    for dg in entry['digests']: keys.append('subject:' + dg)
    for c in entry['commits']: keys.append('commit:' + c)
    keys.append('key:' + entry['keyId'])
    out = []
    for s in keys:
        if s not in out: out.append(s)
    return out

def build(entries):
    lists = {}
    for i, e in enumerate(entries):
        for s in mapfn(e): lists.setdefault(s, []).append(i)
    return lists

def items_of(lists): return [(key_of(s), value_hash(v)) for s, v in lists.items()]

def hx(b): return b.hex()

# Deterministic pseudo-random hex from a counter.
def fake(tag, n, length=64): return H(f'{tag}/{n}'.encode()).hex()[:length]

cases = []
def case(name, entries, queries):
    lists = build(entries)
    items = items_of(lists)
    root = T(items, 0)
    qs = []
    for q in queries:
        k = key_of(q)
        p = prove(items, k)
        qs.append({'key': q, 'indexes': lists.get(q, []), 'proof': hx(p)})
    cases.append({'name': name, 'entries': entries, 'values': lists, 'root': hx(root), 'queries': qs})

case('empty map', [], ['subject:sha256:' + fake('d', 0), 'key:' + fake('k', 0)])
one = [{'keyId': fake('k', 1), 'digests': ['sha256:' + fake('d', 1)], 'commits': [fake('c', 1, 40)]}]
case('one entry: three keys', one, ['subject:sha256:' + fake('d', 1), 'commit:' + fake('c', 1, 40), 'key:' + fake('k', 1), 'subject:sha256:' + fake('d', 2)])
many = []
for i in range(40):
    many.append({
        'keyId': fake('k', i % 3),
        'digests': sorted({'sha256:' + fake('d', i % 17), 'sha512:' + fake('d512', i % 17, 128), 'sha256:' + fake('d', (i * 7) % 23)}),
        'commits': [fake('c', i % 5, 40)],
    })
qs = ['key:' + fake('k', 0), 'key:' + fake('k', 3), 'commit:' + fake('c', 4, 40), 'subject:sha256:' + fake('d', 16),
      'subject:sha512:' + fake('d512', 3, 128), 'subject:sha256:' + fake('d', 99)] + ['subject:sha256:' + fake('absent', n) for n in range(12)]
case('forty entries, three keys, shared digests', many, qs)
# A flood: one digest named by 300 entries.
flood = [{'keyId': fake('k', i % 7), 'digests': ['sha256:' + fake('flood', 0)], 'commits': [fake('c', i, 40)]} for i in range(300)]
case('a flooded digest', flood, ['subject:sha256:' + fake('flood', 0), 'commit:' + fake('c', 299, 40), 'commit:' + fake('c', 300, 40)])

# Output log leaves.
leaves = []
for n, r, m in [(0, EMPTY, EMPTY), (40, H(b'input root'), H(b'map root'))]:
    leaves.append({'inputSize': n, 'inputRoot': hx(r), 'mapRoot': hx(m), 'leaf': hx(b'\x01' + u64(n) + r + m)})

# Proofs that must be refused (each against the forty-entry case's root).
c = cases[2]
items = items_of(c['values'])
bad = []
def badcase(why, key, proof_hex, indexes):
    bad.append({'why': why, 'key': key, 'indexes': indexes, 'proof': proof_hex})
q = c['queries'][0]
p = bytes.fromhex(q['proof'])
badcase('a flipped bit in a sibling', q['key'], hx(p[:-1] + bytes([p[-1] ^ 1])), q['indexes'])
badcase('one byte more', q['key'], hx(p + b'\x00'), q['indexes'])
badcase('one byte less', q['key'], hx(p[:-1]), q['indexes'])
badcase('the value without its last index', q['key'], q['proof'], q['indexes'][:-1])
badcase('another key\'s proof', c['queries'][1]['key'], q['proof'], q['indexes'])
absent = next(x for x in c['queries'] if not x['indexes'] and bytes.fromhex(x['proof'])[0] == 2)
ap = bytes.fromhex(absent['proof'])
badcase('an absence proof offered as presence', absent['key'], absent['proof'], [1])
badcase('kind 3', absent['key'], hx(b'\x03' + ap[1:]), [])
present = next(x for x in c['queries'] if x['indexes'])
badcase('a presence proof offered as absence of the key (kind changed to 1)', present['key'], hx(b'\x01' + bytes.fromhex(present['proof'])[1:]), [])

print(json.dumps({'spec': 'docs/design/verifiable-index.md', 'cases': cases, 'outputLeaves': leaves, 'badProofs': bad}, indent=1))
