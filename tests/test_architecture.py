"""The package's structure rules, as CI holds them: run here too, so pytest shows a break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # layers (each stage imports only the stages before it) and no heavy imports in the
    # pure-Python stages, imports inside functions included
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev requirement"
    run = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_no_import_cycles_and_no_private_imports() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_architecture.py")], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 import cycles, 0 private imports" in run.stdout


def test_the_architecture_check_finds_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a scratch package with both defects.
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import check_architecture
    finally:
        sys.path.pop(0)
    pkg = tmp_path / "scratchpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from scratchpkg import b\n")
    (pkg / "b.py").write_text("from scratchpkg.a import f\n_hidden = 1\n")
    (pkg / "c.py").write_text("from cnnspec.x import _y\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import grimp

        graph = grimp.build_graph("scratchpkg")
    finally:
        sys.path.pop(0)
    assert check_architecture.import_cycles(graph) == [["scratchpkg.a", "scratchpkg.b"]]
    assert [line.split(": ", 1)[1] for line in check_architecture.private_imports(pkg)] == ["from cnnspec.x import _y"]
