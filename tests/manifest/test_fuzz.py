"""Fuzzing the loader: for random bytes and for mutated valid manifests the
loader either returns a `Desired` or raises `ManifestError` whose every diagnostic is a
`FILE:LINE:COL: message` inside the file; never any other exception. Hypothesis's `deadline`
fails any single input that takes more than a second."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests
from reconciler.model import Desired
from tests.manifest.strategies import dump, manifests

FUZZ = settings(
    max_examples=200, deadline=1000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LINE = re.compile(r"^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S.*$", re.DOTALL)
# Characters that matter to YAML's grammar, to steer mutations toward interesting inputs.
SPECIAL = [*":-{}[],&*!|>'\"#%@`?\t\n ", "\r", "\x00", "\xff", "é", "\u2028", "0", "1", "~"]


def _outcome(path: Path, raw: bytes) -> str:
    path.write_bytes(raw)
    try:
        desired = load_manifests([path.name])
    except ManifestError as exc:
        assert exc.diagnostics, "a ManifestError must carry at least one diagnostic"
        text = raw.decode("utf-8", errors="replace")
        lines = len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text)) + 1
        for diagnostic in exc.diagnostics:
            assert LINE.match(str(diagnostic)), str(diagnostic)
            assert diagnostic.line <= lines + 1, str(diagnostic)
        return "rejected"
    assert isinstance(desired, Desired)
    return "accepted"


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes(raw: bytes, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert _outcome(tmp_path / "fuzz.yaml", raw) in ("accepted", "rejected")


@FUZZ
@given(raw=st.text(alphabet=st.sampled_from(SPECIAL + list("abvrsionmaAN")), max_size=200))
def test_random_yaml_shaped_text(raw: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    data = ("version: 1\n" + raw).encode("utf-8", errors="surrogatepass")
    assert _outcome(tmp_path / "fuzz.yaml", data) in ("accepted", "rejected")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    text = dump(draw(manifests())).encode()
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(SPECIAL)).encode("utf-8")
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 8)) :]
        else:
            text = text[:position] + piece + text[position + 1 :]
    return text


@FUZZ
@given(raw=mutated())
def test_mutated_valid_manifests(raw: bytes, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert _outcome(tmp_path / "fuzz.yaml", raw) in ("accepted", "rejected")
