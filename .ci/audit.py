"""CI: pip-audit over the environment `make setup` built from the pinned requirements (so the
pins and everything they pulled in), against the PyPI vulnerability database.

- No known vulnerability: passes.
- A known vulnerability: fails, naming each package, its version, the advisory and the fixed
  versions.
- The vulnerability service unreachable (no answer, an error page): tried three times, 10 s
  and 30 s apart; then a loud warning and a pass. An outage of PyPI's API says nothing about our
  pins, and a CI that fails on someone else's outage teaches people to ignore it; the next run
  audits again.
"""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIP_AUDIT = Path(".venv/bin/pip-audit")
WAITS = (10, 30)


def audit() -> tuple[int, dict | None, str]:
    """(exit code, the JSON report or None, stderr) of one pip-audit run."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        done = subprocess.run([str(PIP_AUDIT), "--progress-spinner", "off", "--format", "json",
                               "--output", str(report), "--timeout", "30"],
                              capture_output=True, text=True)
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            data = None
    return done.returncode, data, done.stderr


def vulnerable(data: dict) -> list[str]:
    lines = []
    for dep in data.get("dependencies", []):
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(f"{dep['name']}=={dep.get('version')}: {vuln['id']} (fixed in: {fixes})")
    return lines


def main() -> int:
    for attempt in range(len(WAITS) + 1):
        code, data, stderr = audit()
        if data is not None:
            found = vulnerable(data)
            if found:
                print("pip-audit: known vulnerabilities in the pinned requirements:", *found, sep="\n  ")
                return 1
            if code == 0:
                print(f"pip-audit: no known vulnerability in {len(data.get('dependencies', []))} packages")
                return 0
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        if attempt < len(WAITS):
            print(f"pip-audit: no usable answer ({tail[0]}); again in {WAITS[attempt]} s", file=sys.stderr)
            time.sleep(WAITS[attempt])
    print(f"WARNING pip-audit: the vulnerability service did not answer after {len(WAITS) + 1} tries "
          f"({tail[0]}); audit NOT done in this run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
