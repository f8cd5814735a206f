"""The CI's dependency audit (.ci/audit.py) decides right on each answer pip-audit can give:
vulnerabilities fail the run naming the package; no answer from the service warns and passes."""
import importlib.util
import json
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture
def audit(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "WAITS", (0, 0))

    def answering(report: dict | None, code: int, stderr: str = ""):
        """A stand-in pip-audit that writes `report` to --output (None: writes nothing)."""
        script = tmp_path / "pip-audit"
        body = json.dumps(report) if report is not None else ""
        script.write_text("#!/bin/sh\n"
                          + (f"while [ \"$1\" != --output ]; do shift; done; cat > \"$2\" <<'EOF'\n{body}\nEOF\n"
                             if report is not None else "")
                          + f"echo '{stderr}' >&2\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setattr(module, "PIP_AUDIT", script)
        return module
    return answering


def test_a_known_vulnerability_fails_naming_the_package(audit, capsys):
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []},
                               {"name": "requests", "version": "2.0.0",
                                "vulns": [{"id": "PYSEC-2014-13", "fix_versions": ["2.3.0"]}]}]}
    assert audit(report, 1).main() == 1
    assert "requests==2.0.0: PYSEC-2014-13 (fixed in: 2.3.0)" in capsys.readouterr().out


def test_a_clean_audit_passes(audit, capsys):
    assert audit({"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}, 0).main() == 0
    assert "no known vulnerability in 1 packages" in capsys.readouterr().out


def test_an_unreachable_service_is_tried_three_times_then_warns_and_passes(audit, capsys):
    assert audit(None, 1, "ConnectionError: pypi.org unreachable").main() == 0
    err = capsys.readouterr().err
    assert err.count("again in 0 s") == 2 and "audit NOT done in this run" in err and "ConnectionError" in err
