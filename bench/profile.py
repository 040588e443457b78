"""Instructions a request, from the callgrind dumps of bench/profile.sh.

Usage: profile.py DIR REQUESTS KIND... — DIR holds callgrind.PID.N, one dump per KIND in order.
Prints the instructions a request of each kind, then, for the last kind against the one before
it, the functions whose own (exclusive) and inclusive instructions a request differ most.
Functions that carry (nearly) the whole dump are left out: they are the threads' outer frames,
which callgrind charges with everything run since the counters were zeroed.
"""

import glob
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)\s*$")
HASH = re.compile(r"::h[0-9a-f]{16}")
OBJECT = re.compile(r" \[[^\]]*\]$")


def counts(path: str, inclusive: bool) -> tuple[int, dict[str, int]]:
    """Program total and instructions by function (file:function, object and hash stripped)."""
    # callgrind_annotate 3.19 takes any --inclusive=… as yes: exclusive is its default.
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", *(["--inclusive=yes"] if inclusive else []), path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total, functions = 0, {}
    for line in text.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        value, name = int(match[1].replace(",", "")), match[2]
        if name == "PROGRAM TOTALS":
            total = value
            continue
        name = OBJECT.sub("", HASH.sub("", name))
        functions[name] = functions.get(name, 0) + value
    return total, functions


def main() -> None:
    folder, requests, kinds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    dumps = sorted(glob.glob(f"{folder}/callgrind.*.*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    if len(dumps) != len(kinds):
        sys.exit(f"profile: {len(dumps)} dumps in {folder} for {len(kinds)} kinds")
    print(f"instructions a request ({requests} warm requests each, callgrind):")
    for kind, dump in zip(kinds, dumps):
        print(f"  {kind:6} {counts(dump, False)[0] // requests:>10,}")
    before, last = dumps[-2], dumps[-1]
    for inclusive in (False, True):
        (_, base), (total, other) = counts(before, inclusive), counts(last, inclusive)
        delta = {
            name: (other.get(name, 0) - base.get(name, 0)) // requests
            for name in base.keys() | other.keys()
            if other.get(name, 0) < 0.9 * total
        }
        label = "inclusive" if inclusive else "own (exclusive)"
        print(f"\n{kinds[-1]} minus {kinds[-2]}, {label} instructions a request, the 25 largest:")
        for name, value in sorted(delta.items(), key=lambda item: -item[1])[:25]:
            print(f"  {value:>9,}  {name[:150]}")


if __name__ == "__main__":
    main()
