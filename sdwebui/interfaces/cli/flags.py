"""Command-line flags with A1111's names, types, defaults and meaning (the table: flag_groups.py).

Every flag of A1111 1.10 is accepted, so users' `webui-user.sh` keeps working. Those that have no
meaning on a diffusers backend are in INERT_FLAGS with the reason; the launcher logs one warning line
for each one given (`inert_flags_given`). An unknown flag still exits 2, with the closest known one.

`get_parser()` is A1111's `modules.cmd_args.parser`: the parser the launch parses with, to which the
extensions' preload.py add their flags. This module imports nothing of the app (only its own flag
table), so anything may read the flags before the app is set up.
"""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import shlex
import sys
from typing import Callable, Sequence

from sdwebui.interfaces.cli.flag_groups import INERT_FLAGS, SCRIPT_PATH, Roots, add_all, derived_defaults, normalized_filepath

logger = logging.getLogger(__name__)

__all__ = ["INERT_FLAGS", "SCRIPT_PATH", "ParseHook", "build_parser", "collect_args", "finalize", "get_parser",
           "given_flags", "inert_flags_given", "normalized_filepath", "parse_args", "parse_args_in_stages",
           "parse_early", "parse_process_args", "split_env_args", "user_allowed_paths"]


class _Parser(argparse.ArgumentParser):
    """argparse that (1) derives A1111's path defaults from the --data-dir / --models-dir of the
    command line it parses, and (2) says which flag was not understood and suggests the closest one."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None):
        args = list(sys.argv[1:] if args is None else args)
        # parse_args() comes through here too: every parse gets the defaults of its own command line
        self.set_defaults(**derived_defaults(Roots.from_args(args)))
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = ""
        if message.startswith("unrecognized arguments:"):
            unknown = [a.split("=")[0] for a in message.split(":", 1)[1].split() if a.startswith("-")]
            known = [o for a in self._actions for o in a.option_strings]
            for flag in unknown:
                close = difflib.get_close_matches(flag, known, n=1)
                if close:
                    hint += f"\n  did you mean {close[0]} instead of {flag}?"
        # no usage text: with A1111's ~130 flags it would bury the one line that matters
        self.exit(2, f"{self.prog}: error: {message}{hint}\n"
                     f"Run `{self.prog} --help` for the list of flags.\n")


def build_parser(prog: str = "launch.py", args: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A parser with every flag; its path defaults are those of `args` until it parses something."""
    parser = _Parser(prog=prog, description="Stable Diffusion web UI (A1111-compatible, diffusers backend)")
    add_all(parser, Roots.from_args(args))
    return parser


# The parser of this process's launch (A1111's module-level `cmd_args.parser`), see get_parser().
_parser: argparse.ArgumentParser | None = None


def get_parser() -> argparse.ArgumentParser:
    """The parser the launch parsed with (extensions' preload.py added their flags to it); before a
    launch, one for this process's command line, kept from then on."""
    global _parser
    if _parser is None:
        _parser = build_parser(args=collect_args())
    return _parser


def split_env_args(value: str | None) -> list[str]:
    """COMMANDLINE_ARGS from webui-user.sh, split like a shell would."""
    return shlex.split(value) if value else []


def collect_args(argv: Sequence[str] | None = None, *, use_env: bool = True) -> list[str]:
    """COMMANDLINE_ARGS from the environment first, then argv (so argv wins)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if use_env:
        args = split_env_args(os.environ.get("COMMANDLINE_ARGS")) + args
    return args


def parse_args(argv: Sequence[str] | None = None, *, use_env: bool = True,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse flags; COMMANDLINE_ARGS from the environment come first, then argv (argv wins)."""
    parser = parser or build_parser()
    ns = parser.parse_args(collect_args(argv, use_env=use_env))
    finalize(ns)
    return ns


