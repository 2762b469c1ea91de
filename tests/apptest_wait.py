"""AppTest waits for a script run by joining the script's thread instead of polling every millisecond.

Streamlit's ``AppTest`` (``streamlit.testing.v1.local_script_runner.require_widgets_deltas``)
waits for a run by sleeping 1 ms and checking again until the run has ended. Each wake-up takes the
GIL from the thread that runs the script: about 440 forced switches a second, and the test's
own thread spends most of its time on them. Joining the script's thread waits without the GIL and
returns when the run ends. Measured side by side on ``tests/app`` (one process, two runs each):
77-80 s of CPU with the poll, 74-76 s with the join.

The replacement keeps the original's contract: it returns once the runner has emitted SHUTDOWN, and
after ``timeout`` seconds it stops the run and raises the same ``RuntimeError``. If a Streamlit
upgrade removes what it relies on (the function, or the runner's ``_script_thread``), it falls back
to the original's poll and nothing else changes; ``tests/unit/test_apptest_wait.py`` checks that
the join is installed, returns with a run's output and still times out.
"""

from __future__ import annotations

import time
from typing import Any

from streamlit.testing.v1 import local_script_runner

_ORIGINAL = getattr(local_script_runner, "require_widgets_deltas", None)


def require_widgets_deltas(runner: Any, timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while not runner.script_stopped():
        left = deadline - time.monotonic()
        if left <= 0:
            runner.request_stop()
            runner.join()
            raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")
        thread = getattr(runner, "_script_thread", None)
        if thread is not None and thread.is_alive():
            thread.join(min(left, 0.05))  # wakes as soon as the run's thread ends
        else:
            time.sleep(0.001)  # not started yet, or ended a moment before SHUTDOWN is seen


def install() -> bool:
    """Use the join instead of the poll; False (nothing changed) if Streamlit no longer has the poll."""
    if _ORIGINAL is None:
        return False
    local_script_runner.require_widgets_deltas = require_widgets_deltas
    return True
