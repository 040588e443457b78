"""The bcrypt floor of bench/run.sh: hashes a second at a given cost on every core.

`python bench/bcrypt_rate.py COST SECONDS PROCESSES` prints the summed rate of PROCESSES worker
processes, each hashing for SECONDS, and the CPU clock ticks they used.
"""

import multiprocessing
import os
import sys
import time

import bcrypt


def worker(cost, seconds, results):
    salt = bcrypt.gensalt(rounds=cost)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        bcrypt.hashpw(b"correct horse battery staple", salt)
        count += 1
    results.put(count / (time.perf_counter() - start))


if __name__ == "__main__":
    cost, seconds, processes = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=worker, args=(cost, seconds, results)) for _ in range(processes)]
    for w in workers:
        w.start()
    rate = sum(results.get() for _ in workers)
    for w in workers:
        w.join()
    used = os.times()
    cpu_ticks = round((used.children_user + used.children_system) * os.sysconf("SC_CLK_TCK"))
    print(f"{rate:.2f} {cpu_ticks}")
