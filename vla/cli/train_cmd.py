"""`vla train`: train a policy from a YAML preset plus --key=value overrides.

    vla train --config configs/train/pick_place.yaml --dataset=DIR [--text-cache FILE]
              [--lr=3e-4 --model.hidden_size=256 --max_minutes=9 --resume=auto ...]
    torchrun --nproc_per_node 2 -m vla.cli.main train --config ...      (data parallel)

Overrides: ``--<field>=<value>`` / ``--train.<field>=<value>`` set TrainConfig fields,
``--model.<field>=<value>`` set VLAConfig fields; values are YAML scalars.
"""

from __future__ import annotations

import argparse


class _OverrideParser(argparse.ArgumentParser):
    """Collects every unrecognised ``--key=value`` into ``args.overrides`` (training options
    are open-ended, so they cannot be declared one by one)."""

    def parse_known_args(self, args=None, namespace=None):
        ns, raw = super().parse_known_args(args, namespace)
        extras: list[str] = []
        for item in raw:  # "--key value" is accepted as "--key=value"
            if extras and extras[-1].startswith("--") and "=" not in extras[-1]:
                if not item.startswith("--"):
                    extras[-1] = f"{extras[-1]}={item}"
                    continue
            extras.append(item)
        bad = [e for e in extras if not (e.startswith("--") and "=" in e)]
        if bad:
            self.error(f"unrecognised arguments {bad}: overrides are written --key=value")
        ns.overrides = list(getattr(ns, "overrides", None) or []) + extras
        return ns, []


def register(subparsers) -> None:
    # the subparser gets the override-collecting class (argparse picks it per add_parser call)
    default_class = subparsers._parser_class
    subparsers._parser_class = _OverrideParser
    try:
        p = subparsers.add_parser(
            "train",
            help="train a VLA policy (see configs/train/)",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    finally:
        subparsers._parser_class = default_class
    p.add_argument("--config", help="training preset YAML (configs/train/*.yaml)")
    p.add_argument(
        "--text-cache",
        dest="text_cache_file",
        help="precomputed MiniLM instruction embeddings (from `vla text-cache`)",
    )
    p.set_defaults(func=run, overrides=[])


def run(args: argparse.Namespace) -> int:
    from vla.train import load_config, train

    overrides = list(args.overrides)
    if args.text_cache_file:
        overrides.append(f"--text_cache={args.text_cache_file}")
    cfg = load_config(args.config, overrides)
    summary = train(cfg)
    if summary["is_main"]:  # under torchrun, one line for the run, not one per rank
        print(
            f"final checkpoint: {summary['final_checkpoint']} ({summary['steps']} steps, "
            f"{summary['samples_per_s']:.1f} samples/s)"
        )
    return 0
