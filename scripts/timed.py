#!/usr/bin/env python3
"""Runs one command and measures it alone, for the benchmark scripts.

usage: timed.py TIMEOUT_S TIMEFILE LOG -- CMD...

Runs CMD with its standard output and error to LOG, prints its wall time in milliseconds (from the fork that starts it
to the wait that reaps it, on the nanosecond clock) and writes its peak
resident set size to TIMEFILE in the words of `/usr/bin/time -v` ("Maximum
resident set size (kbytes): N", the largest of the process and the
descendants it waited for, as wait4 gives it; never below this script's
own ~14 MB, which the command's process holds until it execs). Exits with the command's
exit code, or 124 when it ran past TIMEOUT_S seconds (its process group is
killed), as `timeout` does.

Why not `date; /usr/bin/time -v timeout CMD; date`: the four programs that
chain starts (two `date`, `time`, `timeout`) were timed with the command,
about 10 ms a round on the 2-core benchmark machine, 7% of a 10k-document
scan and 0.3% of a peer's.
"""
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    sep = sys.argv.index("--")
    timeout_s, timefile, log = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    cmd = sys.argv[sep + 1 :]
    timed_out = False

    def stop(_signum, _frame):
        nonlocal timed_out
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, stop)
    out = open(log, "wb")
    start = time.perf_counter_ns()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    # a blocking wait: nothing of this script runs beside the command
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.perf_counter_ns()
    signal.setitimer(signal.ITIMER_REAL, 0)
    code = 124 if timed_out else os.waitstatus_to_exitcode(status)
    with open(timefile, "w") as f:
        f.write(f"Maximum resident set size (kbytes): {usage.ru_maxrss}\n")
    print((end - start) // 1_000_000)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
