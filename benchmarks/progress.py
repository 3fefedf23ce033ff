"""A tiny progress bar on stderr (no dependencies).

On a terminal it redraws one line in place, with the elapsed time of the current step ticking
from a background thread; elsewhere (a log file, CI) it prints one line per step.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.total = max(1, total)
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.label = ""
        self.started = time.monotonic()
        self.step_started = self.started
        self.step_times: list[float] = []
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_len = 0
        if self.tty:
            self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()

    def _eta(self) -> str:
        remaining = self.total - self.done
        if not self.step_times or remaining <= 0:
            return ""
        mean = sum(self.step_times) / len(self.step_times)
        current = time.monotonic() - self.step_started if self.label else 0.0
        return f", ~{fmt_duration(max(0.0, mean * remaining - current))} left"

    def _line(self) -> str:
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        now = time.monotonic()
        step = f" {self.label} ({fmt_duration(now - self.step_started)})" if self.label else ""
        return f"[{bar}] {self.done}/{self.total}{step} · {fmt_duration(now - self.started)}{self._eta()}"

    def _draw(self) -> None:
        if not self.tty:
            return
        line = self._line()
        columns = shutil.get_terminal_size((120, 24)).columns
        if len(line) >= columns:  # a wrapped line cannot be redrawn in place
            line = line[: max(10, columns - 2)] + "…"
        pad = max(0, self._last_len - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._last_len = len(line)

    def _clear(self) -> None:
        if self.tty and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self._last_len = 0

    def start(self, label: str) -> None:
        with self._lock:
            self.label = label
            self.step_started = time.monotonic()
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"[{self.done + 1}/{self.total}] {label}\n")
                self.stream.flush()

    def finish_step(self) -> None:
        with self._lock:
            self.step_times.append(time.monotonic() - self.step_started)
            self.done += 1
            self.label = ""
            self._draw()

    def skip(self, count: int = 1) -> None:
        with self._lock:
            self.total = max(1, self.total - count)
            self._draw()

    def log(self, message: str) -> None:
        """Print a line above the bar."""
        with self._lock:
            self._clear()
            self.stream.write(message.rstrip("\n") + "\n")
            self._draw()
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=1)
        with self._lock:
            self._clear()
            self.stream.write(f"done: {self.done} runs in {fmt_duration(time.monotonic() - self.started)}\n")
            self.stream.flush()
