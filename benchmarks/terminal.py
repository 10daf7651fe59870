"""What a run prints: timestamped lines and progress bars."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(highlight=False)
if not console.is_terminal:  # a log file or a pipe: wide enough for the table
    console = Console(highlight=False, width=132)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def say(message: str) -> None:
    console.print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}")
