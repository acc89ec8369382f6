"""A stand-in for the `gh` CLI that holds state: the issue comments, pull requests, workflow
runs and their artifacts of one repository, in a JSON file (`FAKE_GH_STATE`). It answers the
`gh` calls the action's steps make, and filters with the real `jq` (gh's `--jq` is jq), so the
test checks what GitHub would hold after the step ran, not which calls were made.

Who a token is: `state["tokens"]` maps a token to a login; any other token is the workflow's
own, `github-actions[bot]`. As on GitHub, a pull request opened with the workflow's own
token starts no workflow (`workflows_started` false on it); one opened with an App's does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WORKFLOW_TOKEN_LOGIN = "github-actions[bot]"


def _login(state: dict[str, Any]) -> str:
    return str(state.get("tokens", {}).get(os.environ["GH_TOKEN"], WORKFLOW_TOKEN_LOGIN))


def main(argv: list[str]) -> int:
    state_file = Path(os.environ["FAKE_GH_STATE"])
    state: dict[str, Any] = (
        json.loads(state_file.read_text()) if state_file.exists() else {"comments": []}
    )
    if os.environ.get("GH_TOKEN", "") == "":
        print("gh: no token", file=sys.stderr)
        return 4
    args = argv[1:]
    if args[0] == "run" and args[1] == "list":
        return _run_list(state, args[2:])
    if args[0] == "run":
        return _run_download(state, args[1:])
    if args[0] == "pr":
        code = _pr(state, args[1:])
        state_file.write_text(json.dumps(state))
        return code
    assert args[0] == "api", args
    method, jq, body_file, endpoint = "GET", None, None, None
    rest = args[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--method":
            method = rest.pop(0)
        elif arg == "--jq":
            jq = rest.pop(0)
        elif arg == "--input":
            body_file = rest.pop(0)
        elif arg == "--paginate":
            pass
        else:
            endpoint = arg
    assert endpoint is not None
    result: Any
    issue_comments = r"repos/[^/]+/[^/]+/issues/(\d+)/comments"
    if method == "GET" and (m := re.fullmatch(issue_comments, endpoint)):
        result = [c for c in state["comments"] if c["issue"] == int(m.group(1))]
    elif method == "POST" and (
        m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\d+)/comments", endpoint)
    ):
        assert body_file is not None
        body = json.loads(Path(body_file).read_text())["body"]
        result = {
            "id": 1000 + len(state["comments"]),
            "issue": int(m.group(1)),
            "body": body,
            "user": {"login": _login(state)},
        }
        state["comments"].append(result)
    elif method == "PATCH" and (
        m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\d+)", endpoint)
    ):
        assert body_file is not None
        (result,) = [c for c in state["comments"] if c["id"] == int(m.group(1))]
        if result["user"]["login"] != _login(state):  # GitHub: 403 for another's comment
            print("gh: Resource not accessible by integration (HTTP 403)", file=sys.stderr)
            return 1
        result["body"] = json.loads(Path(body_file).read_text())["body"]
    elif method == "GET" and (
        m := re.fullmatch(r"repos/[^/]+/[^/]+/commits/(\w+)/pulls", endpoint)
    ):
        result = [p for p in state.get("pulls", []) if m.group(1) in p["commits"]]
    elif method == "GET" and (m := re.fullmatch(r"repos/[^/]+/[^/]+/pulls/(\d+)", endpoint)):
        (result,) = [p for p in state.get("pulls", []) if p["number"] == int(m.group(1))]
    elif method == "GET" and "/actions/artifacts?" in endpoint:
        # By exact name (`name=`), or every artifact of the repository, newest run first,
        # 100 a page.
        query = parse_qs(urlsplit(endpoint).query)
        every = [
            {"name": name, "expired": False, "workflow_run": {"id": run["id"]}}
            for run in sorted(state.get("runs", []), key=lambda r: -r["id"])
            for name in run.get("artifacts", {})
            if "name" not in query or name == query["name"][0]
        ]
        page, size = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["30"])[0])
        result = {"artifacts": every[(page - 1) * size : page * size]}
    elif method == "GET" and (
        m := re.fullmatch(r"repos/[^/]+/[^/]+/compare/(\w+)\.\.\.(\w+)", endpoint)
    ):
        # GitHub computes the merge base from both histories: here, git in the repository
        # the test keeps as GitHub's (`state["git"]`).
        base = subprocess.run(
            ["git", "-C", state["git"], "merge-base", m.group(1), m.group(2)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        result = {"merge_base_commit": {"sha": base}, "base_commit": {"sha": m.group(1)}}
    elif method == "GET" and (m := re.fullmatch(r"repos/[^/]+/[^/]+/actions/runs/(\d+)", endpoint)):
        (run,) = [r for r in state.get("runs", []) if r["id"] == int(m.group(1))]
        result = {
            "id": run["id"],
            "event": run["event"],
            "conclusion": run.get("conclusion", run.get("status")),
            "path": run.get("path", ".github/workflows/reconciler.yml"),
            "run_attempt": run.get("run_attempt", 1),
        }
    elif method == "GET" and endpoint.startswith("repos/") and "/actions/runs?" in endpoint:
        query = parse_qs(urlsplit(endpoint).query)
        runs = [
            {k: v for k, v in run.items() if k != "artifacts"}
            for run in state.get("runs", [])
            if all(str(run.get(key)) == values[0] for key, values in query.items())
        ]
        result = {"total_count": len(runs), "workflow_runs": runs}
    else:
        print(f"fake gh: unexpected {method} {endpoint}", file=sys.stderr)
        return 1
    state_file.write_text(json.dumps(state))
    text = json.dumps(result)
    if jq is not None:
        text = subprocess.run(
            ["jq", "-r", jq], input=text, capture_output=True, text=True, check=True
        ).stdout
    sys.stdout.write(text)
    return 0


def _pr(state: dict[str, Any], args: list[str]) -> int:
    """`gh pr list --head B --state open --json number --jq Q`, `gh pr create --base X --head
    B --title T --body-file F`, `gh pr edit N --title T --body-file F` (all with --repo R)."""
    verb, rest = args[0], args[1:]
    number = int(rest.pop(0)) if verb == "edit" else None
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    prs: list[dict[str, Any]] = state.setdefault("prs", [])
    if verb == "list":
        found = [{"number": p["number"]} for p in prs if p["head"] == options["--head"]]
        text = subprocess.run(
            ["jq", "-r", options["--jq"]],
            input=json.dumps(found),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sys.stdout.write(text)
        return 0
    body = Path(options["--body-file"]).read_text()
    if verb == "create":
        prs.append(
            {
                "number": 100 + len(prs),
                "base": options["--base"],
                "head": options["--head"],
                "title": options["--title"],
                "body": body,
                "author": _login(state),
                "workflows_started": _login(state) != WORKFLOW_TOKEN_LOGIN,
            }
        )
        return 0
    assert verb == "edit", args
    (pr,) = [p for p in prs if p["number"] == number]
    pr.update(title=options["--title"], body=body)
    return 0


def _run_list(state: dict[str, Any], args: list[str]) -> int:
    """`gh run list --repo R --workflow W --branch B --event E --status S --limit N --json
    headSha --jq Q`: the workflow's runs, newest first, filtered as gh filters them."""
    options = dict(zip(args[::2], args[1::2], strict=True))
    runs = [
        {"headSha": run["head_sha"]}
        for run in sorted(state.get("runs", []), key=lambda r: -r["id"])
        if run["name"] == options["--workflow"]
        and run.get("head_branch") == options["--branch"]
        and run.get("event") == options.get("--event", run.get("event"))
        and run.get("status") == options["--status"]
    ][: int(options["--limit"])]
    assert options["--json"] == "headSha", options
    text = subprocess.run(
        ["jq", "-r", options["--jq"]], input=json.dumps(runs), capture_output=True, text=True
    ).stdout
    sys.stdout.write(text)
    return 0


def _run_download(state: dict[str, Any], args: list[str]) -> int:
    """`gh run download RUN --repo R --name NAME --dir DIR`."""
    assert args[0] == "download", args
    run_id, options = int(args[1]), dict(zip(args[2::2], args[3::2], strict=True))
    (run,) = [r for r in state.get("runs", []) if r["id"] == run_id]
    files = run["artifacts"].get(options["--name"])
    if files is None:
        print(f"no artifact matches {options['--name']}", file=sys.stderr)
        return 1
    for name, text in files.items():
        (Path(options["--dir"]) / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
