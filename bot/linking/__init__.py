"""Leading subscription fans to the group's service account and recognising them there."""
