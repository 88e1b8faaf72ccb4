#!/usr/bin/env python3
"""Raw seeds for the fuzz harnesses, from the tests' own fixtures.

    python3 tests/fuzz/seeds.py OUTDIR

writes OUTDIR/<harness>/<n> from tests/data, conf/ and the string
literals of the unit tests (tests/unit/check_*.c, after the C
preprocessor, so that macros such as LONG64 are expanded). Most of them
add nothing; the corpus in the tree, tests/fuzz/corpus/<harness>/, is
what libFuzzer keeps of them with -merge=1 (see tests/fuzz/README).
"""
import glob
import hashlib
import os
import re
import subprocess
import sys

STRING = re.compile(rb'"((?:[^"\\\n]|\\.)*)"')
ESCAPES = {b'n': b'\n', b't': b'\t', b'r': b'\r', b'0': b'\0', b'\\': b'\\',
           b'"': b'"', b"'": b"'", b'a': b'\a', b'b': b'\b', b'f': b'\f',
           b'v': b'\v', b'?': b'?', b'e': b'\x1b'}


def unescape(s):
    """The bytes a C string literal's body (s, bytes) stands for."""
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i:i + 1]
        if c != b'\\':
            out += c
            i += 1
            continue
        e = s[i + 1:i + 2]
        if e == b'x':
            m = re.match(rb'[0-9a-fA-F]+', s[i + 2:])
            out.append(int(m.group(0), 16) & 0xff)
            i += 2 + len(m.group(0))
        elif e in b'01234567' and e:
            m = re.match(rb'[0-7]{1,3}', s[i + 1:])
            out.append(int(m.group(0), 8) & 0xff)
            i += 1 + len(m.group(0))
        elif e == b'u':
            out += chr(int(s[i + 2:i + 6], 16)).encode()
            i += 6
        else:
            out += ESCAPES.get(e, e)
            i += 2
    return bytes(out)


def own_text(path):
    """path after the preprocessor, without what its headers add."""
    cflags = subprocess.run(['pkg-config', '--cflags', 'check', 'libevent',
                             'jansson', 'yaml-0.1', 'libsystemd'],
                            capture_output=True).stdout.decode().split()
    src = subprocess.run(['cpp', '-Ilib', '-Idaemon', '-Itests/unit'] +
                         cflags + [path], capture_output=True,
                         check=True).stdout
    keep, mine = [], True
    for line in src.split(b'\n'):
        m = re.match(rb'# \d+ "([^"]*)"', line)
        if m:
            mine = m.group(1) == path.encode()
        elif mine:
            keep.append(line)
    return b'\n'.join(keep)


def literals(path):
    """Every string literal of a C file, adjacent ones joined."""
    src = own_text(path)
    out, last_end, cur = [], None, None
    for m in STRING.finditer(src):
        between = src[last_end:m.start()] if last_end is not None else b'x'
        if cur is not None and between.strip() == b'':
            cur += unescape(m.group(1))
        else:
            if cur is not None:
                out.append(cur)
            cur = unescape(m.group(1))
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return out


def files(*patterns):
    for p in patterns:
        for f in sorted(glob.glob(p, recursive=True)):
            if os.path.isfile(f):
                with open(f, 'rb') as fh:
                    yield fh.read()


def write(outdir, name, seeds):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    n = 0
    for s in seeds:
        with open(os.path.join(d, hashlib.sha1(s).hexdigest()), 'wb') as f:
            f.write(s)
        n += 1
    print(f'{name}: {n} seeds')


def main(outdir):
    write(outdir, 'policy', list(files(
        'tests/data/policy/**/*.yaml', 'tests/data/config/**/*.yaml',
        'conf/**/*.yaml')) +
        [s for s in literals('tests/unit/check_policy.c') if b':' in s])
    write(outdir, 'promtext', list(files('tests/data/promtext/**/*')) +
        literals('tests/unit/check_promtext.c') +
        literals('tests/unit/check_selector.c') +
        literals('tests/unit/check_metric.c'))
    write(outdir, 'promapi', list(files('tests/data/promapi/*.json')) +
        literals('tests/unit/check_promapi.c'))
    write(outdir, 'proto', literals('tests/unit/check_proto.c') +
        [s for s in literals('tests/unit/check_control.c')
         if b'"cmd"' in s])
    write(outdir, 'duration', literals('tests/unit/check_duration.c'))
    # version \0 service \0 from_version \0 templates...
    names = literals('tests/unit/check_version.c')
    tmpls = literals('tests/unit/check_template.c')
    write(outdir, 'template',
          [n + b'\0checkout\0v2.4.0\0deploy\0{version}' for n in names] +
          [b'v2.4.1\0' + n + b'\0\0{service}' for n in names] +
          [b'v2.4.1\0checkout\0v2.4.2\0' + t for t in tmpls] +
          [b'v2.4.1\0checkout\0v2.4.2\0/usr/bin/deploy\0--service={service}'
           b'\0--version={version}\0{from_version}\0--schema={from_schema}'
           b'->{to_schema}'])


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'seeds')
