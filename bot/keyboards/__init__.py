"""Keyboards and callback data factories."""
