"""The grammar every `vla` subcommand shares.

- Flags are GNU style: ``--kebab-case VALUE`` (``--flag=VALUE`` works too). This is argparse's
  native form and what ``lerobot``'s and ``torchrun``'s ordinary flags look like. The only other
  syntax is ``vla train``'s config overrides, ``--<field>=<value>``, where a field is spelt as in
  the YAML (``--max_minutes=30``; ``--max-minutes=30`` is the same field).
- The same thing has the same flag everywhere: ``--device`` is a torch device (``cpu``,
  ``cuda``, ``cuda:1``), ``--image-size H W`` (or one side for a square), ``--checkpoint``,
  ``--json``, ``--seed``, ``--workers``, ``--no-progress``.
- ``--help`` shows every option with its default; an unknown option or choice gets a
  did-you-mean; usage errors exit with code 2 in one line; user errors (a missing file, a bad
  value) end in one line ``vla <command>: error: ...`` with exit code 2, no traceback
  (``VLA_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys

#: set VLA_DEBUG=1 to see the traceback behind a one-line error
DEBUG_ENV = "VLA_DEBUG"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps hand-wrapped descriptions and appends ``(default: X)`` to every option that takes
    a value and does not already say its default."""

    def _format_action(self, action: argparse.Action) -> str:
        if (
            action.option_strings
            and action.nargs != 0
            and action.default is not argparse.SUPPRESS
            and action.help is not argparse.SUPPRESS
        ):
            text = action.help or ""
            if action.required:
                suffix = "(required)"
            elif "default" in text.lower():
                suffix = ""
            else:
                suffix = f"(default: {_show_default(action.default)})"
            if suffix:
                action = copy.copy(action)
                action.help = f"{text} {suffix.replace('%', '%%')}".strip()
        return super()._format_action(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # hand-wrapped text (a docstring with a usage block) stays as written; one long
        # sentence is wrapped
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


def _show_default(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) or "none"
    return str(value)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the shared grammar: defaults in help, did-you-mean, one-line errors."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["formatter_class"] = HelpFormatter
        # no prefix matching: --recompute-stat must not silently mean --recompute-stats, and an
        # option added later must not change what an abbreviation meant
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        # a leaf command rejects unknown options itself, so the message names it (the root
        # parser would only say "vla: unrecognized arguments")
        if extras and not self._subparsers_action() and not getattr(self, "open_ended", False):
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras

    def _subparsers_action(self):
        return next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)

    def error(self, message: str):
        """One line on stderr, exit code 2 (a usage error)."""
        message = self._suggest(message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def _suggest(self, message: str) -> str:
        match = re.match(r"unrecognized arguments: (.*)", message)
        if match:
            known = [s for a in self._actions for s in a.option_strings]
            hints = []
            for token in match.group(1).split():
                if token.startswith("--"):
                    name = token.split("=", 1)[0]
                    close = difflib.get_close_matches(name.replace("_", "-"), known, n=1)
                    if close:
                        hints.append(close[0] if close[0] != name else "")
            hints = [h for h in hints if h]
            if hints:
                message += f"; did you mean {' / '.join(hints)}?"
            return message
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            close = difflib.get_close_matches(match.group(1), choices, n=1)
            if close and "did you mean" not in message:
                message += f"; did you mean {close[0]!r}?"
        return message


def did_you_mean(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def image_size(values: list[str]) -> tuple[int, int]:
    """``--image-size H W`` (or one side ``S`` for S x S) -> (H, W)."""
    parts = [p for v in values for p in re.split(r"[,x]", v.lower()) if p]
    if len(values) == 1 and len(parts) == 2:
        print("warning: --image-size H,W is deprecated; write --image-size H W", file=sys.stderr)
    if len(parts) == 1:
        parts = parts * 2
    try:
        h, w = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--image-size {' '.join(values)}: give H W (e.g. 128 128)") from None
    if h < 1 or w < 1:
        raise ValueError(f"--image-size {h} {w}: sides must be >= 1")
    return h, w


class ImageSizeAction(argparse.Action):
    """Parses ``--image-size`` into an (H, W) tuple (see :func:`image_size`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            setattr(namespace, self.dest, image_size(list(values)))
        except ValueError as exc:
            parser.error(str(exc))


def add_image_size(parser, default=None, help_text: str = "camera image size") -> None:
    """The one ``--image-size H W`` flag (one number: a square)."""
    parser.add_argument("--image-size", nargs="+", action=ImageSizeAction, default=default,
                        metavar=("H", "W"), help=help_text)  # fmt: skip


def add_device(parser, default: str | None = "cpu", help_text: str = "torch device") -> None:
    """The one ``--device`` flag: a torch device (cpu, cuda, cuda:N; auto where offered)."""
    parser.add_argument("--device", default=default, help=help_text)


def one_line(exc: BaseException) -> str:
    """The exception as one line: its message (a KeyError's without quotes), lines joined."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    text = str(text) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
