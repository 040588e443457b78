"""CPU accounting for bench/run.sh: how busy the machine is, and with what.

`python3 bench/cpu.py snap PID...` prints three numbers of clock ticks since boot: the machine's
busy time, its total time, and the time used by the given processes plus every PostgreSQL and
Redis process (the services the benchmark drives, shared with anything else using them).

`python3 bench/cpu.py split PID` prints the clock ticks used so far by PID, by every PostgreSQL
process and by every Redis process, apart: where a workload's CPU goes.

`python3 bench/cpu.py top SECONDS` watches the machine for SECONDS and prints the share of all
cores in use, a tab, then the five processes that used the most CPU meanwhile.
"""

import os
import pwd
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
    services = sum(t for uid, name, t in processes().values() if uid == postgres or name == "redis-server")
    print(busy, total, services + sum(ticks(pid) for pid in pids))


def split(pid):
    try:
        postgres = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        postgres = None
    table = processes().values()
    database = sum(t for uid, _, t in table if uid == postgres)
    redis = sum(t for _, name, t in table if name == "redis-server")
    print(ticks(pid), database, redis)


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
    elif sys.argv[1] == "split":
        split(sys.argv[2])
    else:
        top(float(sys.argv[2]))
