"""CPU accounting for bench/run.sh: how busy the machine is, and with what.

`python3 bench/cpu.py snap PID...` prints five numbers of clock ticks since boot: the machine's
busy time, its total time, the time used by the given processes plus the services the benchmark
drives (Redis, and PostgreSQL's shared processes and its client backends of the databases named
in BENCH_DATABASES, space-separated; unset: every backend), then apart the first PID's time and
our PostgreSQL processes' time: where a workload's CPU goes. Backends of other databases (tests
of other work on the same server) are other work. One pass over /proc, so it is quick.

`python3 bench/cpu.py top SECONDS` watches the machine for SECONDS and prints the share of all
cores in use, a tab, then the five processes that used the most CPU meanwhile.
"""

import os
import pwd
import re
import sys
import time


def machine():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def ours(cmdline):
    """Whether a PostgreSQL process works for the benchmark: not a backend of another database."""
    wanted = os.environ.get("BENCH_DATABASES", "").split()
    # A client backend's title: "postgres: 15/main: USER DATABASE HOST(PORT) STATE".
    backend = re.match(r"postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])", cmdline)
    return not wanted or backend is None or backend.group(1) in wanted


def processes():
    """pid -> (uid, name, ticks) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        table[entry] = (uid, name, ticks(entry))
    return table


def snap(pids):
    try:
        postgres = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        postgres = None
    busy, total = machine()
    pids = [str(p) for p in pids]
    mine = database = redis = 0
    for pid, (uid, name, t) in processes().items():
        if pid in pids:
            mine += t
        elif uid == postgres:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            if ours(cmdline):
                database += t
        elif name == "redis-server":
            redis += t
    first = ticks(pids[0]) if pids else 0
    print(busy, total, mine + database + redis, first, database)


def top(seconds):
    busy0, total0 = machine()
    before = processes()
    time.sleep(seconds)
    busy1, total1 = machine()
    after = processes()
    used = {}
    for pid, (_, name, t) in after.items():
        delta = t - before.get(pid, (0, name, 0))[2]
        if delta > 0:
            used[name] = used.get(name, 0) + delta
    share = lambda t: 100 * t / max(total1 - total0, 1)  # noqa: E731
    names = sorted(used.items(), key=lambda item: -item[1])[:5]
    listed = ", ".join(f"{name} {share(t):.0f}%" for name, t in names) or "nothing"
    print(f"{share(busy1 - busy0):.0f}\t{listed}")


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        snap(sys.argv[2:])
    else:
        top(float(sys.argv[2]))
