"""The embedded mode as a person runs it, in real processes with no REDIS_URL: `make run`'s
server owns a worker and the cron scheduler, every command shares its Redis and queue, a job
queued by a command that exits is run, and the state is still there after a restart."""
import os

import pytest

from bot import local_redis
from tests.embedded_processes import Service, children_of, flask, free_port, wait_for

# The embedded mode in real processes ignores TEST_DATABASE_URL/TEST_REDIS_URL: CI's embedded pass
# runs these; its PostgreSQL pass would only repeat them.
pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="embedded-mode processes run in the embedded pass")


def menus_match(instance) -> bool:
    return "live menus match the definition" in flask(instance, "menus", "diff", "--account", "demo")


def test_menus_pushed_from_a_command_are_live_within_15_s_and_survive_a_restart(tmp_path):
    """With VERBOSE=1 too (INFO on the terminal), each of the worker's log lines is written once:
    in bot.log, not again in worker.log, the children's terminal."""
    instance = tmp_path / "instance"
    flask(instance, "db", "upgrade")
    flask(instance, "demo")
    service = Service(instance, free_port(), VERBOSE="1")
    try:
        assert len(children_of(service.process.pid)) == 2          # the worker and the cron scheduler
        assert "queued for WeChat" in flask(instance, "menus", "push", "--account", "demo")
        assert wait_for(lambda: menus_match(instance), timeout=15)
    finally:
        workers = children_of(service.process.pid)
        output = service.stop()
    assert "rq worker (pid" in output and "cron scheduler (pid" in output
    assert wait_for(lambda: not any(children_of(pid) or _alive(pid) for pid in workers), timeout=15)
    assert wait_for(lambda: not local_redis.running(instance / "redis"), timeout=15)
    assert menus_match(instance)         # the sandbox's WeChat state came back from instance/redis/
    logs = "".join(path.read_text(encoding="utf-8") for path in sorted((instance / "log").glob("*.log")))
    for line in ("workers.menus menus pushed account=demo", "Successfully completed workers.menus.push_menu"):
        assert logs.count(line) == 1, line


def test_a_job_queued_while_nothing_runs_is_run_when_the_service_starts(tmp_path):
    instance = tmp_path / "instance"
    flask(instance, "db", "upgrade")
    flask(instance, "demo")
    flask(instance, "menus", "push", "--account", "demo")      # this process exits at once
    assert not local_redis.running(instance / "redis")         # the job waits on disk
    assert not menus_match(instance)
    service = Service(instance, free_port())
    try:
        assert wait_for(lambda: menus_match(instance), timeout=60)   # the worker starts with the service; a loaded machine is slow
    finally:
        service.stop()


def test_commands_print_no_log_lines(tmp_path):
    instance = tmp_path / "instance"
    assert "INFO" not in flask(instance, "db", "upgrade")
    assert flask(instance, "--help").startswith("Usage:")
    assert "INFO" not in flask(instance, "demo")
    assert "alembic" in (instance / "log" / "bot.log").read_text()


def _alive(pid: int) -> bool:
    import os
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return "Z" not in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
