"""reconciler: GitOps for Amazon Ads account access.

The pipeline (one module per arrow)::

    manifests (YAML) --manifest--> Desired
    Amazon Ads API   --live------> Live
    (Desired, Live)  --planner---> Plan --render--> text / JSON / Markdown
    Plan             --apply-----> Report (+ journal)
"""

import functools as _functools
import json as _json
import re as _re
import subprocess as _subprocess
from importlib import metadata as _metadata
from pathlib import Path as _Path

__version__ = "0.1.0"


_SHA = _re.compile(r"[0-9a-f]{40}")


@_functools.cache
def build_commit() -> str:
    """The full commit sha this reconciler was built from, or "" when nothing says.

    In order: a `BUILD_COMMIT` file in the package (the GitHub Action writes it from the
    sha it is pinned at: the copy GitHub downloads has no .git); pip's record of a
    `git+URL@REF` install (`direct_url.json`, PEP 610: the commit REF resolved to); git,
    for a checkout installed in place. Only a full sha is believed; anything else is "".
    """
    here = _Path(__file__).resolve().parent
    try:
        written = (here / "BUILD_COMMIT").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    if _SHA.fullmatch(written):
        return written
    try:
        text = _metadata.distribution("amazon-ads-access-reconciler").read_text("direct_url.json")
        recorded = str(_json.loads(text or "{}").get("vcs_info", {}).get("commit_id", ""))
    except (_metadata.PackageNotFoundError, ValueError, AttributeError):
        recorded = ""
    if _SHA.fullmatch(recorded):
        return recorded
    if not (here.parent / ".git").exists():
        return ""
    try:
        done = _subprocess.run(
            ["git", "-C", str(here.parent), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, _subprocess.SubprocessError):
        return ""
    head = done.stdout.strip()
    return head if done.returncode == 0 and _SHA.fullmatch(head) else ""


def version_line() -> str:
    """`0.1.0 (commit 2f6f4f8…)`: what `--version` prints and every plan file records."""
    return f"{__version__} (commit {build_commit() or 'unknown'})"
