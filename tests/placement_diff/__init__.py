"""Differential tests: compute_core's placement against openstack-placement 16
(see runner.py)."""
