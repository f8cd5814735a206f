"""Reports for HQ (CLI, PNG charts) and store managers (报表 in the chat): the figures are read in
figures.py, drawn in charts.py with matplotlib, so what a chart shows is checkable without pixels."""
