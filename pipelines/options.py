"""Job flags generated from the stage config dataclasses, parsed once at the edge.

Every field of every stage config a job uses becomes a flag ``--<section>-<field>`` (dashes
for underscores), with the field's comment as its help and the dataclass default shown, so
a default is stated once, beside the logic; a section may give a field a shorter public
spelling (``--max-images`` for ``sampling.max_images``). Types follow the annotation:
``bool`` -> ``--x/--no-x``; ``tuple[str, ...]`` -> several values (``--input a b c`` or
repeated; some fields also split commas, e.g. ``--languages en,de``); ``Literal[...]`` ->
choices; nested tuples (rule tables) are ``--config``-file only.

One merge rule for every job: dataclass default < the job's own default for that section
< the ``--config FILE`` section < a flag given on the command line.

Arguments that are neither job flags nor Beam's own ``PipelineOptions`` flags are an error
(exit 2, one line), never silently ignored: Beam alone would log "Unparseable argument" and
drop them, which is how ``--input a b c`` used to read only ``a``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from kosmos_data.config import ConfigError, build_config, load_config_file

#: Beam flags most runs use (``--help`` lists them); any other ``PipelineOptions`` flag
#: passes through as well.
COMMON_BEAM_FLAGS = (
    "--runner",
    "--direct_num_workers",
    "--direct_running_mode",
    "--job_endpoint",
    "--environment_type",
    "--environment_config",
    "--project",
    "--region",
    "--temp_location",
    "--staging_location",
    "--sdk_container_image",
    "--num_workers",
    "--max_num_workers",
    "--parallelism",
    "--experiments",
)


@dataclass(frozen=True)
class Extra:
    """A flag that is not one field: ``apply(value, section_values)`` edits the section's
    values in place when the flag was given (e.g. ``--no-dedup`` turns four fields off)."""

    flag: str
    help: str
    apply: Callable[[Any, dict[str, Any]], None]
    action: str = "store_true"
    type: Callable[[str], Any] | None = None


@dataclass(frozen=True)
class Section:
    """One stage config of a job: the ``--config`` section name, its dataclass, public
    spellings of some fields, the job's own defaults and extra flags."""

    name: str
    cls: type
    aliases: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    extras: tuple[Extra, ...] = ()
    derive: Callable[[dict[str, Any]], None] | None = None  # fills dependent fields
    comma_fields: tuple[str, ...] = ()  # list fields whose values may also be "a,b,c"
    title: str = ""

    def dest(self, name: str) -> str:
        return f"{self.name}.{name}"


def _field_docs(cls: type) -> dict[str, str]:
    """Help text of each field from its source: a ``#:`` comment above it, a trailing
    ``# comment`` on its line, or a string literal right after it."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for i, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        text = ""
        nxt = body[i + 1] if i + 1 < len(body) else None
        value = getattr(nxt, "value", None) if isinstance(nxt, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            text = " ".join(value.value.split())
        if not text:
            above = []
            j = node.lineno - 2
            while j >= 0 and lines[j].strip().startswith("#:"):
                above.insert(0, lines[j].strip()[2:].strip())
                j -= 1
            text = " ".join(above)
        if not text:
            line = lines[node.end_lineno - 1]
            if "#" in line and "fmt:" not in line:
                text = line.split("#", 1)[1].strip()
        docs[name] = text or _from_docstring(cls.__doc__ or "", name)
    return docs


def _from_docstring(doc: str, name: str) -> str:
    """A field's help from its class docstring: a ````name``: text`` entry (with its
    continuation lines), else the first sentence that names ````name````."""
    lines = [line.strip() for line in doc.splitlines()]
    tag = f"``{name}``"
    for i, line in enumerate(lines):
        if line.startswith(tag + ":") or line.startswith(tag + " -"):
            parts = [line[len(tag) + 1 :].strip(" -")]
            for nxt in lines[i + 1 :]:
                if not nxt or nxt.startswith("``") or nxt.startswith("|"):
                    break
                parts.append(nxt)
            return " ".join(" ".join(parts).split())
    text = " ".join(doc.split())
    at = text.find(tag)
    if at < 0:
        return ""
    start = max(text.rfind(". ", 0, at) + 2, 0) if text.rfind(". ", 0, at) >= 0 else 0
    end = text.find(". ", at)
    return text[start : end + 1 if end >= 0 else len(text)].strip()


def _strip_optional(hint: Any) -> Any:
    args = typing.get_args(hint)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _split_commas(values: Sequence[str]) -> list[str]:
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _argument(hint: Any) -> dict[str, Any] | None:
    """argparse keywords for a field type, or None when only a config file can set it."""
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if hint in (int, float, str):
        return {"type": hint, "metavar": {int: "N", float: "X", str: "TEXT"}[hint]}
    if origin is typing.Literal:
        return {"choices": list(typing.get_args(hint))}
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (str, int, float):
            return {"nargs": "+", "action": "extend", "type": args[0], "metavar": "VALUE"}
    return None


def add_section_flags(
    parser: argparse.ArgumentParser, section: Section, help_text: bool = True
) -> None:
    """One argument group per section; every flag defaults to None (= not given).
    ``help_text`` False skips reading the fields' comments from source (``--help`` only:
    a run's start-up need not pay for it)."""
    group = parser.add_argument_group(section.title or section.name)
    docs = _field_docs(section.cls) if help_text else {}
    hints = typing.get_type_hints(section.cls)
    for f in dataclasses.fields(section.cls):
        kwargs = _argument(hints[f.name])
        if kwargs is None:
            continue
        default = section.defaults.get(f.name, _default(f))
        doc = docs.get(f.name, "")
        shown = "" if default is dataclasses.MISSING else f" (default: {_show(default)})"
        names = [f"--{section.name}-{f.name}".replace("_", "-")]
        alias = section.aliases.get(f.name)
        if alias:
            names.insert(0, alias)
        group.add_argument(
            *names,
            dest=section.dest(f.name),
            default=None,
            help=(doc + shown).strip() or None,
            **kwargs,
        )
    for extra in section.extras:
        kwargs: dict[str, Any] = {"action": extra.action}
        if extra.type is not None:
            kwargs["type"] = extra.type
        group.add_argument(
            extra.flag, dest=section.dest("extra:" + extra.flag), default=None, help=extra.help,
            **kwargs,
        )  # fmt: skip


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "none"
    return str(value)


