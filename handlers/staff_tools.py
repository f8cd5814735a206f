"""Staff tools in the chat: 海报 (a recruiting poster with the staff member's own code) and
拉新 (a store manager's chart of follows through the store's codes)."""
from bot.dispatch import Router

router = Router("staff_tools")
