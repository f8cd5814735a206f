"""On-demand benchmark of the webhook against a bare werobot echo robot (`make bench`)."""
