"""The conductor: orchestrates builds (scheduling, cell placement, casting to
compute, rescheduling) and is the only database access of compute hosts."""
