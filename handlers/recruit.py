"""拉新: a store manager's chart of follows through their store's codes (issue #5)."""
from bot.dispatch import Router

router = Router("recruit")
