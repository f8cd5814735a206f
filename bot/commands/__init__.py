"""Operator commands (`flask --app wsgi ...`): one module per group; the table registers them."""
