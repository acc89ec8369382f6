"""Every error `reconciler` raises on purpose, and the exit code the CLI gives it.

The tree::

    ReconcilerError                 exit 1 unless noted
    ├── UsageError                  exit 64: the command line itself is wrong
    ├── ConfigError                 credentials or endpoints missing or unsafe
    ├── ManifestError               one or more `FILE:LINE:COL: message` diagnostics
    ├── ApiError                    the Amazon Ads API said no, or could not be reached
    │   ├── AuthError               Login with Amazon refused the credentials
    │   ├── PermissionDeniedError   a write refused with 401 although the token was just renewed
    │   ├── ThrottledError          still 429 after the retry budget was spent
    │   ├── TransportError          connection failures after the retry budget was spent
    │   └── OutcomeUnknownError     a write was sent and its result was lost
    ├── PlanError                   the plan cannot be made safely
    │   └── GuardError              a safety guard refused; names the flag that lifts it
    ├── StalePlanError              live state moved since a saved plan was made
    ├── PlanMismatchError           a saved plan is not the plan of the apply's own inputs
    ├── PlanFileError               a saved plan file is unreadable, foreign or of another version
    ├── BaselineError               `--baseline REF`: not a commit, no repository, or its
    │                               manifests do not load
    └── LockError                   another apply holds the apply lock (`reconciler.apply.lock`)

Only `reconciler.api` sees httpx exceptions and only `reconciler.manifest` sees yaml and
jsonschema ones; each translates them into this tree at its boundary. The CLI maps this tree
to exit codes in one place (`reconciler.cli`); any other exception is a bug and exits with
`EXIT_BUG`.

Messages must never contain a secret: `reconciler.redact` scrubs every message that can carry
text from a server or an environment variable before it gets here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.escape import terminal

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_PARTIAL = 3
EXIT_USAGE = 64
# Ctrl-C / SIGTERM: the conventional 128 + SIGINT.
EXIT_INTERRUPTED = 130
# EX_SOFTWARE from sysexits.h: no handled outcome uses it, so a bug is never mistaken for one.
EXIT_BUG = 70


def _one_line(text: str) -> str:
    """One item of a multi-line message: a name with a line break (or any control or format
    character) from the API or a plan file cannot forge a line of its own."""
    return terminal(text)


class ReconcilerError(Exception):
    """Root of every deliberate error. `exit_code` is what the CLI exits with."""

    exit_code: int = EXIT_ERROR


class UsageError(ReconcilerError):
    exit_code = EXIT_USAGE


class ConfigError(ReconcilerError):
    """Credentials or endpoints are missing, malformed or unsafe (http to a remote host)."""


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem in a manifest, located for a person and for a machine."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ManifestError(ReconcilerError):
    """The manifests are invalid. Carries every diagnostic found, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class ApiError(ReconcilerError):
    """A request to the Amazon Ads API failed.

    `operation` is the spec's operationId, `status` the HTTP status (None when no response
    arrived), `code` and `detail` the error body's fields when the server sent any.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.detail = detail
        super().__init__(message)


class AuthError(ApiError):
    """Login with Amazon refused the client id, client secret or refresh token."""


class PermissionDeniedError(ApiError):
    """A write answered 401 right after the access token was renewed (the auth flow renews
    once on a 401 and resends): the credentials are good, the permission on that account is
    missing. Amazon: Editor-only requests made with Viewer permission get 401 (reference
    §2.1). Fails the writes to that account only, not the whole apply."""


class ThrottledError(ApiError):
    """The API kept answering 429 after every retry the policy allows."""


class TransportError(ApiError):
    """The API could not be reached (connection refused, reset, timed out) after retries."""


class OutcomeUnknownError(ApiError):
    """A write was sent but its response was lost (dropped connection, or 5xx after sending).

    The change may or may not have happened. The caller must re-read before retrying; the
    client never re-sends such a write by itself.
    """


class PlanError(ReconcilerError):
    """The plan cannot be computed safely, e.g. two live manager accounts share a name."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(_one_line, self.problems)))


class GuardError(PlanError):
    """A safety guard refused the plan. Each problem names the flag that lifts it."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches live state. `changes` lists what moved, one per line."""

    def __init__(self, changes: Sequence[str]) -> None:
        self.changes = tuple(changes)
        lines = "\n".join(f"  {_one_line(c)}" for c in self.changes)
        super().__init__(
            "the plan is stale: live state changed since it was made:\n"
            f"{lines}\nRun `reconciler plan` again and review the new plan."
        )


class PlanMismatchError(ReconcilerError):
    """`apply --plan`: the saved plan is not what a plan made now, from the manifests given,
    for this API account and under this policy, would be. Nothing was written."""

    def __init__(self, differences: Sequence[str]) -> None:
        self.differences = tuple(differences)
        lines = "\n".join(f"  {_one_line(d)}" for d in self.differences)
        super().__init__(
            "refusing the saved plan: it is not the plan of what this apply was given, so it "
            f"is not what would run:\n{lines}\nNothing was applied. Run `reconciler plan "
            "--out FILE` again on these manifests, review it, and apply that file."
        )


class PlanFileError(ReconcilerError):
    """A saved plan file cannot be used: not JSON, not a plan, or another format version."""


class BaselineError(ReconcilerError):
    """`--baseline REF` cannot be used: REF is not a commit of the manifests' repository
    (or looks like an option), the manifests are not in a git repository, or the manifests
    at REF do not load. One line: REF, what is wrong, what to pass instead."""


class LockError(ReconcilerError):
    """Another apply against the same API account holds the apply lock past --lock-timeout,
    or the lock file cannot be opened. The message names the flags that change it."""
