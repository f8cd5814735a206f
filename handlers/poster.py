"""海报: a staff member's recruiting poster, with their own QR code (issue #5)."""
from bot.dispatch import Router

router = Router("poster")