def parse_early(args: Sequence[str], parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The flags known before extensions' preload.py added theirs (--data-dir, the disable and
    install flags ...): unknown flags are left for the full parse, --help too."""
    parser = parser or build_parser()
    ns, _unknown = parser.parse_known_args([a for a in args if a not in ("-h", "--help")])
    finalize(ns)
    return ns


def parse_process_args() -> argparse.Namespace:
    """This process's command line (sys.argv only, as A1111's `shared_cmd_options` parses it when
    `modules.shared` is imported before the app has set its flags: a script or a test that uses
    an extension). The command line may be another program's (pytest's), so unknown arguments are
    ignored (A1111 with IGNORE_CMD_ARGS_ERRORS), abbreviations are not expanded (pytest's `--co`
    would be an ambiguous A1111 flag) and --help is left alone; a bad value of one of our flags
    gives the defaults, with a warning, instead of exiting the other program."""
    args = [a for a in sys.argv[1:] if a not in ("-h", "--help")]
    parser = build_parser(args=args)
    parser.allow_abbrev = False
    try:
        ns, _unknown = parser.parse_known_args(args)
    except SystemExit:
        logger.warning("the command line %s does not parse as this app's flags; using the defaults", args)
        ns, _unknown = parser.parse_known_args([])
    finalize(ns)
    return ns


# one step between the early and the full parse: (parser, early flags) -> None; it may add flags
ParseHook = Callable[[argparse.ArgumentParser, argparse.Namespace], None]


def parse_args_in_stages(argv: Sequence[str] | None = None, *, use_env: bool = True,
                         hooks: Sequence[ParseHook] = ()) -> argparse.Namespace:
    """A1111's launch order: the known flags first; then each hook, in order, with the parser and
    those early flags (the launcher's hooks run extensions' install.py and preload.py, whose
    `preload(parser)` may add flags); then the whole command line is parsed, so an unknown flag
    still exits 2. The parser becomes this process's `get_parser()`."""
    global _parser
    args = collect_args(argv, use_env=use_env)
    parser = _parser = build_parser(args=args)
    early = parse_early(args, parser)
    for hook in hooks:
        hook(parser, early)
    ns = parser.parse_args(args)
    finalize(ns)
    return ns


def finalize(ns: argparse.Namespace) -> None:
    """Derived values, as A1111 computes them after parsing (shared_cmd_options.py, shared.py)."""
    if ns.test_server:
        ns.api = True
    ns.webui_is_non_local = bool(ns.listen or ns.server_name or ns.share or ns.ngrok)
    ns.disable_extension_access = ns.webui_is_non_local and not ns.enable_insecure_extension_access
    if not ns.styles_file:   # A1111's shared.py: the data dir's styles.csv when none is given
        ns.styles_file = [os.path.join(ns.data_dir, "styles.csv")]
    # A1111 leaves the port to Gradio (7860, or the next free one); uvicorn needs one
    if ns.port is None:
        ns.port = 7861 if ns.nowebui else 7860
    if ns.nowebui:
        ns.api = True


def given_flags(args: Sequence[str], parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's actions the command line names, in order, once each (`--flag=value` and
    unambiguous abbreviations, which argparse accepts, included)."""
    known = parser._option_string_actions
    found: list[argparse.Action] = []
    for token in args:
        if token == "--":
            break
        if not token.startswith("-") or token == "-":
            continue
        name = token.split("=", 1)[0]
        action = known.get(name)
        if action is None and name.startswith("--"):
            matches = {id(a): a for opt, a in known.items() if opt.startswith(name)}
            action = next(iter(matches.values())) if len(matches) == 1 else None
        if action is not None and all(action is not a for a in found):
            found.append(action)
    return found


def inert_flags_given(args: Sequence[str], parser: argparse.ArgumentParser | None = None) -> list[tuple[str, str]]:
    """(flag, why it has no effect here) for each inert flag on the command line, once each."""
    parser = parser or get_parser()
    out = []
    for action in given_flags(args, parser):
        flag = next((o for o in action.option_strings if o in INERT_FLAGS), None)
        if flag is not None:
            out.append((flag, INERT_FLAGS[flag]))
    return out


def user_allowed_paths(ns: argparse.Namespace) -> list[str]:
    """The --gradio-allowed-path folders the user gave. A1111's default entry, the whole data dir
    (the first one argparse's append keeps), is left out: it would let the UI's file route serve
    config.json, the models and the source tree (docs/compatibility.md, Flags)."""
    given = list(ns.gradio_allowed_path or [])
    if given and os.path.abspath(given[0]) == os.path.abspath(ns.data_dir):
        given = given[1:]
    return given
