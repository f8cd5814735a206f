"""Menu click keys: handlers import these, never literal strings (STYLE.md 7.9). The menus
themselves (per account, per menu-role) join this module with their issue."""


class MenuKey:
    MY_POINTS = "MY_POINTS"
    BIND_PHONE = "BIND_PHONE"
