"""The command line's own text, checked where it enters (seqtrain.cli.run_app), before any command runs."""

from __future__ import annotations

from seqtrain.core.errors import UserError


def check_arguments(arguments: list[str], command) -> None:
    """Every argument UTF-8 (bytes that are not come in as surrogate escapes, which would be echoed
    raw into JSON and CoNLL-U), and no option given an empty value (it would read as "not given",
    or a path as "."). `command`: the click command (or group) the arguments are for."""
    for number, argument in enumerate(arguments, 1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as e:
            raise UserError(f"argument {number} is not UTF-8 (byte 0x{ord(argument[e.start]) & 0xFF:02x} at "
                            f"character {e.start + 1}); seqtrain reads UTF-8 arguments") from None
    for word in arguments:  # down to the command the options belong to: "predict", "data download"
        if word in getattr(command, "commands", {}):
            command = command.commands[word]
    takes_value = {name for p in command.params if p.param_type_name == "option" and not p.is_flag
                   for name in p.opts}
    for argument, following in zip(arguments, arguments[1:] + [None]):
        if argument == "--":
            break
        name, equals, value = argument.partition("=")
        if (argument in takes_value and following == "") or (name in takes_value and equals and not value):
            raise UserError(f"{name}: empty value; give one, or leave the option out")
