"""Customer service (issue #6): routing fans to store agents, relayed inside WeChat."""
