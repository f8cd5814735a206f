"""Mass sends by tag (群发): the plan from our own counts (plan.py), the finish event (finish.py),
the operator commands (cli.py); workers/mass.py makes the WeChat calls."""
