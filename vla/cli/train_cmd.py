"""`vla train`: train a policy from a YAML preset plus config overrides.

    vla train --config configs/train/pick_place.yaml --dataset=DIR [--text-cache=FILE]
              [--lr=3e-4 --model.hidden_size=256 --max_minutes=9 --resume=auto ...]
    torchrun --nproc_per_node 2 -m vla train --config ...      (data parallel)

Every training option below is a field of the training config (vla/train/config.py): set it in
the --config YAML or override it here as --<field>=<value> (the YAML spelling --max_minutes and
the flag spelling --max-minutes are the same field; "--field value" works too). Values are YAML
scalars (3e-4, true, null, [1, 2]). --model.<field>=<value> sets one field of the model preset
(configs/model/<model_preset>.yaml; keys of VLAConfig, vla/model/config.py). Unknown fields are
rejected with a did-you-mean.
"""

from __future__ import annotations

import argparse
import re

from vla.cli.common import ArgumentParser

_MODEL_OVERRIDE = re.compile(r"^--model\.[A-Za-z0-9_]+(=.*)?$")


class _TrainParser(ArgumentParser):
    """Adds the training config's fields as options when `vla train` itself is parsed (importing
    the config pulls in torch; `vla --help` must stay fast) and keeps ``--model.<key>``."""

    open_ended = True  # --model.<key>=<value> overrides are checked against VLAConfig later
    _fields_added = False

    def _add_training_fields(self) -> None:
        if self._fields_added:
            return
        self._fields_added = True
        from vla.train.config import config_field_defaults

        group = self.add_argument_group(
            "training options (--<field>=<value>; default: the --config YAML, else the value shown)"
        )
        for name, default in config_field_defaults().items():
            group.add_argument(f"--{name.replace('_', '-')}", dest=name, nargs="?", const="true",
                               default=argparse.SUPPRESS, metavar="V",
                               help=f"default: {default}")  # fmt: skip

    def format_help(self) -> str:
        self._add_training_fields()
        return super().format_help()

    def parse_known_args(self, args=None, namespace=None):
        self._add_training_fields()
        model, rest, items = [], [], list(args or [])
        while items:
            item = items.pop(0)
            if not _MODEL_OVERRIDE.match(item):
                rest.append(_flag_spelling(item))
            elif "=" in item:
                model.append(item)
            elif items and not items[0].startswith("--"):  # "--model.key value"
                model.append(f"{item}={items.pop(0)}")
            else:
                self.error(f"{item}: model overrides are written --model.<field>=<value>")
        ns, extras = super().parse_known_args(rest, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        ns.model_overrides = model
        return ns, []


def _flag_spelling(arg: str) -> str:
    """``--train.max_minutes=3`` / ``--max_minutes=3`` -> ``--max-minutes=3``."""
    if not arg.startswith("--"):
        return arg
    key, sep, value = arg[2:].partition("=")
    key = key.removeprefix("train.").replace("_", "-")
    return f"--{key}{sep}{value}"


def register(subparsers) -> None:
    """Add the ``train`` subcommand."""
    default_class = subparsers._parser_class
    subparsers._parser_class = _TrainParser  # argparse picks the class per add_parser call
    try:
        p = subparsers.add_parser(
            "train", help="train a VLA policy (see configs/train/)", description=__doc__,
            allow_abbrev=False,
        )  # fmt: skip
    finally:
        subparsers._parser_class = default_class
    p.add_argument("--config", help="training preset YAML (configs/train/*.yaml, or a preset "
                   "name: pick_place, tiny_cpu, mt50)")  # fmt: skip
    p.set_defaults(func=run, model_overrides=[])


def run(args: argparse.Namespace) -> int:
    """Load the config (YAML + overrides, validated), train, print the final checkpoint."""
    from vla.train import load_config, train
    from vla.train.config import config_field_defaults

    overrides = [f"--{name}={getattr(args, name)}" for name in config_field_defaults()
                 if hasattr(args, name)]  # fmt: skip
    cfg = load_config(args.config, overrides + list(args.model_overrides))
    summary = train(cfg)
    if summary["is_main"]:  # under torchrun, one line for the run, not one per rank
        print(
            f"final checkpoint: {summary['final_checkpoint']} ({summary['steps']} steps, "
            f"{summary['samples_per_s']:.1f} samples/s)"
        )
    return 0
