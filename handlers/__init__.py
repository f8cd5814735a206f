"""Conversational features, one module per feature, each exposing a `router`."""
