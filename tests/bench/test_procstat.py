"""bench.procstat: a process's CPU time, read from /proc."""

import subprocess
import sys

from bench.procstat import cpu_seconds, thread_cpu_seconds

# Burns about 5 ms of CPU, says so, then waits on its stdin: at rest while it is measured.
BURN = """
import sys, time
end = time.process_time() + 0.005
while time.process_time() < end:
    pass
print("done", flush=True)
sys.stdin.read()
"""


def test_a_processes_thread_time_is_read_finer_than_a_clock_tick():
    child = subprocess.Popen(
        [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "done\n"

        fine, coarse = thread_cpu_seconds(child.pid), cpu_seconds(child.pid)

        assert fine is not None and coarse is not None
        assert fine >= 0.005
        assert abs(fine - coarse) < 0.05  # the same time, in ticks of 10 ms
        assert round(fine * 100, 6) != round(fine * 100)  # not a whole number of ticks
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_has_no_thread_time():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()

    assert thread_cpu_seconds(child.pid) is None
