"""Filters shared by the routers."""
