"""Customer service: routing fans to store agents, relayed inside WeChat."""
