"""The server's resident memory while one request runs, for bench/vcard.py and bench/dav.py."""

import threading
import time


def rss_kib(pid):
    """The process's resident set now (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's VmRSS every 20 ms inside a `with` block: `before`, `peak` (KiB)."""

    def __init__(self, pid):
        self.pid = pid
        self.before = self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self):
        while not self._done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.before = self.peak = rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))

    def growth(self):
        """`growth MiB (before → peak MiB)` for a table cell."""
        return f"{(self.peak - self.before) / 1024:.1f} MiB ({self.before / 1024:.0f} → {self.peak / 1024:.0f} MiB)"
