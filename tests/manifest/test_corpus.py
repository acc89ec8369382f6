"""Golden tests: every bad manifest in `corpus/` yields exactly its expected diagnostics.

A case is `corpus/NAME.yaml` (one file) or `corpus/NAME/` (a folder of files, merged); its
golden is `corpus/NAME.expected`. Set `UPDATE_GOLDEN=1` to rewrite the goldens, then review
the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.suffix != ".expected")


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_manifest_gives_expected_message(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    with pytest.raises(ManifestError) as caught:
        load_manifests([case])
    got = "".join(f"{d}\n" for d in caught.value.diagnostics)
    golden = CORPUS / f"{Path(case).stem}.expected"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")
