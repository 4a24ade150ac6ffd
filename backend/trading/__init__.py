"""Aristobot's trading domain: plain Python, no Django, DRF, Channels or Redis.

Alert parsing, symbol resolution, order sizing, positions and P&L, the paper matching
engine and the exchange adapters live here, so their tests run in milliseconds.
"""
