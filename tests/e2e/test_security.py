"""The whole-process security pass: every command run as `python -m reconciler`,
with `--debug` wherever a command takes it, against the sandbox in-process (a state file) and
served on loopback (`reconciler sandbox serve`, credentials from the environment).

Secrets searched for, in every line of stdout and stderr and in every file the commands wrote
(except the sandbox's own state file, which legitimately stores its clients' credentials):
the client secrets and refresh tokens of our own seeded clients, the sandbox's public ones,
and every access token the sandbox issued (recomputed from its id counter: tokens are
`Atza|sandbox-` + sha256(f"{seed name}:{n}")[:16], `reconciler/sandbox/state.py`).

Also: http:// to a remote host is refused before anything is sent; a redirect never carries
the Authorization header to another port; YAML cannot build objects or read files; a symlink
leading out of the given folders is reported. The loader's own fuzzing and the client-level
redirect/http checks live in tests/manifest/ and tests/api/; these go through the CLI.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import EXIT_ERROR
from reconciler.sandbox import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN
from reconciler.sandbox import constants as c
from tests.chaos import harness
from tests.chaos.world import WorldSpec, write

# Our own distinctive credentials: one client for the served sandbox (the process gets them
# from the environment), one that only sits in the in-process state file.
SERVED_CLIENT_ID = "amzn1.application-oa2-client.securitypass"
SERVED_SECRET = "cs-SERVED-9d3f1a77e2b04c55"
SERVED_REFRESH = "Atzr|rt-SERVED-41b7c2e9d80a"
STORED_CLIENT_ID = "amzn1.application-oa2-client.storedonly"
STORED_SECRET = "cs-STORED-0c8e5b1f9a2d7e66"
STORED_REFRESH = "Atzr|rt-STORED-7a2f90c1e3b5"
TOKEN_SHAPE = re.compile(r"Atz[ar]\|[A-Za-z0-9-]{4,}")

SPEC = WorldSpec(managers=2, links=4, new_links=2, new_managers=1, amc_accounts=2, users=4)


def _seed_with_clients(seed_file: Path) -> None:
    seed = yaml.safe_load(seed_file.read_text(encoding="utf-8"))
    seed["clients"] = [
        {
            "client_id": SERVED_CLIENT_ID,
            "client_secret": SERVED_SECRET,
            "refresh_token": SERVED_REFRESH,
        },
        {
            "client_id": STORED_CLIENT_ID,
            "client_secret": STORED_SECRET,
            "refresh_token": STORED_REFRESH,
        },
    ]
    seed_file.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")


def issued_tokens(state: dict[str, Any]) -> list[str]:
    """Every access token the sandbox can have minted so far (ids 1..counter)."""
    name = state["seed_name"]
    return [
        c.ACCESS_TOKEN_PREFIX + hashlib.sha256(f"{name}:{n}".encode()).hexdigest()[:16]
        for n in range(1, int(state["counter"]) + 1)
    ]


@dataclass
class Scan:
    """Everything the commands printed and wrote, and the secrets to look for in it."""

    secrets: list[str] = field(
        default_factory=lambda: [
            SERVED_SECRET,
            SERVED_REFRESH,
            STORED_SECRET,
            STORED_REFRESH,
            SANDBOX_CLIENT_SECRET,
            SANDBOX_REFRESH_TOKEN,
        ]
    )
    texts: dict[str, str] = field(default_factory=dict)  # where -> text
    runs: int = 0

    def add_run(self, done: harness.Finished) -> None:
        self.runs += 1
        label = " ".join(done.args)
        self.texts[f"stdout of `{label}` #{self.runs}"] = done.stdout
        self.texts[f"stderr of `{label}` #{self.runs}"] = done.stderr

    def add_files(self, folder: Path, *, skip: set[Path]) -> None:
        # The sandbox state's own lock file (`<state>.lock`) goes with it; every other file,
        # apply's lock included, is read.
        skip = skip | {p.with_name(p.name + ".lock") for p in skip}
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path not in skip:
                self.texts[f"file {path.relative_to(folder)}"] = path.read_text(
                    encoding="utf-8", errors="replace"
                )

    def leaks(self, tokens: list[str]) -> list[str]:
        """(where, what) for every secret, issued token or token-shaped string found. The
        token's hex part alone counts too: a half-redacted token is still a token."""
        found = []
        needles = [*self.secrets, *tokens, *(t.removeprefix(c.ACCESS_TOKEN_PREFIX) for t in tokens)]
        for where, text in self.texts.items():
            found += [f"{where}: {needle!r}" for needle in needles if needle in text]
            found += [f"{where}: token-shaped {m!r}" for m in TOKEN_SHAPE.findall(text)]
        return found


