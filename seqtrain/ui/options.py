"""Command-line options built from a request dataclass whose fields are declared with
`core.fields.opt` (help text, range, flags), so each option is written once, beside what it fills."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Callable, Optional

import typer

from seqtrain.core.fields import option_flags


def declared_options(request: type) -> list[inspect.Parameter]:
    """A typer option for each field of REQUEST. A bool flag defaults to its field's default; every
    other option defaults to None, meaning "not given" (the request's own default applies)."""
    hints = typing.get_type_hints(request)
    params = []
    for f in dataclasses.fields(request):
        if "help" not in f.metadata:  # a field the caller sets, not an option
            continue
        hint = hints[f.name]
        flag = hint is bool
        kind = bool if flag or hint == Optional[bool] else next(t for t in typing.get_args(hint) or (hint,)
                                                                if t is not type(None))
        shown = f.default not in ("", None) and not flag  # the typer default is None: "not given"
        help = f.metadata.get("help", "") + (f"  [default: {f.default}]" if shown else "")
        option = typer.Option(f.default if flag else None, *option_flags(f), help=help)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=kind if flag else Optional[kind]))
    return params


def with_options(request: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command taking `**options`: its signature gains REQUEST's declared options."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        command.__signature__ = signature.replace(parameters=own + declared_options(request))
        return command
    return decorate
