"""Automatic tags from behaviour: a rules file (file.py), the behaviours it counts (sources.py),
the evaluation over event rows (evaluate.py) and the operator commands (cli.py)."""
