"""Parametric QR codes: issuing (codes.py), the scene format (scene.py), and what builds on them."""
