"""Custom menus as data, per account, and the command that pushes them (issue: QR, tags, menus)."""
