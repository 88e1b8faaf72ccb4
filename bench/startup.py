#!/usr/bin/env python3
"""Start-up time of rollbackd, for bench/run.sh.

  startup.py RUN RBD CTL CONFIG SOCKET [PIN...]

Starts RBD -c CONFIG (under the PIN command, e.g. "taskset -c 0", when
given) with NOTIFY_SOCKET pointing at a datagram socket of ours, and
measures, from just before the exec to:
  ready_usec   the READY=1 notification (sd_notify), as systemd sees it
  status_usec  the first `CTL -s SOCKET status` that succeeds (polled
               every 10 ms from the start, one at a time)
then stops the daemon and prints one JSON record. Bounded: 120 s.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    run, rbd, ctl, config, sock_path = sys.argv[1:6]
    pin = sys.argv[6:]
    tmp = tempfile.mkdtemp(prefix="rbd-notify.")
    npath = os.path.join(tmp, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    ns.setblocking(False)
    env = dict(os.environ, NOTIFY_SOCKET=npath)
    log = open(os.path.join(os.path.dirname(config), "log"), "ab")
    t0 = time.monotonic()
    p = subprocess.Popen(pin + [rbd, "-c", config], env=env,
                         stdout=log, stderr=log)
    ready = status = None
    deadline = t0 + 120
    try:
        while (ready is None or status is None) and time.monotonic() < deadline:
            if p.poll() is not None:
                sys.exit(f"startup.py: rollbackd exited with {p.returncode}")
            try:
                while True:
                    msg = ns.recv(4096)
                    if ready is None and b"READY=1" in msg.split(b"\n"):
                        ready = time.monotonic() - t0
            except BlockingIOError:
                pass
            if status is None:
                r = subprocess.run([ctl, "-s", sock_path, "status"],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)
                if r.returncode == 0:
                    status = time.monotonic() - t0
            if ready is None or status is None:
                time.sleep(0.01)
        rss = rss_kib(p.pid)
    finally:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        ns.close()
        os.unlink(npath)
        os.rmdir(tmp)
    rec = {"section": "startup", "system": "rollbackd",
           "n": int(os.environ.get("BENCH_N", "0")) or None,
           "run": int(run),
           "ready_usec": round(ready * 1e6) if ready is not None else None,
           "status_usec": round(status * 1e6) if status is not None else None,
           "rss_kib": rss}
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
