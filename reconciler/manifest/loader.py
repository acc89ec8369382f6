"""Find manifest files under the paths given, read them all, and merge them into one `Desired`.

Every problem of every file is collected and raised together as one `ManifestError`; no other
exception escapes for bad input.

Discovery (decisions, documented in the README's manifest reference):
- a file named on the command line is read whatever its extension;
- a directory is searched recursively for `*.yaml` and `*.yml`, skipping names that start
  with `.` (`.git`, `.github`, editor files), in sorted order of path parts;
- a symlink met during the search whose target lies outside every path given is an error
  naming it (it is not followed silently); one whose target lies inside is read once;
- a file reached twice (through two paths or a link) is read once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import Diagnostic, ManifestError
from reconciler.manifest import schema
from reconciler.manifest.prune import prune
from reconciler.manifest.semantics import build_desired
from reconciler.manifest.yamlload import YamlDoc, read_yaml
from reconciler.model import Desired

SUFFIXES = (".yaml", ".yml")

StrPath = str | os.PathLike[str]


def discover(paths: Sequence[StrPath]) -> list[Path]:
    """The manifest files under `paths`, in a stable order. Raises `ManifestError` for a path
    that does not exist, a symlink leading outside the paths given, or no manifest at all."""
    files, problems = _discover(paths)
    if problems:
        raise ManifestError(problems)
    return files


def load_manifests(paths: Sequence[StrPath]) -> Desired:
    """Read, validate and merge every manifest under `paths` into a normalised `Desired`.

    Raises `ManifestError` carrying every problem found, each as `FILE:LINE:COL: message`.
    """
    files, problems = _discover(paths)
    texts: list[tuple[str, bytes | None]] = []
    for path in files:
        try:
            texts.append((str(path), path.read_bytes()))
        except OSError as exc:
            problems.append(Diagnostic(str(path), 1, 1, f"cannot read file: {exc.strerror}"))
            texts.append((str(path), None))
    return _load(texts, problems)


def load_texts(texts: Sequence[tuple[str, bytes]]) -> Desired:
    """`load_manifests` for manifests held in memory: `(name, content)` pairs, in the order
    the loader would have found them, each named as its diagnostics should name it (a path
    in a repository at a revision, an edited file). Nothing is read from disk."""
    return _load(list(texts), [])


def _load(texts: Sequence[tuple[str, bytes | None]], problems: list[Diagnostic]) -> Desired:
    docs: list[YamlDoc] = []
    # Some group may be defined where we cannot see it (a file that does not parse, a
    # `groups` set aside): then "unknown group" and "too few admins" would be guesses.
    partial = False
    for name, raw in texts:
        if raw is None:  # unreadable, already reported
            partial = True
            continue
        parsed = read_yaml(raw, name)
        if isinstance(parsed, list):
            problems.extend(parsed)
            partial = True
            continue
        found = schema.check(parsed)
        if found:
            # Report them, set the bad values aside, and check the rest with everything else.
            problems.extend(found)
            kept = prune(parsed, found.paths)
            partial = partial or kept.groups_uncertain
            if not kept.usable:
                continue
        docs.append(parsed)
    result = build_desired(docs, partial=partial)
    if isinstance(result, list):
        problems.extend(result)
    elif not problems:
        return result
    raise ManifestError(problems)


def _discover(paths: Sequence[StrPath]) -> tuple[list[Path], list[Diagnostic]]:
    problems: list[Diagnostic] = []
    if not paths:
        problems.append(Diagnostic(".", 1, 1, "no manifest path given"))
        return [], problems
    roots = [Path(p) for p in paths]
    resolved_roots = [r.resolve() for r in roots if r.exists()]
    found: list[Path] = []
    for root in roots:
        if not root.exists():
            problems.append(Diagnostic(str(root), 1, 1, "no such file or directory"))
        elif root.is_dir():
            found.extend(_walk(root, resolved_roots, problems))
        else:
            found.append(root)
    files: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            files.append(path)
    if not files and not problems:
        where = ", ".join(str(r) for r in roots)
        problems.append(Diagnostic(str(roots[0]), 1, 1, f"no .yaml or .yml files under {where}"))
    return files, problems


def _walk(root: Path, resolved_roots: list[Path], problems: list[Diagnostic]) -> list[Path]:
    result: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            link = here / name
            if link.is_symlink():
                # Not descended into: if it leads inside, the walk reaches its files anyway.
                dirnames.remove(name)
                _check_link(link, resolved_roots, problems)
        for name in sorted(filenames):
            path = here / name
            if name.startswith(".") or not name.endswith(SUFFIXES):
                continue
            if path.is_symlink() and not _check_link(path, resolved_roots, problems):
                continue
            result.append(path)
    return sorted(result, key=lambda p: p.parts)


def _check_link(link: Path, resolved_roots: list[Path], problems: list[Diagnostic]) -> bool:
    target = link.resolve()
    if not target.exists():
        problems.append(Diagnostic(str(link), 1, 1, f"broken symlink (to {target})"))
        return False
    if any(target == r or target.is_relative_to(r) for r in resolved_roots):
        return True
    problems.append(
        Diagnostic(
            str(link),
            1,
            1,
            f"symlink leads outside the paths given (to {target}): not followed; "
            "pass that path explicitly if it should be read",
        )
    )
    return False
