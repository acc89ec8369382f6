"""A one-line progress display on stderr while live state is read.

Shown only when stderr is a terminal, or when asked for with `--progress` (CI logs stay
quiet otherwise). It counts accounts read, requests made and throttling waits; the client
feeds it through `on_event`, the reader through `add_total` / `done`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from reconciler.api.events import ClientEvent, EventKind


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        # On a terminal the line redraws itself; elsewhere (`--progress` in CI) it prints a
        # plain line now and then, so logs stay readable.
        self._tty = stream.isatty()
        self._interval = interval_s if self._tty else max(interval_s, 2.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._requests = 0
        self._throttled = 0
        self._waited = 0.0
        self._last_draw = -1e9
        self._drawn = False
        self._phase = "reading live state"
        self._quiet = False  # between phases: events count, nothing is drawn

    @classmethod
    def for_stderr(cls, *, enabled: bool | None = None) -> Progress | None:
        """A display on stderr, or None. `enabled=None` means: only if stderr is a TTY."""
        if enabled is None:
            enabled = sys.stderr.isatty()
        return cls(sys.stderr) if enabled else None

    def on_event(self, event: ClientEvent) -> None:
        with self._lock:
            if event.kind is EventKind.REQUEST:
                self._requests += 1
            elif event.kind is EventKind.THROTTLED:
                self._throttled += 1
            if event.kind in (EventKind.WAIT, EventKind.RETRY) and event.wait_s > 0:
                self._waited += event.wait_s
        self._maybe_draw()

    def add_total(self, accounts: int) -> None:
        with self._lock:
            self._total += accounts
        self._maybe_draw()

    def done(self, accounts: int = 1) -> None:
        with self._lock:
            self._done += accounts
        self._maybe_draw()

    def phase(self, name: str) -> None:
        """Name what the requests are for from now on ("applying", "verifying"): the line
        never says it is reading while apply writes."""
        self.clear()
        with self._lock:
            self._phase = name
            self._quiet = False

    def line(self) -> str:
        with self._lock:
            if self._phase != "reading live state":
                return (
                    f"{self._phase}: {self._requests} requests, {self._throttled} throttled "
                    f"({self._waited:.1f}s waiting)"
                )
            return (
                f"reading live state: {self._done}/{self._total} accounts, "
                f"{self._requests} requests, {self._throttled} throttled "
                f"({self._waited:.1f}s waiting)"
            )

    def clear(self) -> None:
        """Take the line off the terminal (before anything else is printed), and draw
        nothing more until the next `phase`."""
        with self._lock:
            self._quiet = True
            drawn, self._drawn = self._drawn, False
        if self._tty and drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _maybe_draw(self, *, force: bool = False) -> None:
        now = self._clock()
        with self._lock:
            if self._quiet or (not force and now - self._last_draw < self._interval):
                return
            self._last_draw = now
        if self._tty:
            self._stream.write("\r" + self.line() + "\x1b[K")
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """The phase is over. On a terminal the line goes, so what follows starts clean; in
        a log (`--progress` without a terminal) the final counts are the phase's last line."""
        if self._tty:
            self.clear()
            return
        with self._lock:
            self._quiet = False
        self._maybe_draw(force=True)
        with self._lock:
            self._quiet = True
