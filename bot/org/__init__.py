"""The organisation: imports and listings of stores, the staff roster and legacy members."""
