"""Where log lines go: a file under instance/log/, and the terminal only for warnings.

A CLI command or the sandbox chat shows what the person asked for, not alembic's plugin set-up
or a job's INFO lines; those are in instance/log/bot.log, and on the terminal too with VERBOSE=1
(or `-v` where a command offers it). The embedded worker and cron children have no terminal
handler: their stderr already is a file beside bot.log (worker.log, cron.log), which keeps only
what is not a log record (a crash before logging is set up). Tests keep Python's default
handling (pytest captures it).
"""
import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TERMINAL = "bot-terminal"
_FILE = "bot-file"


def configure_logging(app) -> None:
    root = logging.getLogger()
    if app.config.get("TESTING"):
        logging.basicConfig(level=logging.INFO, format=FORMAT)
        return
    root.setLevel(logging.INFO)
    names = {getattr(h, "name", None) for h in root.handlers}
    if _FILE not in names:
        log_dir = Path(app.instance_path) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_dir / "bot.log", encoding="utf-8", delay=True)
        file_handler.name = _FILE
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    if _TERMINAL not in names and app.config.get("LOG_TERMINAL", True):
        terminal = logging.StreamHandler(sys.stderr)
        terminal.name = _TERMINAL
        terminal.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(terminal)
    set_verbose(bool(app.config.get("VERBOSE")))


def set_verbose(verbose: bool) -> None:
    """INFO on the terminal (`-v`), or warnings only."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "name", None) == _TERMINAL:
            handler.setLevel(logging.INFO if verbose else logging.WARNING)
