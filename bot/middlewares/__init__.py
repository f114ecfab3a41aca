"""Outer middlewares of the dispatcher."""