def section_flag_values(ns: argparse.Namespace, section: Section) -> dict[str, Any]:
    """The fields a user set by flag (values of None were not given)."""
    hints = typing.get_type_hints(section.cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section.cls):
        value = getattr(ns, section.dest(f.name), None)
        if value is None:
            continue
        if typing.get_origin(_strip_optional(hints[f.name])) is tuple:
            value = tuple(_split_commas(value)) if f.name in section.comma_fields else tuple(value)
        out[f.name] = value
    for extra in section.extras:
        value = getattr(ns, section.dest("extra:" + extra.flag), None)
        if value is not None:
            extra.apply(value, out)
    return out


def build_section(section: Section, file_cfg: Mapping[str, Any], flags: Mapping[str, Any]):
    """dataclass default < job default < config file < flags, then validated."""
    values = {**section.defaults, **dict(file_cfg.get(section.name, {}) or {}), **flags}
    if section.derive is not None:
        section.derive(values)
    return build_config(section.cls, values, section.name)


# --- the job command line -------------------------------------------------------------------


def beam_unknown_args(args: Sequence[str]) -> list[str]:
    """Arguments that no ``PipelineOptions`` class declares (Beam would drop them)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    seen: set[type] = set()
    stack = list(PipelineOptions.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        try:
            cls._add_argparse_args(parser)  # type: ignore[attr-defined]
        except argparse.ArgumentError:
            continue  # the same Beam flag declared by two option classes
    _, unknown = parser.parse_known_args(list(args))
    return unknown


class JobArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``ConfigError`` (one line at the CLI edge) instead of exiting."""

    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(f"{self.prog}: {message}")


def job_parser(
    prog: str,
    description: str,
    sections: Sequence[Section],
    add_job_args: Callable[[argparse.ArgumentParser], None],
    help_text: bool = True,
) -> JobArgumentParser:
    parser = JobArgumentParser(
        prog=prog,
        usage="%(prog)s --input SPEC [SPEC ...] --output DIR [flags] [Beam flags]",
        description=description,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Beam's own flags pass through to PipelineOptions, e.g. "
        + ", ".join(COMMON_BEAM_FLAGS)
        + ". Any other argument is an error. Merge rule: dataclass default < --config "
        "FILE section < flag.",
    )
    add_job_args(parser)
    parser.add_argument(
        "--config", default=None, metavar="FILE",
        help="JSON file of {section: {field: value}} for the sections below; flags override it",
    )  # fmt: skip
    for section in sections:
        add_section_flags(parser, section, help_text)
    return parser


@dataclass(frozen=True)
class ParsedJob:
    args: argparse.Namespace  # the job's own (non-section) flags
    sections: dict[str, Any]  # section name -> built, validated frozen config
    options: PipelineOptions  # Beam's flags


def parse_job(
    parser: argparse.ArgumentParser,
    sections: Sequence[Section],
    argv: Sequence[str],
    save_main_session: bool = False,
) -> ParsedJob:
    """Parse argv once: job flags, stage sections (with ``--config``) and Beam's flags.

    Raises ``ConfigError`` naming the argument for anything neither the job nor Beam knows.
    """
    args, rest = parser.parse_known_args(list(argv))
    unknown = beam_unknown_args(rest)
    if unknown:
        raise ConfigError(
            f"{parser.prog}: unrecognized argument(s): {' '.join(unknown)} "
            "(not a job flag nor a Beam pipeline option; see --help)"
        )
    file_cfg = load_config_file(getattr(args, "config", None))
    names = {s.name for s in sections}
    unknown_sections = sorted(set(file_cfg) - names)
    if unknown_sections:
        raise ConfigError(
            f"--config: unknown section(s) {unknown_sections}; known: {sorted(names)}"
        )
    built = {s.name: build_section(s, file_cfg, section_flag_values(args, s)) for s in sections}
    options = PipelineOptions(rest)
    options.view_as(SetupOptions).save_main_session = save_main_session
    return ParsedJob(args, built, options)
