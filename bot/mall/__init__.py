"""The points mall: products as data (catalog.py), redemptions and cancels (orders.py), the CLI."""
