"""The one definition of a program's display name (zlprof.naming.program_name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zlprof import naming
from zlprof.naming import program_name


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([], "?"),
        (["python", "/a/b/prog.py", "x"], "prog.py x"),
        (["/usr/bin/python3.12", "-u", "-X", "dev", "prog.py", "--n", "3"], "prog.py --n 3"),
        (["/usr/bin/python3", "-m", "mypkg.run", "--n", "3"], "mypkg.run --n 3"),
        (["python3", "-c", "print(1)"], "python3 -c"),
        (["python3"], "python3"),
        (["/bin/mytool", "-v"], "mytool -v"),
        (["bench.py"], "bench.py"),
        (["/a/pythonic_tool.py"], "pythonic_tool.py"),  # not an interpreter
        (
            ["/x/lib/python3.11/site-packages/zlprof/workload/__main__.py", "--preset", "tiny"],
            "zlprof.workload --preset tiny",
        ),
        # a recording from another machine: the package directory's own name
        (["/elsewhere/src/mypkg/cli/__main__.py", "--preset", "small"], "cli --preset small"),
        ([Path("/a/b/prog.py"), 3], "prog.py 3"),  # any objects, shown as strings
    ],
)
def test_program_name(argv: list[object], name: str) -> None:
    assert program_name(argv) == name


def test_a_package_main_in_a_checkout_is_named_like_python_m(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "top" / "sub"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("")
    assert program_name([str(pkg / "__main__.py"), "-v"]) == "top.sub -v"
    assert naming.script_name(str(pkg / "other.py")) == "other.py"


def test_zlprofs_own_workload_is_named_by_its_module() -> None:
    import zlprof.workload.__main__ as main

    assert program_name([main.__file__, "--preset", "tiny"]) == "zlprof.workload --preset tiny"


def test_every_view_uses_this_definition() -> None:
    from zlprof import sessions

    assert sessions.program_name is naming.program_name


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("forward_pass/layer3/mlp.gate_up", "forward_pass/layer*/mlp.gate_up"),
        ("prefill/layers.12/attn", "prefill/layers.*/attn"),
        ("m/h.3/attn", "m/h.*/attn"),
        ("m/block_7", "m/block_*"),
        ("x/7/y", "x/#*/y"),  # a bare index (a module list) is a layer too
        ("x/fp32", "x/fp32"),  # a dtype is not a layer
        ("mlp/fc1", "mlp/fc1"),  # nor are two distinct projections
        ("a/b", "a/b"),
    ],
)
def test_layer_key_takes_out_layer_numbers_only(path: str, key: str) -> None:
    assert naming.layer_key(path) == key


def test_layer_index() -> None:
    assert naming.layer_index("layer3") == 3 and naming.layer_index("layers.7") == 7
    assert naming.layer_index("12") == 12
    assert naming.layer_index("mlp") is None and naming.layer_index("fp32") is None


def test_a_recordings_file_name_names_the_program_not_its_last_argument() -> None:
    from zlprof.commands.common import command_file_name

    assert command_file_name(["python", "tests/programs/many_ops.py", "--idle", "60"]) == "many_ops"
    assert command_file_name(["python3", "-u", "-m", "mypkg.run", "--n", "3"]) == "mypkg.run"
    assert command_file_name(["/usr/bin/mytool", "-v"]) == "mytool"
    assert command_file_name(["python", "-c", "pass"]) == "python"
