"""The `vla` grammar (vla/cli/common.py): every option's default in --help, did-you-mean, one-line
errors with exit code 2, the same flags for the same things, --version, ``python -m vla``, and
nothing written to disk when the arguments are wrong."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from vla import __version__
from vla.cli.main import SUBCOMMAND_MODULES, build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _leaf_parsers(parser: argparse.ArgumentParser, prefix: str = "vla"):
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None:
        yield prefix, parser
        return
    for name, child in sub.choices.items():
        yield from _leaf_parsers(child, f"{prefix} {name}")


def _run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_option_of_every_command_shows_its_default():
    leaves = dict(_leaf_parsers(build_parser()))
    assert len(leaves) >= len(SUBCOMMAND_MODULES)
    for name, parser in leaves.items():
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0:
                continue  # flags (store_true) and --help
            if argparse.SUPPRESS in (action.default, action.help):  # hidden, or train fields
                continue  # (those say "default: X" themselves: test below)
            line = " ".join(parser._get_formatter()._format_action(action).split())
            assert "default" in line or "required" in line, f"{name}: no default in {line!r}"


def test_train_help_lists_every_training_option(capsys):
    from vla.train.config import config_field_defaults

    code, out, _ = _run(capsys, "train", "--help")
    assert code == 0
    for name in config_field_defaults():
        assert f"--{name.replace('_', '-')}" in out, name
    assert "default: 64" in out  # batch_size's


def test_same_flag_for_the_same_thing():
    leaves = dict(_leaf_parsers(build_parser()))
    # --device is a torch device wherever it appears; the teleop input device has its own flag
    record = {s for a in leaves["vla record"]._actions for s in a.option_strings if a.help
              is not argparse.SUPPRESS}  # fmt: skip
    assert "--teleop-device" in record and "--device" not in record
    # one --image-size grammar: H W, or one side for a square
    for name in ("vla eval", "vla data generate", "vla record", "vla sim run"):
        parser = leaves[name]
        (action,) = [a for a in parser._actions if "--image-size" in a.option_strings]
        for values, size in ((["64", "96"], (64, 96)), (["64"], (64, 64))):
            ns = argparse.Namespace()
            action(parser, ns, values, "--image-size")
            assert ns.image_size == size, name
    # no prefix matching: an abbreviation is an unknown option, not a different flag
    assert all(not p.allow_abbrev for p in leaves.values())


def test_unknown_options_and_choices_suggest_the_closest(capsys):
    code, _, err = _run(capsys, "data", "info", "x", "--recompute-stat")
    assert code == 2 and "did you mean --recompute-stats?" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "eval", "--checkpoint", "x", "--backend", "mujuco")
    assert code == 2 and "did you mean 'mujoco'?" in err
    code, _, err = _run(capsys, "trian")
    assert code == 2 and "did you mean 'train'?" in err


def test_train_config_errors_are_one_line_with_did_you_mean(tmp_path, capsys):
    code, _, err = _run(capsys, "train", "--dataset=d", "--batch_size=abc")
    assert code == 2 and "batch_size='abc': expected int" in err and "Traceback" not in err
    code, _, err = _run(capsys, "train", "--dataset=d", "--batch-sise=3")
    assert code == 2 and "did you mean --batch-size?" in err
    code, _, err = _run(capsys, "train", "--dataset=d", "--model.use_stat=false")
    assert code == 2 and "'use_stat' (did you mean 'use_state'?)" in err
    # D6: a misspelt key under model: in a training YAML is rejected, not ignored
    yaml = tmp_path / "run.yaml"
    yaml.write_text("dataset: d\nmodel_preset: tiny\nmodel:\n  use_stat: false\n")
    code, _, err = _run(capsys, "train", "--config", str(yaml))
    assert code == 2 and "use_state" in err and err.count("\n") == 1
    yaml.write_text("dataset: d\nbatch_sise: 3\n")
    code, _, err = _run(capsys, "train", "--config", str(yaml))
    assert code == 2 and "did you mean 'batch_size'?" in err
    code, _, err = _run(capsys, "train", "--config", "tiny_cpus", "--dataset=d")
    assert code == 2 and "did you mean 'tiny_cpu'?" in err


def test_train_override_spellings_are_one_field():
    """--max_minutes=3, --max-minutes 3, --train.max_minutes=3 set one field; model overrides
    take --model.key=value or --model.key value."""
    parser = dict(_leaf_parsers(build_parser()))["vla train"]
    for argv in (["--max_minutes=3"], ["--max-minutes", "3"], ["--train.max_minutes=3"]):
        ns, _ = parser.parse_known_args([*argv, "--model.hidden_size", "32", "--model.use_state=0"])
        assert ns.max_minutes == "3", argv
        assert ns.model_overrides == ["--model.hidden_size=32", "--model.use_state=0"]


def test_a_preset_key_typo_is_rejected(tmp_path):
    from vla.train.config import load_config

    preset = tmp_path / "m.yaml"
    preset.write_text("hidden_sise: 64\n")
    cfg = load_config(None, ["--dataset=d", f"--model_preset={preset}"])
    with pytest.raises(ValueError, match="did you mean 'hidden_size'"):
        cfg.model_fields()


def test_user_errors_end_in_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "ds"
    code, _, err = _run(capsys, "data", "generate", "--task", "stak", "--episodes", "1",
                        "--out", str(out), "--no-progress")  # fmt: skip
    assert code == 2 and "did you mean 'stack'?" in err and not out.exists()
    code, _, err = _run(capsys, "data", "generate", "--split", "tran", "--episodes", "1",
                        "--out", str(out), "--no-progress")  # fmt: skip
    assert code == 2 and "did you mean 'train'?" in err and not out.exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, err = _run(capsys, "data", "generate", "--episodes", "1", "--out", str(a_file))
    assert code == 2 and "is a file" in err and a_file.read_text() == "x"
    for action in ("info", "view"):
        code, _, err = _run(capsys, "data", action, str(tmp_path / "missing"))
        assert code == 2 and err.count("\n") == 1 and "not a LeRobot v3 dataset" in err
    damaged = tmp_path / "damaged"
    (damaged / "meta").mkdir(parents=True)
    (damaged / "meta" / "info.json").write_text("{ not json")
    code, _, err = _run(capsys, "data", "info", str(damaged))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged", "file"]


def test_version_and_python_dash_m(capsys, tmp_path):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"vla {__version__}"
    proc = subprocess.run([sys.executable, "-m", "vla", "--version"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == f"vla {__version__}"
    proc = subprocess.run([sys.executable, "-m", "vla", "data", "info", str(tmp_path / "no")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_help_stays_light():
    """`vla --help` and `import vla` import neither torch nor transformers."""
    code = "import sys, vla.cli.main as m; m.build_parser().format_help(); " \
           "assert not {'torch', 'transformers'} & set(sys.modules), sorted(sys.modules)"  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
