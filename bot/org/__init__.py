"""The organisation (issue #4): imports and listings of stores, the staff roster and legacy members."""