# ---- YAML and paths, through the CLI --------------------------------------------------------


def test_yaml_cannot_build_objects_or_read_files(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    private = tmp_path / "private.txt"
    private.write_text("PRIVATE-CONTENT-5e1d\n", encoding="utf-8")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    head = "version: 1\nmanagerAccounts:\n"
    attacks = {
        "apply.yaml": f'{head}  - name: !!python/object/apply:os.system ["touch {canary}"]\n',
        "new.yaml": f"{head}  - name: !!python/object/new:pathlib.Path [{canary}]\n",
        "name.yaml": f"{head}  - name: !!python/name:os.system\n",
        "include.yaml": f"{head}  - name: !include {private}\n",
        "module.yaml": "version: 1\ngroups: !!python/module:os\n",
    }
    for name, text in attacks.items():
        (manifests / name).write_text(text, encoding="utf-8")
    state = ["--sandbox-state", str(tmp_path / "state.json")]
    for command in (["validate"], ["plan", *state], ["apply", "--auto-approve", *state]):
        done = harness.run([*command, str(manifests)])
        assert done.returncode == EXIT_ERROR, done.describe()
        assert not canary.exists()
        assert "PRIVATE-CONTENT" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        for name in attacks:  # one located error per file: FILE:LINE:COL, naming the tag
            assert re.search(rf"{name}:\d+:\d+: YAML tags are not allowed", done.stderr), (
                done.describe()
            )


def test_symlink_out_of_the_given_folders_is_reported(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text(
        "version: 1\nmanagerAccounts:\n  - {name: Evil, type: Agency}\n", encoding="utf-8"
    )
    manifests = tmp_path / "manifests"
    (manifests / "sub").mkdir(parents=True)
    (manifests / "ok.yaml").write_text("version: 1\n", encoding="utf-8")
    (manifests / "evil.yaml").symlink_to(outside / "evil.yaml")
    (manifests / "sub" / "up").symlink_to(outside, target_is_directory=True)
    done = harness.run(["validate", "--format", "json", str(manifests)])
    assert done.returncode == EXIT_ERROR, done.describe()
    report = json.loads(done.stdout)
    messages = [d["file"] + ": " + d["message"] for d in report["diagnostics"]]
    assert any("evil.yaml" in m and "outside" in m for m in messages), messages
    assert any("up" in m and "outside" in m for m in messages), messages
    assert "Evil" not in done.stdout
    # `plan` loads manifests the same way: it stops before reading anything live.
    state = tmp_path / "state.json"
    done = harness.run(["plan", "--sandbox-state", str(state), str(manifests)])
    assert done.returncode == EXIT_ERROR, done.describe()
    assert "evil.yaml" in done.stderr and "outside" in done.stderr, done.describe()
    assert "Evil" not in done.stdout


# ---- sandbox commands on a state file -------------------------------------------------------


def test_sandbox_commands_print_no_credentials(tmp_path: Path) -> None:
    seed_file, _ = write(tmp_path, SPEC)
    _seed_with_clients(seed_file)
    state = tmp_path / "state.json"
    amc, manager = "ENTITYCAMC00000", "amzn1.ads1.ma1.chaos000000"
    scan = Scan()
    commands = [
        ["sandbox", "reset", "--seed", str(seed_file)],
        ["sandbox", "show"],
        ["sandbox", "accept", amc, "invitee1@amc0.example.com"],
        ["sandbox", "expire", amc, "invitee2@amc0.example.com"],
        ["sandbox", "link", manager, "ENTITYC0000X000"],
        ["sandbox", "unlink", manager, "ENTITYC0000X000"],
        ["sandbox", "add-user", amc, "someone@example.com", "--role", "admin"],
        ["sandbox", "remove-user", amc, "amzn1.account.C0000U0003"],
        ["sandbox", "advance-clock", "1h"],
        ["sandbox", "show"],
    ]
    for command in commands:
        done = harness.run([*command, "--sandbox-state", str(state)])
        assert done.returncode == 0, done.describe()
        scan.add_run(done)
    scan.add_files(tmp_path, skip={state, seed_file})
    stored = json.loads(state.read_text(encoding="utf-8"))
    assert STORED_SECRET in state.read_text(encoding="utf-8")  # the search would find it
    assert scan.leaks(issued_tokens(stored)) == []


# ---- every command, in-process sandbox and served sandbox ------------------------------------

API_COMMANDS = ("plan", "drift", "apply", "import")


def _manifest_runs(manifests: Path, out: Path, api: list[str], where: list[str]) -> list[list[str]]:
    """Every API command with --debug and every output option, in an order where each has
    something to do: plans first, then apply from the saved plan, an out-of-band change (on
    the sandbox at `where`), a full apply that undoes it, then drift and import."""
    guards = ["--max-removals", "1000", "--max-removal-fraction", "1"]
    runs = [
        ["plan", *api, "--debug", *guards, "--out", str(out / f"plan-{fmt}.json"),
         "--format", fmt, str(manifests)]
        for fmt in ("text", "json", "markdown")
    ]  # fmt: skip
    runs += [
        ["plan", *api, "--debug", *guards, "--mask-emails", "--format", "markdown", str(manifests)],
        ["drift", *api, "--debug", *guards, str(manifests)],
        ["apply", *api, "--debug", *guards, "--plan", str(out / "plan-json.json"),
         "--journal", str(out / "journal-plan.jsonl"), str(manifests)],
        ["sandbox", "link", "amzn1.ads1.ma1.chaos000000", "ENTITYC0000L000", *where],
        ["apply", *api, "--debug", "--auto-approve", *guards,
         "--journal", str(out / "journal.jsonl"), str(manifests)],
        ["drift", *api, "--debug", "--format", "json", str(manifests)],
        ["import", *api, "--debug", "--out", str(out / "imported")],
        ["plan", *api, "--debug", "--format", "json", str(out / "imported")],
    ]  # fmt: skip
    return runs


def _run_all(runs: list[list[str]], env: dict[str, str], scan: Scan) -> None:
    for args in runs:
        done = harness.run(args, env=env, timeout_s=120)
        scan.add_run(done)
        assert "Traceback" not in done.stderr, done.describe()
        assert done.returncode in (0, 2), done.describe()
        if (
            "--debug" in args and args[0] != "import"
        ):  # the debug log is on, so the search has something to search
            assert "Authorization" in done.stderr or "GET" in done.stderr, done.describe()


def test_every_command_in_process_sandbox(tmp_path: Path) -> None:
    seed_file, manifests = write(tmp_path, SPEC)
    _seed_with_clients(seed_file)
    state = tmp_path / "state.json"
    out = tmp_path / "out"
    out.mkdir()
    summary = out / "step-summary.md"
    scan = Scan()
    setup = harness.run(
        ["sandbox", "reset", "--seed", str(seed_file), "--sandbox-state", str(state)]
    )
    assert setup.returncode == 0, setup.describe()
    runtime = tmp_path / "runtime"  # where apply keeps its lock file: scanned too
    runtime.mkdir()
    env = {"GITHUB_STEP_SUMMARY": str(summary), "XDG_RUNTIME_DIR": str(runtime)}
    runs = _manifest_runs(
        manifests, out, ["--sandbox-state", str(state)], ["--sandbox-state", str(state)]
    )
    _run_all([["validate", str(manifests)], ["schema"], *runs], env, scan)
    scan.add_files(tmp_path, skip={state, seed_file})
    assert {"plan-json.json", "journal.jsonl", "step-summary.md"} <= {p.name for p in out.iterdir()}
    assert any((out / "imported").rglob("*.yaml"))
    assert any(runtime.glob("reconciler-apply-*.lock"))
    tokens = issued_tokens(json.loads(state.read_text(encoding="utf-8")))
    assert tokens  # the commands did log in
    assert scan.leaks(tokens) == []


def test_every_command_served_sandbox_env_credentials(tmp_path: Path) -> None:
    seed_file, manifests = write(tmp_path, SPEC)
    _seed_with_clients(seed_file)
    out = tmp_path / "out"
    out.mkdir()
    scan = Scan()
    with harness.serve(
        "--seed",
        str(seed_file),
        client_id=SERVED_CLIENT_ID,
        client_secret=SERVED_SECRET,
        refresh_token=SERVED_REFRESH,
    ) as served:
        runs = _manifest_runs(manifests, out, [], ["--url", served.na_url])
        runtime = tmp_path / "runtime"  # where apply keeps its lock file: scanned too
        runtime.mkdir()
        _run_all(runs, {**served.env, "XDG_RUNTIME_DIR": str(runtime)}, scan)
        amc = "ENTITYCAMC00000"
        for args in (
            ["sandbox", "show"],
            ["sandbox", "accept", amc, "new1@amc0.example.com"],
            ["sandbox", "advance-clock", "1h"],
        ):
            done = harness.run([*args, "--url", served.na_url])
            assert done.returncode == 0, done.describe()
            scan.add_run(done)
        state = served.state()
    scan.add_files(tmp_path, skip={seed_file})
    tokens = issued_tokens(state)
    assert tokens
    assert scan.leaks(tokens) == []


# ---- where credentials may go ----------------------------------------------------------------


class _Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that records each request (method, path, headers) and answers
    with `redirect_to` + path as a 307, or a 404 when it has nowhere to send the client."""

    daemon_threads = True

    def __init__(self, redirect_to: str | None = None) -> None:
        self.redirect_to = redirect_to
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _Recorder
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append(
            (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        if self.server.redirect_to is not None:
            self.send_response(307)
            self.send_header("Location", self.server.redirect_to + self.path)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def recorder(redirect_to: str | None = None) -> Iterator[_Recorder]:
    server = _Recorder(redirect_to)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_redirect_never_carries_credentials_to_another_port(tmp_path: Path) -> None:
    """The NA host answers 307 to another loopback port (another origin: credentials must not
    follow). Tokens come from the served sandbox, so the client does hold a bearer token."""
    seed_file, manifests = write(tmp_path, SPEC)
    with harness.serve("--seed", str(seed_file)) as served, recorder() as elsewhere:
        with recorder(redirect_to=elsewhere.url) as na:
            env = {**served.env, "AMAZON_ADS_API_URL_NA": na.url}
            for args in (
                ["plan", "--debug", str(manifests)],
                ["drift", str(manifests)],
                ["apply", "--auto-approve", str(manifests)],
            ):
                done = harness.run(args, env=env, timeout_s=120)
                assert done.returncode == EXIT_ERROR, done.describe()
                assert "Traceback" not in done.stderr, done.describe()
                # The refused plan is shown (stdout) with the failed read as its refusal.
                seen = done.stdout + done.stderr
                assert "refusing to follow a redirect" in seen, done.describe()
            # `import` reads what it can and notes the refused region in the manifests it
            # writes (prune off there). It exits 0 without a word on stderr: reported.
            imported = tmp_path / "imported"
            done = harness.run(["import", "--out", str(imported)], env=env, timeout_s=120)
            assert "Traceback" not in done.stderr, done.describe()
            notes = "".join(p.read_text() for p in imported.rglob("*.yaml"))
            assert "refusing to follow a redirect" in notes + done.stderr, done.describe()
            assert na.seen, "the redirecting host was never asked"
            assert any("authorization" in headers for _, _, headers in na.seen)
        assert elsewhere.seen == [], elsewhere.seen  # not even a request without credentials


def test_http_to_a_remote_host_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    _, manifests = write(tmp_path, SPEC)
    with recorder() as token_endpoint:
        for variable in ("AMAZON_ADS_API_URL_EU", "AMAZON_ADS_TOKEN_URL"):
            env = {
                "AMAZON_ADS_CLIENT_ID": SERVED_CLIENT_ID,
                "AMAZON_ADS_CLIENT_SECRET": SERVED_SECRET,
                "AMAZON_ADS_REFRESH_TOKEN": SERVED_REFRESH,
                "AMAZON_ADS_TOKEN_URL": token_endpoint.url + "/auth/o2/token",
                variable: "http://advertising-api-eu.example.com",
            }
            for args in (
                ["plan", "--debug", str(manifests)],
                ["import", "--out", str(tmp_path / "i")],
            ):
                done = harness.run(args, env=env, timeout_s=60)
                assert done.returncode == EXIT_ERROR, done.describe()
                assert "plain http to a remote host" in done.stderr, done.describe()
                assert variable in done.stderr
                assert SERVED_SECRET not in done.stdout + done.stderr
        assert token_endpoint.seen == []  # refused before even fetching a token
