"""The two H5 areas fans open from the chat: the points mall and surveys (their own issues)."""
