"""The README's command reference, generated from the real CLI.

`python -m console.commands.reference` prints it; tests/test_readme.py checks that the
README holds exactly this text.
"""

from __future__ import annotations

import click

BEGIN = "<!-- command-reference:begin (python -m console.commands.reference) -->"
END = "<!-- command-reference:end -->"


def _walk(ctx: click.Context, command: click.Command, path: list[str]) -> list[str]:
    lines: list[str] = []
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            lines += _walk(click.Context(sub, info_name=name, parent=ctx), sub, [*path, name])
        return lines
    params = " ".join(p.get_usage_pieces(ctx)[0] if p.get_usage_pieces(ctx) else ""
                      for p in command.params if isinstance(p, click.Argument)).strip()
    opts = [o for p in command.params if isinstance(p, click.Option) and not p.hidden
            for o in p.opts if o.startswith("--")]
    usage = " ".join(["flowpro-console", *path, *([params] if params else [])])
    lines.append(f"| `{usage}` | {command.get_short_help_str(200)} | "
                 f"{' '.join(f'`{o}`' for o in opts)} |")
    return lines


def render() -> str:
    from console.cli import cli

    ctx = click.Context(cli, info_name="flowpro-console")
    rows = _walk(ctx, cli, [])
    return "\n".join([BEGIN, "", "| command | what it does | options |", "|---|---|---|",
                      *rows, "", END])


if __name__ == "__main__":
    print(render())
