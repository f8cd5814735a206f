"""Customer service in the chat (issue #6): fans ask for a person, agents answer in WeChat."""
from bot.dispatch import Router

router = Router("cs")
