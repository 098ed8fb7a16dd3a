"""The pre-commit hooks, run by pre-commit itself in a scratch git repository.

The hooks of .pre-commit-hooks.yaml are `language: python`: pre-commit gives each user an
isolated install of cnnspec, which needs a package index.  The test must run offline, so its
scratch repository declares the same hooks as `repo: local` with `language: system` — the
manifest's own id, entry, args and file patterns, read from the manifest — and runs them with
the cnnspec under test.  What is tested is what pre-commit does with the manifest's hooks:
which files each one gets, how they are passed, and the exit status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp / "cache")  # no user cache, nothing downloaded
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(NO_COLOR="1", COLUMNS="120", GIT_CONFIG_GLOBAL=os.devnull)
    return env


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    env = _env(tmp_path)
    for args in (["init", "-q"], ["config", "user.email", "t@example.org"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=work, check=True, env=env)
    return work


def _config(work: Path, args: dict[str, list[str]] | None = None) -> None:
    hooks = []
    for hook in MANIFEST:
        local = {k: v for k, v in hook.items() if k in ("id", "name", "entry", "files", "types", "args")}
        local["language"] = "system"
        if args and hook["id"] in args:
            local["args"] = args[hook["id"]]
        hooks.append(local)
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))


def pre_commit(work: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=_env(work.parent))
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", hook, "--files", *files],
        cwd=work,
        capture_output=True,
        text=True,
        env=_env(work.parent),
        timeout=120,
    )


def test_the_manifest_holds_both_hooks() -> None:
    assert [h["id"] for h in MANIFEST] == ["cnnspec-check", "cnnspec-fmt"]
    assert all(h["language"] == "python" for h in MANIFEST)


def test_check_passes_good_files_and_fails_bad_ones(repo: Path) -> None:
    _config(repo)
    (repo / "good.cnn").write_text("m1 = I: 8x8x1 C: 8 p\nm2 = I: 8x8x1 C: 4 p\n")
    (repo / "bad.cnn").write_text("I: 8x8x1 C: 8q\n")
    (repo / "report.md").write_text("# Notes\n\n```cnn\nI: 8x8x1 C: 16k9v\n```\n")
    (repo / "plain.md").write_text("# No specs here\n")
    ok = pre_commit(repo, "cnnspec-check", "good.cnn", "plain.md")
    assert ok.returncode == 0, ok.stdout
    assert "cnnspec check" in ok.stdout and "Passed" in ok.stdout
    bad = pre_commit(repo, "cnnspec-check", "good.cnn", "bad.cnn", "report.md")
    assert bad.returncode == 1
    assert "Failed" in bad.stdout
    assert "bad.cnn:1:14: error[E201]" in bad.stdout
    assert "report.md:4:13: error[E401]" in bad.stdout  # the block's error at the document's line


def test_check_with_strict_fails_on_warnings(repo: Path) -> None:
    (repo / "warned.cnn").write_text("I: 32x32x3 C: 16n d½ D: 4096R O: 10\n")
    _config(repo)
    assert pre_commit(repo, "cnnspec-check", "warned.cnn").returncode == 0
    _config(repo, {"cnnspec-check": ["--strict"]})
    strict = pre_commit(repo, "cnnspec-check", "warned.cnn")
    assert strict.returncode == 1 and "W50" in strict.stdout


def test_fmt_checks_and_with_write_rewrites(repo: Path) -> None:
    _config(repo)
    (repo / "canonical.cnn").write_text("C: 16 p\n")
    (repo / "ugly.cnn").write_text("# note\nC: 16   16\n")
    assert pre_commit(repo, "cnnspec-fmt", "canonical.cnn").returncode == 0
    check = pre_commit(repo, "cnnspec-fmt", "canonical.cnn", "ugly.cnn")
    assert check.returncode == 1 and "ugly.cnn: not in canonical form" in check.stdout
    assert (repo / "ugly.cnn").read_text() == "# note\nC: 16   16\n"  # --check changes nothing
    _config(repo, {"cnnspec-fmt": ["--write"]})
    write = pre_commit(repo, "cnnspec-fmt", "ugly.cnn")
    assert write.returncode == 1 and "files were modified by this hook" in write.stdout
    assert (repo / "ugly.cnn").read_text() == "# note\nC: 16 16 p\n"
    assert pre_commit(repo, "cnnspec-fmt", "ugly.cnn").returncode == 0  # now canonical
