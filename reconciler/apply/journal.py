"""`--journal FILE`: one JSON line per action outcome, appended, flushed and fsynced as it
happens, so an audit trail survives a crash or a kill at any point. Each line is
rendered from the same typed action the request was built from (`meaning` is the action's
typed fields, `description` the words the plan showed). Created 0600."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from reconciler.actions import describe
from reconciler.apply.report import ActionResult
from reconciler.errors import ConfigError
from reconciler.planfile.digest import action_meaning
from reconciler.redact import redact


class Journal:
    """An append-only JSON-lines file. Thread-safe; each line is on disk before `record`
    returns. Lines hold no secret: errors pass through `redact` like every other output."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600 and no symlink followed: the journal holds full addresses (personal data),
            # and a link planted where it is written must not redirect it.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.fchmod(fd, 0o600)
            self._handle: IO[str] = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{self.path}: cannot open the journal for appending ({exc.strerror}): "
                "choose another --journal path"
            ) from exc

    def record(self, result: ActionResult, *, event: str = "result") -> None:
        action = result.action
        line = {
            "time": datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "action": action.kind.value,
            "scope": str(action.scope),
            "target": action.target,
            "description": describe(action),
            "meaning": action_meaning(action),
            "result": result.status.value,
            "error": redact(result.reason) if result.reason else None,
            "attempts": result.attempts,
        }
        if result.created_id is not None:
            line["createdId"] = result.created_id
        # ASCII only: U+2028, U+2029 and U+0085 in a name would split the line for readers
        # that split on every line break (str.splitlines).
        text = json.dumps(line, ensure_ascii=True, separators=(",", ":")) + "\n"
        with self._lock:
            self._handle.write(text)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
